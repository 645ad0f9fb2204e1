# bench-common.sh: what the model benchmarks share (sourced after their
# options): the build ($BUILD, default build/) brought up to date, convkit
# and the Python peer, a scratch directory removed at exit, the JSON log
# ($BENCH_LOG, default in scratch), OpenBLAS's AVX-512 kernels for the
# sgemm reference on a CPU that has them (the caller's OPENBLAS_CORETYPE,
# if any, kept in $coretype), best() and machine_line().
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
