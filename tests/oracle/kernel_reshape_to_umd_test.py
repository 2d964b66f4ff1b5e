"""The kernel starts a reshape and stops half-way; umd must read the array bit for bit.

A NAS that died while growing leaves members whose superblocks record a reshape: the new
geometry below reshape_position, the old one above it (backwards: the other way round),
and, when the reshape moves the data, a new data offset. For each case the real kernel md
(oracle VM) creates the array, fills it with random data and prints its sha256; mdadm
--grow starts the reshape with the kernel's sync speed held low, and the array is frozen
and stopped once the reshape has moved but not finished. On the host:
  - `umd --examine` prints the reshape lines exactly as `mdadm --examine` does;
  - `umd --dump` of the members gives the kernel's bytes, whole and without each member
    in turn (raid6: without two);
  - examine and dump change no member.
Then umd serves each 1.x array (and each 0.90 grow, past its critical section, given the
backup file mdadm wrote, copied out of the VM: umd must take it as this reshape's and find
nothing in it needed), a client writes new random bytes over all of it with
nbdcopy, and umd stops it: for some cases umd continues the kernel's reshape to its end
while the client writes (umd_moves), for the others it holds the reshape where the kernel
left it (--freeze-reshape). The kernel assembles the members
again, finishes what is left of the reshape, and must read the client's bytes, with
`check` finding no mismatch.
"""
import os
import string
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

LETTERS = string.ascii_lowercase
MIB = 24  # each member
RESHAPE_KEYS = ("Raid Devices", "Reshape pos'n", "Delta Devices", "New Level", "New Layout", "New Chunksize")
# 1.x: umd prints these as mdadm's examine_super1 does (0.90: umd's own layout, not super0's)
V1_KEYS = ("Data Offset", "New Offset", "Array Size", "Avail Dev Size", "Used Dev Size", "Feature Map")


class Case:
    # kernel_loses: stopping this reshape, the kernel may leave stripes past the recorded
    #   reshape_position already in the new geometry, over old data (seen on 6.1 for
    #   same-disk-count reshapes that move the data; checked with a sector-numbered pattern:
    #   the kernel and umd read the same wrong sectors). umd must read what the kernel reads.
    # kernel_misreads: the kernel assembled read-only mid-reshape reads the reshaped part
    #   through the old geometry (raid10 on 6.1; checked with the pattern: umd gives every
    #   sector written). umd must give the bytes written before the grow.
    # umd_moves: handed back to umd, the reshape is continued to its end by umd (else held).
    def __init__(self, name, n, create, grow, before="", metadata="1.2", drop2=False, boot=0,
                 kernel_loses=False, kernel_misreads=False, umd_moves=False):
        self.name, self.n, self.create, self.grow, self.before = name, n, create, grow, before
        self.umd_moves = umd_moves
        self.metadata, self.drop2, self.boot = metadata, drop2, boot
        self.kernel_loses, self.kernel_misreads = kernel_loses, kernel_misreads


CASES = [
    # more disks: the data moves down (a new, lower data offset), forwards
    Case("r5grow", 4, "--level=5 --chunk=64 -n3", "--raid-devices=4", umd_moves=True),
    Case("r6grow", 5, "--level=6 --chunk=64 -n4", "--raid-devices=5", drop2=True),
    # the same disks, another chunk or layout
    Case("r5chunk", 3, "--level=5 --chunk=64 -n3", "--chunk=128", kernel_loses=True, umd_moves=True),
    Case("r5layout", 3, "--level=5 --chunk=64 --layout=left-symmetric -n3", "--layout=right-asymmetric",
         kernel_loses=True),
    # fewer disks: the array is cut down first, then the reshape runs backwards
    Case("r10grow", 5, "--level=10 --layout=n2 --chunk=64 -n4", "--raid-devices=5", kernel_misreads=True,
         umd_moves=True),
    # fewer disks: the array is cut down first, then the reshape runs backwards; mdadm
    # wants a backup file for its critical section
    Case("r5shrink", 4, "--level=5 --chunk=64 -n4", "--raid-devices=3 --backup-file=/tmp/bk-r5shrink",
         before="mdadm --grow {md} --array-size={shrunk} >/dev/null 2>&1", boot=1),
    # 0.90 has no new_offset: the reshape rewrites in place, overseen by mdadm with a backup
    # with an internal bitmap (the kernel keeps it through the reshape; so does umd)
    Case("r5growbm", 4, "--level=5 --chunk=64 --bitmap=internal -n3", "--raid-devices=4", umd_moves=True, boot=1),
    # (umd goes on without the file: a grow stopped past its critical section needs none)
    Case("r5grow090", 4, "--level=5 --chunk=64 -n3", "--raid-devices=4 --backup-file=/tmp/bk-r5grow090",
         metadata="0.90", boot=1, umd_moves=True),
    Case("r6grow090", 5, "--level=6 --chunk=64 -n4", "--raid-devices=5 --backup-file=/tmp/bk-r6grow090",
         metadata="0.90", drop2=True, boot=1, umd_moves=True),
]


