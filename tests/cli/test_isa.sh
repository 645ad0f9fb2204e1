#!/usr/bin/env bash
# End-to-end: the kernel tier. CONVKIT_ISA names it (an unknown one, or
# one above the CPU, is refused before any work); bench train's JSON and a
# run's recorded configuration say which tier ran; each tier a run can
# take trains the same model to nearly the same loss (the tiers round
# differently), and a run resumes only on its own tier.
#   test_isa.sh CONVKIT SHARED_DATA_DIR
. "$(dirname "$0")/lib.sh"
cd "$work"
has() { grep -qw "$1" /proc/cpuinfo; }

CONVKIT_ISA=sse9 expect_status 2 "unknown tier refused" "$convkit" summary mnist
expect_output "CONVKIT_ISA=sse9: unknown tier \(want avx512, avx2 or generic\)" "names the value and the choices"
if ! has avx512f; then
  CONVKIT_ISA=avx512 expect_status 2 "a tier above the CPU refused" "$convkit" summary mnist
  expect_output "has no avx512 kernels" "says the CPU lacks it"
fi

tiers="generic"
has avx2 && has fma && tiers="$tiers avx2"
has avx512f && has avx512bw && tiers="$tiers avx512"
for isa in $tiers; do
  CONVKIT_ISA=$isa expect_status 0 "bench train on $isa" "$convkit" bench train mnist --steps 1 --threads 1 --json
  expect_output "\"isa\":\"$isa\"" "bench train's JSON names $isa"
done

fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ -e "$fm" ]; then
  expect_status 0 "prepare" "$convkit" prepare-dataset -q "$fm" -o fm.db --split train=0.8,validation=0.2 --limit-per-class 20
  for isa in $tiers; do
    CONVKIT_ISA=$isa expect_status 0 "train on $isa" "$convkit" train --data fm.db --model mnist \
      --name "r-$isa" --epochs 2 --seed 3 -q
    expect_eq "$(sqlite3 runs.db "SELECT json_extract(config, '\$.isa') FROM runs WHERE name = 'r-$isa'")" \
      "$isa" "the run records $isa"
  done
  # The same run on every tier: the first epoch's losses within rounding
  # of one another (rounding differences grow as training goes on; a tier
  # that computed something else would be off by far more).
  spread=$(sqlite3 runs.db "SELECT max(loss) - min(loss) FROM epochs WHERE epoch = 1")
  expect_eq "$(awk -v s="$spread" 'BEGIN { print (s >= 0 && s < 1e-3) ? "close" : "far: " s }')" "close" \
    "every tier trains to the same loss, up to rounding"
  if [ "$tiers" != generic ]; then
    CONVKIT_ISA=generic expect_status 2 "resume on another tier refused" "$convkit" train --data fm.db \
      --model mnist --name "r-${tiers##* }" --epochs 2 --seed 3 -q --resume
    expect_output "isa|CONVKIT_ISA|configuration differs" "refused: the tier differs"
  fi
else
  echo "note: $fm missing, training on each tier skipped"
fi
finish
