"""Level changes of a served array through the CLI, as an mdadm user makes them, under fio.

A raid1 of two members becomes raid5 (`--grow --level=5`), grows to three disks by a
reshape, then becomes raid6 (`--level=6 --layout=preserve`: Q on a new fourth member that
recovery builds while fio writes). A raid0 becomes raid5 the way mdadm
makes it (parity on a new member, recovered, then restriped to left-symmetric) and goes
back to raid0 (restriped to parity-last, then the parity member leaves). fio (nbd engine, crc32c verify) writes a pattern before each change
and verifies it after, and writes another while the recovery the change started runs;
`check` then finds mismatch_cnt 0 and `mdadm --examine` reads each member as the new
level. What --grow --level refuses exits 1 with one line naming the reason, members
unchanged.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

MIB = 1 << 20


class ServeTakeover(umdtest.DaemonTest):
    def fio(self, uri, size, seed, offset=0, verify_only=False, background=False):
        args = ["fio", f"--name=v{seed}", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite", "--bs=64k",
                "--iodepth=8", f"--size={size}", f"--offset={offset}", "--verify=crc32c", "--do_verify=1",
                "--verify_fatal=1", f"--randseed={seed}", "--output-format=json"]
        if verify_only:
            args.append("--verify_only")
        if background:
            return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        r = umdtest.run(args, check=False)
        self.assertEqual(r.returncode, 0, f"fio failed: {r.stdout[-2000:]} {r.stderr[-2000:]}")
        return r

    def make(self, name, level, n, spares):
        paths = umdtest.make_images(self.tmp, [(f"{name}{i}.img", 24 * MIB) for i in range(n + spares)])
        chunk = [] if level == 1 else ["--chunk=64K"]
        self.umd("--create", name, f"--level={level}", f"--raid-devices={n}", *chunk, "--assume-clean", *paths[:n])
        sock = os.path.join(self.tmp, f"{name}.sock")
        self.assemble(name, paths[:n], serve=sock)
        return paths, umdtest.nbd_unix_uri(sock, name)

    def detail(self, name):
        return json.loads(self.umd("--detail", name, "--json").stdout)["array"]

    def wait_idle(self, name, what):
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle", timeout=120, what=what)

    def check_clean(self, name):
        self.umd("--action", name, "check")
        self.wait_idle(name, "check")
        self.assertEqual(self.attr(name, "mismatch_cnt"), "0")

    def convert_under_fio(self, name, uri, grow, part, seed):
        """--grow `grow` with a recovery to follow: fio writes pattern `seed` at `part` while it runs."""
        self.umd("--attr", name, "sync_speed_max", "3000")
        self.umd("--grow", name, *grow)
        self.assertEqual(self.attr(name, "sync_action"), "recover")
        writer = self.fio(uri, part, seed, offset=part, background=True)
        out, err = writer.communicate()
        self.assertEqual(writer.returncode, 0, f"fio during the recovery: {out[-2000:]} {err[-2000:]}")
        self.assertEqual(self.attr(name, "sync_action"), "recover", "the recovery ended before fio did")
        self.umd("--attr", name, "sync_speed_max", "500000")
        umdtest.wait_until(lambda: self.attr(name, "degraded") == "0", timeout=120, what="the recovery")

    def examine(self, paths, level, layout=None):
        for p in paths:
            ex = umdtest.run(["mdadm", "--examine", p]).stdout
            self.assertIn(f"Raid Level : {level}", ex, p)
            if layout:
                self.assertIn(f"Layout : {layout}", ex, p)

    def test_raid1_to_raid5_to_raid6(self):
        paths, uri = self.make("m", 1, 2, 2)
        part = 4 * MIB
        self.fio(uri, part, 1)
        self.umd("--grow", "m", "--level=5")
        d = self.detail("m")
        self.assertEqual((d["level"], d["raid_disks"], d["chunk_kib"]), (5, 2, 64))
        self.fio(uri, part, 1, verify_only=True)
        # Three disks by a reshape, then raid6 with Q on a fourth, recovered under fio.
        self.umd("--manage", "m", "--add", paths[2])
        self.umd("--grow", "m", "--raid-devices=3")
        umdtest.wait_until(lambda: self.attr("m", "reshape_position") == "none", timeout=120, what="the reshape")
        self.fio(uri, part, 1, verify_only=True)
        self.umd("--manage", "m", "--add", paths[3])
        self.convert_under_fio("m", uri, ["--level=6", "--layout=preserve"], part, 2)
        d = self.detail("m")
        self.assertEqual((d["level"], d["raid_disks"], d["layout"]), (6, 4, "left-symmetric-6"))
        self.fio(uri, part, 1, verify_only=True)
        self.fio(uri, part, 2, offset=part, verify_only=True)
        self.check_clean("m")
        self.stop("m")
        self.examine(paths, "raid6", "left-symmetric-6")
        # Assembled again: both patterns.
        sock = os.path.join(self.tmp, "m.sock")
        self.assemble("m", paths, serve=sock)
        self.fio(uri, part, 1, verify_only=True)
        self.fio(uri, part, 2, offset=part, verify_only=True)
        self.stop("m")

    def test_raid0_to_raid5_and_back(self):
        paths, uri = self.make("z", 0, 3, 1)
        part = 8 * MIB
        self.fio(uri, part, 1)
        self.umd("--manage", "z", "--add", paths[3])
        # mdadm's way: parity on the new member, recovered, then restriped to left-symmetric
        self.convert_under_fio("z", uri, ["--level=5"], part, 2)
        umdtest.wait_until(lambda: (self.detail("z")["layout"], self.attr("z", "reshape_position"),
                                    self.attr("z", "sync_action")) == ("left-symmetric", "none", "idle"),
                           timeout=120, what="the restripe after the recovery")
        self.assertEqual(self.detail("z")["level"], 5)
        self.check_clean("z")
        self.fio(uri, part, 1, verify_only=True)
        self.fio(uri, part, 2, offset=part, verify_only=True)
        self.umd("--grow", "z", "--level=0")
        umdtest.wait_until(lambda: self.detail("z")["level"] == 0 and self.attr("z", "sync_action") == "idle",
                           timeout=120, what="the restripe to parity-last and the level change")
        d = self.detail("z")
        self.assertEqual((d["level"], d["raid_disks"]), (0, 3))
        self.fio(uri, part, 1, verify_only=True)
        self.fio(uri, part, 2, offset=part, verify_only=True)
        self.stop("z")
        self.examine(paths[:3], "raid0")

    def test_refusals(self):
        paths, _ = self.make("x", 5, 3, 0)
        hashes = umdtest.hash_members(paths)
        for grow, says in ((["--level=6"], "need 1 spare"), (["--level=6", "--layout=preserve"], "need 1 spare"),
                           (["--level=10"], "not raid10"), (["--level=1"], "2-device"),
                           (["--level=6", "--layout=bogus"], "bogus")):
            r = self.umd("--grow", "x", *grow, check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(says, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertEqual(umdtest.hash_members(paths), hashes, "a refused --grow --level changed a member")


if __name__ == "__main__":
    unittest.main(verbosity=2)
