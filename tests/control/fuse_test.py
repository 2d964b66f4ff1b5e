#!/usr/bin/env python3
"""`umd --assemble --fuse DIR`: the array's contents as DIR/data and md's attributes as
DIR/md/* (src/frontend/fuse/fuse_server.h), written with dd and read back through NBD and
--dump; attribute files read and written like sysfs; DIR unmounted on --stop.
Skipped without /dev/fuse or root. ENGINE marks what needs the engine's attributes."""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402
from control_base import ControlTestBase, MiB  # noqa: E402


def mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


def read(path):
    with open(path) as f:
        return f.read()


@unittest.skipUnless(os.path.exists("/dev/fuse") and os.geteuid() == 0, "needs /dev/fuse and root")
class FuseTest(ControlTestBase):
    def setUp(self):
        super().setUp()
        self.paths = self.images(3)
        self.create(5, self.paths, "--chunk=64")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)

    def tearDown(self):
        super().tearDown()
        if mounted(self.mnt):
            umdtest.run(["umount", "-l", self.mnt], check=False)

    def test_data_and_attributes(self):
        r = self.assemble(*self.paths, "--fuse", os.path.relpath(self.mnt))
        self.assertIn(f"fuse {self.mnt}", r.stdout)
        self.assertTrue(mounted(self.mnt))
        self.assertEqual(sorted(os.listdir(self.mnt)), ["data", "md"])
        d = self.detail()
        self.assertEqual(d["fuse"], self.mnt)
        size = d["array"]["array_sectors"] * 512
        self.assertEqual(os.stat(os.path.join(self.mnt, "data")).st_size, size)
        md = os.path.join(self.mnt, "md")
        self.assertEqual(read(os.path.join(md, "array_state")), "clean\n")
        self.assertEqual(read(os.path.join(md, "level")), "raid5\n")
        self.assertEqual(read(os.path.join(md, "sync_action")), "idle\n")
        self.assertTrue(os.path.isdir(os.path.join(md, "dev-d1.img")))
        self.assertEqual(read(os.path.join(md, "dev-d1.img", "slot")), "1\n")
        # dd at an offset that is no multiple of anything, without conv=notrunc: O_TRUNC and
        # the truncate dd asks for are ignored, as on a block device.
        data = os.urandom(300 * 1000 + 7)
        src = os.path.join(self.tmp, "src.bin")
        with open(src, "wb") as f:
            f.write(data)
        umdtest.run(["dd", f"if={src}", f"of={self.mnt}/data", "bs=1000", "seek=1234", "conv=fsync", "status=none"])
        off = 1234 * 1000
        self.assertEqual(os.stat(os.path.join(self.mnt, "data")).st_size, size)
        with open(os.path.join(self.mnt, "data"), "rb") as f:
            f.seek(off - 5)
            self.assertEqual(f.read(len(data) + 10), bytes(5) + data + bytes(5))
        # NBD clients of the same array see it at once (no page cache in between).
        nbd_copy = os.path.join(self.tmp, "nbd.raw")
        umdtest.run(["nbdcopy", "--", d["nbd"][0]["uri"], nbd_copy])
        with open(nbd_copy, "rb") as f:
            f.seek(off)
            self.assertTrue(f.read(len(data)) == data, "NBD reads differently from what dd wrote through FUSE")
        self.stop()
        self.assertFalse(mounted(self.mnt), "--stop left DIR mounted")
        dump = os.path.join(self.tmp, "dump.raw")
        umdtest.umd("--dump", *self.paths, "--output", dump)
        with open(dump, "rb") as f:
            f.seek(off)
            self.assertTrue(f.read(len(data)) == data, "--dump differs from what dd wrote through FUSE")

    def test_writing_attributes(self):  # ENGINE
        self.assemble(*self.paths, "--fuse", self.mnt)
        md = os.path.join(self.mnt, "md")
        with open(os.path.join(md, "sync_speed_max"), "w") as f:
            f.write("5000\n")
        self.assertEqual(read(os.path.join(md, "sync_speed_max")), "5000 (local)\n")
        self.assertEqual(self.attr("sync_speed_max"), "5000 (local)")
        umdtest.run(["sh", "-c", f"echo system > {md}/sync_speed_max"])
        r = umdtest.run(["sh", "-c", f"echo raid10 > {md}/level"], check=False)  # no takeover from raid5
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(read(os.path.join(md, "level")), "raid5\n")
        umdtest.run(["sh", "-c", f"echo check > {md}/sync_action"])
        self.wait_idle()
        self.assertEqual(read(os.path.join(md, "mismatch_cnt")), "0\n")
        self.assertEqual(read(os.path.join(md, "last_sync_action")), "check\n")

    def test_losetup_reads_it(self):
        if shutil.which("losetup") is None:
            self.skipTest("no losetup")
        self.assemble(*self.paths, "--fuse", self.mnt)
        with open(os.path.join(self.mnt, "data"), "r+b") as f:
            f.write(b"umd-fuse" * 512)
        r = umdtest.run(["losetup", "--find", "--show", "--read-only", os.path.join(self.mnt, "data")], check=False)
        if r.returncode != 0:
            self.skipTest(f"losetup: {r.stderr.strip()}")
        loop = r.stdout.strip()
        try:
            with open(loop, "rb") as f:
                self.assertEqual(f.read(4096), b"umd-fuse" * 512)
        finally:
            umdtest.run(["losetup", "-d", loop], check=False)

    def test_bad_mountpoint_fails_cleanly(self):
        for bad, expect in [(os.path.join(self.tmp, "nope"), "nope"), (self.paths[0], "not a directory")]:
            with self.subTest(dir=bad):
                self.one_error_line(self.assemble(*self.paths, "--fuse", bad, check=False), 1, expect)
                self.assertFalse(os.path.exists(os.path.join(self.run_dir, "md0")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
