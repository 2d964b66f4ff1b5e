"""umd's bitmap bench rows (issue 5): random 4 KiB write IOPS on raid1 and raid5 with each
kind of write-intent bitmap, as a ratio to the same array without one, and the resync
after a crash with 1% of the bitmap's chunks dirty, as a ratio to a full resync. Called
by bench.py (`--only bitmap`, and in every full run); everything runs on image files on
the bench's tmpfs, in the same run.

Rows and how each is measured:

* rand write 4 KiB IOPS, raid1 (2 members) and raid5 (4 members, 64 KiB chunks), each with
  no bitmap, an internal bitmap at umd's default chunk (mdadm's: `--bitmap-chunk` not
  given), an internal bitmap with 64 KiB chunks (the worst case: the most bit writes), a
  bitmap file on the same tmpfs (`--bitmap=/abs/path`, default chunk) and the lockless
  bitmap (`--bitmap=lockless`). Arrays: `umd --create … --assume-clean --bitmap=KIND`,
  `umd --assemble … [--bitmap=FILE] --serve nbd:unix:SOCK --foreground`; the daemon's
  bitmap_type must then read "[none]", "[bitmap]" or "[llbitmap]" (else the row is "not
  available" with the reason; so is a kind whose --create or --assemble fails). Members
  are sized for a 512 MiB region (256 MiB with --quick; halved while the machine cannot
  spare twice the images of one level; UMD_BENCH_BITMAP_REGION_MIB overrides) and written
  through with zeros before --create, so no run pays for first-touch page clearing. The
  five arrays of a level are up at once; fio's nbd engine (randwrite, bs 4k, numjobs 1,
  over the region, norandommap) runs at iodepth 16 and at iodepth 1 (16 only with
  --quick), 6 s per (array, iodepth) in 2 interleaved rounds (2 s in 1 with --quick),
  each slice after a 0.5 s unmeasured ramp when it is ≥ 2 s, like bench.py; the second
  round takes the arrays in reverse order. Between two
  rounds of one array the others run for longer than the bitmap's time_base, so each
  slice starts with its bits mostly cleared: slices pay for setting bits again. Ratio:
  IOPS / IOPS of the same level with no bitmap at the same iodepth, measured in the same
  rounds. Issue targets: lockless ≥ 0.95×, internal ≥ 0.7× (shown on both internal rows).
* resync after a crash, raid1 (2 members of 1 GiB; 512 MiB while the machine cannot spare
  twice 2 GiB; UMD_BENCH_BITMAP_MEMBER_MIB overrides): `--create --assume-clean
  --bitmap=internal --bitmap-chunk=1M` (one bit per 1 MiB: ~1023 chunks), assembled,
  the daemons started with UMD_SPEED_LIMIT_MAX=10000000 (KiB/s: unthrottled from their
  first step) and sync_speed_max set to the same as soon as they answer, safe_mode_delay 60
  (so the superblock still says "active" at the crash, as in a crash under load); one 4
  KiB write through NBD into each of 1% of the chunks (chosen at random, fixed seed), then
  SIGKILL to the daemon (its pid from `umd --detail --json`) and `umd --assemble` again,
  sync_speed_max unthrottled again as soon as it answers. Time: from launching the second
  --assemble until sync_action reads "idle", resync_start "none" and last_sync_action is
  no longer "none" (polled every ~10 ms; the end is the midpoint between the last busy
  poll and the first done one). The resync's own time is the engine's: umd/sync_stats'
  last_run_us, from the sync thread's start of the run to its superblocks (the time from
  --assemble also holds the daemon's start-up, 10-20 ms here). The baseline is the same
  array with `--bitmap=none`, the same writes and the same crash: a full resync. Ratio:
  resync time with the bitmap / without (issue target ≤ 0.03), and the same from
  --assemble beside it; done_sectors (umd/sync_stats of the second daemon) for each, and
  their ratio in the JSON.

Python 3 standard library only.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time

from umd_section import UmdSection, fio_jobs, fmt_bw, fmt_iops, run_section

MiB = 1 << 20
UNTHROTTLED = 10_000_000   # KiB/s written to sync_speed_max
POLL = 0.01                # s between resync completion polls (each is one `umd --attr`, ~4 ms)
CHUNK = "64K"              # raid5's chunk
CRASH_BITMAP_CHUNK = "1M"
CRASH_DIRTY = 0.01         # fraction of the bitmap's chunks written before the crash
SEED = 5                   # which chunks get written
ZEROS = memoryview(bytes(8 * MiB))

# (key, label, --bitmap kind, --bitmap-chunk or None, bitmap_type expected in brackets)
KINDS = [
    ("none", "none", "none", None, "none"),
    ("internal", "internal", "internal", None, "bitmap"),
    ("internal-64k", "internal", "internal", "64K", "bitmap"),
    ("file", "file on the tmpfs", "file", None, "bitmap"),
    ("lockless", "lockless", "lockless", None, "llbitmap"),
]
GOALS = {"lockless": 0.95, "internal": 0.7, "internal-64k": 0.7}   # × no bitmap, at least
RESYNC_GOAL = 0.03                                                 # × full resync, at most
LEVELS = [("raid1", "1", 2), ("raid5", "5", 4)]


class BitmapError(Exception):
    pass


def fmt_size(b: int) -> str:
    if b >= MiB and b % MiB == 0:
        return f"{b // MiB} MiB"
    return f"{b // 1024} KiB"


class BitmapBench(UmdSection):
    def __init__(self, bench, H):
        self.b = bench
        self.H = H
        self.args = bench.args
        quick = self.args.quick
        self.depths = [16] if quick else [16, 1]
        self.fio_s = 2.0 if quick else 6.0
        self.rounds = 1 if quick else 2
        self.region = self.pick_region((256 if quick else 512) * MiB)
        self.member = self.pick_member(1024 * MiB)
        self.out = {"region": self.region, "fio_seconds": self.fio_s, "rounds": self.rounds,
                    "iodepths": self.depths, "crash_member_size": self.member,
                    "crash_bitmap_chunk": CRASH_BITMAP_CHUNK, "unthrottled_kib_s": UNTHROTTLED,
                    "rows": [], "arrays": {}, "notes": []}
        self.n_files = 0

    @staticmethod
    def mem_available() -> int | None:
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def level_bytes(self, region) -> int:
        """The most image bytes live at once: the five arrays of one level."""
        return max(len(KINDS) * n * self.H.member_size({"level": lvl, "members": n}, region)
                   for _, lvl, n in LEVELS)

    def pick_region(self, want: int) -> int:
        env = os.environ.get("UMD_BENCH_BITMAP_REGION_MIB")
        if env:
            return int(env) * MiB
        avail = self.mem_available()
        while avail and want > 64 * MiB and 2 * self.level_bytes(want) > avail:
            want //= 2
        return want

    def pick_member(self, want: int) -> int:
        env = os.environ.get("UMD_BENCH_BITMAP_MEMBER_MIB")
        if env:
            return int(env) * MiB
        avail = self.mem_available()
        if avail and 2 * 2 * want > avail:
            want //= 2
        return want

    # --- helpers -------------------------------------------------------------------------

    def log(self, msg):
        self.H.log(f"bitmap: {msg}")

    def umd(self, *argv, timeout=60):
        try:
            r = self.b.umd(*argv, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BitmapError(f"umd {' '.join(argv[:3])}: no answer in {timeout} s")
        if r.returncode != 0:
            msg = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["?"])[-1]
            raise BitmapError(f"umd {' '.join(argv[:3])}: exit {r.returncode}: {msg}")
        return r.stdout.strip()

    def sync_stats(self, arr) -> dict:
        v = self.attr(arr, "umd/sync_stats").split()
        try:
            return {v[i]: int(v[i + 1]) for i in range(0, len(v) - 1, 2)}
        except ValueError:
            raise BitmapError(f"umd/sync_stats: unexpected \"{' '.join(v)}\"")

    def image(self, tag, size) -> str:
        """An image of SIZE, written through (zeros): fallocate on tmpfs leaves pages to be
        cleared on first touch, which would fall on the timed runs instead of here."""
        self.n_files += 1
        path = os.path.join(self.b.tmpfs, f"bitmap-{tag}-{self.n_files}.img")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            done = 0
            while done < size:
                done += os.write(fd, ZEROS[:min(len(ZEROS), size - done)])
        finally:
            os.close(fd)
        return path

    # --- arrays --------------------------------------------------------------------------

    def create(self, arr, level, n, size, kind, bchunk, clean=True) -> dict:
        members = [self.image(f"{arr}-{i}", size) for i in range(n)]
        a = {"arr": arr, "level": level, "members": members, "size": size, "files": list(members),
             "proc": None, "sock": os.path.join(self.b.work, f"{arr}.sock"), "bitmap_file": None,
             "log": os.path.join(self.b.work, f"{arr}.log"), "assemblies": 0}
        bitmap = kind
        if kind == "file":
            a["bitmap_file"] = bitmap = os.path.join(self.b.tmpfs, f"{arr}.bitmap")
            a["files"].append(bitmap)
            self.unlink([bitmap])
        chunk = [] if level == "1" else [f"--chunk={CHUNK}"]
        bc = [f"--bitmap-chunk={bchunk}"] if bchunk else []
        try:
            self.umd("--create", arr, f"--level={level}", f"--raid-devices={n}", *chunk,
                     *(["--assume-clean"] if clean else []), f"--bitmap={bitmap}", *bc, *members)
        except BitmapError:
            self.unlink(a["files"])
            raise
        return a

    def assemble(self, a, unthrottle=False, retries=0) -> None:
        """Launches the daemon (a["t0"]: when), optionally setting sync_speed_max as soon as
        it answers (retried every ~5 ms), and waits for its NBD socket. A daemon that exits
        saying "already assembled" is launched again, up to RETRIES times (a["relaunches"]
        counts them; a["t0"] is the last launch)."""
        arr = a["arr"]
        extra = [f"--bitmap={a['bitmap_file']}"] if a["bitmap_file"] else []
        a["relaunches"] = 0
        # Unthrottled from the daemon's first step (md's speed_limit_max, umd's
        # $UMD_SPEED_LIMIT_MAX): a resync that starts at assembly is not held to the default
        # 200000 KiB/s until the attribute below arrives.
        env = dict(self.b.umd_env, UMD_SPEED_LIMIT_MAX=str(UNTHROTTLED)) if unthrottle else self.b.umd_env
        while True:
            a["assemblies"] += 1
            logpath = a["log"] if a["assemblies"] == 1 else f"{a['log'][:-4]}-{a['assemblies']}.log"
            a["t0"] = time.monotonic()
            a["proc"] = self.b.procs.start([self.args.umd, "--assemble", arr, *a["members"], *extra,
                                            "--serve", f"nbd:unix:{a['sock']}", "--foreground"],
                                           logpath, env=env)
            a["cur_log"] = logpath
            if arr not in self.b.assembled:
                self.b.assembled.append(arr)
            if not unthrottle:
                break
            deadline = a["t0"] + 20
            while True:
                try:
                    self.set_attr(arr, "sync_speed_max", UNTHROTTLED)
                    a["answered_after_s"] = time.monotonic() - a["t0"]
                    break
                except BitmapError as e:
                    if a["proc"].poll() is not None or time.monotonic() > deadline:
                        last = self.H.last_line(logpath)
                        if "already assembled" in last and a["relaunches"] < retries:
                            a["relaunches"] += 1
                            a.setdefault("relaunch_errors", []).append(last)
                            self.log(f"{arr}: the daemon exited: {last}; launched again")
                            break
                        raise BitmapError(f"umd --assemble {arr}: {e}: {last}")
                    time.sleep(0.005)
            if "answered_after_s" in a:
                break
        why = self.H.wait_for_socket(a["sock"], a["proc"], 20)
        if why:
            raise BitmapError(f"umd --assemble {arr}: {why}: {self.H.last_line(logpath)}")

    def check_kind(self, a, want) -> None:
        """bitmap_type must select WANT ("none [bitmap] llbitmap" selects "bitmap")."""
        bt = self.attr(a["arr"], "bitmap_type")
        a["bitmap_type"] = bt
        m = re.search(r"\[([^\]]+)\]", bt)
        if not m or m.group(1) != want:
            raise BitmapError(f"bitmap_type reads \"{bt}\", not [{want}]")
        # The chunk size and where the bitmap lives, for the table: informative only (a
        # kind that does not publish them still gets its row).
        try:
            if want == "bitmap":
                a["bitmap_chunk"] = int(self.attr(a["arr"], "bitmap/chunksize"))
                a["bitmap_location"] = self.attr(a["arr"], "bitmap/location")
            elif want == "llbitmap":
                # "chunksize 128 chunkshift 7 chunks 4080 offset 8 daemon_sleep 30": sectors
                v = self.attr(a["arr"], "llbitmap/metadata").split()
                meta = {v[i]: v[i + 1] for i in range(0, len(v) - 1, 2)}
                a["llbitmap_metadata"] = meta
                a["bitmap_chunk"] = int(meta["chunksize"]) * 512
                a["bitmap_location"] = f"+{meta['offset']}" if "offset" in meta else None
        except (BitmapError, ValueError, KeyError) as e:
            a["bitmap_info_error"] = str(e)

    def alive(self, a) -> None:
        p = a["proc"]
        if p is not None and p.poll() is not None:
            raise BitmapError(f"the daemon of {a['arr']} exited ({p.returncode}): "
                              f"{self.H.last_line(a['cur_log'])}")

    def record(self, a) -> dict:
        return {k: a.get(k) for k in ("arr", "level", "size", "members", "bitmap_file",
                                      "bitmap_type", "bitmap_chunk", "bitmap_location",
                                      "llbitmap_metadata", "bitmap_info_error",
                                      "component_kib", "array_bytes", "answered_after_s")}

    # --- rows ----------------------------------------------------------------------------

    def row(self, key, target, workload, bitmap, **kw) -> dict:
        r = {"key": key, "target": target, "workload": workload, "bitmap": bitmap, "iops": None,
             "bw_bytes": None, "seconds": None, "baseline": None, "baseline_value": None,
             "baseline_kind": None, "ratio": None, "goal": None, "goal_kind": None}
        r.update(kw)
        self.out["rows"].append(r)
        return r

    def error_row(self, key, target, workload, bitmap, e, unavailable=False) -> None:
        self.row(key, target, workload, bitmap, error=str(e), unavailable=unavailable)
        self.out["notes"].append(f"{'not available' if unavailable else 'n/a'}: {target} "
                                 f"{workload}, bitmap {bitmap}: {e}")
        self.log(f"{key}: {'not available' if unavailable else 'n/a'} — {e}")

    # --- 1. rand write IOPS per bitmap kind ----------------------------------------------

    def fio_nbd(self, a, depth, seconds, tag) -> dict:
        out = os.path.join(self.b.work, f"fio-bitmap-{tag}.json")
        argv = ["fio", f"--name=bitmap-{tag}", "--ioengine=nbd", f"--uri={self.H.uri_of(a['sock'])}",
                "--rw=randwrite", "--bs=4k", f"--iodepth={depth}", "--numjobs=1",
                f"--size={a['fio_size']}", "--norandommap=1", "--randrepeat=0", "--time_based=1",
                f"--runtime={max(1, round(seconds * 1000))}ms", "--output-format=json",
                f"--output={out}"]
        if seconds >= 2:
            argv.append("--ramp_time=500ms")
        cpu0 = self.H.proc_cpu(a["proc"])
        r = self.H.run_group(argv, seconds + 60)
        if r is None:
            raise BitmapError(f"fio iodepth {depth} did not finish")
        job = fio_jobs(out, r, BitmapError)[0]
        side = job["write"]
        if r.returncode != 0 or job.get("error") or not side["io_bytes"]:
            raise BitmapError(f"fio iodepth {depth}: exit {r.returncode}, error {job.get('error')}, "
                              f"{side['io_bytes']} bytes")
        return {"iops": side["iops"], "bw_bytes": side["bw_bytes"], "runtime_ms": side["runtime"],
                "total_ios": side["total_ios"], "io_bytes": side["io_bytes"],
                "lat_mean_us": side["lat_ns"]["mean"] / 1000.0,
                "clat_p99_us": side.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000.0,
                "server_cpu_s": round(self.H.proc_cpu(a["proc"]) - cpu0, 3), "argv": argv}

    def level_iops(self, name, level, n) -> None:
        """The five arrays of one level, up at once; rounds of (iodepth, kind) slices."""
        tgt = f"{name} ({n})"
        msize = self.H.member_size({"level": level, "members": n}, self.region)
        arrays, errors = {}, {}
        try:
            for key, label, kind, bchunk, want in KINDS:
                arr = f"bitmap-{name}-{key}"
                a = None
                try:
                    a = self.create(arr, level, n, msize, kind, bchunk)
                    self.assemble(a)
                    self.check_kind(a, want)
                    a["component_kib"] = int(self.attr(arr, "component_size"))
                    size = self.H.export_size(a["sock"]) or self.region
                    a["array_bytes"] = size
                    a["fio_size"] = min(self.region, size) // MiB * MiB
                    arrays[key] = a
                    self.out["arrays"][arr] = self.record(a)
                    self.log(f"{arr}: up, bitmap_type \"{a['bitmap_type']}\""
                             + (f", {fmt_size(a['bitmap_chunk'])} chunks at {a['bitmap_location']}"
                                if a.get("bitmap_chunk") else ""))
                except BitmapError as e:
                    errors[key] = str(e)
                    self.log(f"{arr}: {e}")
                    if a is not None:
                        self.stop(a)
            slices: dict[tuple[str, int], list[dict]] = {}
            slice_s = self.fio_s / self.rounds
            for rnd in range(self.rounds):
                # Odd rounds run the arrays in reverse order, so that no kind always runs
                # first (right after the images were written) or last.
                order = list(arrays.items())[::-1 if rnd % 2 else 1]
                for depth in self.depths:
                    for key, a in order:
                        try:
                            self.alive(a)
                            f = self.fio_nbd(a, depth, slice_s, f"{a['arr']}-qd{depth}-r{rnd}")
                            self.log(f"{a['arr']} iodepth {depth} round {rnd + 1}: {f['iops']:.0f} IOPS")
                        except BitmapError as e:
                            f = {"error": str(e)}
                            self.log(f"{a['arr']} iodepth {depth} round {rnd + 1}: n/a — {e}")
                        slices.setdefault((key, depth), []).append(f)
        finally:
            for a in arrays.values():
                self.stop(a)
        for depth in self.depths:
            wl = f"rand write 4 KiB, iodepth {depth}"
            agg = {}
            for key, *_ in KINDS:
                sl = slices.get((key, depth), [])
                ok = [x for x in sl if "error" not in x]
                if sl and len(ok) == len(sl):
                    secs = max(1e-3, sum(x["runtime_ms"] for x in ok) / 1000.0)
                    per = [x["iops"] for x in ok]
                    agg[key] = {"iops": sum(x["total_ios"] for x in ok) / secs,
                                "bw_bytes": sum(x["io_bytes"] for x in ok) / secs, "seconds": secs,
                                "spread": ((max(per) - min(per)) / 2 / (sum(per) / len(per))
                                           if len(per) > 1 else None), "slices": ok}
                elif sl:
                    errors.setdefault(key, next(x["error"] for x in sl if "error" in x))
            base = agg.get("none")
            for key, label, kind, bchunk, want in KINDS:
                a = arrays.get(key)
                chunk = a.get("bitmap_chunk") if a else None
                bm = label + (f", {fmt_size(chunk)} chunks" if chunk else
                              (f", {bchunk} chunks" if bchunk else ""))
                rkey = f"{name}/qd{depth}/{key}"
                if key not in agg:
                    err = errors.get(key, "not run")
                    self.error_row(rkey, tgt, wl, bm, err, unavailable=(key == "lockless"))
                    continue
                f = agg[key]
                kw = {}
                if key != "none":
                    kw = {"baseline": "same, no bitmap", "baseline_kind": "iops",
                          "baseline_value": base["iops"] if base else None,
                          "ratio": f["iops"] / base["iops"] if base else None,
                          "goal": GOALS.get(key), "goal_kind": "min"}
                self.row(rkey, tgt, wl, bm, iops=f["iops"], bw_bytes=f["bw_bytes"],
                         seconds=f["seconds"], spread=f["spread"], fio=f["slices"],
                         array=(a or {}).get("arr"), **kw)
                if f["spread"] is not None and f["spread"] > 0.1:
                    self.out["notes"].append(f"{tgt} {wl}, bitmap {bm}: the rounds differ by "
                                             f"±{f['spread'] * 100:.0f}%")

    # --- 2. resync after a crash ---------------------------------------------------------

    def write_chunks(self, a, offsets) -> dict:
        """One 4 KiB write at each of OFFSETS through NBD (one fio job each)."""
        jobfile = os.path.join(self.b.work, f"{a['arr']}-writes.fio")
        out = os.path.join(self.b.work, f"fio-{a['arr']}-writes.json")
        with open(jobfile, "w") as f:
            f.write(f"[global]\nioengine=nbd\nuri={self.H.uri_of(a['sock'])}\nrw=write\nbs=4k\n"
                    f"size=4k\n")
            for i, off in enumerate(offsets):
                f.write(f"[w{i}]\noffset={off}\n")
        r = self.H.run_group(["fio", jobfile, "--output-format=json", f"--output={out}"], 60)
        if r is None:
            raise BitmapError("fio (the writes before the crash) did not finish")
        jobs = fio_jobs(out, r, BitmapError)
        written = sum(j["write"]["io_bytes"] for j in jobs)
        if r.returncode != 0 or written != 4096 * len(offsets):
            raise BitmapError(f"fio exit {r.returncode}: {written} of {4096 * len(offsets)} "
                              f"bytes written before the crash")
        return {"bytes": written}

    def crash(self, a) -> int:
        """SIGKILL to the daemon, whose pid `umd --detail --json` gives; returns it."""
        pid = json.loads(self.umd("--detail", a["arr"], "--json"))["pid"]
        p = a["proc"]
        try:
            ours = os.getpgid(pid) == p.pid   # it runs in the session we started
        except ProcessLookupError:
            ours = False
        if not ours:
            raise BitmapError(f"umd --detail --json gives pid {pid}, not the daemon we started "
                              f"({p.pid}): not killed")
        os.kill(pid, signal.SIGKILL)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise BitmapError(f"the daemon ({pid}) still runs 10 s after SIGKILL")
        self.b.procs.stop(p)   # only forgets it: it is gone
        return pid

    def wait_resynced(self, a, timeout=300.0) -> dict:
        """Polls sync_action every ~10 ms (resync_start and last_sync_action once it reads
        idle) from a["t0"], the launch of --assemble."""
        arr, t0 = a["arr"], a["t0"]
        last_busy = None
        polls = busy_polls = 0
        deadline = time.monotonic() + timeout
        idle_since = None
        while True:
            ts = time.monotonic()
            self.alive(a)
            action = self.attr(arr, "sync_action")
            polls += 1
            if action == "idle" and self.attr(arr, "resync_start") == "none":
                if self.attr(arr, "last_sync_action") != "none":
                    if last_busy is None:
                        return {"seconds": ts - t0, "upper_bound": True, "polls": polls,
                                "busy_polls": 0, "poll_gap_s": None}
                    return {"seconds": (last_busy + ts) / 2 - t0, "upper_bound": False,
                            "polls": polls, "busy_polls": busy_polls, "poll_gap_s": ts - last_busy}
                idle_since = idle_since or ts
                if ts - idle_since > 3:
                    raise BitmapError("no resync ran after the crash (sync_action idle, "
                                      "resync_start none, last_sync_action none for 3 s)")
            else:
                idle_since = None
                last_busy = ts
                busy_polls += 1
            if ts > deadline:
                raise BitmapError(f"sync_action still \"{action}\" after {timeout:.0f} s")
            time.sleep(POLL)

    def crash_resync(self, key, kind, bchunk) -> dict:
        arr = f"bitmap-crash-{key}"
        a = self.create(arr, "1", 2, self.member, kind, bchunk)
        try:
            self.assemble(a, unthrottle=True)
            self.check_kind(a, "none" if kind == "none" else "bitmap")
            self.set_attr(arr, "safe_mode_delay", 60)
            comp = a["component_kib"] = int(self.attr(arr, "component_size"))
            if self.attr(arr, "sync_action") != "idle":
                raise BitmapError("the array syncs before the crash (it was created --assume-clean)")
            step = 1024 * 1024   # the crash bitmap's chunk, 1 MiB
            n_chunks = -(-comp * 1024 // step)
            rng = random.Random(SEED)
            chosen = sorted(rng.sample(range(n_chunks), max(1, round(n_chunks * CRASH_DIRTY))))
            offsets = []
            for c in chosen:
                room = min(step, comp * 1024 - c * step) // 4096
                offsets.append(c * step + rng.randrange(room) * 4096)
            self.write_chunks(a, offsets)
            res = {"chunks": n_chunks, "written_chunks": chosen, "offsets": offsets,
                   "array_state_at_crash": self.attr(arr, "array_state")}
            if kind != "none":
                res["dirty_chunks_at_crash"] = int(self.attr(arr, "bitmap/umd_dirty_chunks"))
            res["killed_pid"] = self.crash(a)
            # One client call first: it finds the dead daemon's runtime directory and
            # clears it (it fails: nothing is assembled), so that the polls below do not
            # race the new daemon for a stale lock.
            try:
                self.attr(arr, "sync_action")
            except BitmapError as e:
                res["after_crash"] = str(e)
            a.pop("answered_after_s", None)
            self.assemble(a, unthrottle=True, retries=3)
            res["answered_after_s"] = a["answered_after_s"]
            res["relaunches"] = a["relaunches"]
            res["relaunch_errors"] = a.get("relaunch_errors", [])
            t = self.wait_resynced(a)
            res.update(t)
            res["sync_stats"] = self.sync_stats(arr)
            res["done_sectors"] = res["sync_stats"].get("done_sectors")
            us = res["sync_stats"].get("last_run_us")
            res["engine_seconds"] = us / 1e6 if us else None
            res["last_sync_action"] = self.attr(arr, "last_sync_action")
            res["mismatch_cnt"] = self.attr(arr, "mismatch_cnt")
            res["array"] = self.record(a)
            self.log(f"{arr}: resync in {t['seconds']:.3f} s, done_sectors {res['done_sectors']}, "
                     f"{len(chosen)} of {n_chunks} chunks written before the crash"
                     + (f", {res['dirty_chunks_at_crash']} dirty" if kind != "none" else ""))
            return res
        finally:
            self.stop(a)

    def resync_rows(self) -> None:
        tgt = f"raid1 (2), {fmt_size(self.member)} members"
        wl_full = "resync after a crash (SIGKILL), no bitmap: full resync"
        wl_bm = "resync after a crash (SIGKILL), 1% of the chunks written"
        full = bm = None
        try:
            full = self.crash_resync("none", "none", None)
        except BitmapError as e:
            self.error_row("raid1/crash-resync-none", tgt, wl_full, "none", e)
        else:
            self.resync_row("raid1/crash-resync-none", tgt, wl_full, "none", full, None)
        try:
            bm = self.crash_resync("internal", "internal", CRASH_BITMAP_CHUNK)
        except BitmapError as e:
            self.error_row("raid1/crash-resync-internal", tgt, wl_bm,
                           f"internal, {CRASH_BITMAP_CHUNK} chunks", e)
        else:
            wl_bm = (f"resync after a crash (SIGKILL), {len(bm['written_chunks'])} of "
                     f"{bm['chunks']} chunks written ({len(bm['written_chunks']) / bm['chunks'] * 100:.1f}%)")
            self.resync_row("raid1/crash-resync-internal", tgt, wl_bm,
                            f"internal, {fmt_size(bm['array']['bitmap_chunk'])} chunks", bm, full)

    def resync_row(self, key, tgt, wl, bitmap, res, full) -> None:
        kw = {}
        if full is not None:
            # The target is about the resync's time: the engine's own (umd/sync_stats
            # last_run_us) when both have it; the time from --assemble is kept beside it.
            eng, feng = res.get("engine_seconds"), full.get("engine_seconds")
            kw = {"baseline": "same, no bitmap (full resync)", "baseline_kind": "seconds",
                  "baseline_value": feng if eng and feng else full["seconds"],
                  "baseline_from_assemble": full["seconds"],
                  "ratio": eng / feng if eng and feng else res["seconds"] / full["seconds"],
                  "ratio_from_assemble": res["seconds"] / full["seconds"],
                  "goal": RESYNC_GOAL, "goal_kind": "max",
                  "done_sectors_ratio": (res["done_sectors"] / full["done_sectors"]
                                         if full.get("done_sectors") else None)}
        self.row(key, tgt, wl, bitmap, seconds=res["seconds"], engine_seconds=res.get("engine_seconds"),
                 done_sectors=res["done_sectors"],
                 upper_bound=res["upper_bound"], poll_gap_s=res["poll_gap_s"], resync=res, **kw)
        if full is not None and kw.get("done_sectors_ratio") is not None:
            self.out["notes"].append(
                f"{tgt} {wl}: done_sectors {kw['done_sectors_ratio'] * 100:.2f}% of the full "
                f"resync's; the restarted daemon first answered {res['answered_after_s'] * 1000:.0f} "
                f"ms after --assemble (start-up, inside the time; {full['answered_after_s'] * 1000:.0f} "
                f"ms for the full resync)")
        if res.get("relaunches"):
            self.out["notes"].append(
                f"{tgt} {wl}: the restarted daemon exited {res['relaunches']} time(s) at start-up "
                f"(\"{res['relaunch_errors'][0]}\") and was launched again; the time runs from "
                f"the last launch")
        if res["upper_bound"]:
            self.out["notes"].append(f"{tgt} {wl}: no poll saw the resync running: "
                                     f"{res['seconds']:.3f} s is an upper bound")
        if res.get("dirty_chunks_at_crash") not in (None, len(res["written_chunks"])):
            self.out["notes"].append(
                f"{tgt} {wl}: bitmap/umd_dirty_chunks read {res['dirty_chunks_at_crash']} before "
                f"the crash, for {len(res['written_chunks'])} chunks written")
        if res["array_state_at_crash"] != "active":
            self.out["notes"].append(f"{tgt} {wl}: array_state read \"{res['array_state_at_crash']}\" "
                                     f"right before the crash")

    # --- all -----------------------------------------------------------------------------

    def run(self) -> dict:
        t0 = time.monotonic()
        self.log(f"fio over {self.region // MiB} MiB, {self.fio_s:g} s per (array, iodepth) in "
                 f"{self.rounds} round(s); crash resync on {self.member // MiB} MiB members; "
                 f"images on {self.b.tmpfs}")
        for name, level, n in LEVELS:
            self.section(f"{name} IOPS", self.level_iops, name, level, n)
        self.section("crash resync", self.resync_rows)
        self.out["elapsed_s"] = round(time.monotonic() - t0, 1)
        self.log(f"done in {self.out['elapsed_s']:.0f} s")
        return self.out


def run(bench, H) -> dict:
    """Runs every bitmap row (umd_section.run_section)."""
    return run_section(bench, H, BitmapBench)


# ---------------------------------------------------------------------------------------
# Report



def build_table(res: dict | None) -> tuple[str, list[str]]:
    """A Markdown table in bench.py's style: value, baseline value, ratio, issue target."""
    lines = ["| target | workload | IOPS | throughput | baseline | baseline value | × baseline "
             "| bitmap | issue target |",
             "|---|---|---|---|---|---|---|---|---|"]
    if res is None:
        return "", []
    notes = list(res.get("notes", []))
    if "error" in res:
        notes.insert(0, f"n/a: bitmap: {res['error']}")
    for r in res.get("rows", []):
        if "error" in r:
            if r.get("unavailable"):
                lines.append(f"| {r['target']} | {r['workload']} | not available: {r['error']} "
                             f"| — | — | — | — | {r['bitmap']} | — |")
            else:
                lines.append(f"| {r['target']} | {r['workload']} | n/a | n/a | — | — | — "
                             f"| {r['bitmap']} | — |")
            continue
        if r["iops"] is not None:
            bw = fmt_bw(r["bw_bytes"])
            if r.get("spread") is not None:
                bw += f" ±{r['spread'] * 100:.0f}%"
        else:
            bw = ("≤ " if r.get("upper_bound") else "") + f"{r['seconds']:.3f} s from --assemble"
            gap = r.get("poll_gap_s")
            if gap and gap / 2 > 0.05 * r["seconds"]:
                bw += f" ±{gap / 2:.3f}"
            if r.get("engine_seconds") is not None:
                bw = f"resync {r['engine_seconds']:.3f} s ({bw})"
            bw += f", done_sectors {r['done_sectors']:,}"
        if r["baseline_kind"] == "iops":
            bval = f"{fmt_iops(r['baseline_value'])} IOPS" if r["baseline_value"] else "n/a"
        elif r["baseline_kind"] == "seconds":
            bval = f"{r['baseline_value']:.3f} s"
            if r.get("baseline_from_assemble") not in (None, r["baseline_value"]):
                bval += f" ({r['baseline_from_assemble']:.3f} s from --assemble)"
        else:
            bval = "—"
        ratio = "—" if r["ratio"] is None else (f"{r['ratio']:.2f}×" if r["ratio"] >= 0.1
                                                else f"{r['ratio']:.3f}×")
        if r.get("ratio_from_assemble") is not None and r.get("engine_seconds") is not None:
            ratio += f" ({r['ratio_from_assemble']:.3f}× from --assemble)"
        if r["goal"] is None:
            goal = "—"
        elif r["goal_kind"] == "max":
            mark = "?" if r["ratio"] is None else ("met" if r["ratio"] <= r["goal"] else "**missed**")
            goal = f"≤ {r['goal']}× full resync: {mark}"
        else:
            mark = "?" if r["ratio"] is None else ("met" if r["ratio"] >= r["goal"] else "**missed**")
            goal = f"≥ {r['goal']}× no bitmap: {mark}"
        lines.append(f"| {r['target']} | {r['workload']} | {fmt_iops(r['iops'])} | {bw} "
                     f"| {r['baseline'] or '—'} | {bval} | {ratio} | {r['bitmap']} | {goal} |")
    return "\n".join(lines), notes


