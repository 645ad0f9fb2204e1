#!/usr/bin/env bash
# Benchmark of augmentation (`convkit bench augment`) next to torchvision
# (bench/peer_augment.py: PIL decode, RandomHorizontalFlip, RandomAffine of
# the same ranges, Resize, ToTensor) measured in the same run, on the same
# JPEG files, at 1 and 2 threads, without augmentation and with the book's
# two policies. torchvision at its best: PIL's draft mode (its
# shrink-on-load), tcmalloc preloaded, forked worker processes.
#
#   scripts/bench-augment.sh [IMAGE_DIR]   (default /work/bench-data/corpus-4000/train)
#
# Prints a Markdown table for docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/work/bench-data/corpus-4000/train}
[ -d "$dir" ] || { echo "usage: scripts/bench-augment.sh [IMAGE_DIR]" >&2; exit 2; }
scripts/setup.sh --bench > /dev/null
convkit=${CONVKIT:-$PWD/build/cli/convkit}
tc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
n=$(find "$dir" -maxdepth 1 -name '*.jpg' | wc -l)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%d)"
echo "files: $n JPEGs in $dir, output 150x150x3 float32"
for policy in none chollet-2nd chollet-1st; do
  p=$policy
  [ "$policy" = none ] && p=chollet-2nd # convkit runs "none" beside each policy
  "$convkit" bench augment --policy "$p" --threads 1,2 --passes 2 --json "$dir" >> "$scratch/convkit.jsonl"
done
LD_PRELOAD=$tc /usr/bin/python3 bench/peer_augment.py --threads 1 2 --draft on --modes pool \
  --policies none chollet-2nd chollet-1st --images "$n" "$dir" > "$scratch/peer.jsonl"

/usr/bin/python3 - "$scratch/convkit.jsonl" "$scratch/peer.jsonl" <<'PY'
import json, sys
ck = [json.loads(l) for l in open(sys.argv[1])]
peer = [json.loads(l) for l in open(sys.argv[2])]
best = {}
for r in ck:
    best.setdefault((r["policy"], r["threads"]), r)
# The policy texts convkit prints, in the order the script ran them.
texts = [r["policy"] for r in ck if r["policy"] != "none"]
order = ["none"] + list(dict.fromkeys(texts))
label = {"none": "none"}
for t, name in zip(dict.fromkeys(texts), ["chollet-2nd", "chollet-1st"]):
    label[t] = name
print()
print("| policy | threads | convkit samples/s | convkit samples/CPU-s | torchvision samples/s | ratio |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for pol in order:
    for t in (1, 2):
        r = best.get((pol, t))
        q = [p for p in peer if p["policy"] == label[pol] and p["threads"] == t]
        if not r or not q:
            continue
        tv = max(p["images_per_s"] for p in q)
        print(f"| {label[pol]} | {t} | {r['samples_per_s']:.0f} | {r['samples_per_cpu_s']:.0f} | {tv:.0f} | {r['samples_per_s'] / tv:.2f}x |")
PY
