"""umd creates arrays; the kernel must take them as its own.

For every case of cases.py (every metadata version, 0.90 too): `umd --create` on image
files on the host;
`mdadm --examine` on the host must find a correct checksum and report the same level,
layout, chunk, raid devices, data offset and used size as `umd --examine`. Then the
oracle VM's kernel assembles each array, finishes its resync, runs `check` (mismatch_cnt
must be 0), fills the array with random data and prints its sha256; back on the host
`umd --dump` must read the same bytes from what the kernel left.
"""
import json
import os
import string
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import umdtest  # noqa: E402
from cases import all_cases, batches, create_args  # noqa: E402

LETTERS = string.ascii_lowercase
REDUNDANT = {"1", "4", "5", "6", "10"}


def guest_script(batch):
    lines = ["set -u", "idle() { while [ \"$(cat /sys/block/md0/md/sync_action)\" != idle ]; do sleep 0.2; done; }"]
    disk = 0
    for c in batch:
        devs = " ".join(f"/dev/vd{LETTERS[disk + i]}" for i in range(c.n))
        disk += c.n
        check = ""
        if c.level in REDUNDANT:
            check = "idle; echo check > /sys/block/md0/md/sync_action; idle; "
        lines += [
            f"if mdadm --assemble /dev/md0 {devs} >/tmp/log 2>&1; then",
            f"  {check}echo STATE {c.name} $(cat /sys/block/md0/md/array_state) "
            "$(cat /sys/block/md0/md/mismatch_cnt 2>/dev/null || echo -) $(cat /sys/block/md0/md/degraded 2>/dev/null || echo 0)",
            "  dd if=/dev/urandom of=/dev/md0 bs=64k 2>/dev/null; sync",
            f"  echo CASE {c.name} $(cat /sys/block/md0/size) $(sha256sum < /dev/md0 | cut -d' ' -f1)",
            "  mdadm --stop /dev/md0 >/dev/null 2>&1",
            f"else echo CASEFAIL {c.name}; cat /tmp/log; fi",
        ]
    return "\n".join(lines) + "\n"


def mdadm_level_name(level):
    return "linear" if level == "linear" else f"raid{level}"


class UmdToKernel(umdtest.TempDirTest):
    def test_matrix(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        cases = all_cases()
        only = os.environ.get("UMD_CASES")
        if only:
            cases = [c for c in cases if c.name in only.split(",")]
        failures = []
        for bi, batch in enumerate(batches(cases, umdtest.MAX_VM_DISKS)):
            members, disks = {}, []
            for ci, c in enumerate(batch):
                paths = umdtest.make_images(
                    self.tmp, [(f"{c.name}-{i}.img", s << 20) for i, s in enumerate(c.sizes_mib)])
                extra = ["--assume-clean"] if (bi + ci) % 4 == 0 else []
                r = umdtest.umd("--create", "md0", *create_args(c), *extra, *paths, check=False)
                if r.returncode != 0:
                    failures.append(f"{c.name}: umd --create failed: {r.stderr.strip()}")
                    continue
                failures += self.compare_examine(c, paths)
                members[c.name] = paths
                disks += paths
            created = [c for c in batch if c.name in members]
            if not created:
                continue
            out, rc = umdtest.vm_run(guest_script(created), disks)
            self.assertEqual(rc, 0, out)
            states, results = {}, {}
            for line in out.splitlines():
                p = line.split()
                if len(p) == 5 and p[0] == "STATE":
                    states[p[1]] = p[2:]
                elif len(p) == 4 and p[0] == "CASE":
                    results[p[1]] = (int(p[2]) * 512, p[3])
                elif line.startswith("CASEFAIL"):
                    failures.append(f"kernel refused {line.split()[1]}: {out[-2000:]}")
            for c in created:
                if c.name not in results:
                    failures.append(f"{c.name}: no result from the kernel")
                    continue
                state, mismatch, degraded = states[c.name]
                if c.level in REDUNDANT and mismatch != "0":
                    failures.append(f"{c.name}: kernel check found mismatch_cnt={mismatch}")
                if degraded != "0":
                    failures.append(f"{c.name}: kernel assembled it degraded ({degraded})")
                size, sha = results[c.name]
                out_path = os.path.join(self.tmp, "dump")
                r = umdtest.umd("--dump", *members[c.name], "--output", out_path, check=False)
                if r.returncode != 0:
                    failures.append(f"{c.name}: umd --dump after the kernel failed: {r.stderr.strip()}")
                elif os.path.getsize(out_path) != size or umdtest.sha256_file(out_path) != sha:
                    failures.append(f"{c.name}: umd reads different bytes than the kernel wrote")
            for p in disks:
                os.unlink(p)
        self.assertEqual(failures, [], "\n".join(failures))

    def compare_examine(self, c, paths):
        errs = []
        ours = json.loads(umdtest.umd("--examine", *paths, "--json").stdout)
        for p, j in zip(paths, ours):
            md = umdtest.mdadm_examine(p)
            name = f"{c.name}/{os.path.basename(p)}"
            if md["_rc"] != 0:
                errs.append(f"{name}: mdadm --examine failed: {md['_text'].strip()}")
                continue
            if not md.get("Checksum", "").endswith("correct"):
                errs.append(f"{name}: mdadm says checksum {md.get('Checksum')}")
            want = {
                "raid_level": md.get("Raid Level"),
                "raid_devices": int(md.get("Raid Devices", "-1")),
                # mdadm prints no Data Offset for 1.0, where the data starts at 0
                "data_offset": int(md.get("Data Offset", "0 ").split()[0]),
                "version": md.get("Version"),
            }
            if "Layout" in md:
                want["layout"] = md["Layout"]
            if "Chunk Size" in md:
                want["chunk_kib"] = int(md["Chunk Size"].rstrip("K"))
            if "Used Dev Size" in md:
                # 0.90: mdadm prints KiB (the superblock's size word); 1.x: sectors
                want["used_dev_sectors"] = int(md["Used Dev Size"].split()[0]) * (2 if c.metadata == "0.90" else 1)
            if c.metadata == "0.90" and want["version"] == "0.90.00":
                want["version"] = "0.90"  # umd --examine --json gives what mdadm --detail calls it
            if "Avail Dev Size" in md:
                want["avail_dev_sectors"] = int(md["Avail Dev Size"].split()[0])
            if want["raid_level"] != mdadm_level_name(c.level):
                errs.append(f"{name}: mdadm reads level {want['raid_level']}, asked for {c.level}")
            for k, v in want.items():
                if j.get(k) != v:
                    errs.append(f"{name}: umd --examine {k}={j.get(k)!r}, mdadm says {v!r}")
        return errs


if __name__ == "__main__":
    unittest.main(verbosity=2)
