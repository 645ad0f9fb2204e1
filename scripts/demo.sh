#!/usr/bin/env bash
# The main job, end to end, on data every Debian machine can have: installs
# and builds (scripts/setup.sh), prepares Fashion-MNIST (Debian's
# dataset-fashion-mnist) into one catalog and describes it, then runs a short
# version of the chapter's small-data experiment (scripts/ch8-small-data.sh):
# the same convnet trained on 1,000 images without and with augmentation.
# Leaves the whole experiment as one HTML page (report.html), the curves
# plot, the augmented samples, the CSV and a results table in one folder.
#   scripts/demo.sh [OUTDIR]      (default: out/demo in the repository)
set -euo pipefail
out=$(realpath -m "${1:-$(dirname "$0")/../out/demo}") # relative to where it is started
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/common.sh
claim_out "$out"
fm=/usr/share/datasets/fashion-mnist

echo "== prepare-dataset: Fashion-MNIST, 60,000 + 10,000 images"
rm -f "$out/fashion-mnist.db"
"$convkit" prepare-dataset "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" \
    --class-names "$fashion_mnist_classes" -o "$out/fashion-mnist.db"
"$convkit" info "$out/fashion-mnist.db" | sed -n '1,8p'

echo "== small-data experiment: 100 images per class, without and with augmentation"
scripts/ch8-small-data.sh --epochs 30 --out "$out"
echo
echo "demo outputs are in $out/: report.html (the experiment on one page: open it in a"
echo "browser), curves.png (learning curves), augmented-samples.png, curves.csv,"
echo "results.md, runs.db and the catalogs"
