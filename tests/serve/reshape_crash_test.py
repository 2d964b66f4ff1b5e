"""Crashes in the middle of a reshape: the daemon SIGKILLed, or the power cut (the test
fault op: what the members did not flush is gone), 20 times per geometry, at moments
spread over the reshape (each when its progress passes the next twentieth).

For each geometry (raid5 3->4 disks, raid6 4->5, raid10 near-2 4->5, raid5 chunk
64K->128K, and that chunk change again in place with --backup-file, assembled again with
the file each time) a client fills
the served array with random bytes (nbdcopy) and `umd --grow` starts the reshape. After
each crash the array is assembled again with --freeze-reshape (so the test can slow it
down before it moves), and `umd --grow NAME --continue` resumes it from the position its
superblocks recorded. At the end the client's bytes read back whole over NBD, `check`
finds mismatch_cnt 0 and `mdadm --examine` sees a plain array of the new shape.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

MIB = 1 << 20
CRASHES = 20
SPEED = "8000"  # KiB/s: the reshape takes seconds, so the crashes spread over it
# The chunk change moves the smallest array with the fewest forced records: held slower, so
# that a slow build (ASan) still meets most twentieths (at 8000 it met 8 and 9 of 20 there).
SPEEDS = {"c5": "4000", "b5": "4000"}
# Under a sanitizer (UMD_SANITIZED) every umd command is slower, so a twentieth of the
# reshape can pass between two polls: half the speed there (raid10 4->5 under ASan met 9
# of 20 at 8000 on a loaded machine).
SLOWDOWN = 2 if os.environ.get("UMD_SANITIZED") else 1


class ReshapeCrash(umdtest.DaemonTest):
    def setUp(self):
        super().setUp()
        self.old_run_dir = os.environ.get("UMD_RUNTIME_DIR")
        os.environ["UMD_RUNTIME_DIR"] = self.env["UMD_RUNTIME_DIR"]  # umdtest.fault's control socket

    def tearDown(self):
        super().tearDown()
        if self.old_run_dir is None:
            os.environ.pop("UMD_RUNTIME_DIR", None)
        else:
            os.environ["UMD_RUNTIME_DIR"] = self.old_run_dir

    def detail(self, name):
        return json.loads(self.umd("--detail", name, "--json").stdout)

    def start(self, name, paths, sock, faults, backup=None):
        if faults:
            self.env["UMD_TEST_FAULTS"] = "cache"  # members with a write cache a power cut empties
        else:
            self.env.pop("UMD_TEST_FAULTS", None)
        # in place: the file restores what the crash cut off, and the overseer goes on with it
        extra = [f"--backup-file={backup}"] if backup and os.path.exists(backup) else []
        self.assemble(name, paths, "--freeze-reshape", *extra, serve=sock)

    def progress(self, name):
        """How far the reshape is, 0..1 (1: no reshape recorded any more)."""
        r = self.detail(name)["array"].get("reshape")
        if not r:
            return 1.0
        return r["percent"] / 100.0

    def crash(self, name, how):
        pid = self.detail(name)["pid"]
        if how == "sigkill":
            umdtest.sigkill_and_wait(pid)
        else:
            r = umdtest.fault(name, 0, "power-cut")
            self.assertTrue(r.get("ok"), r)
            umdtest.wait_until(lambda: not umdtest.pid_alive(pid), what="the daemon to end at the power cut")
        self.running.remove(name)

    def run_case(self, name, level, n, spares, grow, disks, chunk_kib, how, in_place=False):
        # In place, each restore moves the reshape past the sections its file held: members
        # four times as large keep those jumps small beside the twentieths (at 12 MiB one
        # jump was 18% of the reshape, and under ASan only 2 crashes fit in).
        member = (48 if in_place else 12) * MIB
        paths = umdtest.make_images(self.tmp, [(f"{name}{i}.img", member) for i in range(n + spares)])
        self.umd("--create", name, f"--level={level}", f"--raid-devices={n}", "--chunk=64K", "--assume-clean",
                 *paths[:n])
        sock = os.path.join(self.tmp, f"{name}.sock")
        uri = umdtest.nbd_unix_uri(sock, name)
        self.start(name, paths[:n], sock, how == "power-cut")
        for p in paths[n:]:
            self.umd("--manage", name, "--add", p)
        size = self.detail(name)["array"]["array_sectors"] * 512
        src = os.path.join(self.tmp, f"{name}.src")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        umdtest.run(["nbdcopy", "--flush", "--", src, uri])
        speed = str(int(SPEEDS.get(name[:-1], SPEED)) // SLOWDOWN)
        self.umd("--attr", name, "sync_speed_max", speed)
        backup = os.path.join(self.tmp, f"{name}.backup") if in_place else None
        if backup:
            grow = [*grow, f"--backup-file={backup}"]
        self.umd("--grow", name, *grow)
        crashes = 0
        for k in range(1, CRASHES + 1):
            if self.progress(name) >= 1.0:
                break
            # the next twentieth of the reshape passed (or its end), then the crash
            umdtest.wait_until(lambda: self.progress(name) >= k / (CRASHES + 1), timeout=120,
                               what=f"{name}'s reshape to pass {k}/{CRASHES + 1}")
            self.crash(name, how)
            crashes += 1
            self.start(name, paths, sock, how == "power-cut", backup)
            # held where the superblocks say; or, the crash past the end, a plain array (which
            # resyncs if it was active when it went down)
            if self.progress(name) < 1.0:
                self.assertEqual(self.attr(name, "sync_action"), "frozen")
            elif self.attr(name, "sync_action") == "frozen":
                self.umd("--action", name, "idle")  # --freeze-reshape froze a plain array
            else:
                self.assertIn(self.attr(name, "sync_action"), ("idle", "resync"))
            self.umd("--attr", name, "sync_speed_max", speed)
            if self.progress(name) < 1.0:
                self.umd("--grow", name, "--continue")  # mdadm's way to resume it
        # (a slow build polls less often, so the reshape may outrun some twentieths; in
        # place, with the larger members, 20 of 20 in the three runs counted, one of them
        # under ASan)
        self.assertGreaterEqual(crashes, CRASHES // 2, "the reshape ended before the crashes were spread over it")
        self.umd("--attr", name, "sync_speed_max", "500000")
        self.umd("--action", name, "reshape", check=False)  # a no-op once it has ended
        umdtest.wait_until(lambda: self.progress(name) >= 1.0, timeout=120, what=f"{name}'s reshape to end")
        out = os.path.join(self.tmp, f"{name}.out")
        umdtest.run(["nbdcopy", "--", uri, out])
        self.assertEqual(umdtest.sha256_file(out, size), umdtest.sha256_file(src),
                         f"{name}: the client's bytes after {crashes} crashes ({how})")
        # a crash past the end of the reshape, the array active, leaves a resync to do first
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle", timeout=120, what="the resync")
        self.umd("--action", name, "check")
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle", timeout=120, what="check")
        self.assertEqual(self.attr(name, "mismatch_cnt"), "0")
        self.stop(name)
        for p in paths[:disks]:
            ex = umdtest.run(["mdadm", "--examine", p]).stdout
            self.assertIn(f"Raid Devices : {disks}", ex)
            self.assertIn(f"Chunk Size : {chunk_kib}K", ex)
            self.assertNotIn("Reshape pos'n", ex)

    def test_crashes_during_reshapes(self):
        # Under a sanitizer (UMD_SANITIZED, the ASan build's CTest) each geometry once, the
        # two kinds of crash taking turns; the normal build runs every pair.
        sampled = bool(os.environ.get("UMD_SANITIZED"))
        for hi, how in enumerate(("sigkill", "power-cut")):
            for gi, (name, level, n, spares, grow, disks, chunk) in enumerate((
                    ("g5", 5, 3, 1, ["--raid-devices=4"], 4, 64),
                    ("g6", 6, 4, 1, ["--raid-devices=5"], 5, 64),
                    ("g10", 10, 4, 1, ["--raid-devices=5"], 5, 64),
                    ("c5", 5, 3, 0, ["--chunk=128K"], 3, 128),
                    # in place with a backup file: every section saved by the overseer first
                    ("b5", 5, 3, 0, ["--chunk=128K"], 3, 128))):
                if os.environ.get("UMD_CRASH_ONLY") and os.environ["UMD_CRASH_ONLY"] != f"{name}:{how}":
                    continue
                if sampled and (hi + gi) % 2:
                    continue
                with self.subTest(how=how, case=name):
                    t0 = time.monotonic()
                    self.run_case(f"{name}{how[0]}", level, n, spares, grow, disks, chunk, how, name == "b5")
                    print(f"{name} {how}: {time.monotonic() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
