# bench-common.sh: what the model benchmarks share (sourced after their
# options): the kernel tier ($isa), the build ($BUILD, default build/) brought up to date, convkit
# and the Python peer, a scratch directory removed at exit, the JSON log
# ($BENCH_LOG, default in scratch), OpenBLAS's AVX-512 kernels for the
# sgemm reference on a CPU that has them (the caller's OPENBLAS_CORETYPE,
# if any, kept in $coretype), best() and machine_line().
# $isa (the callers' -i, may be empty): the kernel tier. avx2 holds convkit
# to it (CONVKIT_ISA), PyTorch's oneDNN to AVX2 (DNNL_MAX_CPU_ISA) and the
# sgemm reference to OpenBLAS's Haswell kernels: a laptop without AVX-512.
case ${isa:-} in
  "" | avx512 | generic) ;;
  avx2) export DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell} ;;
  *) echo "$0: -i $isa: want avx512, avx2 or generic" >&2; exit 2 ;;
esac
[ -z "${isa:-}" ] || export CONVKIT_ISA=$isa
build=${BUILD:-build}
cmake --build "$build" --target convkit_cli >/dev/null
convkit=$build/cli/convkit
py=/usr/bin/python3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
log=${BENCH_LOG:-$scratch/log.jsonl}
: > "$log"
coretype=${OPENBLAS_CORETYPE:-}
if [ -z "$coretype" ] && grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
fi

# best FILE KEY: the JSON line of FILE with the largest KEY.
best() { jq -s -c "max_by(.$2)" "$1"; }

# The machine, the date and the load, for a table's heading.
machine_line() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
    "$(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
