#!/usr/bin/env bash
# Benchmark of the trainer (issue 5): training images/s of mnist (batch 64),
# catsdogs-1st and catsdogs-2nd (batch 32) at 1 and 2 threads, with GFLOP/s,
# the fraction of OpenBLAS's sgemm peak measured in the same process and
# peak RSS; next to the PyTorch peer (bench/peer_train.py) measured in the
# same run, as users run it (glibc malloc) and at its best (tcmalloc).
#
#   scripts/bench-train.sh [-r REPEATS] [-m "MODEL..."] [-t "1 2"] [-i ISA] [-l]
#
#   -i  the kernel tier: avx2 runs convkit with CONVKIT_ISA=avx2, PyTorch
#       with oneDNN held to AVX2 (DNNL_MAX_CPU_ISA=AVX2) and the sgemm
#       reference on OpenBLAS's Haswell kernels, as on a laptop without
#       AVX-512; avx512 (the default on a CPU that has it) leaves all three
#       at their best
#   -r  run every configuration REPEATS times, alternating convkit and the
#       peer, and keep each side's best (default 1; the machine is shared,
#       so 3 is better for figures that go in a table)
#   -l  also print convkit's per-layer time table of each best run
#
# The figures come from `convkit bench train MODEL --json` (one process per
# model and thread count, so each peak RSS is that model's). BUILD (default:
# build) is the CMake build directory; convkit is built in it. BASELINE, if
# set, is another convkit binary (an older build) run once in the same
# loop, for a before/after column, with OpenBLAS as it loads. Prints a
# Markdown table on stdout; raw JSON lines go to $BENCH_LOG (default: a
# temporary file, removed at exit).
#
# The sgemm peak: OpenBLAS 0.3.21 picks its kernels from the CPU model,
# and on a virtual CPU that it does not recognise it falls back to SSE3
# ("Prescott", about a fifth of the AVX-512 rate). The trainer does not
# depend on it (its products run on kernels of its own), but the peak it
# is compared with should be OpenBLAS's best, so on a CPU with AVX-512 the
# reference is measured with OPENBLAS_CORETYPE=SkylakeX unless the
# variable is already set. The JSON records which kernels ran.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=1 models="mnist catsdogs-1st catsdogs-2nd" threads="1 2" layers=0 isa=""
while getopts "r:m:t:i:l" o; do
  case $o in
    r) repeats=$OPTARG ;;
    m) models=$OPTARG ;;
    t) threads=$OPTARG ;;
    i) isa=$OPTARG ;;
    l) layers=1 ;;
    *) echo "usage: scripts/bench-train.sh [-r REPEATS] [-m MODELS] [-t THREADS] [-i ISA] [-l]" >&2; exit 2 ;;
  esac
done
. scripts/bench-common.sh
baseline=${BASELINE:-}
# The baseline runs with OpenBLAS as it loads (it does its products there).
run_baseline() {
  if [ -n "$coretype" ]; then
    OPENBLAS_CORETYPE=$coretype "$baseline" "$@"
  else
    env -u OPENBLAS_CORETYPE "$baseline" "$@"
  fi
}

batch_of() { case $1 in mnist*) echo 64 ;; *) echo 32 ;; esac; }
steps_of() { case $1 in mnist*) echo 100 ;; *) echo 10 ;; esac; }


echo "$(machine_line), best of $repeats${isa:+, tier $isa}${DNNL_MAX_CPU_ISA:+ (PyTorch: DNNL_MAX_CPU_ISA=$DNNL_MAX_CPU_ISA)}"
echo
echo "| model | batch | threads |${baseline:+ before img/s |} convkit img/s | GFLOP/s | of sgemm peak (GFLOP/s, kernels) | CPU share | RSS MiB | PyTorch default img/s | PyTorch tcmalloc img/s | RSS MiB | convkit / PyTorch best |"
echo "| --- | ---: | ---: |${baseline:+ ---: |} ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  b=$(batch_of "$m")
  for t in $threads; do
    ck=$scratch/ck-$m-$t bl=$scratch/bl-$m-$t pg=$scratch/pg-$m-$t pt=$scratch/pt-$m-$t
    : > "$ck"; : > "$bl"; : > "$pg"; : > "$pt"
    for r in $(seq "$repeats"); do
      "$convkit" bench train --model "$m" --batch "$b" --threads "$t" --steps "$(steps_of "$m")" --json >> "$ck"
      if [ -n "$baseline" ] && [ "$r" = 1 ]; then # slow: once
        run_baseline bench train --model "$m" --batch "$b" --threads "$t" --steps "$(steps_of "$m")" --json >> "$bl"
      fi
      $py bench/peer_train.py --models "$m" --threads "$t" --phases train --allocator glibc >> "$pg"
      $py bench/peer_train.py --models "$m" --threads "$t" --phases train --allocator tcmalloc >> "$pt"
    done
    cat "$ck" "$bl" "$pg" "$pt" >> "$log"
    c=$(best "$ck" train_images_per_s) g=$(best "$pg" images_per_s) p=$(best "$pt" images_per_s)
    before=""
    if [ -n "$baseline" ]; then
      before=" $(best "$bl" train_images_per_s | jq -r '.train_images_per_s * 10 | round / 10') |"
    fi
    jq -n -r --argjson c "$c" --argjson g "$g" --argjson p "$p" --arg m "$m" --arg before "$before" '
      "| \($m) | \($c.batch) | \($c.threads) |\($before) \($c.train_images_per_s * 10 | round / 10) | "
      + "\($c.gflops | round) | \($c.peak_fraction * 100 | round)% (\($c.sgemm_gflops | round), \($c.blas_core); \($c.isa)) | "
      + "\($c.step_cpu_seconds / ($c.step_seconds * $c.threads) * 100 | round)% | "
      + "\($c.peak_rss_mib | round) | \($g.images_per_s * 10 | round / 10) | \($p.images_per_s * 10 | round / 10) | "
      + "\($p.peak_rss_mib | round) | \($c.train_images_per_s / ([$g.images_per_s, $p.images_per_s] | max) * 100 | round)% |"'
  done
done
echo
echo "CPU share: the CPU time of convkit's training steps over threads x wall time (below 100%: other"
echo "processes held the cores, or threads waited)."
if [ "$layers" = 1 ]; then
  for m in $models; do
    for t in $threads; do
      echo
      echo "$m, $t thread(s), best run: time per step by layer (a pool fused with the convolution"
      echo "before it shows no time of its own)"
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
