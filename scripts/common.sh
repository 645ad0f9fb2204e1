# common.sh: what the experiment scripts share (sourced). Sets `root` (the
# repository) and `convkit`: $CONVKIT if set (e.g. a test's build), else
# build/cli/convkit, made by scripts/setup.sh when missing. The scripts do
# not change directory, so relative paths are the caller's.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${CONVKIT:-}" ]; then
  convkit=$CONVKIT
  [ -x "$convkit" ] || { echo "$(basename "$0"): CONVKIT=$convkit is not executable" >&2; exit 2; }
else
  convkit=$root/build/cli/convkit
  [ -x "$convkit" ] || "$root/scripts/setup.sh"
fi

# Fashion-MNIST's classes, label 0 first (the table of its README), for
# prepare-dataset --class-names.
fashion_mnist_classes="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"

# claim_out DIR [INPUT...]: make DIR the script's output folder, whose
# files the run replaces. A new or empty folder is taken, and so is one a
# convkit script wrote before (it holds .convkit-out); any other is
# refused, so that a mistyped --out never deletes a user's files, and so
# is one that holds an input (the weights, the data).
claim_out() {
  local dir=$1 f
  shift
  mkdir -p "$dir"
  if [ ! -e "$dir/.convkit-out" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "$(basename "$0"): $dir: holds files no convkit script wrote, which a run would" \
      "replace; name a new or empty folder for them" >&2
    exit 2
  fi
  for f in "$@"; do
    case "$(realpath -m "$f")/" in
      "$(realpath "$dir")"/*)
        echo "$(basename "$0"): $f: inside the output folder $dir, whose files a run" \
          "replaces; keep inputs elsewhere" >&2
        exit 2 ;;
    esac
  done
  echo "outputs of scripts/$(basename "$0"); its next run replaces them" > "$dir/.convkit-out"
}

# results_table RUNS_DB: a Markdown table of the runs NAME-sSEED in
# RUNS_DB, one row per NAME over its seeds: the test accuracy of the kept
# (lowest val_loss) checkpoint as `evaluate --split test` recorded it,
# mean and sample standard deviation; the epochs it came from; the best
# validation accuracy; the gap between training and validation accuracy
# at the last epoch (overfitting). Only figures a seeded run reproduces:
# run twice, the table is the same.
results_table() {
  echo "| run | seeds | test accuracy | sd | best epoch | best val_accuracy | final accuracy - val_accuracy |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  sqlite3 -separator ' ' "$1" \
    "SELECT run, (SELECT accuracy FROM evaluations v WHERE v.run = e.run AND v.split = 'test'
                  ORDER BY rowid DESC LIMIT 1),
       (SELECT epoch FROM epochs b WHERE b.run = e.run ORDER BY val_loss, epoch LIMIT 1),
       max(val_accuracy),
       (SELECT accuracy - val_accuracy FROM epochs l WHERE l.run = e.run ORDER BY epoch DESC LIMIT 1)
     FROM epochs e GROUP BY run ORDER BY run" |
  awk '{ arm = $1; sub(/-s[0-9]+$/, "", arm); n[arm]++; s[arm] += $2; q[arm] += $2 * $2
         ep[arm] = ep[arm] (ep[arm] == "" ? "" : ", ") $3; v[arm] += $4; g[arm] += $5 }
       END { for (a in n) { m = s[a] / n[a]; var = q[a] / n[a] - m * m; if (var < 0) var = 0
             sd = n[a] > 1 ? sprintf("%.4f", sqrt(var * n[a] / (n[a] - 1))) : "—"  # no spread from one seed
             printf "| %s | %d | %.4f | %s | %s | %.4f | %.4f |\n", a, n[a], m, sd, ep[a],
                    v[a] / n[a], g[a] / n[a] } }' |
  sort
}
