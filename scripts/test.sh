#!/usr/bin/env bash
# Runs every test of umd: unit, CLI and kernel-oracle tests on a normal build, the same
# unit and CLI tests under ASan+UBSan, the concurrency tests under TSan, and every fuzz
# target for a bounded time (fuzz/run.sh, clang; UMD_FUZZ_SECONDS per target, default 20),
# whose clang build also checks the thread-safety annotations.
# Usage: scripts/test.sh            (everything)
#        UMD_TEST_FAST=1 scripts/test.sh   (skip the sanitizer and fuzz builds; a clang
#                                           build of the annotated libraries instead)
#
# The sanitizer and fuzz builds are clang's: it compiles this code at -O0 in about half of
# GCC's time (array_test.cc under ASan: 3.3 s against 6.0 s of CPU), and its TSan runs the
# concurrency tests in a third of the time. The normal build stays GCC's, with -Werror:
# that is the compiler a user builds umd with. Nothing runs beside the kernel-oracle tests:
# their TCG guest failed to boot once when builds ran beside it (issue notes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
JOBS=$(nproc)
build() { # dir, [targets...] --, cmake args...
  local dir=$1; shift
  local targets=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do targets+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j"$JOBS" "${targets[@]}"
}
export UMD_SHARED=${UMD_SHARED:-$(cd .. && pwd)/shared}
build build -- -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ -n "${UMD_TEST_FAST:-}" ]; then
  echo "== clang thread-safety analysis =="
  # The annotated libraries (GUARDED_BY/REQUIRES, util/mutex.h); -DUMD_THREAD_SAFETY=ON
  # makes every -Wthread-safety finding an error. The full run gets this check from the
  # fuzz build (clang, the same flag, every library), without a build of its own.
  build build-clang umd_array umd_sync umd_bitmap_runtime -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DUMD_THREAD_SAFETY=ON
else
  CLANG=(-DCMAKE_CXX_COMPILER=clang++ -DUMD_WERROR=OFF)
  echo "== ASan+UBSan =="
  build build-asan -- -DCMAKE_BUILD_TYPE=Debug -DUMD_SANITIZE=ON "${CLANG[@]}"
  (cd build-asan && ctest --output-on-failure -j"$JOBS" -LE oracle)
  echo "== TSan (concurrency) =="
  # Only the binaries whose tests carry the "concurrency" label need a TSan build:
  # member I/O (io_uring), the stripe cache, data path and sync thread, the NBD server,
  # the running bitmaps, the reshape overseer's thread beside an array.
  # umd_torture: power cuts under client writes, an Array over FaultyMembers (a bounded
  # sample; its "torture" label).
  build build-tsan io_test block_test personality_test sync_test array_test overseer_test nbd_test \
    bitmap_runtime_test umd_torture -- -DCMAKE_BUILD_TYPE=Debug -DUMD_TSAN=ON "${CLANG[@]}"
  (cd build-tsan && ctest --output-on-failure -j"$JOBS" -L 'concurrency|torture')
  echo "== fuzz (libFuzzer, ASan+UBSan) =="
  fuzz/run.sh "${UMD_FUZZ_SECONDS:-20}"
fi
echo "== all tests (unit, CLI, kernel oracle) =="
(cd build && ctest --output-on-failure -j"$JOBS")
