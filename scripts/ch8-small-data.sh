#!/usr/bin/env bash
# The chapter's argument on real data: a small training set, one model
# trained without augmentation and the same model with augmentation and
# dropout, long enough to show overfitting; the curves side by side, the
# augmented samples, the CSV and a table of best validation accuracy.
#
#   scripts/ch8-small-data.sh [--epochs N] [--seeds K] [--policy P]
#                             [--per-class N] [--out DIR] [DIR|ARCHIVE]
#
# Without a source: 100 images per class (--per-class) of Fashion-MNIST
# for training and as many for validation (Debian's dataset-fashion-mnist),
# the book's mnist convnet, and with augmentation
# flip=horizontal,zoom=0.1,shift=0.1 and Dropout(0.5)
# (scripts/models/mnist-dropout.spec). With a
# class-per-folder set (such as ../shared/data/alien-vs-predator/train) or
# archive: split 80/20, the book's catsdogs-2nd model (180x180),
# augmentation chollet-2nd with the dropout variant. 30 epochs unless
# --epochs; --seeds K trains each arm with seeds 1..K and the table gives
# the mean and spread. Seeded: run twice, it gives the same curves.csv.
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
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --per-class) per_class=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ch8-small-data: unknown option $1" >&2; exit 2 ;;
    *) src=$1; shift ;;
  esac
done
. "$(dirname "$0")/common.sh"
out=${out:-$root/out/ch8-small-data}
mkdir -p "$out"
rm -f "$out"/data.db "$out"/runs.db "$out"/*.ckpt
if [ -z "$src" ]; then
  fm=/usr/share/datasets/fashion-mnist
  "$convkit" prepare-dataset "$fm/train-images-idx3-ubyte.gz" --split train=0.5,validation=0.5,test=0 \
    --limit-per-class "$per_class" --seed 1 -o "$out/data.db" -q
  plain=mnist aug=$root/scripts/models/mnist-dropout.spec batch=32 lr=0.001
  # Clothes are upright and centred: small shifts and zooms, mirrored.
  policy=${policy:-flip=horizontal,zoom=0.1,shift=0.1}
  epochs=${epochs:-30}
else
  "$convkit" prepare-dataset "$src" --split train=0.8,validation=0.2,test=0 --seed 1 -o "$out/data.db" -q
  plain=catsdogs-2nd aug=catsdogs-2nd-dropout batch=32 lr=0.001
  policy=${policy:-chollet-2nd}
  epochs=${epochs:-30}
fi
"$convkit" info "$out/data.db" | sed -n '1,8p'

for seed in $(seq 1 "$seeds"); do
  for arm in plain augmented; do
    model=$plain extra=()
    if [ $arm = augmented ]; then model=$aug extra=(--augment "$policy"); fi
    echo "== $arm, seed $seed: $epochs epochs"
    "$convkit" train --data "$out/data.db" --model "$model" --name "$arm-s$seed" --seed "$seed" \
      --epochs "$epochs" --batch $batch --lr $lr --runs "$out/runs.db" "${extra[@]}"
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

# Per arm, over the seeds: best validation accuracy (mean and spread),
# lowest validation loss, and the gap between training and validation
# accuracy at the last epoch (overfitting).
{
  echo "| arm | seeds | best val_accuracy | sd | lowest val_loss | final accuracy - val_accuracy |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  sqlite3 -separator ' ' "$out/runs.db" \
    "SELECT run, max(val_accuracy), min(val_loss),
       (SELECT accuracy - val_accuracy FROM epochs l WHERE l.run = e.run ORDER BY epoch DESC LIMIT 1)
     FROM epochs e GROUP BY run ORDER BY run" |
  awk '{ arm = $1; sub(/-s[0-9]+$/, "", arm); n[arm]++; s[arm] += $2; q[arm] += $2 * $2
         l[arm] += $3; g[arm] += $4 }
       END { for (a in n) { m = s[a] / n[a]; v = q[a] / n[a] - m * m; if (v < 0) v = 0
             sd = n[a] > 1 ? sprintf("%.4f", sqrt(v)) : "—"  # no spread from one seed
             printf "| %s | %d | %.4f | %s | %.4f | %.4f |\n", a, n[a], m, sd, l[a] / n[a], g[a] / n[a] } }' |
  sort
} > "$out/results.md"
cat "$out/results.md"
echo "outputs in $out/: curves.png, curves-side.svg, curves.csv, augmented-samples.png, results.md, runs.db"
