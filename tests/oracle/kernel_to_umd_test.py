"""The kernel creates arrays and fills them; umd must read them bit for bit.

For every case of cases.py: the real kernel md (oracle VM) creates the array on zeroed
members with --assume-clean (zeroed members are consistent at every level), fills the
whole array with random data and prints its sha256. On the host, `umd --dump` of the
members must produce the same bytes, whole and with members dropped (one, or two for
raid6), and `umd --examine` must agree with `mdadm --examine` on every member.
"""
import difflib
import os
import re
import string
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import umdtest  # noqa: E402
from cases import all_cases, batches, create_args  # noqa: E402

LETTERS = string.ascii_lowercase


def without_device_names(text):
    """--examine text with the device names dropped from the rows of a 0.90 disk table."""
    return re.sub(r"^((?:this|\s*\d+)\s+\d+\s+\d+\s+\d+\s+-?\d+\s+[a-z -]*?)\s+/\S+$", r"\1", text,
                  flags=re.M)


def guest_script(batch):
    lines = ["set -u"]
    disk = 0
    for c in batch:
        devs = " ".join(f"/dev/vd{LETTERS[disk + i]}" for i in range(c.n))
        disk += c.n
        lines += [
            f"mdadm --create /dev/md0 --run --assume-clean {' '.join(create_args(c))} {devs} >/tmp/log 2>&1"
            f" || {{ echo CASEFAIL {c.name}; cat /tmp/log; continue_=1; }}",
            "if [ -e /sys/block/md0/md ]; then",
            "  dd if=/dev/urandom of=/dev/md0 bs=64k 2>/dev/null",
            "  sync",
            f"  echo CASE {c.name} $(cat /sys/block/md0/size) $(sha256sum < /dev/md0 | cut -d' ' -f1)",
            "  mdadm --stop /dev/md0 >/dev/null 2>&1",
            "fi",
        ]
    return "\n".join(lines) + "\n"


class KernelToUmd(umdtest.TempDirTest):
    def test_matrix(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        cases = all_cases()
        only = os.environ.get("UMD_CASES")
        if only:
            cases = [c for c in cases if c.name in only.split(",")]
        failures = []
        for batch in batches(cases, umdtest.MAX_VM_DISKS):
            members = {}
            disks = []
            for c in batch:
                members[c.name] = umdtest.make_images(
                    self.tmp, [(f"{c.name}-{i}.img", s << 20) for i, s in enumerate(c.sizes_mib)])
                disks += members[c.name]
            out, rc = umdtest.vm_run(guest_script(batch), disks)
            self.assertEqual(rc, 0, out)
            results = {}
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0] == "CASE":
                    results[parts[1]] = (int(parts[2]) * 512, parts[3])
                elif line.startswith("CASEFAIL"):
                    failures.append(f"kernel refused {line.split()[1]}: {out}")
            for c in batch:
                if c.name not in results:
                    failures.append(f"{c.name}: no result from the kernel")
                    continue
                size, sha = results[c.name]
                failures += self.check_case(c, members[c.name], size, sha)
            for p in disks:
                os.unlink(p)
        self.assertEqual(failures, [], "\n".join(failures))

    def check_case(self, c, paths, size, sha):
        errs = []
        # umd --examine agrees with mdadm --examine on each member, and its text is mdadm's,
        # line for line (0.90's disk table without the device names, which each looks up
        # under this host's /dev by the numbers the VM's disks had).
        for p in paths:
            md = umdtest.mdadm_examine(p)
            env = dict(os.environ, TZ="UTC")
            ours = subprocess.run([umdtest.UMD, "--examine", p], capture_output=True, text=True, env=env).stdout
            theirs = subprocess.run(["mdadm", "--examine", p], capture_output=True, text=True, env=env).stdout
            if without_device_names(ours) != without_device_names(theirs):
                errs.append(f"{c.name}: umd --examine {os.path.basename(p)} prints other text than mdadm:\n"
                            + "".join(difflib.unified_diff(theirs.splitlines(True), ours.splitlines(True),
                                                           "mdadm", "umd")))
            ex = umdtest.umd(f"--examine", p, "--json", check=False)
            if ex.returncode != 0:
                errs.append(f"{c.name}: umd --examine {os.path.basename(p)} failed: {ex.stderr.strip()}")
                continue
            import json
            j = json.loads(ex.stdout)[0]
            want_level = md.get("Raid Level")
            if j.get("raid_level") != want_level:
                errs.append(f"{c.name}: level {j.get('raid_level')} != mdadm {want_level}")
            if c.metadata != "0.90" and "Data Offset" in md:
                want_off = int(md["Data Offset"].split()[0])
                if j.get("data_offset") != want_off:
                    errs.append(f"{c.name}: data offset {j.get('data_offset')} != mdadm {want_off}")
        # umd --dump: whole, then degraded.
        out = os.path.join(self.tmp, f"{c.name}.dump")
        variants = [("whole", paths)]
        if c.drop:
            variants.append((f"without {c.drop}", [p for i, p in enumerate(paths) if i not in c.drop]))
        for label, use in variants:
            r = umdtest.umd("--dump", *use, "--output", out, check=False)
            if r.returncode != 0:
                errs.append(f"{c.name} {label}: umd --dump failed: {r.stderr.strip()}")
                continue
            got_size = os.path.getsize(out)
            got = umdtest.sha256_file(out)
            if got_size != size or got != sha:
                errs.append(f"{c.name} {label}: dump {got_size} bytes sha {got[:12]} != kernel {size} bytes sha {sha[:12]}")
            os.unlink(out)
        return errs


if __name__ == "__main__":
    unittest.main(verbosity=2)
