"""A NAS's disks, made by the real kernel, recovered by umd.

Four disk images are partitioned on the host with sfdisk (two MBR with a logical
partition, two GPT). In the oracle VM the kernel's mdadm lays arrays across the
partitions as Synology does: md0, a 0.90 raid1 "system" array on partition 1 of every
disk; md1, a 1.2 raid5 "nas:data" across the data partitions (logical p5 on MBR, p3 on
GPT); md2, a 0.90 raid1 on p3 of the MBR disks, which runs to the disks' end (so its
superblock is also where a whole-disk 0.90 superblock would be). It fills them with random data
and prints their sha256 and UUIDs. On the host:
- `umd --examine --scan` finds every array with the kernel's UUIDs;
- `umd --dump --uuid` gives the kernel's bytes, whole and with one disk gone;
- examine, dump and an overlaid assemble with writes leave every image's hash as it was,
  and the overlay's writes are there at the next assembly;
- `umd --assemble --scan` then `umd --stop --scan`;
- `umd --dump --build` reads the raid5 with its superblocks wiped (on copies);
and a second boot hands umd's ARRAY lines to the kernel's mdadm as its config
(`mdadm --assemble --scan --config=FILE`): it assembles the three arrays, whose contents
are still the kernel's bytes.
"""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import umdtest  # noqa: E402
import nas  # noqa: E402

MiB = 1 << 20

MAKE = """set -u
mdadm --create /dev/md0 --run --metadata=0.90 --level=1 --raid-devices=4 /dev/vda1 /dev/vdb1 /dev/vdc1 /dev/vdd1 >/tmp/log 2>&1 || cat /tmp/log
mdadm --create /dev/md1 --run --metadata=1.2 --level=5 --chunk=64 --raid-devices=4 --name=nas:data \
    /dev/vda5 /dev/vdb5 /dev/vdc3 /dev/vdd3 >/tmp/log 2>&1 || cat /tmp/log
mdadm --create /dev/md2 --run --metadata=0.90 --level=1 --raid-devices=2 /dev/vda3 /dev/vdb3 >/tmp/log 2>&1 || cat /tmp/log
mdadm --wait /dev/md0 /dev/md1 /dev/md2 >/dev/null 2>&1
for md in md0 md1 md2; do
  dd if=/dev/urandom of=/dev/$md bs=64k 2>/dev/null
  sync
  echo ARR $md $(cat /sys/block/$md/size) $(sha256sum < /dev/$md | cut -d' ' -f1) \
       $(mdadm --detail /dev/$md | sed -n 's/^ *UUID : \\([0-9a-f:]*\\).*/\\1/p')
done
mdadm --stop /dev/md0 /dev/md1 /dev/md2 >/dev/null 2>&1
echo DONE
"""

# The config disk (last) holds umd's ARRAY lines, NUL-padded.
ASSEMBLE = """set -u
n=$(ls /sys/block | grep '^vd' | sort | tail -1)
tr -d '\\000' < /dev/$n > /tmp/umd.conf
echo CONF; cat /tmp/umd.conf; echo ENDCONF
mdadm --assemble --scan --config=/tmp/umd.conf >/tmp/log 2>&1; echo ASSEMBLE-RC $?; cat /tmp/log
cat /proc/mdstat
for d in /dev/md*; do
  [ -b "$d" ] || continue
  u=$(mdadm --detail "$d" 2>/dev/null | sed -n 's/^ *UUID : \\([0-9a-f:]*\\).*/\\1/p')
  [ -n "$u" ] && echo GOT $u $(sha256sum < "$d" | cut -d' ' -f1)
done
mdadm --stop --scan >/dev/null 2>&1
echo DONE
"""


@unittest.skipUnless(umdtest.have_oracle() and nas.have_sfdisk() and shutil.which("qemu-io"),
                     "oracle VM, sfdisk or qemu-io missing")
