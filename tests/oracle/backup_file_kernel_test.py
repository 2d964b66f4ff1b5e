"""umd's reshape backup file, restored by mdadm: an in-place reshape umd was killed in the
middle of, continued by the kernel, data identical.

For each case umd creates a raid5 on image files, a client fills it with random bytes over
NBD (nbdcopy), and umd reshapes it in place with `--grow ... --backup-file=F` (the data
offset stays; umd's overseer saves each section it rewrites over itself in F, in mdadm's
format). umd's daemon is then killed (SIGKILL):
  - bgrow, 3 -> 4 disks: frozen, so the overseer has saved the critical section and the
    reshape has moved nothing; the superblocks say reshape_position 0, which the kernel
    calls too early to resume by itself.
  - bchunk, 64K -> 128K chunks on the same disks: every section is rewritten in place;
    killed a quarter of the way, with the sections ahead of it in F.
Each with 1.2 superblocks and with 0.90 ones (bgrow090, bchunk090), which record the
reshape as the kernel's super_90_sync does (minor 91).
`mdadm --examine` on the host must show the reshape. In the oracle VM, F is a disk:
`mdadm --assemble --backup-file=F` must restore from it (Grow_restart) and the kernel
finish the reshape; the kernel reads the client's bytes and its own `check` finds
mismatch_cnt 0.
"""
import json
import os
import string
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

LETTERS = string.ascii_lowercase
MIB = 1 << 20


