#!/usr/bin/env python3
"""Serving every RAID level over NBD to real clients, and what survives failures.

ServeTest: for each level (linear, raid0, raid1, raid4, raid5, raid6, raid10 n2 and f2),
healthy and (where the level allows) degraded, one daemon per case:
  nbdinfo size; fio random 4k/64k writes with crc32c verify at iodepth 16; qemu-img
  convert of a random file into the export and qemu-img compare; nbdcopy out and back
  (4 connections, 4 threads); qemu-io patterns at the start, middle, end and offsets
  unaligned to the chunk; then `umd --stop` and `umd --dump` of the members equals what
  the clients wrote last.
MemberKillTest: UMD_TEST_FAULTS=1 daemons (control op "fault"); members vanish while fio
  writes with verify; no client error, the array reports the member faulty and degraded,
  a second verify pass is clean, --dump of the survivors equals an nbdcopy taken before
  the stop, and the dead member's superblock is stale and marked failed in the others.
PowerCutTest: writes + FLUSH through NBD, SIGKILL the daemon, reassemble: all of it is
  there.

Environment: UMD_BIN; the runtime directory is a temp dir ($UMD_RUNTIME_DIR).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

MiB = 1 << 20
KiB = 1 << 10
MEMBER_SIZE = 24 * MiB
CHUNK = 64 * KiB
TOOLS = ["nbdinfo", "nbdcopy", "qemu-io", "qemu-img", "fio"]


def have_tools():
    return all(shutil.which(t) for t in TOOLS)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MiB)
            f.write(os.urandom(n))
            left -= n


def first_diff(a, b):
    if len(a) != len(b):
        return f"lengths differ: {len(a)} vs {len(b)}"
    step = 64 * KiB
    for off in range(0, len(a), step):
        if a[off:off + step] != b[off:off + step]:
            for i in range(off, min(off + step, len(a))):
                if a[i] != b[i]:
                    return f"first difference at byte {i} ({a[i]:#x} vs {b[i]:#x})"
    return "equal"


class ArrayTestBase(umdtest.TempDirTest):
    """A runtime dir of our own and the daemons started in it, stopped on the way out."""

    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.tmp, "run")
        self.old_env = os.environ.get("UMD_RUNTIME_DIR")
        os.environ["UMD_RUNTIME_DIR"] = self.run_dir
        self.started = []
        self.t0 = time.monotonic()

    def tearDown(self):
        for name in self.started:
            if os.path.exists(os.path.join(self.run_dir, name)):
                umdtest.umd("--stop", name, check=False)
        if self.old_env is None:
            os.environ.pop("UMD_RUNTIME_DIR", None)
        else:
            os.environ["UMD_RUNTIME_DIR"] = self.old_env
        super().tearDown()
        sys.stderr.write(f" [{time.monotonic() - self.t0:.1f}s] ")

    # --- helpers ---------------------------------------------------------------

    def images(self, n, size=MEMBER_SIZE):
        return umdtest.make_images(self.tmp, [(f"d{i}.img", size) for i in range(n)])

    def create(self, level, paths, layout=None):
        extra = []
        if level not in ("linear", 1):
            extra.append(f"--chunk={CHUNK // KiB}")
        if layout:
            extra.append(f"--layout={layout}")
        umdtest.umd("--create", "md0", f"--level={level}", f"--raid-devices={len(paths)}", "--assume-clean",
                    *extra, *paths)

    def assemble(self, *args, faults=False, name="md0"):
        """faults: True for UMD_TEST_FAULTS=1, or the variable's value ("cache": members
        with a volatile write cache, for the fault op's power-cut)."""
        env = dict(os.environ)
        if faults:
            env["UMD_TEST_FAULTS"] = "1" if faults is True else faults
        else:
            env.pop("UMD_TEST_FAULTS", None)
        r = subprocess.run([umdtest.UMD, "--assemble", name, *map(str, args)], capture_output=True, text=True,
                           env=env)
        if r.returncode != 0:
            raise AssertionError(f"umd --assemble {name} {args}: {r.stdout} {r.stderr}")
        self.started.append(name)
        return r

    def detail(self, name="md0"):
        return umdtest.umd_json("--detail", name)

    def stop(self, name="md0"):
        pid = self.detail(name)["pid"]
        umdtest.umd("--stop", name)
        self.assertFalse(umdtest.pid_alive(pid), "the daemon still runs after --stop returned")
        self.started.remove(name)

    def uri(self, name="md0"):
        return self.detail(name)["nbd"][0]["uri"]

    def attr(self, a, name="md0"):
        return umdtest.umd("--attr", name, a).stdout.strip()

    def kill9(self, name="md0"):
        """SIGKILLs NAME's daemon and waits until every thread of it is gone."""
        umdtest.sigkill_and_wait(self.detail(name)["pid"])
        self.started.remove(name)

    def nbd_size(self, uri):
        return json.loads(umdtest.run(["nbdinfo", "--json", uri]).stdout)["exports"][0]["export-size"]

    def qemu_io(self, uri, *commands):
        args = ["qemu-io", "-f", "raw"]
        for c in commands:
            args += ["-c", c]
        r = umdtest.run([*args, uri], check=False)
        out = r.stdout + r.stderr
        if r.returncode != 0 or "failed" in out or "error" in out.lower():
            raise AssertionError(f"qemu-io {commands!r} on {uri}: rc {r.returncode}: {out}")
        return out

    def nbdcopy_out(self, uri, path):
        umdtest.run(["nbdcopy", "--connections=4", "--threads=4", "--", uri, path])
        return read_file(path)

    def dump(self, paths, out_name="dump.raw"):
        out = os.path.join(self.tmp, out_name)
        umdtest.umd("--dump", *paths, "--output", out)
        return read_file(out)

    def fio(self, uri, size, offset=0, extra=(), check=True, background=False, name="verify"):
        """fio's nbd engine: random writes of 4k and 64k blocks, iodepth 16, crc32c verify."""
        args = ["fio", f"--name={name}", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite",
                "--bssplit=4k/50:64k/50", "--iodepth=16", f"--size={size}", f"--offset={offset}",
                "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--randseed=4242",
                "--output-format=json", *extra]
        if background:
            return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        r = umdtest.run(args, check=False)
        if check:
            self.check_fio(r.returncode, r.stdout, r.stderr)
        return r

    def check_fio(self, rc, stdout, stderr):
        self.assertEqual(rc, 0, f"fio failed: {stdout[-3000:]} {stderr[-3000:]}")
        j = json.loads(stdout[stdout.index("{"):])
        for job in j["jobs"]:
            self.assertEqual(job["error"], 0, f"fio job {job['jobname']}: error {job['error']}: {stderr}")
        return j


