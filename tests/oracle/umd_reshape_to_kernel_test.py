"""umd starts a reshape and stops half-way; the kernel must finish it, data identical.

For each case umd creates the array on image files, a client fills it with random bytes
over NBD (nbdcopy), umd grows it (`umd --grow --raid-devices`, `--chunk`) with sync_max
holding the reshape half-way, and umd stops once the reshape is held there: the
superblocks record the reshape the way the kernel's would (position, new geometry, new
data offsets). Before the VM, `mdadm --examine` must show the reshape. In the oracle VM,
the kernel's md assembles each array, continues the reshape to its end, reads the
client's bytes, and its own `check` finds mismatch_cnt 0. raid10 near-2 4->5 is one
of them (md's raid10 reshape, the data moving down by the chunk). One case grows each
member's space (`--grow --size=max`; the kernel's check covers the resynced part), and
one keeps an internal bitmap through the grow; a 0.90 raid5 grows in place with a backup
file, to its end. The cases go to the VM in as few boots as
its disk limit allows.
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


class Case:
    def __init__(self, name, level, n, spares, grow, chunk="64K", half=True, create=(), before=(), disks=None):
        self.name, self.level, self.n, self.spares, self.grow = name, level, n, spares, grow
        self.chunk, self.half, self.create, self.before = chunk, half, list(create), list(before)
        self.disks = disks if disks is not None else n + spares  # raid_disks at the end


CASES = [
    Case("r5grow", 5, 3, 1, ["--raid-devices=4"]),
    Case("r6grow", 6, 4, 1, ["--raid-devices=5"]),
    Case("r5chunk", 5, 3, 0, ["--chunk=128K"]),
    Case("r10grow", 10, 4, 1, ["--raid-devices=5"]),
    # fewer disks as mdadm wants it: the array cut (--array-size), room made after the data
    # (--size: 24 MiB members less the 1 MiB offset, less lcm(384, 256) / 3 sectors), then
    # the reshape backwards, the data moving up
    Case("r5shrink", 5, 4, 0, ["--raid-devices=3"], before=[["--array-size=46848K"], ["--size=23424K"]], disks=3),
    # not a reshape: created using 16 MiB of each member, grown to all of it (--size=max)
    Case("r5size", 5, 3, 0, ["--size=max"], half=False, create=["--size=16M"]),
    # an internal bitmap stays through the reshape, the data moving no lower than its end
    Case("r5growbm", 5, 3, 1, ["--raid-devices=4"], create=["--bitmap=internal"]),
    # 0.90: in place under umd's overseer, to the end; the kernel takes the 0.90 superblocks
    # umd wrote when it finished (minor 90 again, the new shape, the spare in slot 3)
    Case("r5grow090", 5, 3, 1, ["--raid-devices=4", "--backup-file={tmp}/r5grow090.backup"], half=False,
         create=["--metadata=0.90"]),
]


class UmdReshapeToKernel(umdtest.DaemonTest):
    def test_kernel_finishes_what_umd_started(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        head = ["set -u", "echo 500000 > /proc/sys/dev/raid/speed_limit_max"]
        disks, script, shas, errs, out = [], list(head), {}, [], ""

        def run_vm():  # the cases so far, in one VM (at most MAX_VM_DISKS disks)
            nonlocal disks, script, out
            text, rc = umdtest.vm_run("\n".join(script) + "\n", disks)
            self.assertEqual(rc, 0, text)
            out += text
            disks, script = [], list(head)

        for k, c in enumerate(CASES):
            if len(disks) + c.n + c.spares > umdtest.MAX_VM_DISKS:
                run_vm()
            paths = umdtest.make_images(self.tmp, [(f"{c.name}-{i}.img", MIB << 20) for i in range(c.n + c.spares)])
            shas[c.name], size = self.grow_half_way(c, paths)
            for p in paths:
                ex = umdtest.run(["mdadm", "--examine", p]).stdout
                if c.half and "Reshape pos'n" not in ex:
                    errs.append(f"{c.name} {os.path.basename(p)}: mdadm --examine shows no reshape:\n{ex}")
                if not c.half and "Reshape pos'n" in ex:
                    errs.append(f"{c.name} {os.path.basename(p)}: umd finished, yet mdadm --examine shows a reshape")
            devs = [f"/dev/vd{LETTERS[len(disks) + i]}" for i in range(len(paths))]
            disks += paths
            md, sysfs = f"/dev/md{k}", f"/sys/block/md{k}/md"
            script += [
                f"mdadm --assemble {md} {' '.join(devs)} >/tmp/log 2>&1 || {{ echo ASMFAIL {c.name}; cat /tmp/log; }}",
                f"echo AT {c.name} $(cat {sysfs}/reshape_position)",
                # polls what md publishes (bounded, so a reshape that never ends shows as one)
                f"i=0; while [ \"$(cat {sysfs}/reshape_position) $(cat {sysfs}/sync_action)\" != 'none idle' ]"
                f" && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done",
                f"[ $i -ge 600 ] && {{ echo STUCK {c.name} $(cat {sysfs}/reshape_position); cat /proc/mdstat; }}",
                f"echo check > {sysfs}/sync_action",
                f"i=0; while [ \"$(cat {sysfs}/sync_action)\" != idle ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done",
                f"echo COMP {c.name} $(cat {sysfs}/component_size)",
                f"echo DONE {c.name} $(cat {sysfs}/raid_disks) $(cat {sysfs}/chunk_size) $(cat {sysfs}/mismatch_cnt)"
                f" $(head -c {size} {md} | sha256sum | cut -d' ' -f1)",
                f"mdadm --stop {md} >/dev/null 2>&1",
            ]
        run_vm()
        if any(line.startswith(("ASMFAIL", "STUCK")) for line in out.splitlines()):
            errs.append(f"the kernel would not assemble or finish what umd started: {out}")
        at = umdtest.vm_lines(out, "AT")
        comp = umdtest.vm_lines(out, "COMP")
        for c in CASES:
            if comp.get(c.name) != [self.components[c.name]]:
                errs.append(f"{c.name}: the kernel's component_size {comp.get(c.name)}, umd's {self.components[c.name]}")
        done = umdtest.vm_lines(out, "DONE")
        for c in CASES:
            if c.name not in done or len(done[c.name]) != 4:
                errs.append(f"{c.name}: no result from the kernel: {out}")
                continue
            disks_now, chunk, mismatches, sha = done[c.name]
            want_disks = str(c.disks)
            want_chunk = str((128 if "--chunk=128K" in c.grow else 64) * 1024)
            if c.half and at.get(c.name, ["none"])[0] == "none":
                errs.append(f"{c.name}: the kernel found no reshape to continue")
            if (disks_now, chunk) != (want_disks, want_chunk):
                errs.append(f"{c.name}: the kernel ends with {disks_now} disks, chunk {chunk}; "
                            f"want {want_disks}, {want_chunk}")
            if sha != shas[c.name]:
                errs.append(f"{c.name}: the kernel reads sha {sha[:12]}, not the client's {shas[c.name][:12]}")
            if mismatches != "0":
                errs.append(f"{c.name}: check after the kernel finished: mismatch_cnt {mismatches}")
        self.assertEqual(errs, [], "\n".join(errs))

    def grow_half_way(self, c, paths):
        """umd creates, fills (nbdcopy), grows, holds the reshape half-way and stops.
        Returns the client's sha and byte count."""
        active, spares = paths[:c.n], paths[c.n:]
        self.umd("--create", c.name, f"--level={c.level}", f"--raid-devices={c.n}", f"--chunk={c.chunk}",
                 "--assume-clean", *c.create, *active)
        sock = os.path.join(self.tmp, f"{c.name}.sock")
        self.assemble(c.name, active, serve=sock)
        for p in spares:
            self.umd("--manage", c.name, "--add", p)
        for g in c.before:
            self.umd("--grow", c.name, *g)
        size = json.loads(self.umd("--detail", c.name, "--json").stdout)["array"]["array_sectors"] * 512
        src = os.path.join(self.tmp, f"{c.name}.src")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        umdtest.run(["nbdcopy", "--flush", "--", src, umdtest.nbd_unix_uri(sock, c.name)])
        sha = umdtest.sha256_file(src)
        os.unlink(src)
        half = 0
        if c.half:
            # written before the grow, sync_max is in the sync's own sectors: the reshape's
            # progress (array sectors, forwards); a multiple of every stripe here. (Once the
            # reshape runs, raid4/5/6 show sync_max and sync_completed per member, as md.)
            half = size // 512 // 2 // 3072 * 3072
            self.umd("--attr", c.name, "sync_max", str(half))
        self.umd("--grow", c.name, *[g.format(tmp=self.tmp) for g in c.grow])
        if c.half:
            # backwards (fewer disks) the position counts down from the end
            at = size // 512 - half if c.disks < c.n else half
            umdtest.wait_until(lambda: self.attr(c.name, "reshape_position") == str(at) and
                               self.attr(c.name, "sync_completed") != "none", timeout=120,
                               what=f"{c.name}'s reshape to reach sync_max {half}")
        else:
            umdtest.wait_until(lambda: self.attr(c.name, "reshape_position") == "none", timeout=120,
                               what=f"{c.name}'s reshape to finish")
        if not hasattr(self, "components"):
            self.components = {}
        self.components[c.name] = self.attr(c.name, "component_size")
        self.stop(c.name)
        return sha, size


if __name__ == "__main__":
    unittest.main(verbosity=2)
