#!/usr/bin/env bash
# The book's first convnet (the `mnist` model: two 5x5 convolutions, RMSprop,
# batch 64) on Fashion-MNIST's training set (Debian's dataset-fashion-mnist)
# less a tenth held out for validation, then the best epoch's (lowest
# val_loss) accuracy on the 10,000 test images, which training never sees.
#
#   scripts/ch8-fashion-mnist.sh [--epochs N] [--out DIR]
# Relative paths are taken from where it is started; CONVKIT, if set, is
# the convkit binary to run (default build/cli/convkit).
set -euo pipefail
epochs=5 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ch8-fashion-mnist: unknown argument $1" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-fashion-mnist}
fm=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
rm -f "$out"/runs.db "$out"/*.ckpt
# 54,000 train, 6,000 validation; the publisher's test split stays whole.
"$convkit" prepare-dataset "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" \
  --split train=0.9,validation=0.1 --seed 1 -o "$out/fashion-mnist.db" -q
"$convkit" train --data "$out/fashion-mnist.db" --model mnist --name mnist --epochs "$epochs" \
  --batch 64 --optimizer rmsprop --seed 1 --runs "$out/runs.db"
"$convkit" evaluate "$out/mnist.best.ckpt" --data "$out/fashion-mnist.db" --split test \
  --runs "$out/runs.db" --name mnist | tee "$out/test.txt"
"$convkit" curves export --runs "$out/runs.db" -o "$out/curves.csv"
echo "outputs in $out/: test.txt, curves.csv, runs.db"
