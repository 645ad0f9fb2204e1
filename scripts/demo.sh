#!/usr/bin/env bash
# The main job, end to end on data every Debian machine can have: installs
# and builds (scripts/setup.sh), prepares Fashion-MNIST (Debian's
# dataset-fashion-mnist) into one catalog and describes it.
#   scripts/demo.sh [OUTDIR]      (default: out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
scripts/setup.sh
mkdir -p "$out"
fm=/usr/share/datasets/fashion-mnist
convkit=build/cli/convkit

echo "== prepare-dataset: Fashion-MNIST"
$convkit prepare-dataset "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" \
    -o "$out/fashion-mnist.db"
echo "== info"
$convkit info "$out/fashion-mnist.db"
echo "outputs are in $out/"
