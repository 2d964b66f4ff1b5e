#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan; fuzz/CMakeLists.txt) in their own
# build directory and runs each for a bounded time, seeded from fuzz/corpus/<target>
# (committed, small) and from the kernel fixtures (fuzz/make_seeds.py). New inputs
# collect in BUILD/fuzz-corpus/<target>; a crash, leak, UB report or slow input
# (-timeout) leaves BUILD/fuzz-artifacts/<target>-* and fails the run.
# Usage: fuzz/run.sh [SECONDS per target, default 20]
#        FUZZ_TARGETS="fuzz_superblock1 fuzz_examine" fuzz/run.sh 60
#        UMD_FUZZ_BUILD=dir (default build-fuzz), FUZZ_NICE=19 to run niced
# Reproduce a finding: BUILD/fuzz/<target> BUILD/fuzz-artifacts/<target>-crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
PER=${1:-20}
BUILD=${UMD_FUZZ_BUILD:-build-fuzz}
ALL=(fuzz_superblock1 fuzz_superblock0 fuzz_backup_super fuzz_bitmap_super fuzz_examine fuzz_member_set fuzz_nbd_handshake
     fuzz_nbd_transmission fuzz_control_protocol fuzz_cli_args)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL[*]}}"
NICE=(nice -n "${FUZZ_NICE:-0}")
# clang warns where the GCC build (CI's -Werror) does not: warnings stay warnings here,
# except clang's thread-safety analysis of the GUARDED_BY/REQUIRES annotations
# (util/mutex.h), whose findings are errors: this build is also scripts/test.sh's
# thread-safety check.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUMD_FUZZ=ON -DUMD_WERROR=OFF -DUMD_THREAD_SAFETY=ON >/dev/null
"${NICE[@]}" ninja -C "$BUILD" -j"$(nproc)" "${TARGETS[@]}"
python3 fuzz/make_seeds.py "$BUILD/fuzz-seeds"
mkdir -p "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs"
failed=()
printf '%-24s %12s %10s %s\n' target executions exec/s result
for t in "${TARGETS[@]}"; do
  work="$BUILD/fuzz-corpus/$t"
  mkdir -p "$work"
  dirs=("$work")
  for d in "fuzz/corpus/$t" "$BUILD/fuzz-seeds/$t"; do [ -d "$d" ] && dirs+=("$d"); done
  log="$BUILD/fuzz-logs/$t.log"
  rc=0
  "${NICE[@]}" "$BUILD/fuzz/$t" -max_total_time="$PER" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$BUILD/fuzz-artifacts/$t-" "${dirs[@]}" >/dev/null 2>"$log" || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  result=ok
  if [ "$rc" != 0 ]; then
    result="FAILED (exit $rc; $log)"
    failed+=("$t")
    grep -E "ERROR|SUMMARY|oracle failed|runtime error" "$log" | head -5 >&2 || true
  fi
  printf '%-24s %12s %10s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz findings: ${failed[*]}" >&2; exit 1; }
