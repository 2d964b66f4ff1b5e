"""The kernel uses a umd array as a disk, then takes the members as its own.

umd creates and serves a raid5 and a raid10 over NBD; the oracle VM's kernel attaches
both through qemu's NBD client, makes ext4 on each, writes files, and e2fsck finds no
error. After `umd --stop`, a second boot assembles the same member images with the
kernel's own md: it reads the same bytes (sha256 of the whole array), e2fsck is clean,
and the files read back with the same checksums.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402
from umdtest import vm_lines  # noqa: E402

ARRAYS = [("md0", "5", 4), ("md1", "10", 4)]

USE_AS_DISK = """
set -u
for d in vda vdb; do
  mke2fs -q -t ext4 /dev/$d || { echo MKFS-FAIL $d; exit 1; }
  mkdir -p /mnt/$d && mount -t ext4 /dev/$d /mnt/$d || { echo MOUNT-FAIL $d; exit 1; }
  dd if=/dev/urandom of=/mnt/$d/big bs=1M count=12 2>/dev/null
  for i in 1 2 3 4 5; do dd if=/dev/urandom of=/mnt/$d/f$i bs=4k count=$((i * 7)) 2>/dev/null; done
  echo FILES $d $(cat /mnt/$d/big /mnt/$d/f1 /mnt/$d/f2 /mnt/$d/f3 /mnt/$d/f4 /mnt/$d/f5 | sha256sum | cut -d' ' -f1)
  umount /mnt/$d
  e2fsck -fn /dev/$d >/tmp/fsck 2>&1; echo FSCK $d $?
  echo DISK $d $(sha256sum < /dev/$d | cut -d' ' -f1)
done
"""

ASSEMBLE = """
set -u
n=0
for md in md0 md1; do
  devs=""
  for i in 0 1 2 3; do devs="$devs /dev/vd$(echo abcdefgh | cut -c$((n + 1)))"; n=$((n + 1)); done
  mdadm --assemble /dev/$md $devs >/tmp/log 2>&1 || { echo ASSEMBLE-FAIL $md; cat /tmp/log; continue; }
  echo DISK $md $(sha256sum < /dev/$md | cut -d' ' -f1)
  e2fsck -fn /dev/$md >/tmp/fsck 2>&1; echo FSCK $md $?
  mkdir -p /mnt/$md && mount -t ext4 -o ro /dev/$md /mnt/$md
  echo FILES $md $(cat /mnt/$md/big /mnt/$md/f1 /mnt/$md/f2 /mnt/$md/f3 /mnt/$md/f4 /mnt/$md/f5 | sha256sum | cut -d' ' -f1)
  umount /mnt/$md
  echo STATE $md $(cat /sys/block/$md/md/array_state) $(cat /sys/block/$md/md/degraded)
  mdadm --stop /dev/$md >/dev/null 2>&1
done
"""


class ServeToKernel(umdtest.TempDirTest):
    def test_ext4_on_umd_then_kernel_md(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        env = dict(os.environ, UMD_RUNTIME_DIR=os.path.join(self.tmp, "run"))
        members, daemons, socks = {}, [], []
        try:
            for name, level, n in ARRAYS:
                paths = umdtest.make_images(self.tmp, [(f"{name}-{i}.img", 40 << 20) for i in range(n)])
                members[name] = paths
                umdtest.umd("--create", name, f"--level={level}", f"--raid-devices={n}", "--chunk=64K",
                            "--assume-clean", *paths)
                sock = os.path.join(self.tmp, f"{name}.sock")
                socks.append(sock)
                daemons.append(subprocess.Popen(
                    [umdtest.UMD, "--assemble", name, *paths, "--serve", f"nbd:unix:{sock}", "--foreground"],
                    env=env, stderr=subprocess.DEVNULL))
            for sock in socks:
                for _ in range(100):
                    if os.path.exists(sock):
                        break
                    time.sleep(0.1)
                self.assertTrue(os.path.exists(sock), f"{sock} never appeared")
            out, rc = umdtest.vm_run(USE_AS_DISK, [f"nbd:unix:{s}" for s in socks])
            self.assertEqual(rc, 0, out)
        finally:
            for (name, _, _), d in zip(ARRAYS, daemons):
                r = subprocess.run([umdtest.UMD, "--stop", name], env=env, capture_output=True, text=True)
                try:
                    d.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    d.kill()
                    d.wait()
                    self.fail(f"{name}: daemon did not stop: {r.stderr}")
        files1, fsck1, disk1 = vm_lines(out, "FILES"), vm_lines(out, "FSCK"), vm_lines(out, "DISK")
        for dev in ("vda", "vdb"):
            self.assertEqual(fsck1.get(dev), ["0"], f"e2fsck on the umd disk {dev}: {out}")
        # The kernel's md takes the members and reads the same bytes and files.
        disks = members["md0"] + members["md1"]
        out2, rc2 = umdtest.vm_run(ASSEMBLE, disks)
        self.assertEqual(rc2, 0, out2)
        files2, fsck2, disk2 = vm_lines(out2, "FILES"), vm_lines(out2, "FSCK"), vm_lines(out2, "DISK")
        state = vm_lines(out2, "STATE")
        for dev, md in (("vda", "md0"), ("vdb", "md1")):
            self.assertEqual(disk2.get(md), disk1[dev], f"{md}: the kernel reads other bytes than umd served\n{out2}")
            self.assertEqual(fsck2.get(md), ["0"], out2)
            self.assertEqual(files2.get(md), files1[dev], out2)
            self.assertEqual(state.get(md), ["clean", "0"], out2)
        # And umd --dump agrees with both.
        for dev, name in (("vda", "md0"), ("vdb", "md1")):
            dump = os.path.join(self.tmp, f"{name}.dump")
            umdtest.umd("--dump", *members[name], "--output", dump)
            self.assertEqual([umdtest.sha256_file(dump)], disk1[dev])


if __name__ == "__main__":
    unittest.main(verbosity=2)
