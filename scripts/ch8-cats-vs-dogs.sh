#!/usr/bin/env bash
# The book's cats-vs-dogs runs on Kaggle's dogs-vs-cats.zip (or fastai's
# dogscats.zip), which the user brings: the book's small subset (--split
# chollet: 1,000 training, 500 validation and 1,000 test images per class),
# the first edition's convnet from scratch for 30 epochs, then with augmentation
# (chollet-1st) and dropout for 100 epochs, RMSprop as the book ran it and
# JPEGs decoded whole as Keras does; curves side by side, the test
# accuracy of each run's lowest-val_loss epoch. --seeds K trains both with
# seeds 1..K (results.md: mean and spread); --quick, 2 epochs each.
#
#   scripts/ch8-cats-vs-dogs.sh [--epochs-scratch N] [--epochs-augmented N]
#                               [--seeds K] [--quick] [--out DIR] ARCHIVE
# Relative paths are taken from where it is started; CONVKIT, if set, is
# the convkit binary to run (default build/cli/convkit).
set -euo pipefail
e1=30 e2=100 seeds=1 out="" archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs-scratch) e1=$2; shift 2 ;;
    --epochs-augmented) e2=$2; shift 2 ;;
    --quick) e1=2 e2=2; shift ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "ch8-cats-vs-dogs: unknown option $1" >&2; exit 2 ;;
    *) archive=$1; shift ;;
  esac
done
[ -n "$archive" ] || { echo "usage: scripts/ch8-cats-vs-dogs.sh [options] dogs-vs-cats.zip" >&2; exit 2; }
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-cats-vs-dogs}
claim_out "$out" "$archive"
rm -f "$out"/runs.db "$out"/*.ckpt
# kept from the last run when it was made from the same archive: nothing to do
"$convkit" prepare-dataset "$archive" --split chollet -o "$out/data.db"
"$convkit" info "$out/data.db" | sed -n '1,9p'
book=(--optimizer rmsprop-tf2 --decode full --lr 1e-4 --runs "$out/runs.db")
: > "$out/test.txt"
for seed in $(seq 1 "$seeds"); do
  "$convkit" train --data "$out/data.db" --model catsdogs-1st --name "scratch-s$seed" \
    --epochs "$e1" --batch 20 --seed "$seed" "${book[@]}"
  "$convkit" train --data "$out/data.db" --model catsdogs-1st-dropout --augment chollet-1st \
    --name "augmented-s$seed" --epochs "$e2" --batch 32 --seed "$seed" "${book[@]}"
  for run in scratch augmented; do
    "$convkit" evaluate "$out/$run-s$seed.best.ckpt" --data "$out/data.db" --split test \
      --runs "$out/runs.db" --name "$run-s$seed" | head -1 | tee -a "$out/test.txt"
  done
done
"$convkit" curves plot --runs "$out/runs.db" --run scratch-s1 --label "from scratch" \
  --run augmented-s1 --label "augmentation and dropout" --layout side -o "$out/curves.png"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy -o "$out/curves.csv"
"$convkit" curves list --runs "$out/runs.db" | tee "$out/runs.txt"
results_table "$out/runs.db" > "$out/results.md"
cat "$out/results.md"
"$convkit" report --runs "$out/runs.db" --title "Cats vs dogs, from scratch and with augmentation" \
  -o "$out/report.html"
echo "outputs in $out/: report.html, results.md, curves.png, curves.csv, test.txt, runs.txt, runs.db"
