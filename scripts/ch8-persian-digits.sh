#!/usr/bin/env bash
# The 3x3 convnet of the book's digits (`mnist-3conv`) on HODA handwritten
# Persian digits, resized to 28x28 with the aspect ratio kept and the digit
# centred. By default its regularised variant (Dropout(0.5) before the
# classifier, scripts/models/mnist-3conv-dropout.spec) trained on digits
# turned by up to 11 degrees, zoomed and shifted by up to a tenth (no
# flips: a mirrored digit is another digit or none), 30 epochs of RMSprop
# as the book ran it, batch 64; each run keeps its lowest-val_loss epoch.
#
#   scripts/ch8-persian-digits.sh [--epochs N] [--seeds K] [--quick]
#                                 [--model M] [--policy P|none] [--out DIR] CDB...
#
# The .cdb files (e.g. ../shared/data/hoda/RemainingSamples.cdb, or HODA's
# official training and test files) are pooled and split 80/10/10, stratified
# by digit and seeded; the test accuracy is measured on the held-out tenth,
# which neither training nor the choice of epoch saw. --seeds K trains
# with seeds 1..K (results.md: mean and spread); --quick trains 2 epochs;
# --model mnist-3conv --policy none is the book's model as is. Relative
# paths are taken from where it is started; CONVKIT, if set, is the
# convkit binary to run (default build/cli/convkit).
set -euo pipefail
epochs=30 seeds=1 out="" model="" policy=rotate=0.03,zoom=0.1,shift=0.1 cdbs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --quick) epochs=2; shift ;;
    --seeds) seeds=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "ch8-persian-digits: unknown option $1" >&2; exit 2 ;;
    *) cdbs+=("$1"); shift ;;
  esac
done
[ ${#cdbs[@]} -gt 0 ] || { echo "usage: scripts/ch8-persian-digits.sh [--epochs N] [--seeds K] [--quick] [--model M] [--policy P|none] [--out DIR] CDB..." >&2; exit 2; }
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-persian-digits}
model=${model:-$root/scripts/models/mnist-3conv-dropout.spec}
augment=()
[ "$policy" = none ] || augment=(--augment "$policy")
claim_out "$out" "${cdbs[@]}"
rm -f "$out"/data.db "$out"/runs.db "$out"/*.ckpt
"$convkit" prepare-dataset "${cdbs[@]}" --split train=0.8,validation=0.1,test=0.1 --seed 1 \
  -o "$out/data.db" -q
"$convkit" info "$out/data.db" | sed -n '1,8p'
for seed in $(seq 1 "$seeds"); do
  "$convkit" train --data "$out/data.db" --model "$model" --resize fit --name "hoda-s$seed" \
    --epochs "$epochs" --batch 64 --optimizer rmsprop-tf2 --seed "$seed" --runs "$out/runs.db" \
    "${augment[@]}"
  "$convkit" evaluate "$out/hoda-s$seed.best.ckpt" --data "$out/data.db" --split test \
    --runs "$out/runs.db" --name "hoda-s$seed" | tee "$out/test-s$seed.txt"
done
"$convkit" curves plot --runs "$out/runs.db" --run hoda-s1 \
  --title "HODA Persian digits, $(basename "$model" .spec)" -o "$out/curves.png"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy -o "$out/curves.csv"
results_table "$out/runs.db" > "$out/results.md"
cat "$out/results.md"
"$convkit" report --runs "$out/runs.db" --title "HODA Persian digits, $(basename "$model" .spec)" \
  -o "$out/report.html"
echo "outputs in $out/: report.html, results.md, test-s*.txt, curves.png, curves.csv, runs.db"
