"""A disk of a 0.90 array replaced by umd, taken back by the kernel.

The kernel (oracle VM) creates 0.90 arrays (raid1 of 2, raid5 of 3) and fills them. On
the host umd assembles each, fails and removes member 1, adds a new zeroed image and
rebuilds onto it, then stops: what a NAS's 0.90 system raid1 goes through when a disk is
replaced. `umd --dump` must read the kernel's bytes. The kernel then assembles the
members with the new one: clean, not degraded, `check` finds mismatch_cnt 0, the same
bytes. And the descriptor table the kernel writes when it stops (super_90_sync) must be
the one umd wrote (device numbers aside: umd has files, the kernel block devices).
"""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from sync_to_kernel_test import KERNEL_CHECK as SYNC_KERNEL_CHECK  # noqa: E402  (check(): assemble, check, sha)

MIB = 1 << 20
SIZE = 40 * MIB
ARRAYS = [("r1", "1", 2), ("r5", "5", 3)]

KERNEL_CREATE = """
set -u
make() {
  md=$1; level=$2; shift 2
  mdadm --create /dev/$md --run --metadata=0.90 --level=$level --raid-devices=$# --assume-clean \\
    $([ $level = 1 ] || echo --chunk=64) "$@" >/tmp/log 2>&1 || { echo CREATE-FAIL $md; cat /tmp/log; return; }
  dd if=/dev/urandom of=/dev/$md bs=1M oflag=direct 2>/dev/null
  sync
  echo SHA $md $(sha256sum < /dev/$md | cut -d' ' -f1)
  mdadm --stop /dev/$md >/dev/null 2>&1
}
make md0 1 /dev/vda /dev/vdb
make md1 5 /dev/vdc /dev/vdd /dev/vde
"""

KERNEL_CHECK = SYNC_KERNEL_CHECK + """
check md0 /dev/vda /dev/vdb
check md1 /dev/vdc /dev/vdd /dev/vde
"""


def table(path):
    """mdadm --examine's 0.90 descriptor rows (this and the table) and the counts, without
    major/minor and without the device names."""
    out = umdtest.run(["mdadm", "--examine", path]).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(this|\s+\d+)\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s+(.*?)(\s+/dev/\S+)?\s*$", line)
        if m:
            rows.append(f"{m.group(1).strip()} {m.group(2)} {m.group(3)} {m.group(4).strip()}")
        for key in ("Raid Devices", "Total Devices", "Active Devices", "Working Devices", "Failed Devices",
                    "Spare Devices", "State"):
            if line.strip().startswith(key + " :"):
                rows.append(line.strip())
    return rows


class Sb090ReplaceKernel(umdtest.DaemonTest):
    def wait_synced(self, name, timeout=120):
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle" and self.attr(name, "degraded") == "0",
                           timeout=timeout, what=f"{name} to finish rebuilding")

    def test_replace_then_kernel(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        names = [f"{a}-{i}.img" for a, _, n in ARRAYS for i in range(n)]
        paths = umdtest.make_images(self.tmp, [(x, SIZE) for x in names])
        out, rc = umdtest.vm_run(KERNEL_CREATE, paths)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("CREATE-FAIL", out, out)
        sha = {line.split()[1]: line.split()[2] for line in out.splitlines() if line.startswith("SHA ")}
        at = 0
        final = []
        for (name, level, n), md in zip(ARRAYS, ("md0", "md1")):
            members = paths[at:at + n]
            at += n
            new = umdtest.make_images(self.tmp, [(f"{name}-new.img", SIZE)])[0]
            self.assemble(name, members, "--run")
            self.umd("--manage", name, "--fail", members[1])
            self.umd("--manage", name, "--remove", members[1])
            self.umd("--manage", name, "--add", new)
            self.wait_synced(name)
            self.stop(name)
            now = [members[0], new] + members[2:]
            dump = os.path.join(self.tmp, f"{name}.dump")
            umdtest.umd("--dump", *now, "--output", dump)
            self.assertEqual(umdtest.sha256_file(dump), sha[md], f"{name}: umd's rebuilt array reads other bytes")
            final.append((name, md, now, {p: table(p) for p in now}))
        disks = [p for _, _, now, _ in final for p in now]
        out, rc = umdtest.vm_run(KERNEL_CHECK, disks)
        self.assertEqual(rc, 0, out)
        for name, md, now, umd_tables in final:
            self.assertNotIn(f"ASSEMBLE-FAIL {md}", out, out)
            self.assertIn(f"STATE {md} clean 0", out, out)
            self.assertIn(f"MISMATCH {md} 0", out, out)
            self.assertIn(f"SHA {md} {sha[md]}", out, out)
            for p in now:
                self.assertEqual(table(p), umd_tables[p], f"{name}: {os.path.basename(p)}: the kernel's table "
                                                         f"differs from umd's")


if __name__ == "__main__":
    unittest.main(verbosity=2)
