"""Write-intent bitmaps between umd and the kernel's md, both ways, in one VM boot.

a) umd makes a raid1 (2, --bitmap=internal, no --assume-clean: the bitmap starts all
   dirty and umd resyncs while nbdcopy writes a random file; stopped cleanly) and a raid5
   (3, --assume-clean, --bitmap=internal: nbdcopy of a random file, its bits cleared, then
   fio writes in one region and the daemon is SIGKILLed under it, the bitmap left dirty). In the VM
   `mdadm -X` of every member agrees with `umd --examine-bitmap --json` taken before the
   boot (Events, Events Cleared, Chunksize, Sync Size, bits, dirty); the kernel assembles
   both (resyncing the dirty chunks of the raid5), ends clean, its `check` finds
   mismatch_cnt 0, and it reads what umd holds (the random file; umd --dump for the raid5).
   A 0.90 raid1 made the same way as the raid1 (its bitmap 4 KiB after each superblock)
   goes through the same.
b) The kernel makes a raid1 (2) and a raid5 (3) with --bitmap=internal --bitmap-chunk=64K
   --assume-clean, keeps every bit (bitmap/time_base 60) and the superblocks active
   (safe_mode_delay 600), writes chunks at known offsets with dd oflag=direct, prints
   mdadm -X and the array's sha256, and the VM is cut off with the arrays running
   (sysrq b: poweroff would let md flush and clean the bitmap at its reboot notifier). umd's
   --examine-bitmap counts the same dirty chunks, umd assembles each array and resyncs
   only those (umd/sync_stats: done_sectors <= dirty x 128, > 0), `check` finds 0
   mismatches, and umd --dump equals the kernel's sha256.
"""
import json
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402
from umdtest import vm_lines  # noqa: E402

MIB = 1 << 20
KIB = 1 << 10
SIZE = 32 * MIB
LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Kernel-made arrays (part b): name, level, members, dd writes (64 KiB blocks: seek, count),
# the bitmap chunks (64 KiB of each member) those writes mark.
KARRAYS = [("md20", 1, 2, [(0, 1), (5, 2), (130, 1), (400, 3)], 7),
           ("md21", 5, 3, [(0, 1), (7, 1), (64, 4), (700, 2)], 5)]

VM_FUNCS = r"""
set -u
xb() { for d in "$@"; do echo "XBEGIN $d"; mdadm -X /dev/$d 2>&1; echo "XEND $d"; done; }
waitidle() {
  for i in $(seq 1 600); do [ "$(cat /sys/block/$1/md/sync_action)" = idle ] && return; sleep 0.2; done
  echo TIMEOUT $1
}
check() {
  md=$1; shift
  mdadm --assemble /dev/$md "$@" >/tmp/log 2>&1 || { echo ASSEMBLE-FAIL $md; cat /tmp/log; return; }
  echo ASSEMBLED $md $(cat /sys/block/$md/md/array_state) $(cat /sys/block/$md/md/sync_action) \
    bitmap $(cat /sys/block/$md/md/bitmap/chunksize) $(cat /sys/block/$md/md/bitmap/location)
  sleep 0.5
  waitidle $md
  echo STATE $md $(cat /sys/block/$md/md/array_state) $(cat /sys/block/$md/md/degraded) \
    $(cat /sys/block/$md/md/last_sync_action 2>/dev/null) $(cat /sys/block/$md/md/resync_start)
  echo check > /sys/block/$md/md/sync_action
  sleep 0.5
  waitidle $md
  echo MISMATCH $md $(cat /sys/block/$md/md/mismatch_cnt)
  echo SHA $md $(sha256sum < /dev/$md | cut -d' ' -f1)
  mdadm --stop /dev/$md >/dev/null 2>&1
}
kmake() {
  md=$1; level=$2; shift 2
  n=$#
  chunk=""; [ $level = 1 ] || chunk="--chunk=64"
  mdadm --create /dev/$md --run --level=$level --raid-devices=$n $chunk --bitmap=internal --bitmap-chunk=64 \
    --assume-clean --metadata=1.2 "$@" >/tmp/log 2>&1 || { echo CREATE-FAIL $md; cat /tmp/log; return 1; }
  # mdadm writes the new bitmap all dirty; the kernel clears the bits in a few passes of
  # its bitmap daemon. Let it (time_base 1 s), then keep every bit from now on.
  echo 1 > /sys/block/$md/md/bitmap/time_base
  for i in $(seq 1 100); do mdadm -X $1 2>/dev/null | grep -q ' 0 dirty' && break; sleep 0.3; done
  echo 60 > /sys/block/$md/md/bitmap/time_base
  echo 600 > /sys/block/$md/md/safe_mode_delay
}
"""