def takes_mdadms_backup(c):
    """The 0.90 grows umd continues: mdadm's own backup file is handed to umd with them."""
    return c.metadata == "0.90" and c.umd_moves


def guest_script(batch):
    lines = ["set -u",
             "echo 1 > /proc/sys/dev/raid/speed_limit_min",
             "echo 1500 > /proc/sys/dev/raid/speed_limit_max"]
    disk = 0
    for k, c in enumerate(batch):
        md = f"/dev/md{k}"  # one per case: a leftover mdadm never meets the next array
        sysfs = f"/sys/block/md{k}/md"
        devs = [f"/dev/vd{LETTERS[disk + i]}" for i in range(c.n)]
        disk += c.n
        bkdev = ""
        if takes_mdadms_backup(c):
            bkdev = f"/dev/vd{LETTERS[disk]}"
            disk += 1
        ncreate = int(c.create.split("-n")[1])
        spare = " ".join(devs[ncreate:])
        backup = c.grow.split("--backup-file=")[1].split()[0] if "--backup-file=" in c.grow else ""
        # r5shrink: the array is cut to the size of the three-disk geometry
        shrunk = (MIB - 1) * 1024 // 64 * 64 * 2  # KiB: 2 data disks of a 1 MiB-offset member
        lines += [
            f"mdadm --create {md} --run --assume-clean --metadata={c.metadata} {c.create} "
            f"--name={c.name} {' '.join(devs[:ncreate])} >/tmp/log 2>&1 || {{ echo CASEFAIL {c.name}; cat /tmp/log; }}",
            f"if [ -e {sysfs} ]; then",
            f"  dd if=/dev/urandom of={md} bs=64k 2>/dev/null; sync",
            "  " + (c.before.format(md=md, shrunk=shrunk) or ":"),
            f"  sz=$(cat /sys/block/md{k}/size); sha=$(sha256sum < {md} | cut -d' ' -f1)",
            f"  [ -n '{spare}' ] && mdadm {md} --add {spare} >/dev/null 2>&1",
            # mdadm's backup file, hard-linked the moment it exists: mdadm's child removes it
            # once the reshape is past the critical section, a fraction of a second later,
            # and the link keeps what it wrote
            (f"  ( i=0; until ln {backup} {backup}.kept 2>/dev/null || [ $i -ge 2000000 ]; do i=$((i+1)); done ) &"
             if bkdev else "  :"),
            f"  mdadm --grow {md} {c.grow} >/tmp/log 2>&1 || {{ echo GROWFAIL {c.name}; cat /tmp/log; }}",
            # wait until the reshape has moved 2048 sectors from where it began (the end,
            # backwards), then hold it there
            f"  i=0; p0=; while [ $i -lt 150 ]; do p=$(cat {sysfs}/reshape_position);"
            " if [ \"$p\" != none ]; then [ -z \"$p0\" ] && p0=$p;"
            " d=$((p - p0)); [ $d -lt 0 ] && d=$((-d)); [ $d -gt 2048 ] && break; fi;"
            " sleep 0.2; i=$((i+1)); done",
            # mdadm's own overseer (for a backup file) goes first, then the kernel is frozen
            "  killall mdadm >/dev/null 2>&1",
            f"  echo frozen > {sysfs}/sync_action",
            f"  echo 0 > {sysfs}/suspend_lo; echo 0 > {sysfs}/suspend_hi",
            f"  pos=$(cat {sysfs}/reshape_position)",
            f"  echo CASE {c.name} $sz $sha $pos $(cat {sysfs}/reshape_direction)",
            (f"  wait; dd if={backup}.kept of={bkdev} bs=64k conv=fsync 2>/dev/null"
             f" && echo BK {c.name} $(stat -c %s {backup}.kept) || echo BKGONE {c.name}" if bkdev else "  :"),
            f"  mdadm --stop {md} >/dev/null 2>&1; killall mdadm >/dev/null 2>&1",
            # what the kernel itself reads from the members now (read-only: the reshape stays
            # put). mdadm 4.2 will not assemble a backup-file reshape read-only without
            # continuing it (or crashing), so those are judged by the bytes written before.
            f"  if [ -z '{backup}' ]; then",
            f"    mdadm --assemble {md} --readonly {' '.join(devs)} >/tmp/log 2>&1"
            f" || {{ echo READFAIL {c.name}; cat /tmp/log; }}",
            f"    echo KREAD {c.name} $(cat /sys/block/md{k}/size) $(sha256sum < {md} | cut -d' ' -f1)"
            f" $(cat {sysfs}/reshape_position)",
            f"    mdadm --stop {md} >/dev/null 2>&1",
            "  else",
            f"    echo KREAD {c.name} $sz $sha $pos",
            "  fi",
            "fi",
        ]
    return "\n".join(lines) + "\n"


