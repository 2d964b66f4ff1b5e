"""Reshapes of a served array, driven through the CLI as an mdadm user would, under fio.

A raid5 (three members and a spare) and a raid6 (four and a spare) are served over NBD;
fio (nbd engine, crc32c verify) writes them. `umd --grow --raid-devices` starts a reshape
with sync_speed_max set low, so it is still moving while fio writes and verifies a second
pattern and reads the first back; then sync_speed_max is raised and the reshape ends.
Afterwards fio verifies both patterns again, the array has grown, `--detail` shows the
new shape, `check` finds mismatch_cnt 0, and `mdadm --examine` sees the members of a
plain array of the new shape. A chunk change runs the same way, and both again in place
with --backup-file (overseer/reshape_overseer.h), with the daemon killed inside the
critical section and the file restoring it at --assemble. What --grow refuses (too few
spares, a level change, no change, a backup file that exists or is a member) exits 1 with
one line naming the reason.
"""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

MIB = 1 << 20


class ServeReshape(umdtest.DaemonTest):
    def fio(self, uri, size, seed, offset=0, verify_only=False, background=False):
        """Pattern `seed` over [offset, offset + size): written and verified, or verified only."""
        args = ["fio", f"--name=v{seed}", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite", "--bs=64k",
                "--iodepth=8", f"--size={size}", f"--offset={offset}", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                f"--randseed={seed}", "--output-format=json"]
        if verify_only:
            args.append("--verify_only")
        if background:
            return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        r = umdtest.run(args, check=False)
        self.assertEqual(r.returncode, 0, f"fio failed: {r.stdout[-2000:]} {r.stderr[-2000:]}")
        return r

    def make(self, name, level, n, spares):
        paths = umdtest.make_images(self.tmp, [(f"{name}{i}.img", 24 * MIB) for i in range(n + spares)])
        self.umd("--create", name, f"--level={level}", f"--raid-devices={n}", "--chunk=64K", "--assume-clean",
                 *paths[:n])
        sock = os.path.join(self.tmp, f"{name}.sock")
        self.assemble(name, paths[:n], serve=sock)
        for p in paths[n:]:
            self.umd("--manage", name, "--add", p)
        return paths, umdtest.nbd_unix_uri(sock, name)

    def size(self, name):
        return json.loads(self.umd("--detail", name, "--json").stdout)["array"]["array_sectors"] * 512

    def grow_under_fio(self, name, paths, uri, grow, disks, chunk_kib):
        before = self.size(name)
        half = before // 2 // MIB * MIB
        self.fio(uri, half, 1)  # the first pattern, before the reshape
        self.umd("--attr", name, "sync_speed_max", "3000")
        self.umd("--grow", name, *grow)
        # as md's: "reshape" from the moment it is recorded, before the sync thread takes it up
        self.assertEqual(self.attr(name, "sync_action"), "reshape")
        # While it moves: a second pattern over the other half, and the first read back.
        second = self.fio(uri, half, 2, offset=half, background=True)
        self.fio(uri, half, 1, verify_only=True)
        out, err = second.communicate()
        self.assertEqual(second.returncode, 0, f"fio during the reshape: {out[-2000:]} {err[-2000:]}")
        self.assertNotEqual(self.attr(name, "reshape_position"), "none", "the reshape ended before fio did")
        detail = self.umd("--detail", name).stdout
        self.assertIn("Reshape Status", detail)
        self.umd("--attr", name, "sync_speed_max", "500000")
        umdtest.wait_until(lambda: self.attr(name, "reshape_position") == "none", timeout=120,
                           what=f"{name}'s reshape to end")
        self.fio(uri, half, 1, verify_only=True)
        self.fio(uri, half, 2, offset=half, verify_only=True)
        self.umd("--action", name, "check")
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle", timeout=120, what="check")
        self.assertEqual(self.attr(name, "mismatch_cnt"), "0")
        d = json.loads(self.umd("--detail", name, "--json").stdout)["array"]
        self.assertEqual(d["raid_disks"], disks)
        self.assertEqual(d["chunk_kib"], chunk_kib)
        self.assertIsNone(d.get("reshape"))
        self.stop(name)
        for p in paths[:disks]:
            ex = umdtest.run(["mdadm", "--examine", p]).stdout
            self.assertIn(f"Raid Devices : {disks}", ex)
            self.assertIn(f"Chunk Size : {chunk_kib}K", ex)
            self.assertNotIn("Reshape pos'n", ex)
        return before

    def test_more_disks(self):
        for name, level, n in (("r5", 5, 3), ("r6", 6, 4)):
            with self.subTest(level=level):
                paths, uri = self.make(name, level, n, 1)
                before = self.grow_under_fio(name, paths, uri, [f"--raid-devices={n + 1}"], n + 1, 64)
                # Assembled again: the grown size, both patterns.
                sock = os.path.join(self.tmp, f"{name}.sock")
                self.assemble(name, paths, serve=sock)
                data = n - (1 if level == 5 else 2)
                self.assertEqual(self.size(name), before // data * (data + 1))
                half = before // 2 // MIB * MIB
                self.fio(uri, half, 1, verify_only=True)
                self.fio(uri, half, 2, offset=half, verify_only=True)
                self.stop(name)

    def test_three_to_four_to_five(self):
        paths, uri = self.make("t5", 5, 3, 2)
        self.grow_under_fio("t5", paths, uri, ["--raid-devices=4"], 4, 64)
        sock = os.path.join(self.tmp, "t5.sock")
        self.assemble("t5", paths, serve=sock)
        self.grow_under_fio("t5", paths, uri, ["--raid-devices=5"], 5, 64)

    def test_chunk_change(self):
        paths, uri = self.make("c5", 5, 3, 0)
        self.grow_under_fio("c5", paths, uri, ["--chunk=128K"], 3, 128)

    def test_layout_change(self):
        paths, uri = self.make("l5", 5, 3, 0)
        self.grow_under_fio("l5", paths, uri, ["--layout=right-symmetric"], 3, 64)
        for p in paths:
            self.assertIn("Layout : right-symmetric", umdtest.run(["mdadm", "--examine", p]).stdout)

    def test_fewer_disks_then_size_max(self):
        """raid5 4 -> 3 disks the mdadm way (--array-size, --size, --raid-devices); the data
        moved up into the room made after it, so --size=max then finds nothing more."""
        paths, uri = self.make("f5", 5, 4, 0)
        part = 16 * MIB
        self.fio(uri, part, 1)
        r = self.umd("--grow", "f5", "--raid-devices=3", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("first --grow --array-size=46848K, then --grow --size=23424K", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.umd("--grow", "f5", "--array-size=46848K")
        self.assertEqual(self.size("f5"), 46848 * 1024)
        self.umd("--grow", "f5", "--size=23424K")
        self.umd("--grow", "f5", "--raid-devices=3")
        umdtest.wait_until(lambda: self.attr("f5", "reshape_position") == "none", timeout=120, what="the reshape")
        self.fio(uri, part, 1, verify_only=True)
        self.umd("--action", "f5", "check")
        umdtest.wait_until(lambda: self.attr("f5", "sync_action") == "idle", timeout=120, what="check")
        self.assertEqual(self.attr("f5", "mismatch_cnt"), "0")
        d = json.loads(self.umd("--detail", "f5", "--json").stdout)["array"]
        self.assertEqual(d["raid_disks"], 3)
        self.assertEqual(sum(1 for m in d["members"] if m["slot"] is None or m["slot"] < 0), 1, d["members"])
        self.umd("--grow", "f5", "--array-size=max")
        self.umd("--grow", "f5", "--size=max")
        self.assertEqual(self.attr("f5", "component_size"), "23424")
        self.assertEqual(self.size("f5"), 46848 * 1024)
        self.stop("f5")
        for p in paths[:3]:
            ex = umdtest.run(["mdadm", "--examine", p]).stdout
            self.assertIn("Raid Devices : 3", ex)
            self.assertIn("Array Size : 46848 KiB", ex)
            self.assertIn("Data Offset : 2304 sectors", ex)  # 2048 + 256: moved up

    def data_offset(self, path):
        ex = umdtest.run(["mdadm", "--examine", path]).stdout
        return next(line.split(":")[1].strip() for line in ex.splitlines() if "Data Offset" in line)

    def test_in_place_with_a_backup_file(self):
        """mdadm's in-place reshape: with --backup-file the data offset stays where it is and
        each section that is rewritten over itself is first saved in the file (only the
        critical section of a grow; every section of a chunk change); the file is gone at
        the end, and the members are those of a plain array of the new shape."""
        for name, grow, disks, chunk in (("b5", ["--raid-devices=4"], 4, 64), ("bc", ["--chunk=128K"], 3, 128)):
            with self.subTest(grow=grow):
                paths, uri = self.make(name, 5, 3, 1 if disks == 4 else 0)
                offset = self.data_offset(paths[0])
                backup = os.path.join(self.tmp, f"{name}.backup")
                self.grow_under_fio(name, paths, uri, [*grow, f"--backup-file={backup}"], disks, chunk)
                self.assertFalse(os.path.exists(backup), "the backup file outlived the reshape")
                for p in paths[:disks]:
                    self.assertEqual(self.data_offset(p), offset, p)

    def test_in_place_crash_restores_from_the_backup_file(self):
        """The daemon killed inside the critical section of an in-place grow: assembled
        without the file the reshape stays where it is; with --backup-file the section comes
        back from it, the reshape ends, and the bytes are those written before."""
        paths, uri = self.make("k5", 5, 3, 1)
        size = self.size("k5")
        src = os.path.join(self.tmp, "k5.src")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        umdtest.run(["nbdcopy", "--flush", "--", src, uri])
        backup = os.path.join(self.tmp, "k5.backup")
        # frozen: the overseer saves the critical section, the reshape does not move it
        self.umd("--action", "k5", "frozen")
        self.umd("--grow", "k5", "--raid-devices=4", f"--backup-file={backup}")

        def saved():
            with open(backup, "rb") as f:
                b = f.read(512)
            return b[:16] in (b"md_backup_data-1", b"md_backup_data-2") and int.from_bytes(b[56:64], "little") > 0
        umdtest.wait_until(saved, timeout=60, what="the critical section in the backup file")
        umdtest.sigkill_and_wait(json.loads(self.umd("--detail", "k5", "--json").stdout)["pid"])
        self.running.remove("k5")
        # As a crash half-way through rewriting the section in place leaves it: the first
        # chunk of member 0 (array sectors 0..127, inside the saved section) is torn.
        # --dump reads the members as they are; with --backup-file, the section from the file.
        ex = umdtest.run(["mdadm", "--examine", paths[0]]).stdout
        data_offset = int(re.search(r"Data Offset : (\d+) sectors", ex).group(1))
        with open(paths[0], "r+b") as f:
            f.seek(data_offset * 512)
            f.write(os.urandom(64 * 1024))
        torn = os.path.join(self.tmp, "k5.torn")
        self.umd("--dump", *paths, "--output", torn)
        self.assertNotEqual(umdtest.sha256_file(torn), umdtest.sha256_file(src), "the torn chunk reads as torn")
        healed = os.path.join(self.tmp, "k5.healed")
        r = self.umd("--dump", *paths, f"--backup-file={backup}", "--output", healed)
        self.assertIn("read from it", r.stderr)
        self.assertEqual(umdtest.sha256_file(healed), umdtest.sha256_file(src), "--dump --backup-file")
        bogus = os.path.join(self.tmp, "bogus.backup")
        with open(bogus, "wb") as f:
            f.write(os.urandom(1 << 20))
        r = self.umd("--dump", *paths, f"--backup-file={bogus}", "--output", healed, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bogus.backup", r.stderr)
        sock = os.path.join(self.tmp, "k5.sock")
        r = self.umd("--assemble", "k5", *paths, "--serve", f"nbd:unix:{sock}", check=False)
        if r.returncode == 0:  # held where it was (stopped clean), and it says what it needs
            self.running.append("k5")
            self.assertIn("--backup-file", r.stderr)
            self.assertNotEqual(self.attr("k5", "reshape_position"), "none")
            self.stop("k5")
        else:
            self.assertIn("--backup-file", r.stderr)
        self.assemble("k5", paths, f"--backup-file={backup}", serve=sock)
        umdtest.wait_until(lambda: self.attr("k5", "reshape_position") == "none", timeout=120,
                           what="the restored reshape to end")
        out = os.path.join(self.tmp, "k5.out")
        umdtest.run(["nbdcopy", "--", uri, out])
        self.assertEqual(umdtest.sha256_file(out, size), umdtest.sha256_file(src))
        self.umd("--action", "k5", "check")
        umdtest.wait_until(lambda: self.attr("k5", "sync_action") == "idle", timeout=120, what="check")
        self.assertEqual(self.attr("k5", "mismatch_cnt"), "0")
        self.assertEqual(json.loads(self.umd("--detail", "k5", "--json").stdout)["array"]["raid_disks"], 4)

    def test_refusals(self):
        paths, _ = self.make("x5", 5, 3, 0)
        hashes = umdtest.hash_members(paths)
        for grow, says in ((["--raid-devices=4"], "need 1 spare"), (["--level=6"], "--level"),
                           (["--raid-devices=3"], "no change requested"), (["--size=1G"], "holds only"),
                           (["--continue"], "no reshape is recorded")):
            r = self.umd("--grow", "x5", *grow, check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(says, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # --backup-file: a member of the array, or a file that exists (mdadm creates it O_EXCL)
        taken = os.path.join(self.tmp, "taken.backup")
        with open(taken, "wb") as f:
            f.write(b"not mine")
        for grow, says in ((["--chunk=128K", f"--backup-file={paths[0]}"], "is a member of the array"),
                           (["--chunk=128K", f"--backup-file={taken}"], "cannot create backup file"),
                           (["--bitmap=none", f"--backup-file={taken}"], "--backup-file goes with")):
            r = self.umd("--grow", "x5", *grow, check=False)
            self.assertIn(r.returncode, (1, 2), r.stderr)
            self.assertIn(says, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        with open(taken, "rb") as f:
            self.assertEqual(f.read(), b"not mine")
        self.assertEqual(umdtest.hash_members(paths), hashes, "a refused --grow changed a member")


if __name__ == "__main__":
    unittest.main(verbosity=2)
