#!/usr/bin/env bash
# The test command: sets up if needed, builds with -Werror and runs every
# suite under CTest, then again built with ASan+UBSan, then the pipeline
# suite under ThreadSanitizer, then the module suites of a build with no
# x86 kernel (-DCK_ISA=generic).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

need_setup=0
for m in jansson vips libturbojpeg libarchive sqlite3 openblas check libxxhash plplot hdf5 ompi-c; do
  pkg-config --exists "$m" || need_setup=1
done
[ -d /usr/share/datasets/fashion-mnist ] || need_setup=1
command -v sqlite3 >/dev/null && command -v vipsheader >/dev/null && command -v mpirun >/dev/null || need_setup=1
command -v chromium >/dev/null || need_setup=1
# The report's test loads pages in headless Chromium: here it must.
export CONVKIT_REQUIRE_BROWSER=1
[ -e /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ] || need_setup=1
[ $need_setup -eq 0 ] || scripts/setup.sh

# Assertions stay on in test builds (no NDEBUG).
build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" -DCK_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

echo "== tests (release, -Werror)"
build build-test
(cd build-test && ctest --output-on-failure -j"$jobs")

echo "== tests (ASan+UBSan)"
build build-asan -DCK_SANITIZE=address,undefined
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export CK_TIMEOUT_MULTIPLIER=10
(cd build-asan && ctest --output-on-failure -j"$jobs")
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

if [ -d tests/pipeline ]; then
  echo "== pipeline tests (TSan)"
  build build-tsan -DCK_SANITIZE=thread
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp"
  (cd build-tsan && ctest --output-on-failure -R '^pl')
fi
# The portable build a port starts from: no x86 kernel compiled in.
echo "== module tests (-DCK_ISA=generic)"
build build-generic -DCK_ISA=generic
(cd build-generic && ctest --output-on-failure -j"$jobs" -E '^cli_')
echo "== all tests passed"
