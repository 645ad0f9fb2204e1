#!/usr/bin/env bash
# End-to-end: convkit summary and bench on built-in models and spec files.
#   test_models.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"

expect_status 0 "summary --help" "$convkit" summary --help
expect_output "catsdogs-2nd" "help lists the built-ins"
for pair in mnist:118,346 mnist-3conv:93,322 catsdogs-1st:3,453,121 \
            catsdogs-1st-dropout:3,453,121 catsdogs-2nd:991,041 catsdogs-2nd-dropout:991,041; do
  expect_status 0 "summary ${pair%%:*}" "$convkit" summary "${pair%%:*}"
  expect_output "Total params: ${pair#*:}\$" "${pair%%:*} has ${pair#*:} parameters"
done
cat > tiny.spec <<'SPEC'
# a small model
Input(shape=(8, 8, 1))
Conv2D(4, (3, 3), activation="relu")
Flatten()
Dense(2, activation="softmax")
SPEC
expect_status 0 "summary of a spec file" "$convkit" summary tiny.spec
expect_output "Total params: 330\$" "spec file parameters (4*9+4 + 144*2+2)"
printf 'Input(shape=(8, 8, 1))\nConv2D(4, (3, 3), activation="bogus")\n' > bad.spec
expect_status 1 "bad spec file" "$convkit" summary bad.spec
expect_output "bad.spec:2" "error names the file and line"
expect_status 2 "unknown model (usage)" "$convkit" summary no-such-model
expect_status 2 "no model" "$convkit" summary

# convkit bench train: figures as JSON for the benchmark scripts
expect_status 0 "bench train --json" "$convkit" bench train --model tiny.spec --batch 4 --threads 1 --steps 1 --json
expect_output '"train_images_per_s":[0-9.]+' "bench train reports images/s"
expect_status 2 "bench train without a model" "$convkit" bench train
if need_shared alien-vs-predator/train; then
  expect_status 0 "bench augment --json" "$convkit" bench augment --threads 1 --passes 1 --size 32 --json \
    "$shared/alien-vs-predator/train/alien/1.jpg" "$shared/alien-vs-predator/train/alien/2.jpg"
  expect_eq "$(grep -c '"samples":2,' "$work/out")" "2" "bench augment: with and without the policy"
fi
finish