class BackupFileToKernel(umdtest.DaemonTest):
    def saved(self, backup):
        """True once F's block says part 0 holds a section (mdadm's md_backup_data)."""
        with open(backup, "rb") as f:
            b = f.read(512)
        return b[:16] in (b"md_backup_data-1", b"md_backup_data-2") and int.from_bytes(b[56:64], "little") > 0

    def reshape_and_kill(self, name, n, spares, grow, cut, metadata, member):
        """umd creates, fills, reshapes in place with a backup file, and is killed where
        `cut` (a callable of the array name) says. Returns (paths, backup, sha, size)."""
        paths = umdtest.make_images(self.tmp, [(f"{name}{i}.img", member) for i in range(n + spares)])
        self.umd("--create", name, "--level=5", f"--raid-devices={n}", "--chunk=64K", "--assume-clean",
                 f"--metadata={metadata}", *paths[:n])
        sock = os.path.join(self.tmp, f"{name}.sock")
        self.assemble(name, paths[:n], serve=sock)
        for p in paths[n:]:
            self.umd("--manage", name, "--add", p)
        size = json.loads(self.umd("--detail", name, "--json").stdout)["array"]["array_sectors"] * 512
        src = os.path.join(self.tmp, f"{name}.src")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        umdtest.run(["nbdcopy", "--flush", "--", src, umdtest.nbd_unix_uri(sock, name)])
        sha = umdtest.sha256_file(src)
        os.unlink(src)
        backup = os.path.join(self.tmp, f"{name}.backup")
        cut(name, lambda: self.umd("--grow", name, *grow, f"--backup-file={backup}"), backup)
        umdtest.sigkill_and_wait(json.loads(self.umd("--detail", name, "--json").stdout)["pid"])
        self.running.remove(name)
        for p in paths:
            ex = umdtest.run(["mdadm", "--examine", p]).stdout
            self.assertIn("Reshape pos'n", ex, f"{p}: mdadm --examine shows no reshape:\n{ex}")
        # the file as a disk of whole sectors, as the VM takes it
        with open(backup, "ab") as f:
            f.truncate(max(os.path.getsize(backup), 8 * MIB))  # room for mdadm to write it again
        return paths, backup, sha, size

    def test_mdadm_restores_what_umd_saved(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")

        def frozen(name, grow, backup):
            self.umd("--action", name, "frozen")  # the reshape moves nothing
            grow()
            umdtest.wait_until(lambda: self.saved(backup), timeout=60, what="the critical section in the file")

        def quarter(name, grow, backup):
            self.umd("--attr", name, "sync_speed_max", "4000")
            grow()
            end = json.loads(self.umd("--detail", name, "--json").stdout)["array"]["reshape"]["end"]
            umdtest.wait_until(lambda: int(self.attr(name, "reshape_position")) >= end // 4, timeout=120,
                               what=f"{name}'s reshape to pass a quarter")

        # 0.90 superblocks have no data offset to move: their reshapes are always in place.
        # A 0.90 member's data ends at its superblock, 64 KiB before the end rounded down to
        # 64 KiB: 24 MiB + 64 KiB members keep 24 MiB of data, which 128K chunks divide.
        m090 = 24 * MIB + 64 * 1024
        cases = [("bgrow", 3, 1, ["--raid-devices=4"], frozen, 4, 64 * 1024, "1.2", 24 * MIB),
                 ("bchunk", 3, 0, ["--chunk=128K"], quarter, 3, 128 * 1024, "1.2", 24 * MIB),
                 ("bgrow090", 3, 1, ["--raid-devices=4"], frozen, 4, 64 * 1024, "0.90", m090),
                 ("bchunk090", 3, 0, ["--chunk=128K"], quarter, 3, 128 * 1024, "0.90", m090)]
        disks, script, want = [], ["set -u", "echo 200000 > /proc/sys/dev/raid/speed_limit_max"], {}
        for k, (name, n, spares, grow, cut, raid_disks, chunk, metadata, member) in enumerate(cases):
            paths, backup, sha, size = self.reshape_and_kill(name, n, spares, grow, cut, metadata, member)
            want[name] = (str(raid_disks), str(chunk), "0", sha)
            devs = [f"/dev/vd{LETTERS[len(disks) + i]}" for i in range(len(paths) + 1)]
            disks += paths + [backup]
            md, sysfs = f"/dev/md{k}", f"/sys/block/md{k}/md"
            script += [
                # to the console, not a file: mdadm prints "restoring critical section" with
                # printf, and a file's buffer dies with mdadm if it crashes after (see below)
                f"echo ASMBEGIN {name}; mdadm --assemble -v {md} --backup-file={devs[-1]} {' '.join(devs[:-1])}"
                f" 2>&1; echo ASMRC {name} $?",
                f"i=0; while [ \"$(cat {sysfs}/reshape_position) $(cat {sysfs}/sync_action)\" != 'none idle' ]"
                f" && [ $i -lt 900 ]; do sleep 0.2; i=$((i+1)); done",
                f"[ $i -ge 900 ] && {{ echo STUCK {name} $(cat {sysfs}/reshape_position); cat /proc/mdstat; }}",
                f"echo check > {sysfs}/sync_action",
                f"i=0; while [ \"$(cat {sysfs}/sync_action)\" != idle ] && [ $i -lt 900 ]; do sleep 0.2; i=$((i+1)); done",
                f"echo DONE {name} $(cat {sysfs}/raid_disks) $(cat {sysfs}/chunk_size) $(cat {sysfs}/mismatch_cnt)"
                f" $(head -c {size} {md} | sha256sum | cut -d' ' -f1)",
                f"mdadm --stop {md} >/dev/null 2>&1",
            ]
        out, rc = umdtest.vm_run("\n".join(script) + "\n", disks)
        self.assertEqual(rc, 0, out)
        self.assertFalse(any(line.startswith("STUCK") for line in out.splitlines()), out)
        asm = umdtest.vm_lines(out, "ASMRC")
        for name in want:
            log = out[out.find(f"ASMBEGIN {name}"):out.find(f"ASMRC {name}")]
            self.assertIn("restoring critical section", log, f"{name}: mdadm restored nothing:\n{out}")
            # bgrow: mdadm assembles and the kernel goes on alone. bchunk: mdadm 4.2 starts the
            # array, then dies in Grow_continue (SIGSEGV, a NULL read in libc, exit 139) before
            # it forks its monitor; the kernel finishes the reshape unmonitored. Either way the
            # restore came first, which is what this test holds umd's file to.
            self.assertIn(asm.get(name, ["?"])[0], ("0",) if name.startswith("bgrow") else ("0", "139"), out)
        done = umdtest.vm_lines(out, "DONE")
        for name, w in want.items():
            self.assertEqual(tuple(done.get(name, [])), w, f"{name}: the kernel's raid_disks, chunk, mismatch_cnt "
                                                           f"and sha after mdadm restored umd's backup:\n{out}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