def expected_size(level, n, component_sectors, avail_dev_sectors):
    """The export size from the superblock: linear and raid0 record no component size
    (as md), they use each member's whole data area in chunks."""
    if level in ("linear", 0):
        return n * (avail_dev_sectors // (CHUNK // 512) * (CHUNK // 512)) * 512
    data_members = {1: 1, 4: n - 1, 5: n - 1, 6: n - 2, 10: n // 2}[level]
    return data_members * component_sectors * 512


# (test name, level, members, layout, slots missing in the degraded case or None)
CASES = [
    ("linear", "linear", 4, None, None),
    ("raid0", 0, 4, None, None),
    ("raid1", 1, 2, None, [1]),
    ("raid4", 4, 4, None, [1]),
    ("raid5", 5, 4, None, [2]),
    ("raid6", 6, 5, None, [0, 3]),
    ("raid10_n2", 10, 4, "n2", [0]),
    ("raid10_f2", 10, 4, "f2", [3]),
]


@unittest.skipUnless(have_tools(), f"needs {', '.join(TOOLS)}")
class ServeTest(ArrayTestBase):

    def check_level(self, level, n, layout, missing):
        paths = self.images(n)
        self.create(level, paths, layout)
        present = [p for i, p in enumerate(paths) if i not in (missing or [])]
        self.assemble(*present, *(["--run"] if missing else []))
        d = self.detail()
        a = d["array"]
        self.assertEqual(a["degraded"], bool(missing), a)
        uri = d["nbd"][0]["uri"]

        # Size.
        size = self.nbd_size(uri)
        self.assertEqual(size, a["array_sectors"] * 512)
        avail = umdtest.umd_json("--examine", present[0])[0]["avail_dev_sectors"]
        self.assertEqual(size, expected_size(level, n, a["component_sectors"], avail), a)

        # fio: random mixed writes with verify, in the middle of the array.
        fio_size = min(16 * MiB, size // 2) // MiB * MiB
        self.fio(uri, fio_size, offset=(size // 4) // MiB * MiB)

        # qemu-img convert of a random file into the export; qemu-img compare.
        rnd1 = os.path.join(self.tmp, "random1.raw")
        write_random(rnd1, size)
        umdtest.run(["qemu-img", "convert", "-n", "-m", "8", "-W", "-f", "raw", "-O", "raw", rnd1, uri])
        umdtest.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", rnd1, uri])

        # nbdcopy out (compare with what qemu-img wrote) and another random file back in.
        data1 = read_file(rnd1)
        got = self.nbdcopy_out(uri, os.path.join(self.tmp, "out1.raw"))
        self.assertTrue(got == data1, f"nbdcopy out differs from qemu-img's writes: {first_diff(got, data1)}")
        del got
        rnd2 = os.path.join(self.tmp, "random2.raw")
        write_random(rnd2, size)
        umdtest.run(["nbdcopy", "--connections=4", "--threads=4", "--flush", "--", rnd2, uri])
        model = bytearray(read_file(rnd2))
        got = self.nbdcopy_out(uri, os.path.join(self.tmp, "out2.raw"))
        self.assertTrue(got == model, f"nbdcopy round trip differs: {first_diff(got, model)}")
        del got

        # qemu-io patterns on top: start, chunk-unaligned spans, odd sectors, full stripes, end.
        stripe = CHUNK * max(1, n)
        writes = [
            (0xa1, 0, 64 * KiB),
            (0xa2, 3 * CHUNK - 4 * KiB, 3 * CHUNK + 8 * KiB),
            (0xa3, size // 3 + 7 * 512, 512),
            (0xa4, (size // 2 - 100 * KiB) // 512 * 512, MiB + 4608),
            (0xa6, 5 * stripe + KiB, 2 * stripe),
            (0xa5, size - 64 * KiB - 1536, 64 * KiB + 1536),
        ]
        ranges = sorted((o, o + l) for _, o, l in writes)
        for (_, e1), (s2, _) in zip(ranges, ranges[1:]):
            self.assertLessEqual(e1, s2, "test bug: pattern writes overlap")
        self.qemu_io(uri, *[f"write -P {p:#x} {o} {l}" for p, o, l in writes], "flush")
        self.qemu_io(uri, *[f"read -P {p:#x} {o} {l}" for p, o, l in writes])
        for p, o, l in writes:
            model[o:o + l] = bytes([p]) * l
        got = self.nbdcopy_out(uri, os.path.join(self.tmp, "out3.raw"))
        self.assertTrue(got == model, f"read back after qemu-io writes differs: {first_diff(got, model)}")
        del got
        self.assertEqual(self.detail()["nbd"][0]["stats"]["errors"], 0)

        self.stop()
        got = self.dump(present)
        self.assertTrue(got == model, f"--dump differs from what the clients wrote: {first_diff(got, model)}")
        for j in umdtest.umd_json("--examine", *present):
            self.assertEqual(j["state"], "clean", j["path"])


def _add_case(name, level, n, layout, missing):
    def healthy(self):
        self.check_level(level, n, layout, None)

    setattr(ServeTest, f"test_{name}", healthy)
    if missing:
        def degraded(self):
            self.check_level(level, n, layout, missing)

        setattr(ServeTest, f"test_{name}_degraded", degraded)


for _case in CASES:
    _add_case(*_case)


@unittest.skipUnless(have_tools(), f"needs {', '.join(TOOLS)}")
class MemberKillTest(ArrayTestBase):

    def fault(self, member, action):
        r = umdtest.fault("md0", member, action)
        self.assertTrue(r.get("ok"), r)

    def wait_written(self, fio_proc, nbytes, what):
        def written():
            self.assertIsNone(fio_proc.poll(), f"fio ended before {what}: the test did not hit it mid-run")
            return self.detail()["nbd"][0]["stats"]["bytes_written"] >= nbytes
        umdtest.wait_until(written, timeout=120, what=what)

    def check_kill(self, level, n, kill_slots):
        paths = self.images(n)
        self.create(level, paths)
        self.assemble(*paths, faults=True)
        uri = self.uri()
        size = self.nbd_size(uri)
        fio_size = min(16 * MiB, size) // MiB * MiB
        base_written = self.detail()["nbd"][0]["stats"]["bytes_written"]
        # Writes throttled to 4 MiB/s (reads are not): the members die while it writes.
        job = ["--rate=,4m"]
        proc = self.fio(uri, fio_size, extra=job, background=True)
        try:
            for i, slot in enumerate(kill_slots):
                self.wait_written(proc, base_written + (i + 1) * fio_size // (len(kill_slots) + 2),
                                  f"fio to write before killing slot {slot}")
                self.fault(slot, "vanish")
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.check_fio(proc.returncode, out, err)

        # The array knows.
        d = self.detail()
        a = d["array"]
        self.assertTrue(a["degraded"], a)
        self.assertEqual(a["failed"], len(kill_slots), a)
        dead = [paths[s] for s in kill_slots]
        for m in a["members"]:
            self.assertEqual("faulty" in m["state"], m["path"] in dead, m)
        self.assertEqual(d["nbd"][0]["stats"]["errors"], 0)

        # A second pass over the same job reads all of it back clean.
        r = self.fio(uri, fio_size, extra=["--verify_only"], check=False, name="verify")
        j = self.check_fio(r.returncode, r.stdout, r.stderr)
        self.assertGreater(j["jobs"][0]["read"]["io_bytes"], 0, "the verify pass read nothing")

        snap = self.nbdcopy_out(uri, os.path.join(self.tmp, "snap.raw"))
        self.stop()
        survivors = [p for p in paths if p not in dead]
        got = self.dump(survivors)
        self.assertTrue(got == snap, f"--dump of the survivors differs from the live array: {first_diff(got, snap)}")
        # With the dead members offered too, they are left out as stale.
        got = self.dump(paths, "dump-all.raw")
        self.assertTrue(got == snap, f"--dump with the dead members differs: {first_diff(got, snap)}")

        ex = {j["path"]: j for j in umdtest.umd_json("--examine", *paths)}
        ev_alive = {ex[p]["events"] for p in survivors}
        self.assertEqual(len(ev_alive), 1, ex)
        ev_alive = ev_alive.pop()
        for slot, p in zip(kill_slots, dead):
            self.assertLess(ex[p]["events"], ev_alive, f"{p}: its superblock should be stale")
            for s in survivors:
                state = ex[s]["array_state"]
                self.assertNotEqual(state[slot], "A", f"{s} still lists slot {slot} active: {state}")
        for s in survivors:
            self.assertEqual(ex[s]["state"], "clean", s)
            self.assertEqual(sum(c == "A" for c in ex[s]["array_state"]), n - len(kill_slots), ex[s])

    def test_raid5_member_vanishes_under_fio(self):
        self.check_kill(5, 4, [1])

    def test_raid1_member_vanishes_under_fio(self):
        self.check_kill(1, 2, [0])

    def test_raid6_two_members_vanish_under_fio(self):
        self.check_kill(6, 5, [4, 1])

    def test_fault_op_needs_the_environment(self):
        paths = self.images(2, 8 * MiB)
        self.create(1, paths)
        self.assemble(*paths)
        r = umdtest.fault("md0", 0, "vanish")
        self.assertEqual(r, {"ok": False, "error": "fault injection is off"})
        self.stop()
        self.assemble(*paths, faults=True)
        for member, action, want in [(7, "vanish", "no member in slot 7"),
                                     ("/nowhere.img", "vanish", "is not a member"),
                                     (0, "explode", "unknown action"),
                                     ([1], "vanish", "path or a slot"),
                                     ("", "vanish", "path or a slot"),
                                     ("99999999999999999999", "vanish", "is not a member")]:
            r = umdtest.fault("md0", member, action)
            self.assertFalse(r["ok"], r)
            self.assertIn(want, r["error"])
        # fail-writes by path: the next write fails the member, the array goes on.
        self.assertTrue(umdtest.fault("md0", paths[1], "fail-writes")["ok"])
        uri = self.uri()
        self.qemu_io(uri, "write -P 0x42 0 128k", "flush")
        self.qemu_io(uri, "read -P 0x42 0 128k")
        a = self.detail()["array"]
        self.assertTrue(a["degraded"], a)
        self.assertEqual([m["state"] for m in a["members"]], ["active sync", "faulty"])
        self.stop()


@unittest.skipUnless(have_tools(), f"needs {', '.join(TOOLS)}")
class PowerCutTest(ArrayTestBase):

    def check_power_cut(self, level, n, faults):
        paths = self.images(n)
        self.create(level, paths)
        self.assemble(*paths, faults=faults)
        uri = self.uri()
        size = self.nbd_size(uri)
        writes = [(0x11, 0, MiB), (0x22, 5 * MiB + 3 * 512, 300 * KiB), (0x33, size // 2 - 4096, 192 * KiB + 4096),
                  (0x44, size - 64 * KiB, 64 * KiB)]
        self.qemu_io(uri, *[f"write -P {p:#x} {o} {l}" for p, o, l in writes], "flush")
        self.kill9()

        # The superblocks say the array was in use (a write was under way at the cut or
        # the safe-mode timer had not run yet), or clean; either way it assembles.
        self.assemble(*paths, faults=faults)
        uri = self.uri()
        self.qemu_io(uri, *[f"read -P {p:#x} {o} {l}" for p, o, l in writes])
        self.stop()
        model = bytearray(size)
        for p, o, l in writes:
            model[o:o + l] = bytes([p]) * l
        got = self.dump(paths)
        self.assertTrue(got == model, f"--dump after the power cut differs: {first_diff(got, model)}")

    def test_raid5_flushed_writes_survive_sigkill(self):
        self.check_power_cut(5, 4, faults=False)

    def test_raid1_flushed_writes_survive_sigkill(self):
        self.check_power_cut(1, 2, faults=False)

    def test_raid6_flushed_writes_survive_sigkill_fault_members(self):
        self.check_power_cut(6, 5, faults=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
