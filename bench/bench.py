#!/usr/bin/env python3
"""umd's benchmark: umd arrays served over NBD beside nbdkit peers, in one run, as ratios.

Every target is served on a unix socket and driven by fio's nbd engine (libnbd), one job
at a time: sequential 1 MiB read/write and random 4 KiB read/write at queue depth 32,
numjobs 1. Peers: nbdkit's null plugin (the ceiling of this transport with this client),
its memory plugin, and its file plugin on a file on tmpfs. umd: raid0/1/5/6 over image
files on tmpfs, created with `umd --create` and served with `umd --assemble --serve`.
Two kinds of variant rows: `-4conn` drives a target's export over 4 NBD connections at
once (fio numjobs 4, iodepth 8 each; only when the server advertises
NBD_FLAG_CAN_MULTI_CONN) and compares it with peers over the same 4 connections; `-loop`
serves a umd array whose members are loop devices (direct I/O) over files on the tmpfs,
compared with the same array over the image files. ISA-L parity and memcpy bandwidth come
from bench/parity_bench (Google Benchmark) in the same run. Prints one Markdown table on
stdout; raw results go to --json-out. The sync rows (resync/recovery/check throughput,
client IOPS during a rebuild; bench/sync_bench.py) follow in a second table of the same
style, and the bitmap rows (rand write IOPS per write-intent bitmap kind, resync after a
crash with a bitmap; bench/bitmap_bench.py) in a third.

Benchmarks report; they never fail on a target. Exit status is non-zero only when the
harness itself cannot run (missing tools, bad options) or is interrupted.

Python 3 standard library only. Called by bench/run.sh, which builds umd first.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import sync_bench  # bench/sync_bench.py: the sync rows (issue 4)
import bitmap_bench  # bench/bitmap_bench.py: the bitmap rows (issue 5)
from umd_section import fio_jobs  # noqa: E402 -- fio's JSON, as the sections read it

GiB = 1 << 30
MiB = 1 << 20

# (key, fio rw, block size, label). Writes run before reads on each target so reads see
# written data (nbdkit-memory reading never-written pages would only measure zeros).
WORKLOADS = [
    ("seq-write", "write", "1M", "seq write 1 MiB"),
    ("seq-read", "read", "1M", "seq read 1 MiB"),
    ("rand-write", "randwrite", "4k", "rand write 4 KiB"),
    ("rand-read", "randread", "4k", "rand read 4 KiB"),
]
DISPLAY_ORDER = ["seq-read", "seq-write", "rand-read", "rand-write"]
WL = {w[0]: w for w in WORKLOADS}

# name -> (kind, spec). Member counts give raid0/5/6 the same 4 data disks, so full-stripe
# writes compare like with like (raid5 of 5 and raid6 of 6: 4 data chunks per stripe).
TARGETS = {
    "nbdkit-null": ("nbdkit", {"plugin": "null"}),
    "nbdkit-memory": ("nbdkit", {"plugin": "memory"}),
    "nbdkit-file": ("nbdkit", {"plugin": "file"}),
    "raid0": ("umd", {"level": "0", "members": 4}),
    "raid1": ("umd", {"level": "1", "members": 2}),
    "raid5": ("umd", {"level": "5", "members": 5}),
    "raid6": ("umd", {"level": "6", "members": 6}),
}
# Variant rows. "-4conn": the export of BASE (the same server, already filled) driven over
# CONNS NBD connections at once: fio numjobs=CONNS, each job its own libnbd connection,
# iodepth 32/CONNS each, each job its own 1/CONNS of the region; group_reporting. Only when
# the server advertises NBD_FLAG_CAN_MULTI_CONN. "-loop": a umd array of its own whose
# members are loop devices (losetup --direct-io=on) over files on the tmpfs, so umd opens
# block devices, as it would real disks.
MULTI_CONN = 4
for _b in ("nbdkit-null", "nbdkit-memory", "raid0", "raid5"):
    TARGETS[f"{_b}-{MULTI_CONN}conn"] = ("view", {"base": _b, "conns": MULTI_CONN})
TARGETS["raid0-loop"] = ("umd", {"level": "0", "members": 4, "loop": True})
TARGETS["raid5-loop"] = ("umd", {"level": "5", "members": 5, "loop": True})
QUICK_TARGETS = ["nbdkit-null", "nbdkit-memory", "raid0", "raid5", "raid6"]
# --only shorthands: the variant rows with the rows they are compared with.
ALIASES = {
    "multiconn": ["nbdkit-null", "nbdkit-memory", "raid0", "raid5"]
                 + [t for t, (k, _) in TARGETS.items() if k == "view"],
    "loop": ["raid0", "raid5", "raid0-loop", "raid5-loop"],
}
ALL_NAMES = list(TARGETS) + ["parity", "sync", "bitmap"]


def kind_of(name: str) -> str:
    """"nbdkit" or "umd"; a -Nconn row is of its base's kind."""
    kind, spec = TARGETS[name]
    return TARGETS[spec["base"]][0] if kind == "view" else kind


def conns_of(name: str) -> int:
    return TARGETS[name][1].get("conns", 1)


def peer(name: str, base: str) -> str:
    """The row NAME is compared with under BASE's column: the same connection count
    (nbdkit-memory-4conn for a -4conn row), the same members (raid0-loop for raid5-loop)."""
    spec = TARGETS[name][1]
    if spec.get("conns", 1) > 1 and f"{base}-{spec['conns']}conn" in TARGETS:
        return f"{base}-{spec['conns']}conn"
    if spec.get("loop") and f"{base}-loop" in TARGETS:
        return f"{base}-loop"
    return base


