#!/bin/bash
# bench/profile.sh: where umd's time goes for one bench workload, as issue 10 asks of every
# row that misses its target. It serves one array over NBD on a private tmpfs (as
# bench/run.sh does), fills it, runs fio's nbd engine on it and records the daemon with
# `perf record -g` in the middle of the run, then prints
#   - the throughput and umd's CPU time per request (utime + stime of every thread,
#     io_uring workers included, over the requests fio completed);
#   - the CPU of each umd thread, by name (reader, writer, submitter, reaper, iou-wrk...);
#   - the top 20 symbols by self time.
#
#   bench/profile.sh [--level 0] [--disks 4] [--rw randwrite] [--bs 4k] [--seconds 8]
#                    [--loop] [--no-perf]
#   bench/profile.sh --sync check|resync|recover [--level 5] [--disks 4] [--member-mib 1024]
#   (64 KiB chunks, as the bench's arrays)
#
# --loop: members are loop devices with direct I/O over the tmpfs files (bench's -loop rows).
# --sync: no fio; one sync of the array, unthrottled, as bench/sync_bench.py runs it
#   (resync: created without --assume-clean; recover: onto a spare, after --fail of member
#   1), recorded from its start to its end. Besides the rest it prints, per umd thread, how
#   long it ran and how long it was runnable but waited for a CPU (perf sched): the
#   measure of two threads that could run at once but were placed on one CPU.
# Needs root (mount, losetup), fio, perf. UMD_BIN overrides the umd binary (default:
# build-bench/src/cli/umd, built by bench/run.sh). Nothing is left behind.
#
# perf in a VM samples with cpu-clock: time with interrupts off is charged to the point
# where they come back on (finish_task_switch, _raw_spin_unlock_irqrestore), so read those
# two as "switching threads", not as work.
set -euo pipefail

LEVEL=0 DISKS=4 RW=randwrite BS=4k SECONDS_=8 LOOP=0 PERF=1 SYNC="" MEMBER_MIB=320
while [ $# -gt 0 ]; do
  case "$1" in
    --level) LEVEL=$2; shift 2 ;;
    --disks) DISKS=$2; shift 2 ;;
    --rw) RW=$2; shift 2 ;;
    --bs) BS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --loop) LOOP=1; shift ;;
    --no-perf) PERF=0; shift ;;
    --sync) SYNC=$2; shift 2 ;;
    --member-mib) MEMBER_MIB=$2; shift 2 ;;
    *) echo "profile.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
UMD=${UMD_BIN:-$ROOT/build-bench/src/cli/umd}
[ -x "$UMD" ] || { echo "profile.sh: no $UMD (run bench/run.sh once, or set UMD_BIN)" >&2; exit 1; }
for t in fio perf; do command -v $t >/dev/null || { echo "profile.sh: $t is not installed" >&2; exit 1; }; done

DIR=$(mktemp -d /tmp/umd-profile-XXXXXX)
mkdir "$DIR/tmpfs"
if [ -n "$SYNC" ]; then
  case "$SYNC" in check|resync|recover) ;; *) echo "profile.sh: --sync check, resync or recover" >&2; exit 2 ;; esac
  [ "$LEVEL" = 0 ] && LEVEL=5
  [ "$MEMBER_MIB" = 320 ] && MEMBER_MIB=1024
