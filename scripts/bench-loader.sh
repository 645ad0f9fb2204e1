#!/usr/bin/env bash
# Benchmark of the training loader (`convkit bench loader`) next to
# torchvision's DataLoader (bench/peer_loader.py) measured in the same run,
# on a Kaggle-like corpus.
#
#   scripts/bench-loader.sh [CORPUS_DIR]     (default /work/bench-data/corpus-4000)
#
# CORPUS_DIR holds dogs-vs-cats.zip and the same images as files in train/
# (../shared/bench/make_corpus.py makes such a folder). The zip is prepared
# into a scratch catalog whose train split (the files of train/) both sides
# read: convkit from the catalog's BLOBs, torchvision from the JPEG files
# (page cache warmed first). Both at their best: torchvision with PIL's
# draft mode and tcmalloc preloaded. 0 (inline), 1 and 2 workers, without
# augmentation and with POLICY (default chollet-2nd), SIZE x SIZE (150),
# batch 32. ROUNDS (default 1) alternates the two sides that many times and
# keeps each configuration's best figure. Prints a Markdown table for
# docs/BENCHMARKS.md; convkit's images per CPU-second are the steadier
# figure on a shared machine. CONVKIT overrides the convkit binary;
# BASELINE, if set, is another convkit binary (an older build) run in the
# same rounds, for a "before" column.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-/work/bench-data/corpus-4000}
policy=${POLICY:-chollet-2nd}
size=${SIZE:-150}
rounds=${ROUNDS:-1}
zip="$corpus/dogs-vs-cats.zip"
[ -f "$zip" ] && [ -d "$corpus/train" ] || {
  echo "usage: scripts/bench-loader.sh [CORPUS_DIR]  ($zip or $corpus/train not found)" >&2
  exit 2
}
scripts/setup.sh --bench >/dev/null
CONVKIT=${CONVKIT:-$PWD/build/cli/convkit}
py=/usr/bin/python3
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$CONVKIT" prepare-dataset "$zip" -o "$scratch/bench.db" -q >/dev/null
find "$corpus/train" -name '*.jpg' -print0 | xargs -0 cat > /dev/null
cat "$scratch/bench.db" > /dev/null

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
  "$CONVKIT" bench loader "$scratch/bench.db" --policy "$policy" --size "$size" \
    --workers 0,1,2 --json >> "$scratch/convkit.jsonl"
  if [ -n "${BASELINE:-}" ]; then
    "$BASELINE" bench loader "$scratch/bench.db" --policy "$policy" --size "$size" \
      --workers 0,1,2 --json >> "$scratch/baseline.jsonl"
  fi
  LD_PRELOAD=$tcmalloc $py bench/peer_loader.py --data "$corpus/train" --draft on \
    --policies none "$policy" --workers 0 1 2 --size "$size" >> "$scratch/peer.jsonl"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo "load average before / after: $load_before / $load_after; rounds: $rounds (best kept)"
echo
POLICY=$policy $py - "$scratch/convkit.jsonl" "$scratch/peer.jsonl" "${BASELINE:+$scratch/baseline.jsonl}" <<'EOF'
import json, os, sys

policy = os.environ["POLICY"]

def best(path, key_workers):
    out = {}
    for line in open(path):
        d = json.loads(line)
        pol = "none" if d["policy"] == "none" else policy
        key = (pol, d[key_workers])
        if key not in out or d["images_per_s"] > out[key]["images_per_s"]:
            out[key] = d
    return out

ck = best(sys.argv[1], "workers")
tv = best(sys.argv[2], "workers")
bl = best(sys.argv[3], "workers") if len(sys.argv) > 3 and sys.argv[3] else None
print("| policy | workers |" + (" before img/s (img/CPU-s) |" if bl else "")
      + " convkit img/s | convkit batches/s | convkit img/CPU-s "
      "| convkit stall s | torchvision img/s | ratio |")
print("| --- | ---: |" + (" ---: |" if bl else "") + " ---: | ---: | ---: | ---: | ---: | ---: |")
for pol in ("none", policy):
    for w in (0, 1, 2):
        c, t = ck.get((pol, w)), tv.get((pol, w))
        if not c or not t:
            continue
        before = ""
        if bl and (pol, w) in bl:
            b = bl[(pol, w)]
            before = " %.0f (%.0f) |" % (b["images_per_s"], b["images_per_cpu_s"])
        print("| %s | %d |%s %.0f | %.1f | %.0f | %.2f | %.0f | %.2fx |" % (
            pol, w, before, c["images_per_s"], c["batches_per_s"], c["images_per_cpu_s"],
            c["stall"], t["images_per_s"], c["images_per_s"] / t["images_per_s"]))
tbest = max((d for (p, _), d in tv.items() if p == policy), key=lambda d: d["images_per_s"])
c2 = ck[(policy, 2)]
print()
print("%s, 2 workers: convkit %.0f img/s vs torchvision's best %.0f img/s (%d workers): "
      "%.2fx (target 3x)" % (policy, c2["images_per_s"], tbest["images_per_s"],
                             tbest["workers"], c2["images_per_s"] / tbest["images_per_s"]))
EOF