def own_base(name: str) -> str | None:
    """The row NAME is a variant of: the same target over 1 connection, the same array
    over image files."""
    spec = TARGETS[name][1]
    if "base" in spec:
        return spec["base"]
    if spec.get("loop"):
        return name[:-len("-loop")]
    return None

EXPORT_SIZE = GiB            # the region every fio job works over
MEMBER_SLACK = 16 * MiB      # superblock, data offset (1 MiB for members this size), rounding
CHUNK = "64K"


def data_disks(spec) -> int:
    n = spec["members"]
    return {"0": n, "1": 1, "5": n - 1, "6": n - 2}[spec["level"]]


def member_size(spec, region: int) -> int:
    per = -(-region // data_disks(spec))
    return -(-(per + MEMBER_SLACK) // (4 * MiB)) * (4 * MiB)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signal.Signals(signum).name}")


# ---------------------------------------------------------------------------------------
# Processes we start. Each runs in its own session so a Ctrl-C on the terminal reaches
# only us; we stop them ourselves, by pid, on every exit path.

class Procs:
    def __init__(self):
        self.live: list[subprocess.Popen] = []

    def start(self, argv, logpath, env=None) -> subprocess.Popen:
        logf = open(logpath, "wb")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                 stderr=subprocess.STDOUT, env=env, start_new_session=True)
        finally:
            logf.close()
        self.live.append(p)
        return p

    def stop(self, p: subprocess.Popen, grace: float = 5.0) -> None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if p.poll() is not None:
                break
            try:
                os.killpg(p.pid, sig)  # its own session: pgid == pid
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        if p in self.live and p.poll() is not None:
            self.live.remove(p)

    def stop_all(self) -> None:
        for p in list(self.live):
            self.stop(p, grace=3.0)


def wait_for_socket(path: str, proc: subprocess.Popen, timeout: float) -> str | None:
    """None when a connection to PATH succeeds; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with status {proc.returncode} before serving"
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return None
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    return f"no server on {path} after {timeout:.0f} s"


def last_line(path: str) -> str:
    try:
        with open(path, "rb") as f:
            lines = [l.strip() for l in f.read().decode(errors="replace").splitlines() if l.strip()]
        return lines[-1] if lines else ""
    except OSError:
        return ""


def proc_cpu(p: subprocess.Popen | None) -> float:
    """CPU seconds (user+system, all threads) used so far by a live process; 0 if gone."""
    if p is None or p.poll() is not None:
        return 0.0
    try:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def uri_of(sock: str) -> str:
    return f"nbd+unix:///?socket={sock}"


def export_size(sock: str) -> int | None:
    if not shutil.which("nbdinfo"):
        return None
    try:
        r = subprocess.run(["nbdinfo", "--size", uri_of(sock)], capture_output=True,
                           text=True, timeout=15)
        return int(r.stdout.strip()) if r.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


# ---------------------------------------------------------------------------------------
# fio

def run_group(argv, timeout) -> subprocess.CompletedProcess | None:
    """Runs ARGV in its own process group. On a timeout or an exception (our signals), the
    group gets SIGTERM first, so fio reaps its own job processes, then SIGKILL."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(argv, p.returncode, out, err)
    except BaseException as e:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                pass
        if isinstance(e, subprocess.TimeoutExpired):
            return None
        raise

def connections_to(sock: str) -> int:
    """Connected unix sockets bound to SOCK: the server's end of each client connection
    (/proc/net/unix lists the listener's path on every socket it accepted)."""
    n = 0
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                v = line.split(None, 7)
                if len(v) == 8 and v[7].strip() == sock and v[5] == "03":  # SS_CONNECTED
                    n += 1
    except OSError:
        return -1
    return n


class ConnSampler:
    """The most connections to SOCK seen, sampled every 0.1 s while fio runs."""
    def __init__(self, sock: str):
        self.sock, self.most, self.stop = sock, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.1):
            self.most = max(self.most, connections_to(self.sock))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(timeout=2)


def run_fio(sock: str, wl: str, runtime: float | None, size: int, outdir: str, tag: str,
            jobs: int = 1) -> dict:
    """One fio job; runtime None = one pass over SIZE (the preconditioning fill). JOBS > 1:
    that many jobs (each its own NBD connection) at iodepth 32/JOBS, job i over the i-th
    1/JOBS of SIZE, reported as one group."""
    key, rw, bs, _ = WL[wl]
    out = os.path.join(outdir, f"fio-{tag}-{key}{'' if runtime else '-fill'}.json")
    if jobs > 1:
        part = size // jobs // MiB * MiB
        shape = [f"--iodepth={32 // jobs}", f"--numjobs={jobs}", f"--size={part}",
                 f"--offset_increment={part}", "--group_reporting=1"]
    else:
        shape = ["--iodepth=32", "--numjobs=1", f"--size={size}"]
    argv = ["fio", f"--name={tag}-{key}", "--ioengine=nbd", f"--uri={uri_of(sock)}",
            f"--rw={rw}", f"--bs={bs}", *shape,
            "--norandommap=1", "--randrepeat=0", "--output-format=json", f"--output={out}"]
    if runtime:
        argv += ["--time_based=1", f"--runtime={max(1, round(runtime * 1000))}ms"]
        if runtime >= 2:
            argv.append("--ramp_time=500ms")
    limit = (runtime or 0) + 120
    with ConnSampler(sock) as conns:
        r = run_group(argv, limit)
    if r is None:
        return {"error": f"fio did not finish within {limit:g} s"}
    try:
        job = fio_jobs(out, r, RuntimeError)[0]
    except RuntimeError as e:
        return {"error": str(e)}
    side = job["write"] if "write" in rw else job["read"]
    res = {"argv": argv, "iops": side["iops"], "bw_bytes": side["bw_bytes"],
           "lat_mean_us": side["lat_ns"]["mean"] / 1000.0,
           "clat_p99_us": (side.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0)) / 1000.0,
           "io_bytes": side["io_bytes"], "runtime_ms": side["runtime"],
           "total_ios": side["total_ios"], "fio_error": job.get("error", 0),
           "usr_cpu": job.get("usr_cpu"), "sys_cpu": job.get("sys_cpu"), "fio_job": job,
           "connections_seen": conns.most}
    if r.returncode != 0 or job.get("error", 0) or side["io_bytes"] == 0:
        errs = [l.strip() for l in (r.stderr + r.stdout).splitlines() if "err" in l.lower()]
        res["error"] = f"fio exit {r.returncode}, job error {job.get('error', 0)}, " \
                       f"{side['io_bytes']} bytes moved" + (f" ({errs[0]})" if errs else "")
        if job.get("error", 0) > 0:
            res["error"] += f": {os.strerror(job['error'])}"
    return res


