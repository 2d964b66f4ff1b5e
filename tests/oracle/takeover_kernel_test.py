"""Level changes both ways with the kernel: what umd converts the kernel reads, and what
mdadm converts umd reads, bit for bit, in one boot of the oracle VM.

umd's side (m15 with 0.90 superblocks, the rest 1.2): umd creates each array on image files, a client fills it with random bytes
over NBD (nbdcopy), and `umd --grow --level` converts it while it is served (raid1 ->
raid5; raid5 -> raid6 --layout=preserve, Q recovered onto a spare; raid0 -> raid5, its
parity recovered onto a spare and then restriped to left-symmetric as mdadm does; raid0
-> raid10, the new slots recovered onto spares); `mdadm --examine`
reads the new level. In the VM the kernel assembles each, must report umd's level,
disks, layout and chunk, read the client's bytes, and find mismatch_cnt 0 in a check.

The kernel's side, in the same boot (k56 with 0.90 superblocks): mdadm creates arrays, fills them from /dev/urandom
and converts them with `mdadm --grow --level` (raid1 -> raid5, raid5 -> raid6
--layout=preserve with its recovery, raid10 -> raid0, which fails and removes half the
members). On the host umd assembles every member the kernel had (the ones mdadm removed
included: the freshest superblocks say they left), must show the kernel's level and read
the kernel's bytes; `check` then finds 0 where the level has redundancy.
"""
import json
import os
import string
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

LETTERS = string.ascii_lowercase
MIB = 24  # each member


class UmdCase:
    def __init__(self, name, level, n, spares, grow, want, metadata="1.2"):
        self.name, self.level, self.n, self.spares, self.grow = name, level, n, spares, grow
        self.want = want  # what the kernel's sysfs must say: level raid_disks layout chunk_size
        self.metadata = metadata


UMD_CASES = [
    UmdCase("m15", 1, 2, 0, ["--level=5"], ["raid5", "2", "2", str(64 << 10)], metadata="0.90"),
    UmdCase("r56", 5, 3, 1, ["--level=6", "--layout=preserve"], ["raid6", "4", "18", str(64 << 10)]),
    # mdadm's way: parity-last, recovered, then restriped to left-symmetric
    UmdCase("z05", 0, 3, 1, ["--level=5"], ["raid5", "4", "2", str(64 << 10)]),
    UmdCase("z010", 0, 2, 2, ["--level=10"], ["raid10", "4", "258", str(64 << 10)]),
]


class KernelCase:
    def __init__(self, name, n, create, grow, want_level, want_disks, spares=0, metadata="1.2"):
        self.name, self.n, self.create, self.grow = name, n, create, grow
        self.want_level, self.want_disks, self.spares = want_level, want_disks, spares
        self.metadata = metadata


KERNEL_CASES = [
    KernelCase("k15", 2, "--level=1 -n2", "--level=5", 5, 2),
    KernelCase("k56", 4, "--level=5 --chunk=64 -n3", "--level=6 --layout=preserve", 6, 4, spares=1, metadata="0.90"),
    KernelCase("k100", 4, "--level=10 --layout=n2 --chunk=64 -n4", "--level=0", 0, 2),
]


