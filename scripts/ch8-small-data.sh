#!/usr/bin/env bash
# The chapter's argument on real data: a small training set, one model
# trained without augmentation and the same model with augmentation and
# dropout; the curves side by side, the augmented samples, the CSV, a
# table of each arm's accuracy on a test split that neither training nor
# the choice of checkpoint saw, and the whole experiment as one HTML page
# (report.html, convkit report).
#
#   scripts/ch8-small-data.sh [--epochs N] [--seeds K] [--policy P] [--quick]
#                             [--per-class N] [--out DIR] [DIR|ARCHIVE]
#
# Without a source: 100 images per class (--per-class) of Fashion-MNIST's
# training set for training and as many for validation, and as many of its
# test set for the test (Debian's dataset-fashion-mnist); the book's mnist
# convnet, and with augmentation flip=horizontal,zoom=0.1,shift=0.1 and
# Dropout(0.5) (scripts/models/mnist-dropout.spec); 30 epochs each. With
# a class-per-folder set (such as ../shared/data/alien-vs-predator/train)
# or an archive: the book's split (half for training, a quarter each for
# validation and test: its first edition's 1,000, 500 and 500 cats and dogs
# of each class), the book's catsdogs-2nd model (180x180, RMSprop as
# the book ran it, JPEGs decoded whole as Keras does), 30 epochs without
# augmentation and 100 with chollet-2nd and the dropout variant, as the
# book. --epochs N gives both arms N epochs; --quick, 3. Each arm keeps its
# lowest-val_loss checkpoint, evaluated on the test split. --seeds K
# trains each arm with seeds 1..K and the table gives the mean and spread.
# Seeded: run twice, it gives the same curves.csv and results.md.
#
# Everything it writes goes into --out (default: out/ch8-small-data in the
# repository); relative paths are taken from where it is started. CONVKIT,
# if set, is the convkit binary to run (e.g. a test's build directory's);
# otherwise build/cli/convkit, made by scripts/setup.sh when missing.
set -euo pipefail
epochs="" seeds=1 out="" src="" policy="" per_class=100
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --quick) epochs=3; shift ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --per-class) per_class=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "ch8-small-data: unknown option $1" >&2; exit 2 ;;
    *) src=$1; shift ;;
  esac
done
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-small-data}
claim_out "$out" ${src:+"$src"}
rm -f "$out"/data.db "$out"/runs.db "$out"/*.ckpt
if [ -z "$src" ]; then
  fm=/usr/share/datasets/fashion-mnist
  # the publisher's test split stays whole: --limit-per-class takes its first N per class
  "$convkit" prepare-dataset "$fm/train-images-idx3-ubyte.gz" "$fm/t10k-images-idx3-ubyte.gz" \
    --split train=0.5,validation=0.5 --limit-per-class "$per_class" --seed 1 \
    --class-names "$fashion_mnist_classes" -o "$out/data.db" -q
  plain=mnist aug=$root/scripts/models/mnist-dropout.spec batch=32 train_opts=()
  # Clothes are upright and centred: small shifts and zooms, mirrored.
  policy=${policy:-flip=horizontal,zoom=0.1,shift=0.1}
  plain_epochs=${epochs:-30} aug_epochs=${epochs:-30}
else
  "$convkit" prepare-dataset "$src" --split train=0.5,validation=0.25,test=0.25 --seed 1 \
    -o "$out/data.db" -q
  plain=catsdogs-2nd aug=catsdogs-2nd-dropout batch=32
  train_opts=(--optimizer rmsprop-tf2 --decode full)
  policy=${policy:-chollet-2nd}
  plain_epochs=${epochs:-30} aug_epochs=${epochs:-100}
fi
"$convkit" info "$out/data.db" | sed -n '1,8p'

for seed in $(seq 1 "$seeds"); do
  for arm in plain augmented; do
    model=$plain n=$plain_epochs extra=()
    if [ $arm = augmented ]; then model=$aug n=$aug_epochs extra=(--augment "$policy"); fi
    echo "== $arm, seed $seed: $n epochs"
    "$convkit" train --data "$out/data.db" --model "$model" --name "$arm-s$seed" --seed "$seed" \
      --epochs "$n" --batch $batch --runs "$out/runs.db" "${train_opts[@]}" "${extra[@]}"
    "$convkit" evaluate "$out/$arm-s$seed.best.ckpt" --data "$out/data.db" --split test \
      --runs "$out/runs.db" --name "$arm-s$seed" | head -1
  done
done

"$convkit" curves plot --runs "$out/runs.db" --run plain-s1 --label "without augmentation" \
  --run augmented-s1 --label "with augmentation and dropout" \
  --title "Small training set: $(sqlite3 "$out/data.db" "SELECT count(*) FROM samples WHERE split = 'train'") images" \
  -o "$out/curves.png"
"$convkit" curves plot --runs "$out/runs.db" --run plain-s1 --run augmented-s1 --layout side -o "$out/curves-side.svg"
"$convkit" curves export --runs "$out/runs.db" --columns loss,accuracy,val_loss,val_accuracy -o "$out/curves.csv"
sample=$(sqlite3 "$out/data.db" "SELECT id FROM samples WHERE split = 'train' AND status = 'ok' ORDER BY id LIMIT 1")
"$convkit" augment preview "$out/data.db" --sample "$sample" --policy "$policy" -n 9 --cell 112 \
  -o "$out/augmented-samples.png"

results_table "$out/runs.db" > "$out/results.md"
cat "$out/results.md"
"$convkit" report --runs "$out/runs.db" --title "Small training set, without and with augmentation" \
  -o "$out/report.html"
echo "outputs in $out/: report.html, curves.png, curves-side.svg, curves.csv, augmented-samples.png, results.md, runs.db"