class NasFromTheKernel(umdtest.DaemonTest):
    def dump(self, *args):
        out = os.path.join(self.tmp, "dump.bin")
        self.umd("--dump", *args, "--output", out)
        return umdtest.sha256_file(out), os.path.getsize(out)

    def test_nas_disk_set(self):
        disks = [os.path.join(self.tmp, f"disk{i}.img") for i in range(4)]
        for i, d in enumerate(disks):
            nas.partition(d, nas.MBR_LAYOUT if i < 2 else nas.GPT_LAYOUT)
        out, rc = umdtest.vm_run(MAKE, disks)
        self.assertEqual(rc, 0, out)
        self.assertIn("DONE", out, out)
        kernel = {}  # md -> (bytes, sha, uuid)
        for line in out.splitlines():
            p = line.split()
            if len(p) == 5 and p[0] == "ARR":
                kernel[p[1]] = (int(p[2]) * 512, p[3], p[4])
        self.assertEqual(sorted(kernel), ["md0", "md1", "md2"], out)

        def want(md):  # what --dump must give: (sha256, bytes)
            return kernel[md][1], kernel[md][0]
        before = umdtest.hash_members(disks)

        # The scan finds every array, with the kernel's UUIDs; lines as mdadm.conf's.
        lines = self.umd("--examine", "--scan", *disks).stdout.splitlines()
        self.assertEqual(len(lines), 3, lines)
        by_uuid = {l.split("UUID=")[1].split()[0]: l for l in lines}
        self.assertEqual(sorted(by_uuid), sorted(k[2] for k in kernel.values()))
        self.assertEqual(by_uuid[kernel["md0"][2]], f"ARRAY /dev/md0 UUID={kernel['md0'][2]}")
        self.assertEqual(by_uuid[kernel["md1"][2]],
                         f"ARRAY /dev/md/data  metadata=1.2 UUID={kernel['md1'][2]} name=nas:data")
        self.assertEqual(by_uuid[kernel["md2"][2]], f"ARRAY /dev/md2 UUID={kernel['md2'][2]}")
        verbose = self.umd("--examine", "--scan", "--verbose", *disks).stdout
        self.assertIn(f"   devices={disks[0]}:p5,{disks[1]}:p5,{disks[2]}:p3,{disks[3]}:p3\n", verbose)
        self.assertIn(f"   devices={disks[0]}:p1,{disks[1]}:p1,{disks[2]}:p1,{disks[3]}:p1\n", verbose)
        self.assertIn(f"   devices={disks[0]}:p3,{disks[1]}:p3\n", verbose)  # not the whole disks

        # --dump --uuid gives the kernel's bytes, whole and degraded.
        for md, (_, _, uuid) in kernel.items():
            with self.subTest(md=md):
                self.assertEqual(self.dump("--uuid", uuid, *disks), want(md))
                self.assertEqual(self.dump("--uuid", uuid, *disks[1:]), want(md))  # disk 0 gone
        self.assertEqual(self.dump("--name", "data", *disks), want("md1"))
        self.assertEqual(umdtest.hash_members(disks), before, "examine or dump changed a disk")

        # An overlay takes every write; the images keep their hashes; the next assembly
        # sees what was written.
        ov = os.path.join(self.tmp, "overlay")
        self.umd("--assemble", "--scan", "--overlay", ov, *disks)
        self.running += ["md0", "data", "md2"]
        sock = os.path.join(self.tmp, "run", "data", "nbd.sock")
        umdtest.run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "flush",
                     umdtest.nbd_unix_uri(sock, "data")])
        self.umd("--stop", "--scan")
        self.running = []
        self.assertEqual(umdtest.hash_members(disks), before, "an overlaid assembly changed a disk")
        self.umd("--assemble", "data", "--uuid", kernel["md1"][2], "--overlay", ov, "--readonly", *disks)
        self.running.append("data")
        got = umdtest.run(["qemu-io", "-f", "raw", "-r", "-c", "read -P 0x5a 0 1M", umdtest.nbd_unix_uri(sock, "data")])
        self.assertNotIn("Pattern verification failed", got.stdout)
        self.stop("data")
        self.assertEqual(self.dump("--uuid", kernel["md1"][2], *disks)[0], kernel["md1"][1])  # images: old bytes
        self.assertEqual(umdtest.hash_members(disks), before)

        # --assemble --scan, --detail --scan, --stop --scan on the images themselves.
        self.umd("--assemble", "--scan", "--readonly", *disks)
        self.running += ["md0", "data", "md2"]
        detail = self.umd("--detail", "--scan").stdout
        self.assertIn(f"ARRAY /dev/md0 metadata=0.90 UUID={kernel['md0'][2]}\n", detail)
        self.assertIn(f"ARRAY /dev/md/data metadata=1.2 name=nas:data UUID={kernel['md1'][2]}\n", detail)
        self.assertIn(f"ARRAY /dev/md2 metadata=0.90 UUID={kernel['md2'][2]}\n", detail)
        self.umd("--stop", "--scan")
        self.running = []

        # --build reads the raid5 with its superblocks wiped (on copies of the disks).
        info = [m for m in self.umd_json("--examine", disks[0]) if m["path"] == f"{disks[0]}:p5"][0]
        copies = []
        for d in disks:
            c = os.path.join(self.tmp, "wiped-" + os.path.basename(d))
            umdtest.run(["cp", "--sparse=always", d, c])
            copies.append(c)
        data_members = [f"{copies[0]}:p5", f"{copies[1]}:p5", f"{copies[2]}:p3", f"{copies[3]}:p3"]
        for m in data_members:
            self.umd("--zero-superblock", m)
        self.assertNotIn(kernel["md1"][2], self.umd("--examine", "--scan", *copies).stdout)
        build = ["--build", "--level=5", "--raid-devices=4", "--chunk=64", "--layout=left-symmetric",
                 f"--data-offset={info['data_offset'] // 2}K", f"--size={info['used_dev_sectors'] // 2}K"]
        self.assertEqual(self.dump(*build, *data_members), want("md1"))
        self.assertEqual(self.dump(*build, data_members[0], "missing", *data_members[2:]), want("md1"))
        for c in copies:
            os.unlink(c)

        # The kernel's mdadm assembles the arrays from umd's ARRAY lines as its config.
        conf = os.path.join(self.tmp, "conf.img")
        text = "\n".join(lines) + "\n"
        with open(conf, "wb") as f:
            f.write(text.encode())
            f.truncate(1 * MiB)
        out, rc = umdtest.vm_run(ASSEMBLE, disks + [conf])
        self.assertEqual(rc, 0, out)
        self.assertIn("ASSEMBLE-RC 0", out, out)
        got = {}
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[0] == "GOT":
                got[p[1]] = p[2]
        self.assertEqual(got, {uuid: sha for (_, sha, uuid) in kernel.values()}, out)

    def umd_json(self, *args):
        import json
        return json.loads(self.umd(*args, "--json").stdout)


if __name__ == "__main__":
    unittest.main()
