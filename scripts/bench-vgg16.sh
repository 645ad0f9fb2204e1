#!/usr/bin/env bash
# Benchmark of the pretrained conv base (issue 7): VGG16 conv base inference
# images/s at SIZE x SIZE (default 150), batch 32, at 1 and 2 threads, next
# to PyTorch's torchvision vgg16().features (random weights, eval mode,
# inference_mode, the faster of NCHW and channels_last) measured in the
# same run, as users run it (glibc malloc) and at its best (tcmalloc).
#
#   scripts/bench-vgg16.sh [-r REPEATS] [-t "1 2"] [-s SIZE] [-i ISA] [-l]
#
#   -i  the kernel tier, as in bench-train.sh (avx2: convkit's AVX2 tier
#       against oneDNN held to AVX2)
#   -r  run every configuration REPEATS times, alternating convkit and the
#       peer, and keep each side's best (default 1; 3 for a table)
#   -l  also print convkit's per-layer time table of each best run
#
# BUILD (default: build) is the CMake build directory. Prints a Markdown
# table on stdout; raw JSON lines go to $BENCH_LOG (default: a temporary
# file). OpenBLAS's kernels do not matter here (convkit's convolutions run
# on its own), but the sgemm reference it prints is measured with
# OPENBLAS_CORETYPE=SkylakeX on a CPU with AVX-512, as in bench-train.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=1 threads="1 2" size=150 layers=0 isa=""
while getopts "r:t:s:i:l" o; do
  case $o in
    r) repeats=$OPTARG ;;
    t) threads=$OPTARG ;;
    s) size=$OPTARG ;;
    i) isa=$OPTARG ;;
    l) layers=1 ;;
    *) echo "usage: scripts/bench-vgg16.sh [-r REPEATS] [-t THREADS] [-s SIZE] [-i ISA] [-l]" >&2; exit 2 ;;
  esac
done
. scripts/bench-common.sh

echo "$(machine_line), best of $repeats, VGG16 conv base ${size}x${size}, batch 32, inference${isa:+, tier $isa}${DNNL_MAX_CPU_ISA:+ (PyTorch: DNNL_MAX_CPU_ISA=$DNNL_MAX_CPU_ISA)}"
echo
echo "| threads | convkit img/s | GFLOP/s | RSS MiB | PyTorch default img/s | PyTorch tcmalloc img/s | RSS MiB | convkit / PyTorch best |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for t in $threads; do
  ck=$scratch/ck-$t pg=$scratch/pg-$t pt=$scratch/pt-$t
  : > "$ck"; : > "$pg"; : > "$pt"
  for r in $(seq "$repeats"); do
    "$convkit" bench train vgg16-base --size "$size" --batch 32 --threads "$t" --steps 4 --json >> "$ck"
    $py bench/peer_train.py --models vgg16 --size "$size" --threads "$t" --phases inference \
      --allocator glibc >> "$pg"
    $py bench/peer_train.py --models vgg16 --size "$size" --threads "$t" --phases inference \
      --allocator tcmalloc >> "$pt"
  done
  cat "$ck" "$pg" "$pt" >> "$log"
  c=$(best "$ck" infer_images_per_s) g=$(best "$pg" images_per_s) p=$(best "$pt" images_per_s)
  jq -n -r --argjson c "$c" --argjson g "$g" --argjson p "$p" '
    "| \($c.threads) | \($c.infer_images_per_s * 100 | round / 100) | \($c.gflops | round) | "
    + "\($c.peak_rss_mib | round) | \($g.images_per_s * 100 | round / 100) | "
    + "\($p.images_per_s * 100 | round / 100) | \($p.peak_rss_mib | round) | "
    + "\($c.infer_images_per_s / ([$g.images_per_s, $p.images_per_s] | max) * 100 | round)% |"'
done
if [ "$layers" = 1 ]; then
  for t in $threads; do
    echo
    echo "$t thread(s), best run: time per batch by layer (a pool fused with the convolution"
    echo "before it shows no time of its own)"
    echo
    echo "| layer | forward ms | share | GFLOP/s |"
    echo "| --- | ---: | ---: | ---: |"
    best "$scratch/ck-$t" infer_images_per_s | jq -r '
      . as $r | .layers[] | "| \(.name) | \(.forward_s * 1000 * 100 | round / 100) | "
        + "\(.forward_s / $r.step_seconds * 1000 | round / 10)% | "
        + "\(if .forward_s > 0 then .gflop / .forward_s | round else 0 end) |"'
  done
fi
