#!/usr/bin/env bash
# The book's first convnet on Fashion-MNIST (Debian's dataset-fashion-mnist):
# its training set less a tenth held out for validation, the test set of
# 10,000 images apart. By default the regularised variant of the book's
# `mnist` model (Dropout(0.5) before the classifier,
# scripts/models/mnist-dropout.spec), no augmentation, 40 epochs of Adam
# with the learning rate cut tenfold after 3 epochs without a lower
# val_loss (Keras's ReduceLROnPlateau), batch 64: the setting that reaches
# Fashion-MNIST's 0.92 for a convnet this small (docs/RESULTS.md); each run
# keeps its lowest-val_loss epoch, whose accuracy on the test set is
# reported.
#
#   scripts/ch8-fashion-mnist.sh [--epochs N] [--seeds K] [--quick]
#                                [--model M] [--policy P|none]
#                                [--optimizer O] [--plateau K=V,...|none]
#                                [--out DIR]
#
# --seeds K trains with seeds 1..K (results.md: mean and spread); --quick
# trains 2 epochs; --model mnist --optimizer rmsprop-tf2 --plateau none is
# the book's model as the book ran it; --policy adds augmentation.
# Relative paths are taken from where it is started; CONVKIT, if set, is
# the convkit binary to run (default build/cli/convkit).
set -euo pipefail
epochs=40 seeds=1 out="" model="" policy=none optimizer=adam plateau=patience=3
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --quick) epochs=2; shift ;;
    --seeds) seeds=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --optimizer) optimizer=$2; shift 2 ;;
    --plateau) plateau=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "ch8-fashion-mnist: unknown argument $1" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-fashion-mnist}
model=${model:-$root/scripts/models/mnist-dropout.spec}
extra=()
[ "$policy" = none ] || extra+=(--augment "$policy")
[ "$plateau" = none ] || extra+=(--reduce-lr-on-plateau "$plateau")
fm=/usr/share/datasets/fashion-mnist
claim_out "$out"
rm -f "$out"/fashion-mnist.db "$out"/runs.db "$out"/*.ckpt
# 54,000 train, 6,000 validation; the publisher's test split stays whole.
"$convkit" prepare-dataset "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" \
  --split train=0.9,validation=0.1 --seed 1 --class-names "$fashion_mnist_classes" \
  -o "$out/fashion-mnist.db" -q
for seed in $(seq 1 "$seeds"); do
  "$convkit" train --data "$out/fashion-mnist.db" --model "$model" --name "mnist-s$seed" \
    --epochs "$epochs" --batch 64 --optimizer "$optimizer" --seed "$seed" --runs "$out/runs.db" \
    "${extra[@]}"
  "$convkit" evaluate "$out/mnist-s$seed.best.ckpt" --data "$out/fashion-mnist.db" --split test \
    --runs "$out/runs.db" --name "mnist-s$seed" | tee "$out/test-s$seed.txt"
done
"$convkit" curves plot --runs "$out/runs.db" --run mnist-s1 --title "Fashion-MNIST, $(basename "$model" .spec)" \
  -o "$out/curves.png"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy -o "$out/curves.csv"
results_table "$out/runs.db" > "$out/results.md"
cat "$out/results.md"
"$convkit" report --runs "$out/runs.db" --title "Fashion-MNIST, $(basename "$model" .spec)" \
  -o "$out/report.html"
echo "outputs in $out/: report.html, results.md, test-s*.txt, curves.png, curves.csv, runs.db"