# ---------------------------------------------------------------------------------------
# Targets

class Bench:
    def __init__(self, args):
        self.args = args
        self.procs = Procs()
        self.work = None
        self.mounted = None
        self.tmpfs = None
        self.assembled: list[str] = []
        self.loop_files: list[str] = []   # files we (may) have attached a loop device to
        self.live: dict[str, dict] = {}
        self.region = EXPORT_SIZE

    def setup(self) -> None:
        """Separate from __init__ so cleanup() can undo a setup interrupted half-way."""
        self.work = tempfile.mkdtemp(prefix="umd-bench-")
        self.runtime_dir = os.path.join(self.work, "run")
        os.makedirs(self.runtime_dir, mode=0o700)
        self.umd_env = dict(os.environ, UMD_RUNTIME_DIR=self.runtime_dir)
        self.tmpfs = self.pick_tmpfs()

    def pick_tmpfs(self) -> str:
        if self.args.tmpfs:
            d = tempfile.mkdtemp(prefix="umd-bench-img-", dir=self.args.tmpfs)
            return d
        mnt = os.path.join(self.work, "tmpfs")
        os.makedirs(mnt)
        if os.geteuid() == 0 and shutil.which("mount"):
            self.mounted = mnt  # before mount: an interrupt right after must still umount
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12g,mode=0700",
                                "umd-bench", mnt], capture_output=True, text=True)
            if r.returncode != 0:
                self.mounted = None
            else:
                log(f"images on a tmpfs mounted at {mnt}")
                return mnt
        os.rmdir(mnt)
        d = tempfile.mkdtemp(prefix="umd-bench-img-", dir="/dev/shm")
        log(f"images on /dev/shm ({d})")
        return d

    def cleanup(self) -> None:
        for name in list(self.live):
            self.stop_target(name)
        for name in list(self.assembled):
            self.umd_stop(name, None)
        self.procs.stop_all()
        self.detach_loops(list(self.loop_files))  # before the umount: they hold its files
        if self.mounted:
            if os.path.ismount(self.mounted):
                r = subprocess.run(["umount", self.mounted], capture_output=True, text=True)
                if r.returncode != 0:
                    subprocess.run(["umount", "-l", self.mounted], capture_output=True)
        elif self.tmpfs:
            shutil.rmtree(self.tmpfs, ignore_errors=True)
        if not self.work:
            return
        if self.args.keep_logs:
            log(f"logs kept in {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # --- servers ---------------------------------------------------------------------

    def start_nbdkit(self, name, spec) -> tuple[subprocess.Popen | None, str, str | None]:
        sock = os.path.join(self.work, f"{name}.sock")
        plugin = spec["plugin"]
        argv = ["nbdkit", "-f", "--exit-with-parent", "-U", sock, plugin]
        if plugin == "file":
            img = os.path.join(self.tmpfs, "nbdkit-file.img")
            with open(img, "wb") as f:
                f.truncate(EXPORT_SIZE)
            argv.append(f"file={img}")
        else:
            argv.append(f"size={EXPORT_SIZE}")
        logpath = os.path.join(self.work, f"{name}.log")
        p = self.procs.start(argv, logpath)
        why = wait_for_socket(sock, p, 15)
        if why:
            why = f"{why}: {last_line(logpath)}"
            self.procs.stop(p)
            return None, sock, why
        return p, sock, None

    # --- loop devices --------------------------------------------------------------------

    def attach_loop(self, path: str) -> tuple[str | None, str | None]:
        """(device, None) for a loop device over PATH with direct I/O, or (None, why not).
        PATH is recorded before losetup runs, so an interrupt at any point still finds and
        detaches whatever got attached to it (detach_loops asks losetup -j)."""
        if not shutil.which("losetup"):
            return None, "losetup not found (Debian: mount)"
        self.loop_files.append(path)
        try:
            r = subprocess.run(["losetup", "-f", "--show", "--direct-io=on", path],
                               capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, "losetup -f --show --direct-io=on timed out"
        dev = r.stdout.strip()
        if r.returncode != 0 or not dev.startswith("/dev/"):
            return None, f"losetup -f --show --direct-io=on failed (exit {r.returncode}): " \
                         f"{(r.stderr.strip().splitlines() or ['?'])[-1]}"
        return dev, None

    def detach_loops(self, paths: list[str]) -> None:
        """Detaches every loop device over each of PATHS (as losetup -j lists them)."""
        for path in paths:
            if path not in self.loop_files:
                continue
            for attempt in range(5):
                try:
                    r = subprocess.run(["losetup", "-j", path], capture_output=True, text=True,
                                       timeout=15, stdin=subprocess.DEVNULL)
                except (OSError, subprocess.TimeoutExpired):
                    break
                devs = [l.split(":", 1)[0] for l in r.stdout.splitlines() if l.startswith("/dev/")]
                if not devs:
                    break
                for d in devs:
                    try:
                        d_r = subprocess.run(["losetup", "-d", d], capture_output=True, text=True,
                                             timeout=15, stdin=subprocess.DEVNULL)
                        if d_r.returncode != 0 and attempt == 4:
                            log(f"losetup -d {d} ({path}): {d_r.stderr.strip()}")
                    except subprocess.TimeoutExpired:
                        log(f"losetup -d {d} timed out")
                time.sleep(0.2 * attempt)
            self.loop_files.remove(path)

    @staticmethod
    def loop_dio(dev: str) -> bool | None:
        try:
            with open(f"/sys/block/{os.path.basename(dev)}/loop/dio") as f:
                return f.read().strip() == "1"
        except OSError:
            return None

    @staticmethod
    def direct_members(p: subprocess.Popen, members: list[str]) -> int | None:
        """How many of MEMBERS the umd daemon P holds open with O_DIRECT (/proc/PID/fdinfo);
        None when that cannot be read."""
        direct, found = set(), set()
        real = {os.path.realpath(m) for m in members}
        try:
            for fd in os.listdir(f"/proc/{p.pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{p.pid}/fd/{fd}")
                    if target not in real:
                        continue
                    found.add(target)
                    with open(f"/proc/{p.pid}/fdinfo/{fd}") as f:
                        flags = next(int(l.split()[1], 8) for l in f if l.startswith("flags:"))
                    if flags & os.O_DIRECT:
                        direct.add(target)
                except (OSError, StopIteration, ValueError):
                    continue
        except OSError:
            return None
        return len(direct) if found else None

    def umd(self, *argv, timeout=60) -> subprocess.CompletedProcess:
        return subprocess.run([self.args.umd, *argv], capture_output=True, text=True,
                              env=self.umd_env, timeout=timeout, stdin=subprocess.DEVNULL)

    def start_umd(self, name, spec):
        sock = os.path.join(self.work, f"{name}.sock")
        # Members just big enough for the region, allocated before --create (fallocate
        # on tmpfs allocates real pages) so reads hit allocated pages, as on the filled
        # peers, even when the array cannot be filled through NBD (a read-only engine).
        msize = member_size(spec, self.region)
        members = []
        for i in range(spec["members"]):
            m = os.path.join(self.tmpfs, f"{name}-{i}.img")
            members.append(m)
            with open(m, "wb") as f:
                try:
                    os.posix_fallocate(f.fileno(), 0, msize)
                except OSError:
                    pattern = os.urandom(4 * MiB)
                    for _ in range(msize // len(pattern)):
                        f.write(pattern)
                f.truncate(msize)
        if spec.get("loop"):
            # umd gets the loop devices; the files stay in `files` to be removed after.
            files, members = members, []
            for m in files:
                dev, why = self.attach_loop(m)
                if why:
                    return None, sock, why, files
                members.append(dev)
            self.live[name]["loops"] = members
            dio = [self.loop_dio(d) for d in members]
            self.live[name]["loop_dio"] = dio
            if not all(dio):
                log(f"{name}: loop devices without direct I/O: {dio}")
        else:
            files = members
        arr = f"bench-{name}"
        chunk = [] if spec["level"] == "1" else [f"--chunk={CHUNK}"]  # raid1 has none
        r = self.umd("--create", arr, f"--level={spec['level']}",
                     f"--raid-devices={spec['members']}", *chunk, "--assume-clean", *members)
        if r.returncode != 0:
            return None, sock, f"umd --create failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}", files
        logpath = os.path.join(self.work, f"{name}.log")
        p = self.procs.start([self.args.umd, "--assemble", arr, *members,
                              "--serve", f"nbd:unix:{sock}", "--foreground"],
                             logpath, env=self.umd_env)
        self.assembled.append(arr)
        why = wait_for_socket(sock, p, 20)
        if why:
            why = f"umd --assemble: {why}: {last_line(logpath)}"
            self.umd_stop(arr, p)
            return None, sock, why, files
        self.live[name]["direct"] = (self.direct_members(p, members), len(members))
        return p, sock, None, files

    def umd_stop(self, arr, p) -> None:
        """`umd --stop NAME`, then SIGTERM/SIGKILL for whatever is still running."""
        if arr in self.assembled:
            self.assembled.remove(arr)
            try:
                r = self.umd("--stop", arr, timeout=15)
                if r.returncode != 0:
                    log(f"umd --stop {arr}: exit {r.returncode}: {r.stderr.strip()}")
            except subprocess.TimeoutExpired:
                log(f"umd --stop {arr} timed out")
        if p is not None:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"{arr} still running 5 s after umd --stop; sending SIGTERM")
            self.procs.stop(p)

    # --- targets: start all, fill each, then interleave the measurements -------------

    def choose_region(self, names: list[str]) -> None:
        """All targets stay up for the whole run, each holding its filled region in RAM
        (tmpfs or nbdkit-memory): shrink the region if the machine cannot spare that."""
        def need(region):
            return sum(member_size(TARGETS[n][1], region) * TARGETS[n][1]["members"]
                       if TARGETS[n][0] == "umd" else
                       (region if TARGETS[n][0] == "nbdkit" and n != "nbdkit-null" else 0)
                       for n in names)  # a -Nconn row has no server of its own
        avail = None
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        avail = int(line.split()[1]) * 1024
        except OSError:
            pass
        while avail and self.region > 256 * MiB and need(self.region) * 2 > avail:
            self.region //= 2
        if self.region != EXPORT_SIZE:
            log(f"only {avail / GiB:.1f} GiB available: fio region shrunk to {self.region // MiB} MiB")

    def start_target(self, name) -> dict:
        kind, spec = TARGETS[name]
        res = {"target": name, "kind": kind, "spec": spec, "workloads": {}, "slices": {}}
        if kind == "view":
            return self.start_view(name, spec, res)
        self.live[name] = {"proc": None, "sock": "", "members": [], "arr": f"bench-{name}"}
        if kind == "nbdkit":
            p, sock, why = self.start_nbdkit(name, spec)
        elif not self.args.umd or not os.access(self.args.umd, os.X_OK):
            p, sock, why = None, "", f"no umd binary at {self.args.umd}"
        else:
            p, sock, why, members = self.start_umd(name, spec)
            self.live[name]["members"] = members
        self.live[name].update(proc=p, sock=sock)
        if why:
            res["error"] = why
            log(f"{name}: n/a — {why}")
            self.stop_target(name)
            return res
        for k in ("loops", "loop_dio", "direct"):
            if k in self.live[name]:
                res[k] = self.live[name][k]
        size = export_size(sock)
        res["export_size"] = size
        try:
            with open(os.path.join(self.work, f"{name}.log"), errors="replace") as f:
                res["server_log_head"] = f.read(4000)
        except OSError:
            res["server_log_head"] = ""
        fio_size = min(self.region, size) if size else self.region
        fio_size -= fio_size % MiB
        res["fio_size"] = self.live[name]["fio_size"] = fio_size
        # Fill the region once, unmeasured, so every target is measured in steady state:
        # tmpfs pages and nbdkit-memory's pages already allocated.
        f = run_fio(sock, "seq-write", None, fio_size, self.work, name)
        res["fill"] = {k: f.get(k) for k in ("error", "bw_bytes", "io_bytes")}
        if "error" in f:
            log(f"{name} fill: {f['error']}")
        else:
            log(f"{name} fill: {f['io_bytes'] / MiB:.0f} MiB at {f['bw_bytes'] / 1e6:.0f} MB/s")
        return res

    def start_view(self, name, spec, res) -> dict:
        """A -Nconn row: the server of its base row (started, filled), if it advertises
        NBD_FLAG_CAN_MULTI_CONN."""
        base = spec["base"]
        b = self.live.get(base)
        self.live[name] = {"view": True, "proc": b["proc"] if b else None,
                           "sock": b["sock"] if b else ""}
        why = None
        if b is None or b["proc"] is None:
            why = f"its server ({base}) is not running"
        elif not shutil.which("nbdinfo"):
            why = "nbdinfo not found (Debian: libnbd-bin): cannot ask for can_multi_conn"
        else:
            try:
                r = subprocess.run(["nbdinfo", "--json", uri_of(b["sock"])], capture_output=True,
                                   text=True, timeout=15, stdin=subprocess.DEVNULL)
                info = json.loads(r.stdout)["exports"][0]
                res["can_multi_conn"] = info.get("can_multi_conn")
                if info.get("can_multi_conn") is not True:
                    why = (f"{base}'s NBD server does not advertise NBD_FLAG_CAN_MULTI_CONN "
                           f"(nbdinfo --json: can_multi_conn {json.dumps(info.get('can_multi_conn'))}), so "
                           f"{spec['conns']} connections to one export are not safe")
            except (subprocess.TimeoutExpired, ValueError, KeyError, IndexError) as e:
                why = f"nbdinfo --json {uri_of(b['sock'])}: {type(e).__name__} {e}"
        if why:
            res["error"] = why
            log(f"{name}: n/a — {why}")
            self.live.pop(name, None)
            return res
        log(f"{name}: {base}'s server advertises can_multi_conn")
        res["fio_size"] = b["fio_size"]
        return res

    def stop_target(self, name) -> None:
        t = self.live.pop(name, None)
        if not t or t.get("view"):
            return
        if TARGETS[name][0] == "umd":
            self.umd_stop(t["arr"], t["proc"])
        elif t["proc"] is not None:
            self.procs.stop(t["proc"])
        self.detach_loops(t["members"])  # before the files go
        files = list(t["members"])
        if name == "nbdkit-file":
            files.append(os.path.join(self.tmpfs, "nbdkit-file.img"))
        if t["sock"]:
            files.append(t["sock"])
        for f in files:
            try:
                os.unlink(f)
            except OSError:
                pass

    def measure(self, results: dict, names: list[str]) -> None:
        """Rounds of (workload, target) slices, so slow drift in the machine's load falls
        on every target alike; each (target, workload) gets --runtime seconds in total."""
        rounds = self.args.rounds
        slice_s = self.args.runtime / rounds
        for rnd in range(rounds):
            for key, *_ in WORKLOADS:
                for name in names:
                    res = results[name]
                    if "error" in res:
                        continue
                    t = self.live[name]
                    p = t["proc"]
                    if p.poll() is not None:
                        r = {"error": f"server exited ({p.returncode}): "
                                      f"{last_line(os.path.join(self.work, name + '.log'))}"}
                    else:
                        idle0, own0 = self.idle_cpu(busy=p), proc_cpu(p)
                        r = run_fio(t["sock"], key, slice_s, res["fio_size"], self.work,
                                    f"{name}-r{rnd}", jobs=conns_of(name))
                        idle = self.idle_cpu(busy=p) - idle0
                        r["idle_servers_cpu_s"] = round(idle, 3)
                        r["server_cpu_s"] = round(proc_cpu(p) - own0, 3)  # incl. ramp
                    res["slices"].setdefault(key, []).append(
                        {k: v for k, v in r.items() if k != "fio_job"} if rnd else r)
                    if "error" in r:
                        log(f"{name} {key} round {rnd + 1}: n/a — {r['error']}")
                    else:
                        log(f"{name} {key} round {rnd + 1}: {r['iops']:.0f} IOPS, "
                            f"{r['bw_bytes'] / 1e6:.1f} MB/s")
        for name in names:
            res = results[name]
            for key, sl in res.get("slices", {}).items():
                ok = [x for x in sl if "error" not in x]
                if len(ok) < len(sl):
                    res["workloads"][key] = {"error": next(x["error"] for x in sl if "error" in x)}
                    continue
                secs = max(1e-3, sum(x["runtime_ms"] for x in ok) / 1000.0)
                agg = {"iops": sum(x["total_ios"] for x in ok) / secs,
                       "bw_bytes": sum(x["io_bytes"] for x in ok) / secs,
                       "seconds": secs, "rounds": len(ok),
                       "bw_bytes_per_round": [x["bw_bytes"] for x in ok],
                       "lat_mean_us": sum(x["lat_mean_us"] * x["total_ios"] for x in ok)
                       / max(1, sum(x["total_ios"] for x in ok)),
                       "idle_servers_cpu_s": sum(x.get("idle_servers_cpu_s", 0) for x in ok),
                       "server_cpu_s": sum(x.get("server_cpu_s", 0) for x in ok),
                       "connections_seen": min(x.get("connections_seen", 0) for x in ok)}
                per = agg["bw_bytes_per_round"]
                if len(per) > 1 and agg["bw_bytes"]:
                    agg["spread"] = (max(per) - min(per)) / 2 / (sum(per) / len(per))
                res["workloads"][key] = agg

    def idle_cpu(self, busy: subprocess.Popen) -> float:
        """CPU seconds used so far by the servers other than BUSY (they should idle); a
        -Nconn row shares its base's server."""
        others = {t["proc"].pid: t["proc"] for t in self.live.values()
                  if t["proc"] is not None and t["proc"] is not busy}
        return sum(proc_cpu(p) for p in others.values())

    # --- parity --------------------------------------------------------------------------

    def run_parity(self) -> dict:
        pb = self.args.parity_bench
        if not pb or not os.access(pb, os.X_OK):
            return {"error": f"no parity_bench binary at {pb}"}
        filt = r"^BM_(memcpy|gen_p|gen_pq|recover_2data|recover_data_p)/(4|8)$"
        if self.args.quick:
            filt = r"^BM_(memcpy|gen_p|gen_pq|recover_2data)/4$"
        argv = [pb, "--benchmark_format=json", f"--benchmark_filter={filt}",
                f"--benchmark_min_time={0.1 if self.args.quick else 0.5}"]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                               stdin=subprocess.DEVNULL)
            data = json.loads(r.stdout)
        except (subprocess.TimeoutExpired, ValueError) as e:
            return {"error": f"parity_bench: {e}"}
        rows = {}
        for b in data.get("benchmarks", []):
            m = re.match(r"BM_(\w+)/(\d+)$", b["name"])
            if not m or "bytes_per_second" not in b:
                continue
            rows[b["name"]] = {"op": m.group(1), "data": int(m.group(2)),
                               "gbps": b["bytes_per_second"] / 1e9}
        return {"argv": argv, "context": data.get("context"), "rows": rows,
                "raw": data.get("benchmarks")}


# ---------------------------------------------------------------------------------------
# Report

GOALS = {
    # (target, workload) -> list of (baseline, minimum ratio)
}
for _w in DISPLAY_ORDER:
    GOALS[("raid0", _w)] = [("nbdkit-memory", 1.0), ("nbdkit-null", 0.85)]
GOALS[("raid5", "seq-write")] = [("raid0", 0.85)]  # issue 10
GOALS[("raid6", "seq-write")] = [("raid0", 0.85)]
GOALS[("raid5", "rand-write")] = [("raid0", 0.25)]
SHORT = {"nbdkit-memory": "memory", "nbdkit-null": "null", "raid0": "raid0"}


def metric(results, target, wl):
    r = results.get(target, {}).get("workloads", {}).get(wl)
    if not r or "error" in r:
        return None
    return r["bw_bytes"]


def ratio(results, target, wl, base):
    """TARGET / BASE on WL; BASE stands for its variant with TARGET's connection count or
    member kind (peer())."""
    base = peer(target, base) if target in TARGETS else base
    a, b = metric(results, target, wl), metric(results, base, wl)
    if a is None or b is None or b == 0 or target == base:
        return None
    return a / b


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}×"