def header(res: dict | None) -> str:
    if not res or "region" not in res:
        return "Bitmap rows (issue 5):"
    return (f"Bitmap rows (issue 5), {res.get('elapsed_s', 0):.0f} s: IOPS rows: raid1 (2) and "
            f"raid5 (4, {CHUNK} chunks) created --assume-clean with each --bitmap kind (chunk "
            f"umd's default unless the row says), image files on the same tmpfs written through "
            f"before use, the five arrays of a level up at once; fio nbd engine, rand write 4 "
            f"KiB, numjobs 1, over a {res['region'] // MiB} MiB region, {res['fio_seconds']:g} s "
            f"per (array, iodepth) in {res['rounds']} interleaved round(s) (± half the spread "
            f"between rounds); ratio to the same level and iodepth without a bitmap. Resync rows: "
            f"raid1 (2) of {res['crash_member_size'] // MiB} MiB members, daemons started with "
            f"UMD_SPEED_LIMIT_MAX={UNTHROTTLED} (KiB/s), safe_mode_delay 60 right after assembly, one 4 KiB write in "
            f"each of 1% of the {res['crash_bitmap_chunk']} chunks, SIGKILL to the daemon, "
            f"--assemble again; resync = the run's own time (umd/sync_stats last_run_us: from "
            f"the sync thread's start to its superblocks), and in parentheses the time from that "
            f"--assemble to sync_action idle with resync_start none (polled every "
            f"{POLL * 1000:.0f} ms; daemon start-up included); done_sectors from umd/sync_stats; "
            f"ratio to the same crash without a bitmap (a full resync), on the resync's own time.")
