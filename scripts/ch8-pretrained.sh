#!/usr/bin/env bash
# The chapter's pretrained runs (DLwP 2nd ed. 8.3) with Keras's VGG16 conv
# base, whose weights the user brings (nothing is downloaded):
#   1. features: the frozen base run once over every split
#      (extract-features), a dense classifier trained on what it stored;
#   2. augmented: the base frozen inside the model, the classifier trained
#      on augmented images (chollet-2nd);
#   3. fine-tuned: run 2's model with block5 unfrozen, at a low learning
#      rate.
# Curves of the three side by side, test accuracy of each.
#
#   scripts/ch8-pretrained.sh [options] WEIGHTS.h5 [DIR|ARCHIVE]
#
# WEIGHTS.h5 is vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (or the
# full file). The source defaults to ../shared/data/alien-vs-predator/train,
# split 70/15/15; Kaggle's dogs-vs-cats.zip or fastai's dogscats.zip are
# split as the book does (--split chollet).
#   --size N            input N x N (default 180, the book's)
#   --epochs-features N (default 20)   --epochs-augmented N (default 50)
#   --epochs-fine N     (default 30)   --limit-per-class N (a quick try)
#   --out DIR           (default out/ch8-pretrained)
# Relative paths are taken from where it is started; CONVKIT, if set, is
# the convkit binary to run (default build/cli/convkit).
# Seeded: run twice, it gives the same curves.csv.
set -euo pipefail
size=180 e1=20 e2=50 e3=30 out="" limit="" weights="" src=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --epochs-features) e1=$2; shift 2 ;;
    --epochs-augmented) e2=$2; shift 2 ;;
    --epochs-fine) e3=$2; shift 2 ;;
    --limit-per-class) limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "ch8-pretrained: unknown option $1" >&2; exit 2 ;;
    *) if [ -z "$weights" ]; then weights=$1; else src=$1; fi; shift ;;
  esac
done
[ -n "$weights" ] || { echo "usage: scripts/ch8-pretrained.sh [options] WEIGHTS.h5 [DIR|ARCHIVE]" >&2; exit 2; }
. "$(dirname "$0")/common.sh"
src=${src:-$root/../shared/data/alien-vs-predator/train}
out=${out:-$root/out/ch8-pretrained}
claim_out "$out" "$weights" "$src"
rm -f "$out"/data.db "$out"/features.db "$out"/runs.db "$out"/*.ckpt "$out"/augmented.h5 \
  "$out"/fine-tuned.h5

split=(--split train=0.7,validation=0.15,test=0.15)
case "$src" in *.zip|*.tar|*.tar.gz|*.tgz) split=(--split chollet) ;; esac
"$convkit" prepare-dataset "$src" "${split[@]}" --seed 1 ${limit:+--limit-per-class "$limit"} \
  -o "$out/data.db" -q
"$convkit" info "$out/data.db" | sed -n '1,8p'

echo "== 1. features: the frozen base once over every split, then a dense classifier"
"$convkit" extract-features --weights "$weights" --data "$out/data.db" --size "$size" \
  -o "$out/features.db"
"$convkit" train --features "$out/features.db" --model vgg16-head --name features \
  --epochs "$e1" --batch 32 --seed 1 --runs "$out/runs.db"

echo "== 2. augmented: the base frozen in the model, augmented images"
"$convkit" train --data "$out/data.db" --model vgg16-catsdogs --size "$size" --weights "$weights" \
  --trainable-from flatten --augment chollet-2nd --name augmented --epochs "$e2" --batch 32 \
  --seed 1 --runs "$out/runs.db"

echo "== 3. fine-tuned: run 2's best model, block5 unfrozen, learning rate 1e-5"
"$convkit" export-weights "$out/augmented.best.ckpt" -o "$out/augmented.h5"
"$convkit" train --data "$out/data.db" --model vgg16-catsdogs --size "$size" \
  --weights "$out/augmented.h5" --trainable-from block5_conv1 --lr 1e-5 --augment chollet-2nd \
  --name fine-tuned --epochs "$e3" --batch 32 --seed 1 --runs "$out/runs.db"
"$convkit" export-weights "$out/fine-tuned.best.ckpt" -o "$out/fine-tuned.h5"

{
  "$convkit" evaluate "$out/features.best.ckpt" --features "$out/features.db" --split test \
    --runs "$out/runs.db" --name features | head -1
  for run in augmented fine-tuned; do
    "$convkit" evaluate "$out/$run.best.ckpt" --data "$out/data.db" --split test \
      --runs "$out/runs.db" --name "$run" | head -1
  done
} | tee "$out/test.txt"
"$convkit" curves plot --runs "$out/runs.db" --run features --label "features" \
  --run augmented --label "features + augmentation" --run fine-tuned --label "fine-tuned" \
  --layout side -o "$out/curves.png"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy \
  -o "$out/curves.csv"
"$convkit" curves list --runs "$out/runs.db" | tee "$out/runs.txt"
"$convkit" report --runs "$out/runs.db" --title "A pretrained VGG16 conv base" -o "$out/report.html"
echo "outputs in $out/: report.html, curves.png, curves.csv, test.txt, runs.txt, runs.db, fine-tuned.h5"