def examine_lines(text):
    out = {}
    for line in text.splitlines():
        if " : " in line:
            k, v = line.split(" : ", 1)
            out[k.strip()] = v.strip()
    return out


class KernelReshapeToUmd(umdtest.TempDirTest):
    def test_reshapes_stopped_half_way(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        failures = []
        for boot in sorted({c.boot for c in CASES}):
            batch = [c for c in CASES if c.boot == boot]
            disks, members = [], {}
            backups = {}
            for c in batch:
                members[c.name] = umdtest.make_images(self.tmp, [(f"{c.name}-{i}.img", MIB << 20) for i in range(c.n)])
                disks += members[c.name]
                if takes_mdadms_backup(c):
                    backups[c.name] = umdtest.make_images(self.tmp, [(f"{c.name}-bk.img", 8 << 20)])[0]
                    disks.append(backups[c.name])
            self.assertLessEqual(len(disks), umdtest.MAX_VM_DISKS)
            out, rc = umdtest.vm_run(guest_script(batch), disks)
            self.assertEqual(rc, 0, out)
            for n, v in umdtest.vm_lines(out, "BK").items():
                os.truncate(backups[n], int(v[0]))  # the file's own length
            for line in out.splitlines():
                if line.startswith("BKGONE"):
                    failures.append(f"{line.split()[1]}: mdadm had removed its backup file before it was copied")
            # CASE NAME SIZE SHA POSITION DIRECTION; KREAD NAME SIZE SHA POSITION
            results = {n: (int(v[0]) * 512, v[1], v[2], v[3])
                       for n, v in umdtest.vm_lines(out, "CASE").items() if len(v) == 4}
            kread = {n: (int(v[0]) * 512, v[1], v[2]) for n, v in umdtest.vm_lines(out, "KREAD").items() if len(v) == 3}
            for line in out.splitlines():
                if line.startswith(("CASEFAIL", "GROWFAIL", "READFAIL")):
                    failures.append(f"kernel refused {line.split()[1]}: {out}")
            written = {}
            for c in batch:
                if c.name not in results or c.name not in kread:
                    failures.append(f"{c.name}: no result from the kernel")
                    continue
                failures += self.check_case(c, members[c.name], results[c.name], kread[c.name])
                # a reshape mdadm oversees with a backup file needs that file to go on, and it
                # stayed in the VM: handed back are the ones that move the data, and the 0.90
                # grows, stopped past their critical section, which umd finishes alone
                if "--backup-file" not in c.grow or (c.metadata == "0.90" and c.umd_moves):
                    written[c.name] = self.write_through_umd(c, members[c.name], results[c.name][0],
                                                             backups.get(c.name))
            if written:
                failures += self.kernel_finishes([c for c in batch if c.name in written], members, written,
                                                 {n: results[n][0] for n in written})
            for p in disks:
                os.unlink(p)
        self.assertEqual(failures, [], "\n".join(failures))

    def write_through_umd(self, c, paths, size, backup=None):
        """umd serves the array mid-reshape (moving it to its end, or held); nbdcopy writes
        random bytes over it; umd stops. With `backup` (mdadm's own backup file, copied out
        of the VM), umd is given it as --assemble --backup-file: it must take it as this
        reshape's (mdadm's format, this array's UUID, close in time) and find nothing in it
        needed, the reshape being past the critical section the file holds."""
        src = os.path.join(self.tmp, f"{c.name}.new")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        name = f"rs{c.name}"
        sock = os.path.join(self.tmp, f"{name}.sock")
        r = umdtest.umd("--assemble", name, *paths, "--serve", f"nbd:unix:{sock}",
                        *([] if c.umd_moves else ["--freeze-reshape"]),
                        *([f"--backup-file={backup}"] if backup else []))
        try:
            if backup:  # the daemon's warnings come with --assemble (or the next command)
                d = umdtest.umd("--detail", name)
                self.assertIn("nothing in it is needed", r.stderr + d.stderr,
                              f"{c.name}: umd on mdadm's backup file: {r.stderr} {d.stderr}")
            if not c.umd_moves:
                self.assertNotEqual(umdtest.umd("--attr", name, "reshape_position").stdout.strip(), "none")
            umdtest.run(["nbdcopy", "--flush", "--", src, umdtest.nbd_unix_uri(sock, name)])
            if c.umd_moves:
                umdtest.wait_until(lambda: umdtest.umd("--attr", name, "reshape_position").stdout.strip() == "none",
                                   timeout=120, what=f"umd to finish {c.name}'s reshape")
        finally:
            umdtest.umd("--stop", name)
        if c.umd_moves:
            for p in paths:
                ex = umdtest.run(["mdadm", "--examine", p]).stdout
                self.assertNotIn("Reshape pos'n", ex, f"{c.name}: umd finished the reshape, mdadm still sees one")
        sha = umdtest.sha256_file(src)
        os.unlink(src)
        return sha

    def kernel_finishes(self, batch, members, written, sizes):
        lines = ["set -u", "echo 500000 > /proc/sys/dev/raid/speed_limit_max"]
        disks, disk = [], 0
        for k, c in enumerate(batch):
            devs = [f"/dev/vd{LETTERS[disk + i]}" for i in range(c.n)]
            disk += c.n
            disks += members[c.name]
            md, sysfs = f"/dev/md{k}", f"/sys/block/md{k}/md"
            lines += [
                f"mdadm --assemble {md} {' '.join(devs)} >/tmp/log 2>&1 || {{ echo ASMFAIL {c.name}; cat /tmp/log; }}",
                # polls what md publishes (bounded, so a reshape that never ends shows as one)
                f"i=0; while [ \"$(cat {sysfs}/reshape_position) $(cat {sysfs}/sync_action)\" != 'none idle' ]"
                f" && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done",
                f"[ $i -ge 600 ] && {{ echo STUCK {c.name} $(cat {sysfs}/reshape_position) $(cat {sysfs}/sync_action);"
                " cat /proc/mdstat; }",
                f"echo check > {sysfs}/sync_action",
                f"i=0; while [ \"$(cat {sysfs}/sync_action)\" != idle ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done",
                # the bytes the client wrote are the array's start (a grow adds room after them)
                f"echo DONE {c.name} $(cat {sysfs}/mismatch_cnt)"
                f" $(head -c {sizes[c.name]} {md} | sha256sum | cut -d' ' -f1)",
                f"mdadm --stop {md} >/dev/null 2>&1",
            ]
        out, rc = umdtest.vm_run("\n".join(lines) + "\n", disks)
        errs = [] if rc == 0 else [f"kernel run failed: {out}"]
        # DONE NAME MISMATCH_CNT SHA
        done = {n: v for n, v in umdtest.vm_lines(out, "DONE").items() if len(v) == 2}
        if any(line.startswith(("ASMFAIL", "STUCK")) for line in out.splitlines()):
            errs.append(f"the kernel would not assemble or finish what umd stopped: {out}")
        for c in batch:
            if c.name not in done:
                errs.append(f"{c.name}: the kernel did not assemble or finish what umd handed back")
                continue
            mismatches, sha = done[c.name]
            if sha != written[c.name]:
                errs.append(f"{c.name}: after the kernel finished the reshape umd held, it reads sha {sha[:12]}, "
                            f"not the client's {written[c.name][:12]}")
            if mismatches != "0":
                errs.append(f"{c.name}: check after the kernel finished the reshape: mismatch_cnt {mismatches}")
        return errs

    def check_case(self, c, paths, before, after):
        errs = []
        _, sha_before, position, direction = before
        size, sha_kernel, kpos = after
        if position == "none" or kpos != position:
            return [f"{c.name}: the kernel's reshape was not held half-way (position {position}, then {kpos})"]
        # What umd must give (see Case): the kernel's own reading of these members, and the
        # bytes written before the grow, unless the kernel is known to lose or misread them.
        want = {}
        if not c.kernel_misreads:
            want["the kernel's reading"] = sha_kernel
        if not c.kernel_loses:
            want["the bytes written before the grow"] = sha_before
        if sha_kernel != sha_before:
            print(f"{c.name}: the kernel reads other bytes than were written before the grow "
                  f"(reshape stopped at {position}, {direction})", file=sys.stderr)
        hashes = umdtest.hash_members(paths)
        # --examine: the lines that tell the reshape, as mdadm prints them.
        for p in paths:
            md = examine_lines(umdtest.run(["mdadm", "--examine", p]).stdout)
            ours = examine_lines(umdtest.umd("--examine", p).stdout)
            for k in RESHAPE_KEYS + (V1_KEYS if c.metadata != "0.90" else ()):
                if md.get(k) != ours.get(k):
                    errs.append(f"{c.name} {os.path.basename(p)}: {k}: umd {ours.get(k)!r}, mdadm {md.get(k)!r}")
            if "Reshape pos'n" not in md:
                errs.append(f"{c.name} {os.path.basename(p)}: mdadm shows no reshape")
        # --dump: whole, then without each member (raid6: each pair too).
        variants = [("whole", paths)]
        for i in range(len(paths)):
            variants.append((f"without {i}", paths[:i] + paths[i + 1:]))
        if c.drop2:
            variants.append(("without 0 and 3", [p for i, p in enumerate(paths) if i not in (0, 3)]))
        dump = os.path.join(self.tmp, f"{c.name}.dump")
        for label, use in variants:
            r = umdtest.umd("--dump", *use, "--output", dump, check=False)
            if r.returncode != 0:
                errs.append(f"{c.name} {label}: umd --dump failed: {r.stderr.strip()}")
                continue
            got_size, got = os.path.getsize(dump), umdtest.sha256_file(dump)
            for what, sha in want.items():
                if got_size != size or got != sha:
                    errs.append(f"{c.name} {label} (reshape at {position}, {direction}): dump {got_size} bytes "
                                f"sha {got[:12]} != {what}: {size} bytes sha {sha[:12]}")
            os.unlink(dump)
        if umdtest.hash_members(paths) != hashes:
            errs.append(f"{c.name}: examine or dump changed a member")
        return errs


if __name__ == "__main__":
    unittest.main(verbosity=2)