def fmt_iops(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def build_table(results: dict, parity: dict | None, targets: list[str]) -> tuple[str, list[str], dict]:
    lines = ["| target | workload | IOPS | throughput | × nbdkit-memory | × nbdkit-null "
             "| × raid0 | × base | × memcpy | issue target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    ratios = {}
    if any(own_base(t) for t in targets):
        notes.append(f"-{MULTI_CONN}conn rows: {MULTI_CONN} NBD connections to the export at "
                     f"once, iodepth {32 // MULTI_CONN} each; their × columns compare with the "
                     f"same {MULTI_CONN} connections to nbdkit-memory / nbdkit-null / raid0, "
                     f"× base with their own target over 1 connection. -loop rows: members "
                     f"are loop devices (direct I/O) over files on the tmpfs; × raid0 is "
                     f"raid0-loop, × base the same array over the image files.")
    for t in targets:
        res = results.get(t, {})
        if "error" in res:
            notes.append(f"n/a: {t}: {res['error']}")
        loop_side = TARGETS[t][1].get("loop") or f"{t}-loop" in targets
        if loop_side and res.get("direct") and res["direct"][0] is not None and "error" not in res:
            nd, nm = res["direct"]
            what = "loop devices" if TARGETS[t][1].get("loop") else "image files"
            dio = res.get("loop_dio")
            notes.append(f"note: {t}: umd holds {nd} of its {nm} members ({what}) open with "
                         f"O_DIRECT" + ("" if dio is None else
                                        f"; loop direct I/O on {sum(1 for x in dio if x)} of {len(dio)}"))
        bad_conns = sorted({r.get("connections_seen", 0) for r in res.get("workloads", {}).values()
                            if "error" not in r and r.get("connections_seen", 0) != conns_of(t)
                            and conns_of(t) > 1})
        if bad_conns:
            notes.append(f"note: {t}: {conns_of(t)} connections wanted, at most "
                         f"{', '.join(map(str, bad_conns))} seen at once in some slice")
        for line in res.get("server_log_head", "").splitlines():
            if "read-only" in line:
                notes.append(f"note: {t}: server said \"{line.strip()}\"")
        for wl in DISPLAY_ORDER:
            r = res.get("workloads", {}).get(wl, {})
            label = WL[wl][3]
            rm = ratio(results, t, wl, "nbdkit-memory")
            rn = ratio(results, t, wl, "nbdkit-null")
            r0 = ratio(results, t, wl, "raid0") if kind_of(t) == "umd" else None
            ob = own_base(t)
            rb = None
            if ob:
                a, b = metric(results, t, wl), metric(results, ob, wl)
                rb = a / b if a is not None and b else None
            ratios[f"{t}/{wl}"] = {"vs_nbdkit_memory": rm, "vs_nbdkit_null": rn, "vs_raid0": r0,
                                   "vs_base": rb, "base": ob,
                                   "peers": {k: peer(t, k) for k in ("nbdkit-memory", "nbdkit-null", "raid0")}}
            if "error" in res:
                iops = bw = "n/a"
            elif "error" in r or not r:
                iops = bw = "n/a"
                notes.append(f"n/a: {t} {label}: {r.get('error', 'not run')}")
            else:
                iops, bw = fmt_iops(r["iops"]), f"{r['bw_bytes'] / 1e6:,.0f} MB/s"
                if "spread" in r:
                    bw += f" ±{r['spread'] * 100:.0f}%"
            if r.get("idle_servers_cpu_s", 0) > 0.05 * r.get("seconds", 1e9):
                notes.append(f"note: {t} {label}: the other (idle) servers used "
                             f"{r['idle_servers_cpu_s']:.2f} CPU-s during its {r['seconds']:.1f} s")
            lines.append(f"| {t} | {label} | {iops} | {bw} | {fmt_ratio(rm)} | {fmt_ratio(rn)} "
                         f"| {fmt_ratio(r0)} | {fmt_ratio(rb)} | — | {goal_text(results, t, wl)} |")
    if parity is not None:
        if "error" in parity:
            lines.append("| isa-l parity | all | — | n/a | — | — | — | — | — | — |")
            notes.append(f"n/a: parity: {parity['error']}")
        else:
            rows = parity["rows"]
            order = ["memcpy", "gen_p", "gen_pq", "recover_data_p", "recover_2data"]
            names = {"memcpy": "memcpy", "gen_p": "gen_p (raid5 P)",
                     "gen_pq": "gen_pq (raid6 P+Q)", "recover_data_p": "recover data+P",
                     "recover_2data": "recover 2 data"}
            for k in (4, 8):
                mc = rows.get(f"BM_memcpy/{k}")
                for op in order:
                    row = rows.get(f"BM_{op}/{k}")
                    if not row:
                        continue
                    rel = row["gbps"] / mc["gbps"] if mc else None
                    ratios[f"parity/{op}/{k}"] = {"vs_memcpy": rel}
                    tgt = "isa-l parity" if op != "memcpy" else "memcpy"
                    lines.append(f"| {tgt} | {names[op]}, {k}×64 KiB | — | {row['gbps']:.1f} GB/s "
                                 f"| — | — | — | — | {fmt_ratio(rel)} | — |")
    return "\n".join(lines), notes, ratios


def goal_text(results, t, wl):
    goals = GOALS.get((t, wl))
    if not goals:
        return "—"
    parts = []
    for base, minimum in goals:
        x = ratio(results, t, wl, base)
        mark = "?" if x is None else ("met" if x >= minimum else "**missed**")
        parts.append(f"≥ {minimum}× {SHORT[base]}: {mark}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------

def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def ver(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            return None

    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release,
            "fio": ver(["fio", "--version"]), "nbdkit": ver(["nbdkit", "--version"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtime", type=float, default=None,
                    help="seconds per fio job (default 5, 2 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="2 s jobs; targets %s; parity at 4 data only" % ",".join(QUICK_TARGETS))
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved rounds each job's runtime is split into (default 2, 1 with --quick)")
    ap.add_argument("--only", default=None,
                    help="comma list of rows: %s; or %s" % (
                        ",".join(ALL_NAMES),
                        "; ".join(f"{k} (= {','.join(v)})" for k, v in ALIASES.items())))
    ap.add_argument("--json-out", default=None, help="write raw results here")
    ap.add_argument("--umd", default=None, help="umd binary")
    ap.add_argument("--parity-bench", default=None, help="parity_bench binary")
    ap.add_argument("--tmpfs", default=None,
                    help="directory on a tmpfs for images (default: mount one, else /dev/shm)")
    ap.add_argument("--keep-logs", action="store_true", help="keep server logs and fio JSON")
    args = ap.parse_args()
    if args.runtime is None:
        args.runtime = 2.0 if args.quick else 5.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.runtime <= 0:
        ap.error("--runtime must be positive")
    # Slices shorter than a second measure fio's start-up more than the target.
    args.rounds = max(1, min(args.rounds, int(args.runtime)))

    if args.only:
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        bad = [x for x in wanted if x not in ALL_NAMES and x not in ALIASES]
        if bad:
            ap.error(f"unknown row(s) {','.join(bad)}; known: {','.join(ALL_NAMES)}, "
                     f"{','.join(ALIASES)}")
        wanted = [y for x in wanted for y in ALIASES.get(x, [x])]
    else:
        wanted = (QUICK_TARGETS + ["parity"]) if args.quick else (list(TARGETS) + ["parity", "sync", "bitmap"])
    # A -Nconn row runs on its base row's server: that row runs too (and is shown).
    wanted += [TARGETS[t][1]["base"] for t in wanted if t in TARGETS and TARGETS[t][0] == "view"]
    targets = [t for t in TARGETS if t in wanted]  # bases come before their -Nconn rows

    for tool in ["fio"] + (["nbdkit"] if any(kind_of(t) == "nbdkit" for t in targets) else []):
        if not shutil.which(tool):
            print(f"bench: {tool} not found (Debian: apt-get install fio nbdkit libnbd-bin)",
                  file=sys.stderr)
            return 2

    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _on_signal)

    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()
    cpu0 = cpu_times()
    self_cpu0 = os.times()
    bench = None
    results: dict[str, dict] = {}
    parity = None
    sync_res = None
    bitmap_res = None
    status = 0
    try:
        bench = Bench(args)
        bench.setup()
        bench.choose_region(targets)
        for t in targets:
            log(f"start {t}")
            results[t] = bench.start_target(t)
        bench.measure(results, targets)
        for t in targets:
            bench.stop_target(t)
        if "parity" in wanted:
            log("parity_bench")
            parity = bench.run_parity()
        if "sync" in wanted:
            log("sync rows")
            sync_res = sync_bench.run(bench, sys.modules[__name__])
        if "bitmap" in wanted:
            log("bitmap rows")
            bitmap_res = bitmap_bench.run(bench, sys.modules[__name__])
    except Interrupted as e:
        log(f"interrupted ({e}); cleaning up")
        status = 130
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        status = 130
    finally:
        # A second signal during cleanup must not abort it.
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        if bench is not None:
            bench.cleanup()
    if status:
        return status

    load1 = os.getloadavg()
    cpu1 = cpu_times()
    total, idle = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    busy = (total - idle) / total if total else 0.0
    t1 = os.times()
    ours = ((t1.children_user + t1.children_system + t1.user + t1.system)
            - (self_cpu0.children_user + self_cpu0.children_system + self_cpu0.user + self_cpu0.system))
    elapsed = (datetime.datetime.now().astimezone() - started).total_seconds()
    ncpu = os.cpu_count() or 1
    others = max(0.0, busy - ours / (elapsed * ncpu)) if elapsed else 0.0

    table, notes, ratios = build_table(results, parity, targets)
    if not targets and parity is None:
        table = ""  # --only sync (or bitmap): no rows in the main table
    sync_table, sync_notes = sync_bench.build_table(sync_res)
    bitmap_table, bitmap_notes = bitmap_bench.build_table(bitmap_res)
    info = machine()
    header = (f"umd bench, {started:%Y-%m-%d %H:%M %Z}: {info['cpus']} CPUs ({info['cpu_model']}), "
              f"{info['fio']}, {info['nbdkit']}, fio nbd engine over unix sockets, "
              f"iodepth 32, numjobs 1"
              + (f" (-{MULTI_CONN}conn rows: numjobs {MULTI_CONN}, each its own connection, "
                 f"iodepth {32 // MULTI_CONN} each)" if any(conns_of(t) > 1 for t in targets) else "")
              + f", {args.runtime:g} s per job in {args.rounds} interleaved "
              f"round(s), over a {bench.region // MiB} MiB region written once beforehand; images on "
              f"{'a private tmpfs' if bench.mounted else os.path.dirname(bench.tmpfs)}. "
              f"Load average {load0[0]:.2f} → {load1[0]:.2f}; CPU busy {busy * 100:.0f}% "
              f"of which ~{others * 100:.0f}% was not this run's (waited-for) processes. "
              f"Throughput in MB/s = 10^6 bytes/s (± half the spread between rounds); ratios compare "
              f"throughput on the same workload.")
    print(header)
    if table:
        print()
        print(table)
        if notes:
            print()
            for n in notes:
                print(f"- {n}")
    for mod, res, sec_table, sec_notes in ((sync_bench, sync_res, sync_table, sync_notes),
                                           (bitmap_bench, bitmap_res, bitmap_table, bitmap_notes)):
        if res is None:
            continue
        print()
        print(mod.header(res))
        print()
        print(sec_table)
        if sec_notes:
            print()
            for n in sec_notes:
                print(f"- {n}")

    out = {"started": started.isoformat(), "elapsed_s": round(elapsed, 1), "machine": info,
           "load_avg_start": load0, "load_avg_end": load1, "cpu_busy_fraction": busy,
           "cpu_busy_other_fraction_est": others,
           "options": {"runtime": args.runtime, "quick": args.quick, "only": args.only,
                       "iodepth": 32, "numjobs": 1, "rounds": args.rounds,
                       "multi_conn": {"numjobs": MULTI_CONN, "iodepth_per_job": 32 // MULTI_CONN},
                       "region": bench.region if bench else None,
                       "chunk": CHUNK, "export_size": EXPORT_SIZE},
           "targets": results, "parity": parity, "ratios": ratios,
           "goals": {f"{t}/{w}": [{"baseline": b, "min": m} for b, m in g]
                     for (t, w), g in GOALS.items()},
           "sync": sync_res, "sync_table_markdown": sync_table, "sync_notes": sync_notes,
           "bitmap": bitmap_res, "bitmap_table_markdown": bitmap_table, "bitmap_notes": bitmap_notes,
           "table_markdown": table, "notes": notes}
    json_out = args.json_out or os.path.join(os.getcwd(), "bench-results.json")
    with open(json_out, "w") as f:
        json.dump(out, f, indent=1, default=str)
    log(f"raw results in {json_out}; {elapsed:.0f} s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
