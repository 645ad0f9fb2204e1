#!/usr/bin/env bash
# Benchmark of `convkit prepare-dataset` on Kaggle-like archives, next to the
# plain libjpeg-turbo decode rate of the same JPEGs measured in the same run.
#
#   scripts/bench-prepare.sh CORPUS_DIR...
#
# Each CORPUS_DIR holds dogs-vs-cats.zip and the same images as files in
# train/ and test1/ (../shared/bench/make_corpus.py makes such a folder; the
# real Kaggle download, unzipped beside its zip, works too). Prints a
# Markdown table for docs/BENCHMARKS.md; scratch catalogs go to $TMPDIR.
#
# Two kinds of figures, both from the same runs:
#   - images/s by the wall clock: what a user sees on an idle machine, but
#     meaningless on a shared one;
#   - images per CPU-second (user + sys of the whole process): steady under
#     load. convkit's counts every thread it runs (the archive reader and
#     the SQLite writer besides the decode workers); ck-tjdecode's counts
#     its decode threads and the reading of the files it preloads.
# The ratio is convkit's 2-thread figure over ck-tjdecode's 2-thread one.
#
# Environment: BUILD (default build/: scripts/setup.sh --bench builds it;
# any other build directory is only brought up to date for the two
# programs), ROUNDS (default 1: each round runs both sides at 1 and 2
# threads; the best figure of each is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/bench-prepare.sh CORPUS_DIR..." >&2; exit 2; }
build=${BUILD:-build}
rounds=${ROUNDS:-1}
if [ "$build" = build ]; then
  scripts/setup.sh --bench >/dev/null
fi
cmake --build "$build" --target convkit_cli ck-tjdecode >/dev/null
convkit=$(cd "$build" && pwd)/cli/convkit
tjdecode=$(cd "$build" && pwd)/bench/ck-tjdecode
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# best FILE KEY: the largest value of KEY over the lines "KEY VALUE" (for
# rates the best round, for peak RSS the worst).
best() { awk -v k="$2" '$1 == k && (!n++ || $2 > m) { m = $2 } END { printf "%.0f", m }' "$1"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); rounds: $rounds (best kept)"
echo
echo "| corpus | images | libjpeg-turbo img/s 1 / 2 thr | libjpeg-turbo img/CPU-s 1 / 2 thr | convkit img/s 1 / 2 thr | convkit img/CPU-s 1 / 2 thr | ratio 2 thr, CPU (wall) | peak RSS 1 / 2 thr (MB) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for corpus in "$@"; do
  zip="$corpus/dogs-vs-cats.zip"
  [ -f "$zip" ] || { echo "$zip: not found" >&2; exit 1; }
  find "$corpus/train" "$corpus/test1" -name '*.jpg' | sort > "$scratch/list"
  n=$(wc -l < "$scratch/list")
  # Warm the page cache for both sides.
  cat "$zip" > /dev/null
  xargs cat < "$scratch/list" > /dev/null
  : > "$scratch/figures"
  for ((r = 1; r <= rounds; r++)); do
    for t in 1 2; do
      # ck-tjdecode times its decode loop itself (files preloaded).
      /usr/bin/time -f '%U %S' -o "$scratch/time" "$tjdecode" -t "$t" - < "$scratch/list" \
        > "$scratch/tj.json"
      read -r user sys < "$scratch/time"
      sed 's/.*"images_per_s":\([0-9.]*\).*/\1/' "$scratch/tj.json" |
        awk -v t="$t" '{ print "tj_wall" t, $1 }' >> "$scratch/figures"
      awk -v t="$t" -v n="$n" -v u="$user" -v s="$sys" \
        'BEGIN { print "tj_cpu" t, n / (u + s) }' >> "$scratch/figures"

      rm -f "$scratch/bench.db"*
      /usr/bin/time -f '%e %U %S %M' -o "$scratch/time" \
        "$convkit" prepare-dataset "$zip" -o "$scratch/bench.db" --threads "$t" -q > /dev/null
      read -r secs user sys kb < "$scratch/time"
      awk -v t="$t" -v n="$n" -v e="$secs" -v u="$user" -v s="$sys" -v k="$kb" 'BEGIN {
        print "ck_wall" t, n / e; print "ck_cpu" t, n / (u + s); print "ck_rss" t, k / 1024 }' \
        >> "$scratch/figures"
    done
  done
  f=$scratch/figures
  ratio=$(awk -v a="$(best "$f" ck_cpu2)" -v b="$(best "$f" tj_cpu2)" \
    -v c="$(best "$f" ck_wall2)" -v d="$(best "$f" tj_wall2)" \
    'BEGIN { printf "%.0f%% (%.0f%%)", 100 * a / b, 100 * c / d }')
  printf '| %s | %d | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s / %s |\n' \
    "$(basename "$corpus")" "$n" "$(best "$f" tj_wall1)" "$(best "$f" tj_wall2)" \
    "$(best "$f" tj_cpu1)" "$(best "$f" tj_cpu2)" "$(best "$f" ck_wall1)" "$(best "$f" ck_wall2)" \
    "$(best "$f" ck_cpu1)" "$(best "$f" ck_cpu2)" "$ratio" "$(best "$f" ck_rss1)" "$(best "$f" ck_rss2)"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
