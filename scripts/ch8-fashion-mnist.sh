#!/usr/bin/env bash
# The book's first convnet (the `mnist` model: two 5x5 convolutions, RMSprop,
# batch 64) on the full Fashion-MNIST training set (Debian's
# dataset-fashion-mnist), then its accuracy on the 10,000 test images.
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
[ -f "$out/data.db" ] || "$convkit" prepare-dataset "$fm/train-images-idx3-ubyte.gz" \
  "$fm/t10k-images-idx3-ubyte.gz" -o "$out/data.db" -q
"$convkit" train --data "$out/data.db" --model mnist --name mnist --epochs "$epochs" --batch 64 \
  --optimizer rmsprop --seed 1 --runs "$out/runs.db"
"$convkit" evaluate "$out/mnist.last.ckpt" --data "$out/data.db" --split test \
  --runs "$out/runs.db" --name mnist | tee "$out/test.txt"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy -o "$out/curves.csv"
echo "outputs in $out/: test.txt, curves.csv, runs.db"
