"""umd's sync bench rows (issue 4): resync, recovery and check throughput as a ratio to the
members' sequential bandwidth, and client IOPS during a rebuild. Called by bench.py
(`--only sync`, and in every full run); everything runs on image files on the bench's
tmpfs, one array at a time, in the same run.

Rows and how each is measured:

Members are 1 GiB, raid1's 2 GiB (it syncs fastest); 512 MiB / 1 GiB with --quick; halved
while the machine cannot spare twice the 6 GiB live at once at most;
UMD_BENCH_SYNC_MEMBER_MIB overrides the 1 GiB. Every image is written through with zeros
before use (not fallocated), so no timed pass pays for first-touch page clearing.

* member image, seq read / seq write 1 MiB: fio (ioengine=psync, direct=0, bs=1M,
  time-based) on one member-sized image file on the tmpfs, write first, then read; once
  before the other rows and once after them, the row gives the mean (± half the spread).
  The read figure is the denominator of every sync ratio ("× member read").
* the same member I/O by fio, all members at once (the peer of each sync row): what a
  sync pass moves per member-sized unit, done by fio jobs in one run on as many
  member-sized images, each its own sequential reader or writer (psync 1 MiB), all
  concurrently: raid1 resync and recovery 1 read + 1 write, raid5 (4) resync and check 4
  reads, raid5 (4+1) recovery 3 reads + 1 write, raid6 (5+1) recovery 4 reads + 1 write.
  Figure: the jobs' mean bandwidth, so bytes per member per second as the sync rows count
  them. On one tmpfs every member is the same memory and the CPUs do every copy, so this,
  not one image alone, is the ceiling of a sync on this machine. Run once, after the rows.
* raid1 (2) and raid5 (4) resync: `umd --create` WITHOUT --assume-clean (the array needs
  its initial resync), `umd --assemble … --foreground`; as soon as the daemon answers
  (retried every ~5 ms), sync_speed_max is set to 10000000 KiB/s (unthrottled: the default limit, 200000 KiB/s,
  would make this a measure of the limit). Time: from launching --assemble until
  sync_action reads "idle", resync_start "none" and degraded "0" (polled every ~30 ms;
  the end is the midpoint between the last busy poll and the first idle one; the table
  gives ± half that gap when it exceeds 5% of the time).
  Throughput = component_size (bytes synced on each member) / time. Its "rebuild" column
  is the engine's own figure: the last sync_speed read while the run went (md's average
  over the last ~3 s, so over the whole run for a shorter one), which leaves out start-up.
* raid5 (4) check: `umd --action NAME check` on the resynced array; time until idle with
  last_sync_action "check"; component_size / time.
* recovery: raid5 (4 + 1 spare; the array resynced above), raid1 (2 + 1 spare; the array
  resynced above), raid6 (5 + 1 spare, --assume-clean): `umd --manage NAME --add SPARE`,
  then the clock starts and `umd --manage NAME --fail MEMBER1`; time until idle and
  degraded "0"; component_size / time. Unthrottled as above.
* raid5 recovery at the default sync_speed_max (the attribute written "system" = 200000
  KiB/s): the rebuild speed over its first seconds, from umd/sync_stats' done_sectors
  (sectors synced) sampled at both ends; the ratio is to the limit. The limit is then
  lifted so the recovery ends quickly.
* raid5 reshape: 3 members + 1 spare (--assume-clean), `umd --grow --raid-devices=4`; the
  clock starts at the command; time until sync_action is idle and reshape_position
  "none"; component_size / time, unthrottled. Its peer: 3 reads + 4 writes at once (each
  old member is read, every new one written). Then the same with `--backup-file` (in
  place: the overseer saves the critical section first), and a chunk change 64K -> 128K
  on the 3 disks with `--backup-file` (every section saved first; peer 3 reads + 3
  writes).
* client IOPS, raid5 (4 + 1 spare; the array above): fio's nbd engine, rand read 4 KiB and
  rand write 4 KiB, iodepth 16, numjobs 1, over the whole array, for a fixed time (a) with
  the array idle, (b) during a recovery with sync_speed_max 50000 KiB/s, (c) during an
  unthrottled recovery, after an unmeasured 1 s warm-up; (a) runs before (b) and again
  after (c), and its figure is the mean of the two (± half their spread). In (b) and (c)
  fio starts right after --fail; if the recovery ends before fio does, fio is stopped
  there (SIGINT: it reports what it did so far), so the IOPS always belong to a window
  with the rebuild running. Ratio: IOPS / IOPS idle. "rebuild" is the
  mean of sync_speed (KiB/s, md's ~3 s moving average) sampled every ~0.5 s during the
  window; done_sectors' rise over the window gives a second figure (in the JSON). The
  same polling runs in (a) so that every case pays for it alike.

Python 3 standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from umd_section import UmdSection, fio_jobs, fmt_bw, fmt_iops, run_section

MiB = 1 << 20
UNTHROTTLED = 10_000_000   # KiB/s written to sync_speed_max
THROTTLED = 50_000         # KiB/s, case (b) of the IOPS rows
DEFAULT_MAX = 200_000      # KiB/s, md's (and umd's) speed_limit_max
GOAL = 0.8                 # issue 4: resync/recovery ≥ 0.8× the members' sequential bandwidth
POLL = 0.03                # s between completion polls (each is one `umd --attr`, ~4 ms)
CHUNK = "64K"
# Per sync row: the member reads and writes a pass does per member-sized unit (its peer).
PEER_IO = {"raid1/resync": (1, 1), "raid1/recovery": (1, 1), "raid5/resync": (4, 0),
           "raid5/check": (4, 0), "raid5/recovery": (3, 1), "raid6/recovery": (4, 1),
           "raid5/reshape": (3, 4), "raid5/reshape-backup": (3, 4), "raid5/reshape-chunk-backup": (3, 3)}
ZEROS = memoryview(bytes(8 * MiB))


class SyncError(Exception):
    pass


def kib_s_to_bytes(x: float) -> float:
    return x * 1024.0


class SyncBench(UmdSection):
    def __init__(self, bench, H):
        self.b = bench
        self.H = H
        self.args = bench.args
        quick = self.args.quick
        self.member = self.pick_member_size(512 * MiB if quick else 1024 * MiB)
        self.fio_s = 3.0 if quick else 8.0
        # (b) must stay inside the throttled recovery: ~80% of its expected length.
        self.fio_s = min(self.fio_s, 0.8 * self.member / kib_s_to_bytes(THROTTLED))
        self.default_sample_s = 1.0 if quick else 2.0
        self.out = {"member_size": self.member, "fio_seconds": self.fio_s,
                    "unthrottled_kib_s": UNTHROTTLED, "throttled_kib_s": THROTTLED,
                    "rows": [], "runs": {}, "notes": []}
        self.n_files = 0

    def pick_member_size(self, want: int) -> int:
        env = os.environ.get("UMD_BENCH_SYNC_MEMBER_MIB")
        if env:
            return int(env) * MiB
        avail = None
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        avail = int(line.split()[1]) * 1024
        except OSError:
            pass
        # At most 6 members live at once (raid6 5 + spare; raid5 4 + spare + the failed one;
        # raid1's 2 + spare are twice as big).
        while avail and want > 64 * MiB and 6 * want * 2 > avail:
            want //= 2
        return want

    # --- helpers -------------------------------------------------------------------------

    def log(self, msg):
        self.H.log(f"sync: {msg}")

    def umd(self, *argv, timeout=60):
        try:
            r = self.b.umd(*argv, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SyncError(f"umd {' '.join(argv[:3])}: no answer in {timeout} s")
        if r.returncode != 0:
            msg = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["?"])[-1]
            raise SyncError(f"umd {' '.join(argv[:3])}: exit {r.returncode}: {msg}")
        return r.stdout.strip()

    def done_sectors(self, arr) -> int:
        v = self.attr(arr, "umd/sync_stats").split()
        try:
            return int(v[v.index("done_sectors") + 1])
        except (ValueError, IndexError):
            raise SyncError(f"umd/sync_stats: unexpected \"{' '.join(v)}\"")

    def image(self, tag, size=None) -> str:
        """A member image of SIZE, written through (zeros): fallocate on tmpfs leaves pages
        to be cleared on first touch -- and in a VM, backed by the host on first touch --
        which would fall on the first sync pass instead of here."""
        size = size or self.member
        self.n_files += 1
        path = os.path.join(self.b.tmpfs, f"sync-{tag}-{self.n_files}.img")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            done = 0
            while done < size:
                done += os.write(fd, ZEROS[:min(len(ZEROS), size - done)])
        finally:
            os.close(fd)
        return path

    # --- arrays --------------------------------------------------------------------------

    def create_assemble(self, arr, level, n, clean: bool, size=None) -> dict:
        """Creates and assembles ARR on N fresh images of SIZE (default: self.member);
        returns the array's record with t0, the time --assemble was launched, and
        sync_speed_max already unthrottled."""
        size = size or self.member
        members = [self.image(f"{arr}-{i}", size) for i in range(n)]
        a = {"arr": arr, "level": level, "members": members, "active": list(members), "size": size,
             "files": list(members), "proc": None, "sock": os.path.join(self.b.work, f"{arr}.sock")}
        chunk = [] if level == "1" else [f"--chunk={CHUNK}"]
        self.umd("--create", arr, f"--level={level}", f"--raid-devices={n}", *chunk,
                 *(["--assume-clean"] if clean else []), *members)
        logpath = os.path.join(self.b.work, f"{arr}.log")
        a["t0"] = time.monotonic()
        a["proc"] = self.b.procs.start([self.args.umd, "--assemble", arr, *members, "--serve",
                                        f"nbd:unix:{a['sock']}", "--foreground"],
                                       logpath, env=self.b.umd_env)
        self.b.assembled.append(arr)
        # Lift the limit as soon as the daemon answers (a resync starts at assembly and
        # runs at the default limit until then): retried every ~5 ms.
        deadline = a["t0"] + 20
        while True:
            try:
                self.set_attr(arr, "sync_speed_max", UNTHROTTLED)
                a["unthrottled_after_s"] = time.monotonic() - a["t0"]
                break
            except SyncError as e:
                if a["proc"].poll() is not None or time.monotonic() > deadline:
                    self.stop(a)
                    raise SyncError(f"umd --assemble {arr}: {e}: {self.H.last_line(logpath)}")
                time.sleep(0.005)
        why = self.H.wait_for_socket(a["sock"], a["proc"], 20)
        if why:
            self.stop(a)
            raise SyncError(f"umd --assemble {arr}: {why}: {self.H.last_line(logpath)}")
        a["component_kib"] = int(self.attr(arr, "component_size"))
        return a

    def alive(self, a) -> None:
        p = a["proc"]
        if p is not None and p.poll() is not None:
            raise SyncError(f"the daemon of {a['arr']} exited ({p.returncode}): "
                            f"{self.H.last_line(os.path.join(self.b.work, a['arr'] + '.log'))}")

    def wait_done(self, a, done, t0, timeout=300.0) -> dict:
        """Polls until nothing runs, sync_action is idle and done(a) holds; returns the
        elapsed time from T0 to the midpoint between the last busy poll and the first done
        one, and the last sync_speed read while the run was going (md's speed: over the
        last ~3 s, so for a shorter run the engine's own average since it started)."""
        arr = a["arr"]
        last_busy = t0
        polls = 0
        speed = None
        timeline = []  # (seconds since T0, sync_speed, sync_action) of every poll, for the JSON
        deadline = time.monotonic() + timeout
        while True:
            ts = time.monotonic()
            self.alive(a)
            s = self.attr(arr, "sync_speed")  # a number while a run goes, else "none"
            polls += 1
            timeline.append([round(ts - t0, 4), s])
            if not s.isdigit():
                action = self.attr(arr, "sync_action")
                timeline[-1].append(action)
                if action == "idle" and done(a):
                    if polls == 1:
                        # Over before the first poll: only a bound (at most this long).
                        return {"seconds": max(1e-3, time.monotonic() - t0), "polls": polls,
                                "poll_gap_s": None, "upper_bound": True, "sync_speed": None,
                                "timeline": timeline}
                    return {"seconds": max(1e-3, (last_busy + ts) / 2 - t0), "polls": polls,
                            "poll_gap_s": ts - last_busy, "timeline": timeline,
                            "sync_speed": kib_s_to_bytes(speed) if speed is not None else None}
            else:
                speed = int(s)
                action = "running"
            last_busy = ts
            if ts > deadline:
                raise SyncError(f"{arr}: sync_action still \"{action}\" after {timeout:.0f} s")
            time.sleep(POLL)

    def resynced(self, a) -> bool:
        return self.attr(a["arr"], "resync_start") == "none" and self.attr(a["arr"], "degraded") == "0"

    def recovered(self, a) -> bool:
        return self.attr(a["arr"], "degraded") == "0"

    def start_recovery(self, a) -> tuple[float, str, str]:
        """Adds a fresh spare and fails the member in slot 1; returns (time of --fail, the
        failed member, the spare)."""
        spare = self.image(f"{a['arr']}-spare", a["size"])
        a["files"].append(spare)
        self.umd("--manage", a["arr"], "--add", spare)
        victim = a["active"][1]
        t0 = time.monotonic()
        self.umd("--manage", a["arr"], "--fail", victim)
        a["active"][1] = spare
        return t0, victim, spare

    def drop_failed(self, a, victim) -> None:
        self.umd("--manage", a["arr"], "--remove", victim)
        a["files"].remove(victim)
        self.unlink([victim])

    # --- rows ----------------------------------------------------------------------------

    def row(self, key, target, workload, **kw) -> dict:
        r = {"key": key, "target": target, "workload": workload, "iops": None, "bw_bytes": None,
             "seconds": None, "baseline": None, "baseline_value": None, "baseline_kind": None,
             "ratio": None, "rebuild_bytes_s": None, "goal": None}
        r.update(kw)
        self.out["rows"].append(r)
        return r

    def sync_row(self, key, target, workload, a, t, goal=GOAL) -> dict:
        bw = a["component_kib"] * 1024 / t["seconds"]
        r = self.row(key, target, workload, bw_bytes=bw, seconds=t["seconds"],
                     baseline="member seq read", baseline_kind="bw", goal=goal,
                     rebuild_bytes_s=t.get("sync_speed"),
                     component_bytes=a["component_kib"] * 1024, poll_gap_s=t.get("poll_gap_s"),
                     lower_bound=bool(t.get("upper_bound")), polls=t.get("timeline"))
        r["sync_stats_after"] = self.attr(a["arr"], "umd/sync_stats")  # cumulative, for the JSON
        self.log(f"{key}: {bw / 1e6:.0f} MB/s per member in {t['seconds']:.2f} s")
        if t.get("upper_bound"):
            self.out["notes"].append(f"{target} {workload}: over before the first poll, "
                                     f"{t['seconds']:.2f} s after the command: the throughput "
                                     f"is a lower bound (use bigger members)")
        elif t["seconds"] < 2:
            self.out["notes"].append(f"{target} {workload}: over in {t['seconds']:.2f} s (< 2 s; "
                                     f"its end is known to ±{t['poll_gap_s'] * 500:.0f} ms)")
        return r

    def error_row(self, key, target, workload, e) -> None:
        self.row(key, target, workload, error=str(e))
        self.out["notes"].append(f"n/a: {target} {workload}: {e}")
        self.log(f"{key}: n/a — {e}")

    # --- 1. the members' sequential bandwidth -------------------------------------------

    def fio_file(self, path, rw, seconds) -> dict:
        out = os.path.join(self.b.work, f"fio-sync-member-{rw}.json")
        argv = ["fio", f"--name=member-{rw}", f"--filename={path}", f"--rw={rw}", "--bs=1M",
                "--ioengine=psync", "--direct=0", f"--size={self.member}", "--time_based=1",
                f"--runtime={int(seconds * 1000)}ms", "--output-format=json", f"--output={out}"]
        r = self.H.run_group(argv, seconds + 60)
        if r is None:
            raise SyncError(f"fio {rw} on a member image did not finish")
        job = fio_jobs(out, r, SyncError)[0]
        side = job["write" if rw == "write" else "read"]
        if job.get("error") or not side["io_bytes"]:
            raise SyncError(f"fio {rw} on a member image: error {job.get('error')}")
        return {"bw_bytes": side["bw_bytes"], "iops": side["iops"], "argv": argv}

    def fio_parallel(self, imgs, reads, writes, seconds) -> dict:
        """fio jobs on imgs[:reads] (seq read) and the next `writes` (seq write), all at once;
        returns the jobs' mean bandwidth."""
        out = os.path.join(self.b.work, f"fio-sync-peer-{reads}r{writes}w.json")
        argv = ["fio", "--ioengine=psync", "--direct=0", "--bs=1M", f"--size={self.member}",
                "--time_based=1", f"--runtime={int(seconds * 1000)}ms", "--output-format=json",
                f"--output={out}"]
        for i, path in enumerate(imgs[:reads + writes]):
            rw = "read" if i < reads else "write"
            argv += [f"--name={rw}{i}", f"--filename={path}", f"--rw={rw}"]
        r = self.H.run_group(argv, seconds + 60)
        if r is None:
            raise SyncError(f"fio {reads} reads + {writes} writes did not finish")
        jobs = fio_jobs(out, r, SyncError)
        bws = [j["read" if j["jobname"].startswith("read") else "write"]["bw_bytes"] for j in jobs]
        if len(bws) != reads + writes or not all(bws):
            raise SyncError(f"fio {reads} reads + {writes} writes: a job moved nothing")
        return {"bw_bytes": sum(bws) / len(bws), "jobs_bw_bytes": bws, "argv": argv}

    def peer_bandwidth(self) -> None:
        """The members' bandwidth all at once, for each mix of PEER_IO (one run each)."""
        mixes = sorted(set(PEER_IO.values()))
        need = max(r + w for r, w in mixes)
        secs = 1.5 if self.args.quick else 3.0
        imgs = []
        try:
            for _ in range(need):
                imgs.append(self.image("peer"))
            for reads, writes in mixes:
                try:
                    f = self.fio_parallel(imgs, reads, writes, secs)
                except SyncError as e:
                    self.peer[(reads, writes)] = {"error": str(e)}
                    self.log(f"members at once, {reads} reads + {writes} writes: n/a — {e}")
                    continue
                self.peer[(reads, writes)] = f
                self.log(f"members at once, {reads} reads + {writes} writes: "
                         f"{f['bw_bytes'] / 1e6:.0f} MB/s per member")
        finally:
            self.unlink(imgs)

    def member_bandwidth(self, when: str) -> None:
        """Seq write, then seq read, on a fresh member-sized image; run before the sync rows
        and again after them (the rows show the mean, ± half the spread)."""
        img = self.image("member-bw")
        secs = 1.5 if self.args.quick else 3.0
        try:
            for rw in ("write", "read"):
                try:
                    f = self.fio_file(img, rw, secs)
                except SyncError as e:
                    self.member_runs[rw].append({"error": str(e)})
                    self.log(f"member seq {rw} ({when}): n/a — {e}")
                    continue
                self.member_runs[rw].append(f)
                self.log(f"member seq {rw} ({when}): {f['bw_bytes'] / 1e6:.0f} MB/s")
        finally:
            self.unlink([img])

    def member_rows(self) -> None:
        """The member rows first in the table, and the denominator of every sync row."""
        rows = []
        for rw in ("write", "read"):
            label = f"seq {rw} 1 MiB (fio psync), mean of a run before and one after"
            runs = self.member_runs[rw]
            ok = [f for f in runs if "error" not in f]
            if not ok:
                err = runs[0]["error"] if runs else "not run"
                rows.append({"key": f"member/seq-{rw}", "target": "member image", "workload": label,
                             "error": err})
                self.out["notes"].append(f"n/a: member image {label}: {err}")
                continue
            bw = sum(f["bw_bytes"] for f in ok) / len(ok)
            spread = (max(f["bw_bytes"] for f in ok) - min(f["bw_bytes"] for f in ok)) / 2 / bw
            rows.append({"key": f"member/seq-{rw}", "target": "member image", "workload": label,
                         "iops": sum(f["iops"] for f in ok) / len(ok), "bw_bytes": bw,
                         "seconds": None, "baseline": None, "baseline_value": None,
                         "baseline_kind": None, "ratio": None, "rebuild_bytes_s": None,
                         "goal": None, "spread": spread if len(ok) > 1 else None, "runs": ok})
            if rw == "read":
                self.member_read = bw
                if len(ok) > 1 and spread > 0.1:
                    self.out["notes"].append(
                        f"member image seq read: the runs before and after differ by "
                        f"±{spread * 100:.0f}% (the machine's load moved): every × member read "
                        f"is that uncertain")
        self.out["rows"][:0] = rows
        for r in self.out["rows"]:
            if r.get("baseline") == "member seq read" and "error" not in r:
                r["baseline_value"] = self.member_read
                r["ratio"] = r["bw_bytes"] / self.member_read if self.member_read else None
                mix = PEER_IO.get(r["key"])
                peer = self.peer.get(mix) if mix else None
                if peer and "error" not in peer:
                    r["peer_io"] = f"{mix[0]} reads + {mix[1]} writes"
                    r["peer_bw_bytes"] = peer["bw_bytes"]
                    r["peer_ratio"] = r["bw_bytes"] / peer["bw_bytes"]

    # --- 2-4. resync, check, recovery ----------------------------------------------------

    def raid1(self) -> None:
        tgt = "raid1 (2)"
        try:
            a = self.create_assemble("sync-raid1", "1", 2, clean=False, size=2 * self.member)
        except SyncError as e:
            self.error_row("raid1/resync", tgt, "resync", e)
            self.error_row("raid1/recovery", "raid1 (2+1)", "recovery", e)
            return
        try:
            try:
                t = self.wait_done(a, self.resynced, a["t0"])
                self.sync_row("raid1/resync", tgt, "resync from assembly, unthrottled", a, t)
            except SyncError as e:
                self.error_row("raid1/resync", tgt, "resync", e)
            self.recovery_row(a, "raid1/recovery", "raid1 (2+1)")
        finally:
            self.stop(a)

    def recovery_row(self, a, key, tgt) -> None:
        try:
            t0, victim, _ = self.start_recovery(a)
            t = self.wait_done(a, self.recovered, t0)
            self.sync_row(key, tgt, "recovery onto a spare, unthrottled", a, t)
            self.drop_failed(a, victim)
        except SyncError as e:
            self.error_row(key, tgt, "recovery", e)

    def raid5(self) -> dict | None:
        """Resync, check, recovery (unthrottled, then at the default limit) on one raid5
        of 4; returns the array, still running, for the IOPS rows."""
        tgt = "raid5 (4)"
        try:
            a = self.create_assemble("sync-raid5", "5", 4, clean=False)
        except SyncError as e:
            for k in ("resync", "check", "recovery", "recovery-default"):
                self.error_row(f"raid5/{k}", tgt, k, e)
            return None
        try:
            try:
                t = self.wait_done(a, self.resynced, a["t0"])
                self.sync_row("raid5/resync", tgt, "resync from assembly, unthrottled", a, t)
            except SyncError as e:
                self.error_row("raid5/resync", tgt, "resync", e)
            try:
                d0 = self.done_sectors(a["arr"])
                t0 = time.monotonic()
                self.umd("--action", a["arr"], "check")
                t = self.wait_done(a, lambda a: self.attr(a["arr"], "last_sync_action") == "check", t0)
                r = self.sync_row("raid5/check", tgt, "check", a, t, goal=None)
                r["mismatch_cnt"] = self.attr(a["arr"], "mismatch_cnt")
                r["done_sectors"] = self.done_sectors(a["arr"]) - d0
            except SyncError as e:
                self.error_row("raid5/check", tgt, "check", e)
            self.recovery_row(a, "raid5/recovery", "raid5 (4+1)")
            # The default limit, over the first seconds of a recovery.
            key, wl = "raid5/recovery-default", "recovery at the default sync_speed_max (200000 KiB/s)"
            try:
                self.set_attr(a["arr"], "sync_speed_max", "system")
                lim = self.attr(a["arr"], "sync_speed_max")
                d0 = self.done_sectors(a["arr"])
                t0, victim, _ = self.start_recovery(a)
                time.sleep(self.default_sample_s)
                d1, t1 = self.done_sectors(a["arr"]), time.monotonic()
                speed = self.attr(a["arr"], "sync_speed")
                self.set_attr(a["arr"], "sync_speed_max", UNTHROTTLED)
                bw = (d1 - d0) * 512 / (t1 - t0)
                limit = kib_s_to_bytes(int(lim.split()[0]))
                self.row(key, "raid5 (4+1)", wl + f", first {self.default_sample_s:g} s", bw_bytes=bw,
                         seconds=t1 - t0, baseline=f"sync_speed_max {lim}", baseline_kind="bw",
                         baseline_value=limit, ratio=bw / limit, sync_speed_kib_s=speed,
                         rebuild_bytes_s=kib_s_to_bytes(int(speed)) if speed.isdigit() else None)
                self.log(f"{key}: {bw / 1e6:.0f} MB/s ({bw / limit:.2f}× the limit {lim})")
                self.wait_done(a, self.recovered, t0)
                self.drop_failed(a, victim)
            except SyncError as e:
                self.error_row(key, "raid5 (4+1)", wl, e)
        except BaseException:
            self.stop(a)
            raise
        return a

    def raid6(self) -> None:
        try:
            a = self.create_assemble("sync-raid6", "6", 5, clean=True)
        except SyncError as e:
            self.error_row("raid6/recovery", "raid6 (5+1)", "recovery", e)
            return
        try:
            self.recovery_row(a, "raid6/recovery", "raid6 (5+1)")
        finally:
            self.stop(a)

    def reshape(self, in_place: bool = False, chunk: bool = False) -> None:
        """raid5 (3 + 1 spare, --assume-clean) grown to 4 disks: from `umd --grow
        --raid-devices=4` until reshape_position reads "none" and sync_action "idle";
        component_size / time, unthrottled. Without a backup file the data offset moves;
        in_place: `--backup-file` on the tmpfs, the data stays and the overseer saves the
        critical section first. chunk: 64K -> 128K on the same 3 disks, in place, every
        section saved first (the overseer's double buffering, seed 000)."""
        key = "raid5/reshape" + ("-chunk" if chunk else "") + ("-backup" if in_place else "")
        tgt = ("raid5 (3, 64K → 128K)" if chunk else "raid5 (3+1 → 4)") + (", backup file" if in_place else "")
        try:
            a = self.create_assemble("sync-reshape", "5", 3, clean=True)
        except SyncError as e:
            self.error_row(key, tgt, "reshape", e)
            return
        try:
            grow = ["--chunk=128K"] if chunk else ["--raid-devices=4"]
            if not chunk:
                spare = self.image("sync-reshape-spare", a["size"])
                a["files"].append(spare)
                self.umd("--manage", a["arr"], "--add", spare)
            if in_place:
                backup = os.path.join(self.b.tmpfs, "sync-reshape.backup")
                if os.path.exists(backup):
                    os.unlink(backup)
                a["files"].append(backup)
                grow.append(f"--backup-file={backup}")
            t0 = time.monotonic()
            self.umd("--grow", a["arr"], *grow)
            t = self.wait_done(a, lambda a: self.attr(a["arr"], "reshape_position") == "none", t0)
            self.sync_row(key, tgt, "reshape", a, t)
        except SyncError as e:
            self.error_row(key, tgt, "reshape", e)
        finally:
            self.stop(a)

    # --- 5. client IOPS during a rebuild -------------------------------------------------

    def fio_nbd(self, a, rw, seconds, case) -> dict:
        """fio rw 4 KiB iodepth 16 over NBD for SECONDS, polling sync_action (and, during a
        recovery, sync_speed every ~0.5 s); stops fio early when a recovery it was meant to
        overlap ends. Returns fio's figures and the rebuild's."""
        arr = a["arr"]
        size = a["array_bytes"]
        out = os.path.join(self.b.work, f"fio-sync-{rw}-{case}.json")
        argv = ["fio", f"--name=sync-{rw}-{case}", "--ioengine=nbd", f"--uri={self.H.uri_of(a['sock'])}",
                f"--rw={rw}", "--bs=4k", "--iodepth=16", "--numjobs=1", f"--size={size}",
                "--norandommap=1", "--randrepeat=0", "--time_based=1",
                f"--runtime={int(seconds * 1000)}ms", "--output-format=json", f"--output={out}"]
        d0, t0 = self.done_sectors(arr), time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        speeds, stopped_early, ended_at = [], False, None
        next_speed = t0 + 0.5
        try:
            while p.poll() is None:
                if time.monotonic() > t0 + seconds + 60:
                    raise SyncError(f"fio {rw} ({case}) did not finish")
                action = self.attr(arr, "sync_action")
                now = time.monotonic()
                if case not in ("idle", "idle-after", "warmup"):
                    if action == "idle" and self.recovered(a):
                        ended_at = now - t0
                        stopped_early = True
                        os.killpg(p.pid, signal.SIGINT)
                        break
                    if now >= next_speed:
                        s = self.attr(arr, "sync_speed")
                        if s.isdigit():
                            speeds.append(int(s))
                        next_speed = now + 0.5
                time.sleep(POLL)
            outs, errs = p.communicate(timeout=seconds + 60)
        except BaseException:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(timeout=3)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            raise
        t1 = time.monotonic()
        d1 = self.done_sectors(arr)
        job = fio_jobs(out, subprocess.CompletedProcess(argv, p.returncode, outs, errs), SyncError)[0]
        side = job["write" if "write" in rw else "read"]
        if stopped_early and not side["io_bytes"]:
            raise SyncError(f"the recovery ended {ended_at:.2f} s after fio started, before fio "
                            f"moved any data (use bigger members)")
        if job.get("error") or not side["io_bytes"]:
            raise SyncError(f"fio {rw} ({case}): exit {p.returncode}, error {job.get('error')}, "
                            f"{side['io_bytes']} bytes")
        return {"iops": side["iops"], "bw_bytes": side["bw_bytes"], "runtime_ms": side["runtime"],
                "lat_mean_us": side["lat_ns"]["mean"] / 1000.0,
                "clat_p99_us": side.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000.0,
                "sync_speed_kib_s": speeds,
                "sync_speed_mean": kib_s_to_bytes(sum(speeds) / len(speeds)) if speeds else None,
                "rebuild_done_bytes_s": (d1 - d0) * 512 / (t1 - t0),
                "recovery_ended_at_s": ended_at, "stopped_early": stopped_early, "argv": argv}

    def client_iops(self, a) -> None:
        """Per workload: a 1 s unmeasured warm-up, then idle, throttled recovery,
        unthrottled recovery, idle again; the idle figure is the mean of the two idle runs
        (they bracket the others, so a drift in the machine's load shows as their spread)."""
        tgt = "raid5 (4+1)"
        try:
            comp = a["component_kib"] * 1024
            a["array_bytes"] = (comp * 3) // MiB * MiB
            self.set_attr(a["arr"], "sync_speed_max", UNTHROTTLED)
        except SyncError as e:
            self.error_row("raid5/iops", tgt, "client IOPS", e)
            return
        for rw, label in (("randread", "rand read 4 KiB"), ("randwrite", "rand write 4 KiB")):
            cases = (("idle", None), ("throttled", THROTTLED), ("unthrottled", UNTHROTTLED),
                     ("idle-after", None))
            wls = {"idle": f"{label}, iodepth 16, array idle (mean of a run before and one after)",
                   "throttled": f"{label}, during a recovery at sync_speed_max {THROTTLED}",
                   "unthrottled": f"{label}, during an unthrottled recovery"}
            got = {}
            try:
                self.fio_nbd(a, rw, 1.0, "warmup")
            except SyncError as e:
                self.error_row(f"raid5/{rw}", tgt, label, f"warm-up: {e}")
                continue
            for case, limit in cases:
                victim = None
                try:
                    if limit:
                        self.set_attr(a["arr"], "sync_speed_max", limit)
                        _, victim, _ = self.start_recovery(a)
                    got[case] = self.fio_nbd(a, rw, self.fio_s, case)
                    if limit:
                        self.set_attr(a["arr"], "sync_speed_max", UNTHROTTLED)
                        self.wait_done(a, self.recovered, time.monotonic())
                        self.drop_failed(a, victim)
                except SyncError as e:
                    got[case] = {"error": str(e)}
                    self.log(f"raid5/{rw}-{case}: n/a — {e}")
                    if victim is not None:
                        break  # the array's state is not known: no more runs on it
                    continue
                self.log(f"raid5/{rw}-{case}: {got[case]['iops']:.0f} IOPS"
                         + ("" if not limit else
                            f", rebuild {(got[case]['sync_speed_mean'] or 0) / 1e6:.0f} MB/s (sync_speed), "
                            f"{got[case]['rebuild_done_bytes_s'] / 1e6:.0f} MB/s (done_sectors)"))
            idles = [got[c] for c in ("idle", "idle-after") if c in got and "error" not in got[c]]
            idle = sum(f["iops"] for f in idles) / len(idles) if idles else None
            if idle is None:
                err = next((got[c]["error"] for c in ("idle", "idle-after") if c in got), "not run")
                self.error_row(f"raid5/{rw}-idle", tgt, wls["idle"], err)
            else:
                spread = (max(f["iops"] for f in idles) - min(f["iops"] for f in idles)) / 2 / idle
                if len(idles) > 1 and spread > 0.1:
                    self.out["notes"].append(
                        f"{tgt} {label}: the two idle runs differ by ±{spread * 100:.0f}% (the "
                        f"machine's load moved, or the array warmed up): ratios to idle are that "
                        f"uncertain")
                self.row(f"raid5/{rw}-idle", tgt, wls["idle"], iops=idle,
                         bw_bytes=sum(f["bw_bytes"] for f in idles) / len(idles),
                         seconds=sum(f["runtime_ms"] for f in idles) / 1000.0,
                         spread=spread if len(idles) > 1 else None,
                         fio=[got.get("idle"), got.get("idle-after")])
            for case in ("throttled", "unthrottled"):
                key, wl = f"raid5/{rw}-{case}", wls[case]
                f = got.get(case, {"error": "not run (an earlier run on the array failed)"})
                if "error" in f:
                    self.error_row(key, tgt, wl, f["error"])
                    continue
                self.row(key, tgt, wl, iops=f["iops"], bw_bytes=f["bw_bytes"],
                         seconds=f["runtime_ms"] / 1000.0, baseline="same, array idle",
                         baseline_kind="iops", baseline_value=idle,
                         ratio=f["iops"] / idle if idle else None,
                         rebuild_bytes_s=f["sync_speed_mean"],
                         rebuild_done_bytes_s=f["rebuild_done_bytes_s"], fio=f)
                if f["stopped_early"]:
                    self.out["notes"].append(
                        f"{tgt} {wl}: the recovery ended {f['recovery_ended_at_s']:.1f} s into the "
                        f"{self.fio_s:g} s fio run; fio was stopped there")

    # --- all -----------------------------------------------------------------------------

    def run(self) -> dict:
        t0 = time.monotonic()
        self.member_read = None
        self.member_runs = {"write": [], "read": []}
        self.peer = {}
        self.log(f"members of {self.member // MiB} MiB (raid1: {2 * self.member // MiB} MiB) "
                 f"on {self.b.tmpfs}")
        self.section("member bandwidth", self.member_bandwidth, "before")
        self.section("raid1", self.raid1)
        a = self.section("raid5", self.raid5)
        if a is None:
            self.error_row("raid5/iops", "raid5 (4+1)", "client IOPS during a rebuild",
                           "no raid5 array (see above)")
        else:
            try:
                self.section("client IOPS", self.client_iops, a)
            finally:
                self.stop(a)
        self.section("raid6", self.raid6)
        self.section("reshape", self.reshape)
        self.section("reshape, backup file", self.reshape, True)
        self.section("chunk change, backup file", self.reshape, True, True)
        self.section("member bandwidth", self.member_bandwidth, "after")
        self.section("members at once", self.peer_bandwidth)
        self.member_rows()
        self.out["peer"] = {f"{r}r{w}w": v for (r, w), v in self.peer.items()}
        self.out["elapsed_s"] = round(time.monotonic() - t0, 1)
        self.log(f"done in {self.out['elapsed_s']:.0f} s")
        return self.out


def run(bench, H) -> dict:
    """Runs every sync row (umd_section.run_section)."""
    return run_section(bench, H, SyncBench)


# ---------------------------------------------------------------------------------------
# Report



def build_table(res: dict | None) -> tuple[str, list[str]]:
    """A Markdown table in bench.py's style: value, baseline value, ratio, issue target."""
    lines = ["| target | workload | IOPS | throughput | baseline | baseline value | × baseline "
             "| same I/O by fio, members at once | × that | rebuild | issue target |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    if res is None:
        return "", []
    notes = list(res.get("notes", []))
    if "error" in res:
        notes.insert(0, f"n/a: sync: {res['error']}")
    for r in res.get("rows", []):
        if "error" in r:
            lines.append(f"| {r['target']} | {r['workload']} | n/a | n/a | — | — | — | — | — | — | — |")
            continue
        bw = ("≥ " if r.get("lower_bound") else "") + fmt_bw(r["bw_bytes"])
        if r.get("spread") is not None:
            bw += f" ±{r['spread'] * 100:.0f}%"
        if r["key"].startswith("member/"):
            pass
        elif r["iops"] is None and r.get("seconds"):
            bw += f" in {r['seconds']:.2f} s"
            gap = r.get("poll_gap_s")
            if gap and gap / 2 > 0.05 * r["seconds"]:
                bw += f" ±{gap / 2:.2f}"
        if r["baseline_kind"] == "iops":
            bval = f"{fmt_iops(r['baseline_value'])} IOPS" if r["baseline_value"] else "n/a"
        elif r["baseline_kind"] == "bw":
            bval = fmt_bw(r["baseline_value"])
        else:
            bval = "—"
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        rebuild = "—" if r["rebuild_bytes_s"] is None else fmt_bw(r["rebuild_bytes_s"])
        if r.get("rebuild_done_bytes_s") is not None:
            rebuild += f" ({r['rebuild_done_bytes_s'] / 1e6:,.0f})"
        if r["goal"] is None:
            goal = "—"
        else:
            mark = "?" if r["ratio"] is None else ("met" if r["ratio"] >= r["goal"] else
                                                   "? (a lower bound)" if r.get("lower_bound") else
                                                   "**missed**")
            goal = f"≥ {r['goal']}× member read: {mark}"
        if r.get("peer_bw_bytes"):
            peer = f"{fmt_bw(r['peer_bw_bytes'])} ({r['peer_io']})"
            peer_ratio = f"{r['peer_ratio']:.2f}×"
        else:
            peer, peer_ratio = "—", "—"
        lines.append(f"| {r['target']} | {r['workload']} | {fmt_iops(r['iops'])} | {bw} "
                     f"| {r['baseline'] or '—'} | {bval} | {ratio} | {peer} | {peer_ratio} | {rebuild} | {goal} |")
    return "\n".join(lines), notes


def header(res: dict | None) -> str:
    if not res or "member_size" not in res:
        return "Sync rows (issue 4):"
    return (f"Sync rows (issue 4), {res.get('elapsed_s', 0):.0f} s: members of "
            f"{res['member_size'] // MiB} MiB, raid1's {2 * res['member_size'] // MiB} MiB (image files on the "
            f"same tmpfs, written through before use); resync, "
            f"check and recovery unthrottled (sync_speed_max {UNTHROTTLED} KiB/s written right "
            f"after assembly) unless the row says otherwise; throughput = bytes synced per member "
            f"/ seconds from the command (--assemble, --fail, --action) to idle; ratios to one "
            f"member image's sequential read (fio psync 1 MiB), and to the same reads and writes "
            f"done by fio on as many images at once (per member: the ceiling on this machine); rebuild = the engine's sync_speed "
            f"(its average since the run started, read last before the end). Client rows: fio "
            f"nbd engine, iodepth 16, numjobs 1, {res['fio_seconds']:.1f} s per run (cut short "
            f"when the recovery ends first), idle = mean of a run before and one after the "
            f"recoveries; rebuild = mean of sync_speed sampled every 0.5 s during the run (in "
            f"parentheses: umd/sync_stats' done_sectors, its rise over the run / the run's time).")
