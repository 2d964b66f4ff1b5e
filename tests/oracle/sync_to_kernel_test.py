"""Healing between umd and the kernel's md, both ways.

1. The kernel starts a recovery onto a spare (raid5), and is stopped half-way: its
   superblocks record the spare's recovery_offset. umd assembles the members, resumes
   the recovery from that offset (asserted: the sectors umd rebuilt are exactly the
   rest), and reads the kernel's bytes.
2. umd resyncs new arrays (raid1, raid5 created without --assume-clean), rebuilds a
   failed member onto a spare under --manage (raid1, raid5, raid6, raid10), and repairs
   a silently corrupted block with --action repair (raid6 names and rewrites the culprit).
3. The kernel's md assembles every one of those arrays: clean, not degraded, its own
   `check` finds mismatch_cnt 0, and it reads the bytes that were written.
"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402
from umdtest import vm_lines  # noqa: E402

MIB = 1 << 20
SIZE = 40 * MIB

KERNEL_RECOVERY = """
set -u
mdadm --create /dev/md0 --run --level=5 --raid-devices=4 --chunk=64 --assume-clean --metadata=1.2 \\
  /dev/vda /dev/vdb /dev/vdc /dev/vdd >/tmp/log 2>&1 || { echo CREATE-FAIL; cat /tmp/log; exit 1; }
