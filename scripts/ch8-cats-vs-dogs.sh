#!/usr/bin/env bash
# The book's cats-vs-dogs runs on Kaggle's dogs-vs-cats.zip (or fastai's
# dogscats.zip), which the user brings: the small subset of the first edition
# (--split chollet: 1,000 training, 500 validation and 1,000 test images per
# class), the convnet from scratch for 30 epochs, then with augmentation
# (chollet-1st) and dropout for 100 epochs; curves side by side, test
# accuracy of both.
#
#   scripts/ch8-cats-vs-dogs.sh [--epochs-scratch N] [--epochs-augmented N] [--out DIR] ARCHIVE
# Relative paths are taken from where it is started; CONVKIT, if set, is
# the convkit binary to run (default build/cli/convkit).
set -euo pipefail
e1=30 e2=100 out="" archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs-scratch) e1=$2; shift 2 ;;
    --epochs-augmented) e2=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ch8-cats-vs-dogs: unknown option $1" >&2; exit 2 ;;
    *) archive=$1; shift ;;
  esac
done
[ -n "$archive" ] || { echo "usage: scripts/ch8-cats-vs-dogs.sh [options] dogs-vs-cats.zip" >&2; exit 2; }
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-cats-vs-dogs}
mkdir -p "$out"
rm -f "$out"/runs.db "$out"/*.ckpt
[ -f "$out/data.db" ] || "$convkit" prepare-dataset "$archive" --split chollet -o "$out/data.db"
"$convkit" info "$out/data.db" | sed -n '1,9p'
"$convkit" train --data "$out/data.db" --model catsdogs-1st --name scratch --epochs "$e1" \
  --batch 20 --lr 1e-4 --seed 1 --runs "$out/runs.db"
"$convkit" train --data "$out/data.db" --model catsdogs-1st-dropout --augment chollet-1st \
  --name augmented --epochs "$e2" --batch 32 --lr 1e-4 --seed 1 --runs "$out/runs.db"
for run in scratch augmented; do
  "$convkit" evaluate "$out/$run.best.ckpt" --data "$out/data.db" --split test \
    --runs "$out/runs.db" --name "$run" | head -1
done | tee "$out/test.txt"
"$convkit" curves plot --runs "$out/runs.db" --run scratch --label "from scratch" \
  --run augmented --label "augmentation and dropout" --layout side -o "$out/curves.png"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy -o "$out/curves.csv"
"$convkit" curves list --runs "$out/runs.db" | tee "$out/runs.txt"
echo "outputs in $out/: curves.png, curves.csv, test.txt, runs.txt, runs.db"
