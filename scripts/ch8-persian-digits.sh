#!/usr/bin/env bash
# The 3x3 convnet (`mnist-3conv`) on HODA handwritten Persian digits, resized
# to 28x28 with the aspect ratio kept and the digit centred.
#
#   scripts/ch8-persian-digits.sh [--epochs N] [--out DIR] CDB...
#
# The .cdb files (e.g. ../shared/data/hoda/RemainingSamples.cdb, or HODA's
# official training and test files) are pooled and split 80/10/10, stratified
# by digit and seeded; the test accuracy is measured on the held-out tenth.
# Relative paths are taken from where it is started; CONVKIT, if set, is
# the convkit binary to run (default build/cli/convkit).
set -euo pipefail
epochs=10 out="" cdbs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ch8-persian-digits: unknown option $1" >&2; exit 2 ;;
    *) cdbs+=("$1"); shift ;;
  esac
done
[ ${#cdbs[@]} -gt 0 ] || { echo "usage: scripts/ch8-persian-digits.sh [--epochs N] [--out DIR] CDB..." >&2; exit 2; }
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-persian-digits}
mkdir -p "$out"
rm -f "$out"/data.db "$out"/runs.db "$out"/*.ckpt
"$convkit" prepare-dataset "${cdbs[@]}" --split train=0.8,validation=0.1,test=0.1 --seed 1 \
  -o "$out/data.db" -q
"$convkit" info "$out/data.db" | sed -n '1,8p'
"$convkit" train --data "$out/data.db" --model mnist-3conv --resize fit --name hoda \
  --epochs "$epochs" --batch 64 --seed 1 --runs "$out/runs.db"
"$convkit" evaluate "$out/hoda.best.ckpt" --data "$out/data.db" --split test \
  --runs "$out/runs.db" --name hoda | tee "$out/test.txt"
"$convkit" curves plot --runs "$out/runs.db" --title "HODA Persian digits, mnist-3conv" -o "$out/curves.png"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy -o "$out/curves.csv"
echo "outputs in $out/: curves.png, curves.csv, test.txt, runs.db"