fi
mount -t tmpfs -o size=$(((DISKS + 2) * MEMBER_MIB))M tmpfs "$DIR/tmpfs"
export UMD_RUNTIME_DIR=$DIR/run
LOOPS=()
cleanup() {
  "$UMD" --stop prof >/dev/null 2>&1 || true
  for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null || true; done
  umount "$DIR/tmpfs" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

MEMBERS=()
for i in $(seq 0 $((DISKS - 1))); do
  f=$DIR/tmpfs/m$i.img
  if [ -n "$SYNC" ]; then  # written through: no timed pass pays for first-touch clearing
    dd if=/dev/zero of="$f" bs=1M count="$MEMBER_MIB" status=none
  else
    fallocate -l "${MEMBER_MIB}M" "$f"
  fi
  if [ "$LOOP" = 1 ]; then
    d=$(losetup -f --show --direct-io=on "$f")
    LOOPS+=("$d")
    MEMBERS+=("$d")
  else
    MEMBERS+=("$f")
  fi
done
threads_of() { for t in /proc/$1/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done; }
top_symbols() {
  echo "-- top 20 symbols, self time"
  perf report -i "$DIR/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -20
}

if [ -n "$SYNC" ]; then
  CLEAN=--assume-clean
  [ "$SYNC" = resync ] && CLEAN=
  CHUNK=--chunk=64K
  [ "$LEVEL" = 1 ] && CHUNK=
  "$UMD" --create prof --level="$LEVEL" --raid-devices="$DISKS" $CHUNK $CLEAN "${MEMBERS[@]}" >/dev/null 2>"$DIR/create.log" ||
    { cat "$DIR/create.log" >&2; exit 1; }
  [ "$SYNC" = recover ] && dd if=/dev/zero of="$DIR/tmpfs/spare.img" bs=1M count="$MEMBER_MIB" status=none
  T0=$(date +%s.%N)  # a resync starts at assembly: its clock too (perf joins a little later)
  "$UMD" --assemble prof "${MEMBERS[@]}" >/dev/null 2>&1
  PID=$("$UMD" --detail prof --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  "$UMD" --attr prof sync_speed_max 10000000 >/dev/null
  if [ "$SYNC" != resync ]; then
    until [ "$("$UMD" --attr prof sync_action)" = idle ]; do sleep 0.05; done
  fi
  threads_of "$PID" >"$DIR/t0"
  c0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
  if [ "$PERF" = 1 ]; then
    perf record -q -g -p "$PID" -o "$DIR/perf.data" 2>/dev/null &
    PR=$!
    perf sched record -o "$DIR/sched.data" >/dev/null 2>&1 &
    PS=$!
    [ "$SYNC" != resync ] && sleep 0.5
  fi
  [ "$SYNC" != resync ] && T0=$(date +%s.%N)
  case "$SYNC" in
    check) "$UMD" --attr prof sync_action check >/dev/null ;;
    recover) "$UMD" --manage prof --add "$DIR/tmpfs/spare.img" >/dev/null
             "$UMD" --manage prof --fail "${MEMBERS[1]}" >/dev/null ;;
  esac
  # Polled every 50 ms: each poll is a umd process, whose CPU would otherwise crowd the sync.
  while [ "$("$UMD" --attr prof sync_action)" != idle ] || [ "$("$UMD" --attr prof degraded)" != 0 ]; do sleep 0.05; done
  T1=$(date +%s.%N)
  c1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
  threads_of "$PID" >"$DIR/t1"
  [ "$PERF" = 1 ] && { kill -INT $PR $PS 2>/dev/null; wait $PR $PS 2>/dev/null || true; }
  echo "== level $LEVEL, $DISKS members of $MEMBER_MIB MiB, $SYNC, unthrottled"
  python3 -c "t = $T1 - $T0; print(f'{$MEMBER_MIB * 1.048576 / t:,.0f} MB/s per member in {t:.2f} s (polled every 50 ms); umd CPU {($c1 - $c0) / 100:.2f} s')"
  echo "-- umd threads, CPU seconds over the sync (io_uring workers that exited are not listed)"
  join -a 2 "$DIR/t0" "$DIR/t1" | awk '{if (NF == 5) d = $5 - $3; else d = $3; if (d > 0) printf "  %-14s %5.2f s\n", $2, d / 100}' |
    sort -k2 -n -r
  if [ "$PERF" = 1 ]; then
    echo "-- umd threads: ran / runnable but waiting for a CPU (perf sched timehist, ms)"
    perf sched timehist -i "$DIR/sched.data" 2>/dev/null | awk -v pid="$PID" '
      $3 ~ "/" pid "]" { n = $3; sub(/\[.*/, "", n); sub(/-[0-9]+$/, "", n); run[n] += $NF; wait[n] += $(NF - 1) }
      END { for (n in run) printf "  %-14s ran %8.1f  waited %8.1f\n", n, run[n], wait[n] }' | sort -k3 -n -r
    top_symbols
  fi
  exit 0
fi

"$UMD" --create prof --level="$LEVEL" --raid-devices="$DISKS" --chunk=64K --assume-clean \
  "${MEMBERS[@]}" >/dev/null
SOCK=$DIR/s.sock
setsid "$UMD" --assemble prof "${MEMBERS[@]}" --serve "nbd:unix:$SOCK" --foreground >"$DIR/umd.log" 2>&1 &
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
PID=$("$UMD" --detail prof --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
URI="nbd+unix:///prof?socket=$SOCK"
fio --name=fill --ioengine=nbd --uri="$URI" --rw=write --bs=1M --iodepth=8 --size=512M >/dev/null

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
threads() { threads_of "$PID"; }
c0=$(cpu)
fio --name=run --ioengine=nbd --uri="$URI" --rw="$RW" --bs="$BS" --iodepth=32 --size=512M \
  --time_based --runtime="$SECONDS_" --output-format=json >"$DIR/fio.json" 2>/dev/null &
FIO=$!
sleep $((SECONDS_ / 4))
threads >"$DIR/t0"
if [ "$PERF" = 1 ]; then
  perf record -q -g -p "$PID" -o "$DIR/perf.data" -- sleep $((SECONDS_ / 2)) 2>/dev/null
else
  sleep $((SECONDS_ / 2))
fi
threads >"$DIR/t1"
wait $FIO
c1=$(cpu)

echo "== level $LEVEL, $DISKS members$([ "$LOOP" = 1 ] && echo ' (loop devices)'), fio $RW $BS iodepth 32, ${SECONDS_} s"
python3 - "$DIR/fio.json" "$c0" "$c1" "$PERF" <<'EOF'
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index('{'):])["jobs"][0]
bw = j["read"]["bw_bytes"] + j["write"]["bw_bytes"]
n = j["read"]["total_ios"] + j["write"]["total_ios"]
ticks = float(sys.argv[3]) - float(sys.argv[2])
perf = " (perf ran for half the run: it slows the daemon)" if sys.argv[4] == "1" else ""
print(f"throughput {bw / 1e6:,.0f} MB/s, {n / 1e3:,.1f}k requests; umd CPU {ticks * 1e4 / max(n, 1):.2f} us per request"
      f"{perf}; fio usr {j['usr_cpu']:.0f}% sys {j['sys_cpu']:.0f}%")
EOF
echo "-- umd threads, CPU % over the middle half of the run"
join "$DIR/t0" "$DIR/t1" | awk -v s=$((SECONDS_ / 2)) '{d = ($5 - $3) / s; if (d > 0) printf "  %-14s %3d%%\n", $2, d}' |
  sort -k2 -n -r
if [ "$PERF" = 1 ]; then top_symbols; fi
