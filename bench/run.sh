#!/usr/bin/env bash
# umd's benchmark: builds umd and parity_bench (Release) in build-bench/, then runs
# bench/bench.py, which serves umd arrays and nbdkit peers on unix sockets, drives them
# with fio's nbd engine, and prints one Markdown table of results and ratios.
#
#   bench/run.sh [--runtime S] [--quick] [--only raid0,nbdkit-null,...] [--json-out FILE]
#                [--tmpfs DIR] [--keep-logs]
#   UMD_BENCH_NO_BUILD=1 bench/run.sh ...   # use the existing build-bench/
#
# Needs: fio, nbdkit, libnbd-bin (nbdinfo), libbenchmark-dev, python3 (Debian packages).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${UMD_BENCH_BUILD:-$ROOT/build-bench}"

missing=()
for t in fio nbdkit nbdinfo python3 cmake ninja; do
  command -v "$t" >/dev/null || missing+=("$t")
done
if ((${#missing[@]})); then
  echo "bench: missing ${missing[*]} (Debian: apt-get install fio nbdkit libnbd-bin python3 cmake ninja-build libbenchmark-dev)" >&2
  exit 2
fi

if [[ -z "${UMD_BENCH_NO_BUILD:-}" ]]; then
  # UMD_WERROR=OFF: GCC 12 at -O3 raises false -Wrestrict warnings in std::string code.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release  >&2
  ninja -C "$BUILD" umd parity_bench >&2
fi

has_json_out=0
for a in "$@"; do [[ "$a" == --json-out* ]] && has_json_out=1; done
extra=()
((has_json_out)) || extra=(--json-out "$BUILD/bench-results.json")

exec python3 "$ROOT/bench/bench.py" --umd "$BUILD/src/cli/umd" \
  --parity-bench "$BUILD/bench/parity_bench" "${extra[@]}" "$@"
