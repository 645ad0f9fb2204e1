#!/usr/bin/env bash
# End-to-end: convkit summary on built-in models and spec files.
#   test_summary.sh CONVKIT SHARED_DATA_DIR
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
expect_status 1 "unknown model" "$convkit" summary no-such-model
expect_status 2 "no model" "$convkit" summary
finish
