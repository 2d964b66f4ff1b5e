"""The command line on image files, without the kernel: create, examine (checked by the
real mdadm on the host), dump, zero-superblock, and every kind of bad input — which must
get one clear error line, a non-zero exit, and leave every member as it was."""
import json
import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import umdtest  # noqa: E402
import sb_patch  # noqa: E402

MiB = 1 << 20


class CliTest(umdtest.TempDirTest):
    def images(self, n, size=16 * MiB, prefix="d"):
        return umdtest.make_images(self.tmp, [(f"{prefix}{i}.img", size) for i in range(n)])

    def assert_refused(self, args, paths, expect, code=1):
        """Runs umd with args; asserts exit code, one stderr line containing expect, no member changed."""
        before = umdtest.hash_members(paths)
        r = umdtest.umd(*args, check=False)
        self.assertEqual(r.returncode, code, f"umd {args}: {r.stdout} {r.stderr}")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"want one error line, got: {r.stderr!r}")
        self.assertIn(expect, lines[0])
        self.assertEqual(umdtest.hash_members(paths), before, "a refused command changed a member")
        return lines[0]

    # --- create + examine --------------------------------------------------------

    def test_create_examine_matches_mdadm_every_level(self):
        for level, n, extra in [("linear", 2, []), ("0", 3, ["--chunk=32"]), ("1", 2, []),
                                ("4", 3, []), ("5", 4, ["--layout=right-asymmetric"]),
                                ("6", 5, ["--layout=ddf-N-continue"]), ("10", 4, ["--layout=f2"]),
                                ("5", 3, ["--metadata=1.0"]), ("1", 3, ["--metadata=1.1"])]:
            with self.subTest(level=level, extra=extra):
                paths = self.images(n, prefix=f"l{level}-{len(extra)}-")
                umdtest.umd("--create", "md0", f"--level={level}", f"--raid-devices={n}", *extra, *paths)
                ours = umdtest.umd_json("--examine", *paths)
                self.assertEqual(len(ours), n)
                uuids = set()
                for i, (p, j) in enumerate(zip(paths, ours)):
                    md = umdtest.mdadm_examine(p)
                    self.assertEqual(md["_rc"], 0, md["_text"])
                    self.assertTrue(md["Checksum"].endswith("correct"), md["Checksum"])
                    self.assertEqual(j["raid_level"], md["Raid Level"])
                    self.assertEqual(j["raid_devices"], int(md["Raid Devices"]))
                    self.assertEqual(j["data_offset"], int(md.get("Data Offset", "0").split()[0]))
                    self.assertEqual(j["array_uuid"], md["Array UUID"])
                    self.assertEqual(j["role"], i)
                    uuids.add(j["array_uuid"])
                    if "Layout" in md:
                        self.assertEqual(j["layout"], md["Layout"])
                self.assertEqual(len(uuids), 1)

    def test_examine_text_is_mdadms(self):
        # umd --examine prints what mdadm --examine prints for the same member, line for
        # line: every level, 1.0/1.1/1.2/0.90, bitmaps, a spare, a missing member, a --size.
        env = dict(os.environ, TZ="UTC")  # both print times in the local zone
        for name, n, args in [("r5", 3, ["--level=5", "-n3", "--chunk=64K"]),
                              ("r0", 3, ["--level=0", "-n3", "--chunk=32"]),
                              ("lin", 2, ["--level=linear", "-n2"]),
                              ("r1b", 2, ["--level=1", "-n2", "--bitmap=internal"]),
                              ("r10f", 4, ["--level=10", "-n4", "--layout=f2"]),
                              ("r10o", 3, ["--level=10", "-n3", "--layout=o2"]),
                              ("r6", 5, ["--level=6", "-n5", "--layout=ddf-N-continue"]),
                              ("r6b", 4, ["--level=6", "-n4", "--bitmap=internal", "--bitmap-chunk=64K"]),
                              ("r4s", 4, ["--level=4", "-n3", "--spare-devices=1"]),
                              ("v10", 3, ["--level=5", "-n3", "--metadata=1.0"]),
                              ("v10b", 2, ["--level=1", "-n2", "--metadata=1.0", "--bitmap=internal"]),
                              ("v11", 3, ["--level=1", "-n3", "--metadata=1.1", "--size=8M"]),
                              ("v090r5s", 4, ["--level=5", "-n3", "--spare-devices=1", "--metadata=0.90"]),
                              ("v090r1", 2, ["--level=1", "-n2", "--metadata=0.90", "--assume-clean"]),
                              ("v090r1b", 2, ["--level=1", "-n2", "--metadata=0.90", "--bitmap=internal"]),
                              ("v090r6", 4, ["--level=6", "-n4", "--metadata=0.90", "--chunk=128K"])]:
            with self.subTest(name=name):
                paths = self.images(n, prefix=f"{name}-")
                umdtest.umd("--create", "md-" + name, *args, *paths)
                for p in paths:
                    ours = subprocess.run([umdtest.UMD, "--examine", p], capture_output=True, text=True, env=env)
                    md = subprocess.run(["mdadm", "--examine", p], capture_output=True, text=True, env=env)
                    self.assertEqual(md.returncode, 0, md.stderr)
                    self.assertEqual(ours.stdout, md.stdout)
        paths = self.images(2, prefix="miss-")
        umdtest.umd("--create", "md-miss", "--level=1", "-n2", paths[0], "missing")
        ours = subprocess.run([umdtest.UMD, "--examine", paths[0]], capture_output=True, text=True, env=env)
        md = subprocess.run(["mdadm", "--examine", paths[0]], capture_output=True, text=True, env=env)
        self.assertEqual(ours.stdout, md.stdout)

    def test_short_forms_and_alias(self):
        paths = self.images(2)
        umdtest.umd("create", "md0", "-l1", "-n2", *paths)
        self.assertEqual(umdtest.umd_json("-E", paths[0])[0]["raid_level"], "raid1")

    def test_missing_member_at_create(self):
        paths = self.images(2)
        umdtest.umd("--create", "md0", "--level=5", "-n3", paths[0], "missing", paths[1])
        j = umdtest.umd_json("--examine", *paths)
        self.assertEqual([m["role"] for m in j], [0, 2])
        self.assertEqual(j[0]["array_state"], "A.A")

    def test_spares(self):
        paths = self.images(3)
        umdtest.umd("--create", "md0", "--level=1", "-n2", "-x1", *paths)
        j = umdtest.umd_json("--examine", *paths)
        self.assertEqual(j[2]["role"], "spare")
        self.assertTrue(umdtest.mdadm_examine(paths[2])["Device Role"].startswith("spare"))

    # --- dump ------------------------------------------------------------------

    def test_dump_fresh_array_is_zero_and_sized(self):
        paths = self.images(4)
        umdtest.umd("--create", "md0", "--level=5", "-n4", "--assume-clean", *paths)
        out = os.path.join(self.tmp, "out")
        umdtest.umd("--dump", *paths, "--output", out)
        md = umdtest.mdadm_examine(paths[0])
        want = int(md["Array Size"].split()[0]) * 1024
        self.assertEqual(os.path.getsize(out), want)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), bytes(want))

    def test_dump_to_stdout(self):
        paths = self.images(2, size=8 * MiB)
        umdtest.umd("--create", "md0", "--level=0", "-n2", *paths)
        import subprocess
        r = subprocess.run([umdtest.UMD, "--dump", *paths], capture_output=True, check=True)
        md = umdtest.mdadm_examine(paths[0])
        # raid0 of two equal members whose space is a whole number of chunks
        self.assertEqual(len(r.stdout), 2 * int(md["Avail Dev Size"].split()[0]) * 512)
        self.assertEqual(r.stdout, bytes(len(r.stdout)))

    # --- zero-superblock -----------------------------------------------------------

    def test_zero_superblock(self):
        paths = self.images(2)
        umdtest.umd("--create", "md0", "--level=1", "-n2", *paths)
        umdtest.umd("--zero-superblock", paths[0])
        self.assertNotEqual(umdtest.mdadm_examine(paths[0])["_rc"], 0)
        self.assertEqual(umdtest.mdadm_examine(paths[1])["_rc"], 0)
        r = umdtest.umd("--examine", paths[0], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no md superblock", r.stderr)

    # --- bad input ---------------------------------------------------------------

    def test_unknown_option_is_usage_error(self):
        paths = self.images(2)
        self.assert_refused(["--create", "md0", "--level=1", "-n2", "--frobnicate", *paths], paths,
                            "frobnicate", code=2)
        self.assert_refused(["--examine", "--level=5", *paths], paths, "--level", code=2)
        self.assert_refused([*paths], paths, "no mode", code=2)

    def test_create_bad_level_layout_count(self):
        paths = self.images(3)
        self.assert_refused(["--create", "md0", "--level=7", "-n3", *paths], paths, "level")
        self.assert_refused(["--create", "md0", "--level=5", "-n3", "--layout=f2", *paths], paths, "layout")
        self.assert_refused(["--create", "md0", "--level=5", "-n4", *paths], paths, "4")
        self.assert_refused(["--create", "md0", "--level=6", "-n3", *paths], paths, "raid6")
        self.assert_refused(["--create", "md0", "--level=5", "-n3", "--chunk=3K", *paths], paths, "chunk")

    def test_create_too_small_device(self):
        paths = self.images(2) + umdtest.make_images(self.tmp, [("tiny.img", 64 * 1024)])
        self.assert_refused(["--create", "md0", "--level=5", "-n3", *paths], paths, "tiny.img")

    def test_create_refuses_member_of_another_array_without_force(self):
        paths = self.images(3)
        umdtest.umd("--create", "md0", "--level=1", "-n2", paths[0], paths[1])
        msg = self.assert_refused(["--create", "md1", "--level=1", "-n2", paths[1], paths[2]],
                                  paths, "d1.img")
        self.assertIn("--force", msg)

    def test_examine_truncated_and_corrupt(self):
        paths = self.images(2)
        umdtest.umd("--create", "md0", "--level=1", "-n2", *paths)
        # corrupt: flip a byte inside the superblock, checksum no longer matches
        with open(paths[0], "r+b") as f:
            f.seek(4096 + 80)
            b = f.read(1)
            f.seek(4096 + 80)
            f.write(bytes([b[0] ^ 0x40]))
        self.assert_refused(["--examine", paths[0]], paths, "checksum")
        self.assert_refused(["--dump", *paths, "--output", os.devnull], paths, "checksum")
        # truncated: a file that ends inside the superblock
        t = os.path.join(self.tmp, "trunc.img")
        with open(paths[1], "rb") as src, open(t, "wb") as dst:
            dst.write(src.read(4096 + 512))
        self.assert_refused(["--examine", t], paths + [t], "trunc.img")

    def test_examine_name_that_is_not_utf8(self):
        # The array name is 32 bytes from disk: --examine escapes what is not UTF-8 (and
        # control bytes) in text and JSON instead of aborting.
        paths = self.images(2)
        umdtest.umd("--create", "md0", "--level=1", "-n2", *paths)
        sb_patch.patch_bytes(paths[0], sb_patch.SET_NAME, b"host:md\xff\n0".ljust(32, b"\0"))
        r = umdtest.umd("--examine", "--json", paths[0])
        self.assertEqual(json.loads(r.stdout)[0]["name"], "host:md\\xff\\x0a0")
        r = umdtest.umd("--examine", paths[0])
        self.assertIn("           Name : host:md\\xff\\x0a0\n", r.stdout)

    def test_examine_bitmap_huge_node_count_is_refused_at_once(self):
        # A mutated bitmap superblock (clustered, 2^32-1 nodes) once kept -X busy for
        # minutes; it is refused with one line.
        paths = self.images(2)
        umdtest.umd("--create", "md0", "--level=1", "-n2", "--bitmap=internal", *paths)
        ex = umdtest.umd_json("--examine-bitmap", paths[0])[0]
        at = ex["bitmap_sector"] * 512
        with open(paths[0], "r+b") as f:
            f.seek(at + 4)
            f.write(struct.pack("<I", 5))
            f.seek(at + 68)
            f.write(struct.pack("<I", 0xFFFFFFFF))
        for extra in ([], ["--json"]):
            r = subprocess.run([umdtest.UMD, "--examine-bitmap", *extra, paths[0]], capture_output=True,
                               text=True, timeout=20)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("4294967295 cluster nodes", r.stderr)

    def test_dump_members_of_two_arrays(self):
        a = self.images(2, prefix="a")
        b = self.images(2, prefix="b")
        umdtest.umd("--create", "md0", "--level=1", "-n2", *a)
        umdtest.umd("--create", "md1", "--level=1", "-n2", *b)
        self.assert_refused(["--dump", a[0], b[1], "--output", os.devnull], a + b, "b1.img")

    def test_dump_stale_member(self):
        paths = self.images(3)
        umdtest.umd("--create", "md0", "--level=5", "-n3", "--assume-clean", *paths)
        ev = sb_patch.read_u64(paths[0], sb_patch.EVENTS)
        for p in paths[1:]:
            sb_patch.patch_u64(p, sb_patch.EVENTS, ev + 5)
        self.assert_refused(["--dump", *paths, "--output", os.devnull], paths, "d0.img")
        # --force leaves the stale member out and reads the array degraded
        out = os.path.join(self.tmp, "out")
        r = umdtest.umd("--dump", "--force", *paths, "--output", out)
        self.assertIn("stale", r.stderr)
        with open(out, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 0)
        self.assertEqual(data, bytes(len(data)))

    def test_dump_too_many_missing(self):
        paths = self.images(4)
        umdtest.umd("--create", "md0", "--level=5", "-n4", *paths)
        self.assert_refused(["--dump", paths[0], paths[1], "--output", os.devnull], paths, "2 of 4")

    def test_not_a_member(self):
        paths = self.images(1)
        self.assert_refused(["--examine", paths[0]], paths, "no md superblock")
        self.assert_refused(["--examine", os.path.join(self.tmp, "nope.img")], paths, "nope.img")


if __name__ == "__main__":
    unittest.main(verbosity=2)