dd if=/dev/urandom of=/dev/md0 bs=1M oflag=direct 2>/dev/null
sync
echo SHA $(sha256sum < /dev/md0 | cut -d' ' -f1)
echo 1000 > /sys/block/md0/md/sync_speed_min
echo 3000 > /sys/block/md0/md/sync_speed_max
mdadm /dev/md0 --add /dev/vde >/dev/null 2>&1
mdadm /dev/md0 --fail /dev/vdb >/dev/null 2>&1
sleep 5
echo COMPLETED $(cat /sys/block/md0/md/sync_completed)
mdadm --stop /dev/md0 >/dev/null 2>&1
echo STOPPED
"""

KERNEL_CHECK = """
set -u
check() {
  md=$1; shift
  mdadm --assemble /dev/$md "$@" >/tmp/log 2>&1 || { echo ASSEMBLE-FAIL $md; cat /tmp/log; return; }
  for i in $(seq 1 300); do [ "$(cat /sys/block/$md/md/sync_action)" = idle ] && break; sleep 0.2; done
  echo STATE $md $(cat /sys/block/$md/md/array_state) $(cat /sys/block/$md/md/degraded)
  echo check > /sys/block/$md/md/sync_action
  sleep 0.5
  for i in $(seq 1 600); do [ "$(cat /sys/block/$md/md/sync_action)" = idle ] && break; sleep 0.2; done
  echo MISMATCH $md $(cat /sys/block/$md/md/mismatch_cnt)
  echo SHA $md $(sha256sum < /dev/$md | cut -d' ' -f1)
  mdadm --stop /dev/$md >/dev/null 2>&1
}
"""

ARRAYS = [  # name, level, members, created without --assume-clean (umd resyncs it)
    ("r1", "1", 2, True),
    ("r5", "5", 4, True),
    ("r6", "6", 5, False),
    ("r10", "10", 4, False),
]


class SyncToKernel(umdtest.DaemonTest):
    def assemble(self, name, paths, serve=None):
        super().assemble(name, paths, "--run", serve=serve)

    def wait_synced(self, name, timeout=120):
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle" and
                           self.attr(name, "degraded") == "0" and self.attr(name, "resync_start") == "none",
                           timeout=timeout, what=f"{name} to finish syncing")

    def test_heal_both_ways(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        # 1. The kernel stops half-way through a recovery.
        k = umdtest.make_images(self.tmp, [(f"k{i}.img", SIZE) for i in range(4)] + [("kspare.img", SIZE)])
        out, rc = umdtest.vm_run(KERNEL_RECOVERY, k)
        self.assertEqual(rc, 0, out)
        self.assertIn("STOPPED", out, out)
        kernel_sha = [line.split()[1] for line in out.splitlines() if line.startswith("SHA ")]
        ex = umdtest.mdadm_examine(k[4])
        offset = int(ex["Recovery Offset"].split()[0])
        self.assertGreater(offset, 0, ex)
        members = [k[0], k[2], k[3], k[4]]
        self.assemble("kr", members)
        self.wait_synced("kr")
        stats = self.attr("kr", "umd/sync_stats").split()
        done = int(stats[stats.index("done_sectors") + 1])
        end = int(self.attr("kr", "component_size")) * 2
        # umd resumes at the chunk row (128 sectors) that holds the kernel's offset.
        resumed = offset // 128 * 128
        self.assertEqual(done, end - resumed, f"umd rebuilt {done} sectors; from the kernel's checkpoint {offset} "
                                              f"(row start {resumed}) {end - resumed} were left")
        self.stop("kr")
        dump = os.path.join(self.tmp, "kr.dump")
        umdtest.umd("--dump", *members, "--output", dump)
        sha_kr = umdtest.sha256_file(dump)
        self.assertEqual([sha_kr], kernel_sha, f"umd's rebuilt array reads other bytes than the kernel wrote\n{out}")

        # 2. umd resyncs, rebuilds and repairs.
        expect = {"kr": sha_kr}
        final = {"kr": members}
        for name, level, n, resync in ARRAYS:
            paths = umdtest.make_images(self.tmp, [(f"{name}-{i}.img", SIZE) for i in range(n)])
            spare = umdtest.make_images(self.tmp, [(f"{name}-spare.img", SIZE)])[0]
            create = ["--create", name, f"--level={level}", f"--raid-devices={n}", *paths]
            if level != "1":
                create.insert(4, "--chunk=64K")
            if not resync:
                create.insert(4, "--assume-clean")
            umdtest.umd(*create)
            sock = os.path.join(self.tmp, f"{name}.sock")
            self.assemble(name, paths, serve=sock)
            self.wait_synced(name)
            size = json.loads(self.umd("--detail", name, "--json").stdout)["array"]["array_sectors"] * 512
            data = os.path.join(self.tmp, f"{name}.data")
            with open(data, "wb") as f:
                f.write(os.urandom(size))
            umdtest.run(["nbdcopy", data, umdtest.nbd_unix_uri(sock)])
            self.umd("--manage", name, "--add", spare)
            self.umd("--manage", name, "--fail", paths[1])
            self.wait_synced(name)
            self.umd("--manage", name, "--remove", paths[1])
            self.stop(name)
            now = [paths[0], spare] + paths[2:]
            # A silent corruption: raid1/raid10 in a second copy, raid5 in a parity block
            # (row 1 of member 2), raid6 in a data block (row 16 of member 2).
            victim, sector = {"1": (1, 64), "10": (1, 0), "5": (2, 128), "6": (2, 2048)}[level]
            data_offset = int(umdtest.mdadm_examine(now[victim])["Data Offset"].split()[0])
            with open(now[victim], "r+b") as f:
                f.seek((data_offset + sector) * 512)
                f.write(os.urandom(4096))
            self.assemble(name, now)
            self.umd("--action", name, "repair")
            umdtest.wait_until(lambda: self.attr(name, "last_sync_action") == "repair" and
                               self.attr(name, "sync_action") == "idle", timeout=120, what=f"{name} repair")
            self.assertEqual(self.attr(name, "mismatch_cnt"), "8", name)
            if level == "6":
                self.assertEqual(self.attr(name, "umd/findings"), f"slot 2 sector {sector} sectors 8 fixed")
            self.stop(name)
            expect[name] = umdtest.sha256_file(data)
            final[name] = now
            dump = os.path.join(self.tmp, f"{name}.dump")
            umdtest.umd("--dump", *now, "--output", dump)
            self.assertEqual(umdtest.sha256_file(dump), expect[name], f"{name}: umd reads other bytes")

        # 3. The kernel takes them all.
        script, disks = KERNEL_CHECK, []
        mdname = {name: f"md{10 + i}" for i, name in enumerate(final)}
        for name, paths in final.items():
            devs = []
            for p in paths:
                devs.append("/dev/vd" + "abcdefghijklmnopqrstuvwxyz"[len(disks)])
                disks.append(p)
            script += f"check {mdname[name]} {' '.join(devs)}\n"
        out, rc = umdtest.vm_run(script, disks)
        self.assertEqual(rc, 0, out)
        state, mism, sha = vm_lines(out, "STATE"), vm_lines(out, "MISMATCH"), vm_lines(out, "SHA")
        for name in final:
            md = mdname[name]
            self.assertEqual(state.get(md), ["clean", "0"], f"{md}\n{out}")
            self.assertEqual(mism.get(md), ["0"], f"{md}\n{out}")
            self.assertEqual(sha.get(md), [expect[name]], f"{md}\n{out}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