class TakeoverKernel(umdtest.DaemonTest):
    def test_level_changes_both_ways(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        disks, script, shas, sizes, errs = [], ["set -u", "echo 500000 > /proc/sys/dev/raid/speed_limit_max"], {}, {}, []
        # until nothing syncs and nothing is missing (raid0 has no degraded attribute)
        wait = ("i=0; while [ \"$(cat {s}/degraded 2>/dev/null || echo 0) $(cat {s}/sync_action 2>/dev/null || echo idle)\""
                " != '0 idle' ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done;"
                " [ $i -ge 600 ] && {{ echo STUCK {n}; cat /proc/mdstat; }}")
        k = 0
        for c in UMD_CASES:
            paths = umdtest.make_images(self.tmp, [(f"{c.name}-{i}.img", MIB << 20) for i in range(c.n + c.spares)])
            shas[c.name], sizes[c.name] = self.convert(c, paths)
            for p in paths:
                ex = umdtest.run(["mdadm", "--examine", p]).stdout
                if f"Raid Level : {c.want[0]}" not in ex:
                    errs.append(f"{c.name} {os.path.basename(p)}: mdadm --examine does not read {c.want[0]}:\n{ex}")
            devs = [f"/dev/vd{LETTERS[len(disks) + i]}" for i in range(len(paths))]
            disks += paths
            md, sysfs = f"/dev/md{k}", f"/sys/block/md{k}/md"
            k += 1
            script += [
                f"mdadm --assemble {md} {' '.join(devs)} >/tmp/log 2>&1 || {{ echo ASMFAIL {c.name}; cat /tmp/log; }}",
                wait.format(s=sysfs, n=c.name),
                f"echo GEO {c.name} $(cat {sysfs}/level) $(cat {sysfs}/raid_disks) $(cat {sysfs}/layout)"
                f" $(cat {sysfs}/chunk_size) $(cat {sysfs}/degraded)",
                f"echo check > {sysfs}/sync_action", wait.format(s=sysfs, n=c.name),
                f"echo DONE {c.name} $(cat {sysfs}/mismatch_cnt) $(head -c {sizes[c.name]} {md} | sha256sum | cut -d' ' -f1)",
                f"mdadm --stop {md} >/dev/null 2>&1",
            ]
        kernel_disks = {}
        for c in KERNEL_CASES:
            paths = umdtest.make_images(self.tmp, [(f"{c.name}-{i}.img", MIB << 20) for i in range(c.n)])
            devs = [f"/dev/vd{LETTERS[len(disks) + i]}" for i in range(c.n)]
            kernel_disks[c.name] = paths
            disks += paths
            md, sysfs = f"/dev/md{k}", f"/sys/block/md{k}/md"
            k += 1
            ncreate = int(c.create.split("-n")[1])
            spare = " ".join(devs[ncreate:])
            script += [
                f"mdadm --create {md} --run --assume-clean --metadata={c.metadata} {c.create}"
                + (f" --name={c.name}" if c.metadata != "0.90" else "") +
                f" {' '.join(devs[:ncreate])} >/tmp/log 2>&1 || {{ echo CASEFAIL {c.name}; cat /tmp/log; }}",
                f"dd if=/dev/urandom of={md} bs=64k 2>/dev/null; sync",
                f"echo KSHA {c.name} $(cat /sys/block/md{k - 1}/size) $(sha256sum < {md} | cut -d' ' -f1)",
                f"[ -n '{spare}' ] && mdadm {md} --add {spare} >/dev/null 2>&1",
                f"mdadm --grow {md} {c.grow} >/tmp/log 2>&1 || {{ echo GROWFAIL {c.name}; cat /tmp/log; }}",
                wait.format(s=sysfs, n=c.name),
                f"echo KGEO {c.name} $(cat {sysfs}/level) $(cat {sysfs}/raid_disks)",
                f"mdadm --stop {md} >/dev/null 2>&1",
            ]
        self.assertLessEqual(len(disks), umdtest.MAX_VM_DISKS)
        out, rc = umdtest.vm_run("\n".join(script) + "\n", disks)
        self.assertEqual(rc, 0, out)
        if any(line.startswith(("ASMFAIL", "STUCK", "CASEFAIL", "GROWFAIL")) for line in out.splitlines()):
            errs.append(f"the kernel failed a step: {out}")
        geo, done = umdtest.vm_lines(out, "GEO"), umdtest.vm_lines(out, "DONE")
        for c in UMD_CASES:
            if geo.get(c.name, [])[:4] != c.want:
                errs.append(f"{c.name}: the kernel reads level/disks/layout/chunk {geo.get(c.name)}, want {c.want}")
            if done.get(c.name) != ["0", shas[c.name]]:
                errs.append(f"{c.name}: the kernel's check and sha {done.get(c.name)}, want 0 and the client's "
                            f"{shas[c.name][:12]}")
        ksha, kgeo = umdtest.vm_lines(out, "KSHA"), umdtest.vm_lines(out, "KGEO")
        for c in KERNEL_CASES:
            if kgeo.get(c.name) != [f"raid{c.want_level}", str(c.want_disks)]:
                errs.append(f"{c.name}: mdadm --grow left {kgeo.get(c.name)}: {out}")
                continue
            errs += self.umd_reads(c, kernel_disks[c.name], *ksha[c.name])
        self.assertEqual(errs, [], "\n".join(errs))

    def convert(self, c, paths):
        """umd creates, fills (nbdcopy), converts while serving, lets the recovery end, stops."""
        active, spares = paths[:c.n], paths[c.n:]
        chunk = [] if c.level == 1 else ["--chunk=64K"]
        self.umd("--create", c.name, f"--level={c.level}", f"--raid-devices={c.n}", *chunk, "--assume-clean",
                 f"--metadata={c.metadata}", *active)
        sock = os.path.join(self.tmp, f"{c.name}.sock")
        self.assemble(c.name, active, serve=sock)
        size = json.loads(self.umd("--detail", c.name, "--json").stdout)["array"]["array_sectors"] * 512
        src = os.path.join(self.tmp, f"{c.name}.src")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        umdtest.run(["nbdcopy", "--flush", "--", src, umdtest.nbd_unix_uri(sock, c.name)])
        sha = umdtest.sha256_file(src)
        os.unlink(src)
        for p in spares:
            self.umd("--manage", c.name, "--add", p)
        self.umd("--grow", c.name, *c.grow)
        umdtest.wait_until(lambda: (self.attr(c.name, "sync_action"), self.attr(c.name, "degraded"),
                                    self.attr(c.name, "layout")) == ("idle", "0", c.want[2]),
                           timeout=120, what=f"{c.name}'s recovery (and restripe)")
        self.stop(c.name)
        return sha, size

    def umd_reads(self, c, paths, ksize, ksha):
        """umd assembles what the kernel converted and reads its bytes."""
        errs = []
        sock = os.path.join(self.tmp, f"{c.name}.sock")
        self.assemble(c.name, paths, "--readonly", serve=sock)
        d = json.loads(self.umd("--detail", c.name, "--json").stdout)["array"]
        if (d["level"], d["raid_disks"]) != (c.want_level, c.want_disks):
            errs.append(f"{c.name}: umd reads level {d['level']} with {d['raid_disks']} disks, want "
                        f"{c.want_level} with {c.want_disks}")
        out = os.path.join(self.tmp, f"{c.name}.out")
        umdtest.run(["nbdcopy", "--", umdtest.nbd_unix_uri(sock, c.name), out])
        with open(out, "rb") as f:
            got = f.read(int(ksize) * 512)
        import hashlib
        if hashlib.sha256(got).hexdigest() != ksha:
            errs.append(f"{c.name}: umd does not read the kernel's bytes")
        os.unlink(out)
        self.stop(c.name)
        if c.want_level in (1, 4, 5, 6, 10):
            self.assemble(c.name, paths)
            self.umd("--action", c.name, "check")
            umdtest.wait_until(lambda: self.attr(c.name, "sync_action") == "idle", timeout=120, what="check")
            if self.attr(c.name, "mismatch_cnt") != "0":
                errs.append(f"{c.name}: umd's check after the kernel's conversion: {self.attr(c.name, 'mismatch_cnt')}")
            self.stop(c.name)
        return errs


if __name__ == "__main__":
    unittest.main(verbosity=2)
