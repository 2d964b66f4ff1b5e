#!/usr/bin/env python3
"""Healing a served array while clients use it (issue 4).

SpareTakeoverTest: a member is failed with `umd --manage --fail` while fio writes with
  crc32c verify; the spare added before takes its slot, recovery runs beside fio, fio
  reports no error, a second verify pass is clean, and after --stop the members with the
  spare in the failed one's place read what the clients wrote.
ReplacePowerCutTest: raid1 with members that cache writes (UMD_TEST_FAULTS=cache),
  `--replace m1 --with m2` held at sync_max, a 1 MiB write below the copy point, a FLUSH,
  then a power cut: m2 claims the range (Recovery Offset) and must hold the write.
ResumeTest: the daemon is killed with SIGKILL in the middle of a rebuild; the spare's
  superblock holds a recovery checkpoint (mdadm --examine: Recovery Offset), and on
  reassembly umd rebuilds exactly the sectors past it (umd/sync_stats), not from zero.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import nbd_raw  # noqa: E402
import umdtest  # noqa: E402
from serve_test import TOOLS, ArrayTestBase, MiB, first_diff, have_tools  # noqa: E402


@unittest.skipUnless(have_tools(), f"needs {', '.join(TOOLS)}")
class RebuildBase(ArrayTestBase):
    def wait_synced(self, timeout=180):
        umdtest.wait_until(lambda: self.attr("sync_action") == "idle" and self.attr("degraded") == "0",
                           timeout=timeout, what="the rebuild to finish")


class SpareTakeoverTest(RebuildBase):
    def check_takeover(self, level, n):
        paths = self.images(n)
        spare = umdtest.make_images(self.tmp, [("spare.img", 24 * MiB)])[0]
        self.create(level, paths)
        self.assemble(*paths)
        umdtest.umd("--manage", "md0", "--add", spare)
        uri = self.uri()
        size = self.nbd_size(uri)
        fio_size = min(16 * MiB, size) // MiB * MiB
        proc = self.fio(uri, fio_size, extra=["--rate=,4m"], background=True)
        try:
            umdtest.wait_until(lambda: self.detail()["nbd"][0]["stats"]["bytes_written"] >= fio_size // 3,
                               timeout=120, what="fio to write a third")
            self.assertIsNone(proc.poll(), "fio ended before the failure")
            umdtest.umd("--manage", "md0", "--fail", paths[1])
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.check_fio(proc.returncode, out, err)
        self.wait_synced()
        a = self.detail()["array"]
        states = {m["path"]: m["state"] for m in a["members"]}
        self.assertEqual(states[spare], "active sync", a)
        self.assertEqual(states[paths[1]], "faulty", a)
        self.assertEqual(self.detail()["nbd"][0]["stats"]["errors"], 0)
        r = self.fio(uri, fio_size, extra=["--verify_only"], check=False)
        j = self.check_fio(r.returncode, r.stdout, r.stderr)
        self.assertGreater(j["jobs"][0]["read"]["io_bytes"], 0, "the verify pass read nothing")
        snap = self.nbdcopy_out(uri, os.path.join(self.tmp, "snap.raw"))
        self.stop()
        now = [paths[0], spare] + paths[2:]
        got = self.dump(now)
        self.assertTrue(got == snap, f"--dump with the spare differs from the live array: {first_diff(got, snap)}")
        # The spare alone stands for slot 1: drop another member and it still reads.
        got = self.dump([spare] + paths[2:], "dump-deg.raw")
        self.assertTrue(got == snap, f"--dump without slot 0 differs: {first_diff(got, snap)}")

    def test_raid5_spare_takes_over_under_fio(self):
        self.check_takeover(5, 4)

    def test_raid1_spare_takes_over_under_fio(self):
        self.check_takeover(1, 2)

    def test_raid6_spare_takes_over_under_fio(self):
        self.check_takeover(6, 4)


class ResumeTest(RebuildBase):
    def test_sigkill_mid_rebuild_resumes_from_the_checkpoint(self):
        paths = self.images(4, 64 * MiB)
        spare = umdtest.make_images(self.tmp, [("spare.img", 64 * MiB)])[0]
        self.create(5, paths)
        self.assemble(*paths)
        uri = self.uri()
        size = self.nbd_size(uri)
        data = os.path.join(self.tmp, "data.raw")
        with open(data, "wb") as f:
            f.write(os.urandom(size))
        umdtest.run(["nbdcopy", data, uri])
        umdtest.umd("--attr", "md0", "sync_speed_max", "20000")  # KiB/s: ~3 s for the 64 MiB member
        umdtest.umd("--manage", "md0", "--add", spare)
        umdtest.umd("--manage", "md0", "--fail", paths[1])

        def checkpointed():
            ex = umdtest.mdadm_examine(spare)
            return int(ex.get("Recovery Offset", "0 sectors").split()[0]) > 0
        umdtest.wait_until(checkpointed, timeout=60, what="a recovery checkpoint in the spare's superblock")
        self.kill9()
        checkpoint = int(umdtest.mdadm_examine(spare)["Recovery Offset"].split()[0])
        ex = umdtest.mdadm_examine(spare)
        end = int(ex.get("Used Dev Size", ex.get("Avail Dev Size", "0")).split()[0])  # mdadm omits it when equal
        self.assertLess(checkpoint, end, "the rebuild was over before the kill: slow it further")

        now = [paths[0], spare, paths[2], paths[3]]
        self.assemble(*now)
        self.wait_synced()
        stats = self.attr("umd/sync_stats").split()
        done = int(stats[stats.index("done_sectors") + 1])
        self.assertEqual(done, end - checkpoint,
                         f"after the kill umd rebuilt {done} sectors; from the checkpoint {checkpoint} it is "
                         f"{end - checkpoint}")
        self.stop()
        with open(data, "rb") as f:
            want = f.read()
        got = self.dump(now)
        self.assertTrue(got == want, f"--dump after the resumed rebuild differs: {first_diff(got, want)}")
        got = self.dump([spare, paths[2], paths[3]], "dump-deg.raw")
        self.assertTrue(got == want, f"--dump relying on the rebuilt member differs: {first_diff(got, want)}")


class ReplacePowerCutTest(RebuildBase):
    def test_flush_during_replace_is_durable_on_the_replacement(self):
        paths = self.images(2)
        m2 = umdtest.make_images(self.tmp, [("m2.img", 24 * MiB)])[0]
        self.create(1, paths)
        self.assemble(*paths, faults="cache")
        hold = 3600  # only the client's FLUSH flushes the caches (no clean marking)
        umdtest.umd("--attr", "md0", "safe_mode_delay", str(hold))
        half = 16384  # member sectors: 8 MiB copied, then the copy waits at sync_max
        umdtest.umd("--attr", "md0", "sync_max", str(half))
        umdtest.umd("--manage", "md0", "--replace", paths[1], "--with", m2)
        umdtest.wait_until(lambda: self.attr("sync_completed").split()[0] == str(half),
                           timeout=60, what="the copy to reach sync_max")
        self.assertEqual(self.attr(f"dev-{os.path.basename(m2)}/recovery_start"), str(half))
        off = 2 * MiB  # below the copy point
        # A plain WRITE (no FUA), then a FLUSH, each answered (qemu-io would write with FUA).
        c = nbd_raw.Client(self.uri().split("socket=", 1)[1], "md0")
        c.send(nbd_raw.CMD_WRITE, 1, off, data=b"\x5a" * MiB)
        self.assertEqual(c.reply({})[:2], (1, 0))
        c.send(nbd_raw.CMD_FLUSH, 2)
        self.assertEqual(c.reply({})[:2], (2, 0))
        pid = self.detail()["pid"]
        r = umdtest.fault("md0", paths[0], "power-cut")
        self.assertTrue(r.get("ok"), r)
        umdtest.wait_until(lambda: not umdtest.pid_alive(pid), what="the daemon to die of its power cut")
        self.started.remove("md0")
        ex = umdtest.mdadm_examine(m2)
        claimed = int(ex["Recovery Offset"].split()[0])
        self.assertGreaterEqual(claimed * 512, off + MiB, f"m2 does not claim the write's range: {ex}")
        data_offset = int(ex["Data Offset"].split()[0])
        with open(m2, "rb") as f:
            f.seek(data_offset * 512 + off)
            got = f.read(MiB)
        self.assertTrue(got == b"\x5a" * MiB, "m2 claims the range but lost a write a FLUSH acknowledged")


if __name__ == "__main__":
    unittest.main(verbosity=2)
