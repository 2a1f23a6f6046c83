#!/usr/bin/env bash
# The test suite under AddressSanitizer (+ LeakSanitizer) and UndefinedBehaviorSanitizer.
#   scripts/sanitize.sh                 # whole suite (build-asan/)
#   scripts/sanitize.sh -R 'Tokenizer'  # any ctest filter (-R/-E/-L ...) for a subset
# Builds with g++ (or $CXX) at -O1 -g so that stacks are readable and the suite stays fast
# enough; any ASan report, leak or undefined behaviour fails the test that triggered it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${JOBS:-$(nproc)}

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DAUTOLM_SANITIZE=address,undefined \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build build-asan -j"$jobs"

# detect_leaks: every allocation must be freed (LSan runs at exit of each test binary).
# abort_on_error: a report ends the process with SIGABRT, which ctest counts as a failure.
# The suppression files list third-party noise only; see the comments inside them.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/fuzz/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# OpenBLAS starts one thread per core at load; under ASan that only costs memory and time.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

start=$(date +%s)
status=0
ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 1800 "$@" || status=$?
echo "sanitize.sh: ctest ${*:-(whole suite)} finished in $(( $(date +%s) - start )) s, status $status"
exit $status
