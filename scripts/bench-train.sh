#!/usr/bin/env bash
# Benchmark of the trainer (issue 5): training images/s of mnist (batch 64),
# catsdogs-1st and catsdogs-2nd (batch 32) at 1 and 2 threads, with GFLOP/s,
# the fraction of OpenBLAS's sgemm peak measured in the same process and
# peak RSS; next to the PyTorch peer (bench/peer_train.py) measured in the
# same run, as users run it (glibc malloc) and at its best (tcmalloc).
#
#   scripts/bench-train.sh [-r REPEATS] [-m "MODEL..."] [-t "1 2"] [-l]
#
#   -r  run every configuration REPEATS times, alternating convkit and the
#       peer, and keep each side's best (default 1; the machine is shared,
#       so 3 is better for figures that go in a table)
#   -l  also print convkit's per-layer time table of each best run
#
# BUILD (default: build) is the CMake build directory; the bench_train
# driver is built in it. Prints a Markdown table on stdout; raw JSON lines
# go to $BENCH_LOG (default: a temporary file, removed at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=1 models="mnist catsdogs-1st catsdogs-2nd" threads="1 2" layers=0
while getopts "r:m:t:l" o; do
  case $o in
    r) repeats=$OPTARG ;;
    m) models=$OPTARG ;;
    t) threads=$OPTARG ;;
    l) layers=1 ;;
    *) echo "usage: scripts/bench-train.sh [-r REPEATS] [-m MODELS] [-t THREADS] [-l]" >&2; exit 2 ;;
  esac
done
build=${BUILD:-build}
cmake --build "$build" --target bench_train >/dev/null
driver=$build/tests/nn/bench_train
py=/usr/bin/python3
tc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
log=${BENCH_LOG:-$scratch/log.jsonl}
: > "$log"

batch_of() { case $1 in mnist*) echo 64 ;; *) echo 32 ;; esac; }
steps_of() { case $1 in mnist*) echo 100 ;; *) echo 10 ;; esac; }

# best FILE KEY: the JSON line of FILE with the largest KEY.
best() { jq -s -c "max_by(.$2)" "$1"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg), best of $repeats"
echo
echo "| model | batch | threads | convkit img/s | GFLOP/s | of sgemm peak (GFLOP/s, kernel) | RSS MiB | PyTorch default img/s | PyTorch tcmalloc img/s | RSS MiB | convkit / PyTorch best |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  b=$(batch_of "$m")
  for t in $threads; do
    ck=$scratch/ck-$m-$t pg=$scratch/pg-$m-$t pt=$scratch/pt-$m-$t
    : > "$ck"; : > "$pg"; : > "$pt"
    for _ in $(seq "$repeats"); do
      "$driver" --model "$m" --batch "$b" --threads "$t" --steps "$(steps_of "$m")" --json >> "$ck"
      $py bench/peer_train.py --models "$m" --threads "$t" --phases train --allocator glibc >> "$pg"
      $py bench/peer_train.py --models "$m" --threads "$t" --phases train --allocator tcmalloc >> "$pt"
    done
    cat "$ck" "$pg" "$pt" >> "$log"
    c=$(best "$ck" train_images_per_s) g=$(best "$pg" images_per_s) p=$(best "$pt" images_per_s)
    jq -n -r --argjson c "$c" --argjson g "$g" --argjson p "$p" --arg m "$m" '
      "| \($m) | \($c.batch) | \($c.threads) | \($c.train_images_per_s | round) | \($c.gflops | round) | "
      + "\($c.peak_fraction * 100 | round)% (\($c.sgemm_gflops | round), \($c.blas_core)) | "
      + "\($c.peak_rss_mib | round) | \($g.images_per_s | round) | \($p.images_per_s | round) | "
      + "\($p.peak_rss_mib | round) | \($c.train_images_per_s / ([$g.images_per_s, $p.images_per_s] | max) * 100 | round)% |"'
  done
done
if [ "$layers" = 1 ]; then
  for m in $models; do
    for t in $threads; do
      echo
      echo "$m, $t thread(s), best run: seconds per step by layer"
      echo
      echo "| layer | type | forward ms | backward ms | share | GFLOP/s |"
      echo "| --- | --- | ---: | ---: | ---: | ---: |"
      best "$scratch/ck-$m-$t" train_images_per_s | jq -r '
        . as $r | (.layers[] | "| \(.name) | \(.type) | \(.forward_s * 1000 * 100 | round / 100) | "
          + "\(.backward_s * 1000 * 100 | round / 100) | "
          + "\((.forward_s + .backward_s) / $r.step_seconds * 1000 | round / 10)% | "
          + "\(if .forward_s + .backward_s > 0 then .gflop / (.forward_s + .backward_s) | round else 0 end) |"),
        "| (zero_grad, loss, update) | | \((.zero_s + .loss_s + .update_s) * 1000 * 100 | round / 100) | | "
          + "\((.zero_s + .loss_s + .update_s) / .step_seconds * 1000 | round / 10)% | |"'
    done
  done
fi