def parse_x(out):
    """The mdadm -X blocks between XBEGIN dev / XEND dev -> {dev: {field: value}} (later
    blocks of the same device win)."""
    res, cur = {}, None
    for line in out.splitlines():
        if line.startswith("XBEGIN "):
            cur = {"_text": ""}
            res[line.split()[1]] = cur
        elif line.startswith("XEND "):
            cur = None
        elif cur is not None:
            cur["_text"] += line + "\n"
            m = re.match(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s(.*)$", line)
            if m:
                cur[m.group(1)] = m.group(2).strip()
    return res


def x_numbers(x):
    """mdadm -X fields as numbers: events, events_cleared, chunk_bytes, sync_kib, bits, dirty."""
    m = re.match(r"(\d+)\s*(B|KB|MB|GB)", x["Chunksize"])
    mult = {"B": 1, "KB": KIB, "MB": MIB, "GB": 1 << 30}[m.group(2)]
    b = re.match(r"(\d+) bits \(chunks\), (\d+) dirty", x["Bitmap"])
    return {"events": int(x["Events"]), "events_cleared": int(x["Events Cleared"]),
            "chunk_bytes": int(m.group(1)) * mult, "sync_kib": int(x["Sync Size"].split()[0]),
            "bits": int(b.group(1)), "dirty": int(b.group(2))}


def umd_numbers(j):
    return {"events": j["events"], "events_cleared": j["events_cleared"], "chunk_bytes": j["chunk_bytes"],
            "sync_kib": j["sync_size"] // 2, "bits": j["chunks"], "dirty": j["dirty"]}


class BitmapToKernel(umdtest.DaemonTest):
    def detail(self, name):
        return json.loads(self.umd("--detail", name, "--json").stdout)

    def wait_idle(self, name, last=None, timeout=120):
        umdtest.wait_until(lambda: self.attr(name, "sync_action") == "idle" and
                           (last is None or self.attr(name, "last_sync_action") == last),
                           timeout=timeout, what=f"{name}: sync_action idle" + (f" after {last}" if last else ""))

    def random_file(self, name, size):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path

    def dump_sha(self, paths, name):
        out = os.path.join(self.tmp, name)
        umdtest.umd("--dump", *paths, "--output", out)
        sha = umdtest.sha256_file(out)
        os.unlink(out)
        return sha

    def test_bitmaps_both_ways(self):
        if not umdtest.have_oracle():
            self.skipTest("oracle VM not available")
        for tool in ("nbdcopy", "fio"):
            if not shutil.which(tool):
                self.skipTest(f"needs {tool}")

        # --- a) umd makes the arrays --------------------------------------------------
        r1 = umdtest.make_images(self.tmp, [(f"r1-{i}.img", SIZE) for i in range(2)])
        self.umd("--create", "r1", "--level=1", "--raid-devices=2", "--bitmap=internal", "--bitmap-chunk=64K", *r1)
        sock1 = os.path.join(self.tmp, "r1.sock")
        self.assemble("r1", r1, serve=sock1)
        size1 = self.detail("r1")["array"]["array_sectors"] * 512
        data1 = self.random_file("r1.data", size1)
        umdtest.run(["nbdcopy", "--flush", data1, umdtest.nbd_unix_uri(sock1)])  # beside the initial resync
        self.wait_idle("r1", last="resync")
        self.stop("r1")
        want = {"md10": umdtest.sha256_file(data1)}
        self.assertEqual(self.dump_sha(r1, "r1.dump"), want["md10"], "umd reads other bytes than nbdcopy wrote")

        r5 = umdtest.make_images(self.tmp, [(f"r5-{i}.img", SIZE) for i in range(3)])
        self.umd("--create", "r5", "--level=5", "--raid-devices=3", "--chunk=64K", "--assume-clean",
                 "--bitmap=internal", "--bitmap-chunk=64K", *r5)
        sock5 = os.path.join(self.tmp, "r5.sock")
        self.assemble("r5", r5, serve=sock5)
        uri5 = umdtest.nbd_unix_uri(sock5)
        size5 = self.detail("r5")["array"]["array_sectors"] * 512
        data5 = self.random_file("r5.data", size5)
        umdtest.run(["nbdcopy", "--flush", data5, uri5])
        # The bits nbdcopy set are cleared after a second of quiet; then none is cleared
        # before the kill, which leaves the chunks of fio's region dirty, and only those.
        self.umd("--attr", "r5", "bitmap/time_base", "1")
        umdtest.wait_until(lambda: umdtest.umd_json("--examine-bitmap", r5[0])[0]["dirty"] == 0, timeout=60,
                           what="umd to clear the bits after nbdcopy")
        self.umd("--attr", "r5", "bitmap/time_base", "60")
        written0 = self.detail("r5")["nbd"][0]["stats"]["bytes_written"]
        fio = umdtest.spawn_group(["timeout", "-s", "KILL", "120", "fio", "--name=inflight", "--ioengine=nbd",
                                   f"--uri={uri5}", "--rw=randwrite", "--bs=4k", "--iodepth=16",
                                   f"--offset={8 * MIB}", f"--size={8 * MIB}", "--rate=,4m", "--time_based",
                                   "--runtime=60", "--thread"])
        try:
            umdtest.wait_until(lambda: self.detail("r5")["nbd"][0]["stats"]["bytes_written"] >= written0 + MIB,
                               timeout=60, what="fio to write 1 MiB")
            self.assertIsNone(fio.poll(), "fio ended before the kill")
            umdtest.sigkill_and_wait(self.detail("r5")["pid"])
            self.running.remove("r5")
        finally:
            umdtest.kill_group(fio)
        want["md11"] = self.dump_sha(r5, "r5.dump")
        ex = umdtest.umd_json("--examine", r5[0])[0]
        self.assertEqual(ex["state"], "active", "the killed raid5 should be left active")

        # a 0.90 raid1 (the bitmap 4 KiB after each superblock), as the raid1 above
        r1v = umdtest.make_images(self.tmp, [(f"r1v-{i}.img", SIZE) for i in range(2)])
        self.umd("--create", "r1v", "--level=1", "--raid-devices=2", "--metadata=0.90", "--bitmap=internal",
                 "--bitmap-chunk=64K", *r1v)
        sockv = os.path.join(self.tmp, "r1v.sock")
        self.assemble("r1v", r1v, serve=sockv)
        datav = self.random_file("r1v.data", self.detail("r1v")["array"]["array_sectors"] * 512)
        umdtest.run(["nbdcopy", "--flush", datav, umdtest.nbd_unix_uri(sockv)])
        self.wait_idle("r1v", last="resync")
        self.stop("r1v")
        want["md12"] = umdtest.sha256_file(datav)
        self.assertEqual(self.dump_sha(r1v, "r1v.dump"), want["md12"], "umd reads other bytes than nbdcopy wrote")

        umd_x = {}
        disks = []
        for p in r1 + r5 + r1v:
            umd_x["vd" + LETTERS[len(disks)]] = (p, umdtest.umd_json("--examine-bitmap", p)[0])
            disks.append(p)
        r5_dirty = umd_x["vdc"][1]["dirty"]
        self.assertGreater(r5_dirty, 0, "the killed raid5's bitmap holds no dirty chunk")
        self.assertLessEqual(r5_dirty, 8 * MIB // (2 * 64 * KIB) + 1, "more chunks dirty than fio's region")

        # --- b) the kernel's arrays, on the next disks ---------------------------------
        kpaths = {}
        kscript = ""
        for md, level, n, writes, _ in KARRAYS:
            ps = umdtest.make_images(self.tmp, [(f"{md}-{i}.img", SIZE) for i in range(n)])
            devs = []
            for p in ps:
                devs.append("vd" + LETTERS[len(disks)])
                disks.append(p)
            kpaths[md] = (ps, devs)
            kscript += f"kmake {md} {level} {' '.join('/dev/' + d for d in devs)}\n"
            for seek, count in writes:
                kscript += (f"dd if=/dev/urandom of=/dev/{md} bs=64k seek={seek} count={count} oflag=direct "
                            f"2>/dev/null\n")
            kscript += (f"sync\necho KSTATE {md} $(cat /sys/block/{md}/md/array_state)\n"
                        f"echo KSHA {md} $(sha256sum < /dev/{md} | cut -d' ' -f1)\nxb {' '.join(devs)}\n")

        script = (VM_FUNCS +
                  "xb vda vdb vdc vdd vde vdf vdg\n"
                  "check md10 /dev/vda /dev/vdb\n"
                  "check md11 /dev/vdc /dev/vdd /dev/vde\n"
                  "check md12 /dev/vdf /dev/vdg\n" +
                  kscript +
                  # A power cut: init's poweroff -f would run md's reboot notifier, which
                  # flushes the bitmap (clearing its bits) and marks the superblocks clean.
                  # An emergency restart does not (qemu -no-reboot exits). No ORACLE-RC then.
                  "echo POWERCUT; sleep 1; echo b > /proc/sysrq-trigger; sleep 10; echo STILL-UP\n")
        out, rc = umdtest.vm_run(script, disks)
        self.assertIn("ORACLE: kernel", out, f"the VM did not boot as far as the script\n{out}")
        self.assertIn("POWERCUT", out, out)
        self.assertNotIn("STILL-UP", out, out)
        self.assertEqual(rc, -1, f"the script ended before the power cut\n{out}")
        xs = parse_x(out)

        # a) mdadm -X agrees with umd --examine-bitmap, member by member.
        for dev, (path, j) in umd_x.items():
            self.assertIn(dev, xs, f"no mdadm -X of {dev}\n{out}")
            self.assertEqual(x_numbers(xs[dev]), umd_numbers(j),
                             f"{dev} ({os.path.basename(path)}): mdadm -X vs umd --examine-bitmap\n"
                             f"{xs[dev]['_text']}\n{json.dumps(j)}")
        # a) the kernel assembles umd's arrays, ends clean and reads what umd holds.
        state, mism, sha = vm_lines(out, "STATE"), vm_lines(out, "MISMATCH"), vm_lines(out, "SHA")
        for md in ("md10", "md11", "md12"):
            self.assertEqual(state.get(md, [])[:2], ["clean", "0"], f"{md}\n{out}")
            self.assertEqual(mism.get(md), ["0"], f"{md}\n{out}")
            self.assertEqual(sha.get(md), [want[md]], f"{md}: the kernel reads other bytes than umd\n{out}")

        # b) umd takes the kernel's dirty arrays.
        kstate, ksha = vm_lines(out, "KSTATE"), vm_lines(out, "KSHA")
        for md, level, n, writes, marked in KARRAYS:
            ps, devs = kpaths[md]
            self.assertIn(md, ksha, f"{md} was not made\n{out}")
            self.assertEqual(kstate.get(md), ["active"], f"{md}: the kernel should have left it active\n{out}")
            kx = [x_numbers(xs[d]) for d in devs]
            kdirty = kx[0]["dirty"]
            self.assertEqual(kdirty, marked, f"{md}: the kernel's bitmap should mark the chunks dd wrote\n{out}")
            for d, path in zip(devs, ps):
                j = umdtest.umd_json("--examine-bitmap", path)[0]
                k = x_numbers(xs[d])
                self.assertEqual(umd_numbers(j)["dirty"], k["dirty"], f"{md} {d}: dirty chunks, umd vs mdadm -X\n"
                                                                      f"{xs[d]['_text']}\n{json.dumps(j)}")
                self.assertEqual((j["chunk_bytes"], j["chunks"], j["sync_size"] // 2),
                                 (k["chunk_bytes"], k["bits"], k["sync_kib"]), f"{md} {d}")
            chunk_sectors = kx[0]["chunk_bytes"] // 512
            self.assemble(md, ps)
            self.wait_idle(md, last="resync")
            stats = self.attr(md, "umd/sync_stats").split()
            done = int(stats[stats.index("done_sectors") + 1])
            skipped = int(stats[stats.index("skipped_sectors") + 1])
            print(f"{md}: {kdirty} dirty chunks in the kernel's bitmap; umd resynced {done} sectors, "
                  f"skipped {skipped}")
            self.assertGreater(done, 0, f"{md}: umd resynced nothing")
            self.assertLessEqual(done, kdirty * chunk_sectors,
                                 f"{md}: umd resynced {done} sectors, the kernel marked {kdirty} chunks")
            self.assertGreater(skipped, 0, md)
            self.umd("--action", md, "check")
            self.wait_idle(md, last="check")
            self.assertEqual(self.attr(md, "mismatch_cnt"), "0", md)
            self.stop(md)
            self.assertEqual(self.dump_sha(ps, f"{md}.dump"), ksha[md][0],
                             f"{md}: umd reads other bytes than the kernel wrote")


if __name__ == "__main__":
    unittest.main(verbosity=2)
