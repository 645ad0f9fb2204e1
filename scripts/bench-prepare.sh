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
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/bench-prepare.sh CORPUS_DIR..." >&2; exit 2; }
scripts/setup.sh --bench >/dev/null
cmake --build build --target ck-tjdecode >/dev/null
convkit=$PWD/build/cli/convkit
tjdecode=$PWD/build/bench/ck-tjdecode
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo
echo "| corpus | images | libjpeg-turbo 1 thr (img/s) | libjpeg-turbo 2 thr | convkit 1 thr (img/s) | convkit 2 thr | 2 thr ratio | peak RSS 1 / 2 thr (MB) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for corpus in "$@"; do
  zip="$corpus/dogs-vs-cats.zip"
  [ -f "$zip" ] || { echo "$zip: not found" >&2; exit 1; }
  find "$corpus/train" "$corpus/test1" -name '*.jpg' | sort > "$scratch/list"
  n=$(wc -l < "$scratch/list")
  # Warm the page cache for both sides.
  cat "$zip" > /dev/null
  xargs cat < "$scratch/list" > /dev/null
  declare -A tj rate rss
  for t in 1 2; do
    tj[$t]=$("$tjdecode" -t "$t" - < "$scratch/list" | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/')
    rm -f "$scratch/bench.db"*
    /usr/bin/time -f '%e %M' -o "$scratch/time" \
      "$convkit" prepare-dataset "$zip" -o "$scratch/bench.db" --threads "$t" -q > /dev/null
    read -r secs kb < "$scratch/time"
    rate[$t]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    rss[$t]=$(awk -v k="$kb" 'BEGIN { printf "%.0f", k / 1024 }')
  done
  ratio=$(awk -v a="${rate[2]}" -v b="${tj[2]}" 'BEGIN { printf "%.0f%%", 100 * a / b }')
  printf '| %s | %d | %.0f | %.0f | %s | %s | %s | %s / %s |\n' "$(basename "$corpus")" "$n" \
    "${tj[1]}" "${tj[2]}" "${rate[1]}" "${rate[2]}" "$ratio" "${rss[1]}" "${rss[2]}"
done
