"""Recovery on the host, without the kernel: arrays inside partitioned disk images
(PATH:pN), the scan family (--examine/--assemble/--detail/--stop --scan, --uuid, --name,
--config), overlays that never touch the images, --build for arrays without
superblocks, and bad input (corrupt or overlapping tables, a partition past the end, a
config line mdadm would refuse): one error line, nothing changed on disk."""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import umdtest  # noqa: E402
import nas  # noqa: E402

MiB = 1 << 20


def have(tool):
    return shutil.which(tool) is not None


def sha(data):
    return hashlib.sha256(data).hexdigest()


@unittest.skipUnless(nas.have_sfdisk() and have("qemu-io"), "sfdisk or qemu-io missing")
class RecoveryTest(umdtest.DaemonTest):
    def setUp(self):
        super().setUp()
        # Two MBR disks (system raid1 on p1, data raid1 on logical p5) and three GPT
        # disks (system raid1 on p1 of two, data raid5 on p3 of three).
        self.mbr = [os.path.join(self.tmp, f"m{i}.img") for i in range(2)]
        self.gpt = [os.path.join(self.tmp, f"g{i}.img") for i in range(3)]
        for p in self.mbr:
            nas.partition(p, nas.MBR_LAYOUT)
        for p in self.gpt:
            nas.partition(p, nas.GPT_LAYOUT)
        self.disks = self.mbr + self.gpt

    def create(self, name, level, members, *extra):
        self.umd("--create", name, f"--level={level}", f"--raid-devices={len(members)}", f"--name=nas:{name}",
                 "--assume-clean", *extra, *members)
        return self.umd_json("--examine", members[0])[0]["array_uuid"]

    def running_names(self):
        """The arrays a daemon of this test holds (those --detail answers for)."""
        run = os.path.join(self.tmp, "run")
        names = os.listdir(run) if os.path.isdir(run) else []
        return [n for n in names if self.umd("--detail", n, check=False).returncode == 0]

    def umd_json(self, *args):
        import json
        return json.loads(self.umd(*args, "--json").stdout)

    def make_nas(self):
        m, g = self.mbr, self.gpt
        self.uuids = {
            "sys1": self.create("sys1", 1, [f"{m[0]}:p1", f"{m[1]}:p1"]),
            "data1": self.create("data1", 1, [f"{m[0]}:p5", f"{m[1]}:p5"]),
            "sys2": self.create("sys2", 1, [f"{g[0]}:p1", f"{g[1]}:p1"]),
            "data2": self.create("data2", 5, [f"{g[0]}:p3", f"{g[1]}:p3", f"{g[2]}:p3"], "--chunk=64"),
        }

    def write_pattern(self, name, pattern, offset="0", length="1M"):
        uri = umdtest.nbd_unix_uri(os.path.join(self.tmp, "run", name, "nbd.sock"), name)
        r = umdtest.run(["qemu-io", "-f", "raw", "-c", f"write -P {pattern} {offset} {length}", "-c", "flush", uri],
                        check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("error", (r.stdout + r.stderr).lower())

    def dump(self, *args):
        out = os.path.join(self.tmp, "dump.bin")
        self.umd("--dump", *args, "--output", out)
        with open(out, "rb") as f:
            return f.read()

    def assert_refused(self, args, expect, code=1):
        before = umdtest.hash_members(self.disks)
        r = self.umd(*args, check=False)
        self.assertEqual(r.returncode, code, f"umd {args}: {r.stdout} {r.stderr}")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"want one error line, got: {r.stderr!r}")
        self.assertIn(expect, lines[0])
        self.assertEqual(umdtest.hash_members(self.disks), before, "a refused command changed a disk")
        return lines[0]

    # --- PATH:pN and --examine of whole disks --------------------------------------------

    def test_examine_whole_disk_shows_its_partitions_superblocks(self):
        self.make_nas()
        out = self.umd("--examine", self.mbr[0]).stdout
        self.assertIn("Partition Table : MBR", out)
        self.assertIn(f"{self.mbr[0]}:p5 : 49152 sectors at", out)
        self.assertIn(f"{self.mbr[0]}:p1:\n", out)
        self.assertIn(f"{self.mbr[0]}:p5:\n", out)
        self.assertEqual(out.count("Magic : a92b4efc"), 2)
        j = self.umd_json("--examine", self.gpt[2])
        self.assertEqual([m["path"] for m in j], [f"{self.gpt[2]}:p3"])
        self.assertEqual(j[0]["array_uuid"], self.uuids["data2"])
        self.assertEqual(j[0]["role"], 2)

    def test_partition_member_is_a_window_of_the_disk(self):
        self.make_nas()
        # The data raid1's member p5 starts after p1 and the EBR: its superblock (1.2, at
        # 4 KiB into the member) sits at that offset of the disk file.
        start = 2048 * 512 + 12 * MiB + 2048 * 512  # p1, then the EBR's alignment gap
        parts = subprocess.run(["sfdisk", "--json", self.mbr[0]], capture_output=True, text=True, check=True).stdout
        import json
        p5 = [p for p in json.loads(parts)["partitiontable"]["partitions"] if p["node"].endswith("5")][0]
        start = p5["start"] * 512
        with open(self.mbr[0], "rb") as f:
            f.seek(start + 4096)
            self.assertEqual(struct.unpack("<I", f.read(4))[0], 0xa92b4efc)

    # --- the scan family -----------------------------------------------------------------

    def test_examine_scan_finds_every_array(self):
        self.make_nas()
        out = self.umd("--examine", "--scan", *self.disks).stdout.splitlines()
        self.assertEqual(len(out), 4, out)
        for name, uuid in self.uuids.items():
            want = [l for l in out if f"UUID={uuid}" in l]
            self.assertEqual(len(want), 1, (name, out))
            self.assertTrue(want[0].startswith(f"ARRAY /dev/md/{name}  metadata=1.2 UUID="), want[0])
        v = self.umd("--examine", "--scan", "--verbose", *self.disks).stdout
        self.assertIn(f"   devices={self.gpt[0]}:p3,{self.gpt[1]}:p3,{self.gpt[2]}:p3\n", v)
        self.assertIn("level=raid5 metadata=1.2 num-devices=3", v)

    def test_end_of_disk_superblock_is_the_last_partitions(self):
        # p3 runs to the disk's end: its 1.0 superblock is where the whole disk's would be.
        p3 = [f"{m}:p3" for m in self.mbr]
        self.umd("--create", "tail", "--level=1", "--raid-devices=2", "--metadata=1.0", *p3)
        r = self.umd("--examine", "--scan", "--verbose", *self.mbr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.count("ARRAY "), 1, r.stdout)
        self.assertIn(f"   devices={p3[0]},{p3[1]}\n", r.stdout)
        r = self.umd("--examine", self.mbr[0])
        self.assertEqual(r.stderr, "")
        self.assertIn(f"{p3[0]}:\n", r.stdout)

    @unittest.skipUnless(have("mdadm"), "mdadm missing")
    def test_examine_scan_equals_mdadm_on_whole_files(self):
        # mdadm reads superblocks of whole image files (not their partitions): hold umd's
        # lines against mdadm's own for the same files, brief and verbose.
        paths = umdtest.make_images(self.tmp, [(f"w{i}.img", 20 * MiB) for i in range(3)])
        vpaths = umdtest.make_images(self.tmp, [(f"v{i}.img", 20 * MiB) for i in range(2)])
        self.umd("--create", "w", "--level=5", "--raid-devices=3", "--name=box:w", *paths)
        self.umd("--create", "v", "--level=1", "--raid-devices=2", "--metadata=1.0", *vpaths)
        for args in ([], ["--verbose"]):
            ours = self.umd("--examine", "--scan", *args, *paths, *vpaths).stdout
            theirs = umdtest.run(["mdadm", "--examine", "--scan", *args, *paths, *vpaths]).stdout
            self.assertEqual(ours, theirs)

    def test_assemble_scan_detail_scan_stop_scan(self):
        self.make_nas()
        before = umdtest.hash_members(self.disks)
        r = self.umd("--assemble", "--scan", "--readonly", *self.disks)
        self.running += list(self.uuids)
        names = sorted(self.running_names())
        self.assertEqual(names, sorted(self.uuids), r.stderr)
        detail = self.umd("--detail", "--scan").stdout.splitlines()
        self.assertEqual(len(detail), 4, detail)
        for name, uuid in self.uuids.items():
            self.assertIn(f"ARRAY /dev/md/{name} metadata=1.2 name=", "\n".join(detail))
            self.assertIn(f"UUID={uuid}", "\n".join(detail))
        self.umd("--stop", "--scan")
        self.running = []
        self.assertEqual(self.running_names(), [])
        self.assertEqual(umdtest.hash_members(self.disks), before, "a read-only assemble wrote to a disk")

    def test_assemble_scan_follows_the_config(self):
        self.make_nas()
        conf = os.path.join(self.tmp, "umd.conf")
        with open(conf, "w") as f:
            f.write(f"DEVICE {self.tmp}/*.img\n# only the data arrays, named our way\n"
                    f"ARRAY /dev/md/alpha uuid={self.uuids['data1']}\n"
                    f"ARRAY /dev/md7 name=nas:data2\n")
        self.umd("--assemble", "--scan", "--readonly", f"--config={conf}")
        self.running += ["alpha", "md7"]
        self.assertEqual(sorted(self.running_names()), ["alpha", "md7"])

    def test_dump_uuid_and_name_pick_one_array_among_many(self):
        self.make_nas()
        self.assemble("data2", [f"{g}:p3" for g in self.gpt])
        self.write_pattern("data2", "0x5a", "0", "2M")
        self.stop("data2")
        explicit = self.dump(*[f"{g}:p3" for g in self.gpt])
        self.assertEqual(explicit[:2 * MiB], b"\x5a" * (2 * MiB))
        self.assertEqual(sha(self.dump("--uuid", self.uuids["data2"], *self.disks)), sha(explicit))
        self.assertEqual(sha(self.dump("--name", "data2", *self.disks)), sha(explicit))
        # degraded: one disk of the raid5 gone
        self.assertEqual(sha(self.dump("--uuid", self.uuids["data2"], *self.disks[:-1])), sha(explicit))
        self.assert_refused(["--dump", "--uuid", "0123456789abcdef0123456789abcdef", *self.disks, "-o", "/dev/null"],
                            "no member of an array with --uuid=0123456789abcdef0123456789abcdef found")
        self.assert_refused(["--dump", "--uuid", "xyz", *self.disks], "--uuid", code=2)

    def test_assemble_uuid_picks_members(self):
        self.make_nas()
        self.umd("--assemble", "sys", "--uuid", self.uuids["sys2"], "--readonly", *self.disks)
        self.running.append("sys")
        d = self.umd_json("--detail", "sys")
        self.assertEqual(sorted(m["path"] for m in d["array"]["members"]),
                         sorted(f"{g}:p1" for g in self.gpt[:2]))

    # --- overlays ------------------------------------------------------------------------

    def test_overlay_takes_every_write_and_persists(self):
        self.make_nas()
        ov = os.path.join(self.tmp, "overlay")
        members = [f"{g}:p3" for g in self.gpt]
        original = sha(self.dump(*members))
        before = umdtest.hash_members(self.disks)
        self.assemble("data2", members, "--overlay", ov)
        self.write_pattern("data2", "0xc3", "1M", "3M")
        self.stop("data2")
        self.assertEqual(umdtest.hash_members(self.disks), before, "an overlaid assemble wrote to a disk")
        self.assertTrue(os.path.exists(os.path.join(ov, os.path.basename(self.gpt[0]) + ":p3.cow")))
        through = self.dump("--overlay", ov, *members)
        self.assertEqual(through[1 * MiB:4 * MiB], b"\xc3" * (3 * MiB))
        self.assertEqual(sha(self.dump(*members)), original)  # the images still hold the old data
        # again: the overlay's content is there after re-assembly, and more goes on top
        self.umd("--assemble", "--scan", "--overlay", ov, *self.gpt)
        self.running += ["sys2", "data2"]
        self.write_pattern("data2", "0x11", "0", "64k")
        # A spare added to an overlaid array is overlaid too: its superblock goes to DIR.
        spare = os.path.join(self.tmp, "g9.img")
        nas.partition(spare, nas.GPT_LAYOUT)
        spare_hash = umdtest.sha256_file(spare)
        self.umd("--manage", "data2", "--add", f"{spare}:p3")
        self.assertTrue(os.path.exists(os.path.join(ov, "g9.img:p3.map")))
        self.assertEqual(umdtest.sha256_file(spare), spare_hash, "--add under --overlay wrote to the spare")
        self.umd("--stop", "--scan")
        self.running = []
        through = self.dump("--overlay", ov, "--uuid", self.uuids["data2"], *self.disks)
        self.assertEqual(through[:64 * 1024], b"\x11" * (64 * 1024))
        self.assertEqual(through[1 * MiB:4 * MiB], b"\xc3" * (3 * MiB))
        self.assertEqual(umdtest.hash_members(self.disks), before)

    # --- --build -------------------------------------------------------------------------

    def test_build_reads_a_wiped_array(self):
        self.make_nas()
        members = [f"{g}:p3" for g in self.gpt]
        self.assemble("data2", members)
        self.write_pattern("data2", "0x77", "0", "4M")
        self.stop("data2")
        info = self.umd_json("--examine", members[0])[0]
        content = self.dump(*members)
        for m in members:
            self.umd("--zero-superblock", m)
        self.assertNotEqual(self.umd("--examine", members[0], check=False).returncode, 0)
        size = f"{info['used_dev_sectors'] // 2}K"
        built = self.dump("--build", "--level=5", "--raid-devices=3", "--chunk=64", "--layout=left-symmetric",
                          f"--data-offset={info['data_offset'] // 2}K", f"--size={size}", *members)
        self.assertEqual(sha(built), sha(content))
        degraded = self.dump("--build", "--level=5", "--raid-devices=3", "--chunk=64",
                             f"--data-offset={info['data_offset'] // 2}K", f"--size={size}",
                             members[0], "missing", members[2])
        self.assertEqual(sha(degraded), sha(content))
        self.assert_refused(["--dump", "--build", "--level=5", "--raid-devices=3", members[0]],
                            "--raid-devices=3, but 1 member given")
        # Served read-only by a daemon: what an NBD client reads is the array; writes refused.
        self.assemble("built", [members[0], "missing", members[2]], "--build", "--level=5", "--raid-devices=3",
                      "--chunk=64", f"--data-offset={info['data_offset'] // 2}K", f"--size={size}")
        uri = umdtest.nbd_unix_uri(os.path.join(self.tmp, "run", "built", "nbd.sock"), "built")
        served = os.path.join(self.tmp, "served.raw")
        umdtest.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", uri, served])
        with open(served, "rb") as f:
            self.assertEqual(sha(f.read()), sha(content))
        before = umdtest.hash_members(self.disks)
        w = umdtest.run(["qemu-io", "-f", "raw", "-c", "write -P 1 0 4k", uri], check=False)
        self.assertTrue(w.returncode != 0 or "failed" in (w.stdout + w.stderr).lower(), w.stdout + w.stderr)
        self.assertIn("--build", self.umd("--detail", "built").stdout)
        self.stop("built")
        self.assertEqual(umdtest.hash_members(self.disks), before)

    # --- help ----------------------------------------------------------------------------

    def test_help_teaches(self):
        top = self.umd("--help").stdout
        for mode in ["--create", "--examine", "--dump", "--assemble", "--stop", "--detail", "--status", "--manage",
                     "--action", "--attr", "--grow", "--monitor", "--zero-superblock", "--examine-bitmap"]:
            self.assertRegex(top, rf"\n  {mode} +\S.*\n +e\.g\. umd ", mode)
        self.assertIn("disk0.img:p5", top)
        create = self.umd("--create", "--help").stdout
        self.assertTrue(create.startswith("umd --create: "), create)
        for opt in ["-l, --level TEXT", "-n, --raid-devices UINT", "--metadata", "--assume-clean", "Example:"]:
            self.assertIn(opt, create)
        self.assertNotIn("--oneshot", create)
        dump = self.umd("dump", "-h").stdout
        for opt in ["-u, --uuid", "--overlay", "-B, --build", "--data-offset", "--dump --build --level=L"]:
            self.assertIn(opt, dump)
        self.assertIn("--scan", self.umd("--assemble", "--help").stdout)

    # --- bad input -----------------------------------------------------------------------

    def test_bad_partition_tables(self):
        self.make_nas()
        g = self.gpt[0]
        with open(g, "r+b") as f:  # a byte of the primary GPT header's disk GUID
            f.seek(512 + 56)
            b = f.read(1)
            f.seek(512 + 56)
            f.write(bytes([b[0] ^ 0xff]))
        self.assert_refused(["--examine", g], f"{g}: partition table: GPT header: CRC32")
        self.assert_refused(["--dump", f"{g}:p3", "-o", "/dev/null"], "GPT header: CRC32")
        m = self.mbr[0]
        with open(m, "r+b") as f:  # partition 3 now starts inside partition 1
            f.seek(446 + 32 + 8)
            f.write(struct.pack("<I", 4096))
        self.assert_refused(["--examine", m], "partitions 1 (bytes")
        self.assert_refused(["--examine", "--scan", m], "overlap")
        short = self.mbr[1]
        os.truncate(short, 30 * MiB)
        line = self.assert_refused(["--assemble", "x", f"{short}:p1"], "runs past the end of the image (31457280 bytes)")
        self.assertIn("partition 2 ", line)
        self.assert_refused(["--examine", f"{self.gpt[1]}:p4"], "no partition 4 (the GPT holds 1, 2, 3)")
        self.assert_refused(["--examine", f"{self.gpt[1]}:p0"], "partition numbers run from 1", code=1)

    def test_create_refuses_a_partition_twice_or_with_its_disk(self):
        m = self.mbr[0]
        self.assert_refused(["--create", "x", "--level=1", "--raid-devices=2", f"{m}:p1", f"{m}:p1"],
                            f"{m}:p1 is given more than once")
        self.assert_refused(["--create", "x", "--level=1", "--raid-devices=2", f"{m}:p5", m],
                            f"{m} is given more than once (or with a partition of it)")

    def test_bad_config(self):
        self.make_nas()
        conf = os.path.join(self.tmp, "bad.conf")
        for text, expect in [("ARRAY /dev/md0 uuid=12345\n", "bad.conf:1: uuid=: \"12345\" is not a uuid"),
                             ("DEVICE /x\nARRAY /dev/md0 level=raid1\n", "bad.conf:2: ARRAY line /dev/md0 has no identity"),
                             ("DEV /x\nFOO bar\n", "bad.conf:2: unknown keyword \"FOO\"")]:
            with self.subTest(text=text):
                with open(conf, "w") as f:
                    f.write(text)
                self.assert_refused(["--assemble", "--scan", f"--config={conf}", *self.disks], expect)
        self.assert_refused(["--assemble", "--scan", "--config=/nonexistent/umd.conf", *self.disks],
                            "--config /nonexistent/umd.conf: cannot be read")


if __name__ == "__main__":
    unittest.main()
