#!/usr/bin/env python3
"""Running arrays end to end: `umd --assemble` (daemonized and --foreground), real NBD
clients (nbdinfo, qemu-io, nbdcopy) against it, `--detail`, `--status`, `--stop` and
SIGTERM, and what the members say afterwards (umd --examine, umd --dump).

The runtime directory is a temp dir ($UMD_RUNTIME_DIR); the arrays are image files made
with `umd --create --assume-clean`.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
import umdtest  # noqa: E402
import sb_patch  # noqa: E402
import nbd_raw  # noqa: E402

MiB = 1 << 20


def have(tool):
    return shutil.which(tool) is not None


def xor_bytes(a, b):
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


@unittest.skipUnless(have("nbdinfo") and have("nbdcopy") and have("qemu-io"), "nbdinfo/nbdcopy/qemu-io missing")
class DaemonTest(umdtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.tmp, "run")
        self.old_env = os.environ.get("UMD_RUNTIME_DIR")
        os.environ["UMD_RUNTIME_DIR"] = self.run_dir
        self.started = []
        self.procs = []

    def tearDown(self):
        for name in self.started:
            if os.path.exists(os.path.join(self.run_dir, name)):
                umdtest.umd("--stop", name, check=False)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
        if self.old_env is None:
            os.environ.pop("UMD_RUNTIME_DIR", None)
        else:
            os.environ["UMD_RUNTIME_DIR"] = self.old_env
        super().tearDown()

    # --- helpers ---------------------------------------------------------------

    def images(self, n, size=16 * MiB, prefix="d"):
        return umdtest.make_images(self.tmp, [(f"{prefix}{i}.img", size) for i in range(n)])

    def create(self, level, paths, *extra):
        umdtest.umd("--create", "md0", f"--level={level}", f"--raid-devices={len(paths)}", "--assume-clean",
                    *extra, *paths)

    def assemble(self, name, *args, check=True):
        r = umdtest.umd("--assemble", name, *args, check=check)
        if r.returncode == 0:
            self.started.append(name)
        return r

    def detail(self, name="md0"):
        return umdtest.umd_json("--detail", name)

    def uri(self, name="md0"):
        return self.detail(name)["nbd"][0]["uri"]

    def nbd_size(self, uri):
        return json.loads(umdtest.run(["nbdinfo", "--json", uri]).stdout)["exports"][0]["export-size"]

    def nbd_read_all(self, uri):
        out = os.path.join(self.tmp, "nbd-read.raw")
        umdtest.run(["nbdcopy", "--", uri, out])
        with open(out, "rb") as f:
            return f.read()

    def qemu_io(self, uri, command, check=True, read_only=False):
        r = umdtest.run(["qemu-io", "-f", "raw", *(["-r"] if read_only else []), "-c", command, uri], check=False)
        failed = r.returncode != 0 or "failed" in r.stdout + r.stderr
        if check and failed:
            raise AssertionError(f"qemu-io {command!r} on {uri}: {r.stdout} {r.stderr}")
        return not failed

    def stop(self, name="md0"):
        pid = self.detail(name)["pid"]
        r = umdtest.umd("--stop", name)
        self.assertFalse(umdtest.pid_alive(pid), "the daemon still runs after --stop returned")
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, name)), "runtime directory left behind")
        self.started.remove(name)
        return r

    def one_error_line(self, r, code, expect):
        self.assertEqual(r.returncode, code, f"{r.stdout} {r.stderr}")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"want one error line, got: {r.stderr!r}")
        self.assertIn(expect, lines[0])

    # --- lifecycle ----------------------------------------------------------------

    def test_background_assemble_detail_status_stop(self):
        paths = self.images(3)
        self.create(5, paths, "--chunk=64")
        r = self.assemble("md0", *paths)
        sock = os.path.join(self.run_dir, "md0", "nbd.sock")
        self.assertIn(umdtest.nbd_unix_uri(sock, "md0"), r.stdout)
        d = self.detail()
        a = d["array"]
        self.assertEqual(d["name"], "md0")
        self.assertTrue(umdtest.pid_alive(d["pid"]))
        self.assertEqual(a["level"], 5)
        self.assertEqual(a["raid_level"], "raid5")
        self.assertEqual(a["raid_disks"], 3)
        self.assertEqual(a["chunk_kib"], 64)
        self.assertEqual(a["layout"], "left-symmetric")
        self.assertEqual(a["version"], "1.2")
        self.assertFalse(a["degraded"])
        self.assertEqual(a["uuid"], umdtest.umd_json("--examine", paths[0])[0]["array_uuid"])
        self.assertEqual([m["path"] for m in a["members"]], paths)
        self.assertEqual([m["slot"] for m in a["members"]], [0, 1, 2])
        self.assertEqual(d["nbd"][0]["uri"], umdtest.nbd_unix_uri(sock, "md0"))
        self.assertEqual(self.nbd_size(d["nbd"][0]["uri"]), a["array_sectors"] * 512)

        text = umdtest.umd("--detail", "md0").stdout
        for key in ["Version : 1.2", "Raid Level : raid5", f"Array Size : {a['array_sectors'] // 2}",
                    "Raid Devices : 3", "Total Devices : 3", "Active Devices : 3", "Working Devices : 3",
                    "Failed Devices : 0", "Spare Devices : 0", "Layout : left-symmetric", "Chunk Size : 64K",
                    f"UUID : {a['uuid']}", "Number Major Minor RaidDevice State",
                    f"0 0 0 0 active sync {paths[0]}", sock]:
            self.assertIn(key, " ".join(text.split()), text)

        status = umdtest.umd("--status").stdout
        self.assertTrue(status.startswith("Personalities : "), status)
        self.assertIn("md0 : active", status)
        self.assertIn("raid5 d2.img[2] d1.img[1] d0.img[0]", status)  # newest first, as the kernel lists them
        self.assertIn(f"{a['array_sectors'] // 2} blocks super 1.2 level 5, 64k chunk, algorithm 2 [3/3] [UUU]",
                      status)
        self.assertTrue(status.rstrip().endswith("unused devices: <none>"), status)
        sj = umdtest.umd_json("--status")
        self.assertEqual([x["name"] for x in sj["arrays"]], ["md0"])

        r = self.stop()
        self.assertIn("stopped md0", r.stderr)
        for j in umdtest.umd_json("--examine", *paths):
            self.assertEqual(j["state"], "clean")
        self.assertNotIn("md0", umdtest.umd("--status").stdout)
        self.one_error_line(umdtest.umd("--stop", "md0", check=False), 1, "md0 is not assembled")
        self.one_error_line(umdtest.umd("--detail", "md0", check=False), 1, "md0 is not assembled")

    def test_writes_through_nbd_reach_the_members(self):
        paths = self.images(3)
        self.create(5, paths)
        events_before = umdtest.umd_json("--examine", paths[0])[0]["events"]
        self.assemble("md0", *paths)
        self.assertFalse(self.detail()["array"]["read_only"])
        uri = self.uri()
        size = self.nbd_size(uri)
        self.qemu_io(uri, "write -P 0xab 0 1M")
        self.qemu_io(uri, "write -P 0x5c 3M 68k")
        self.qemu_io(uri, f"write -P 0xee {size - 8192} 8k")
        self.qemu_io(uri, "flush")
        self.qemu_io(uri, "read -P 0xab 0 1M")
        self.qemu_io(uri, "read -P 0x5c 3M 68k")
        self.qemu_io(uri, f"read -P 0xee {size - 8192} 8k")
        stats = self.detail()["nbd"][0]["stats"]
        self.assertGreaterEqual(stats["writes"], 3)
        self.assertGreaterEqual(stats["bytes_written"], MiB + 68 * 1024 + 8192)
        self.stop()

        for j in umdtest.umd_json("--examine", *paths):
            self.assertEqual(j["state"], "clean", j["path"])
            self.assertGreater(j["events"], events_before, j["path"])
        expect = bytearray(size)
        expect[0:MiB] = b"\xab" * MiB
        expect[3 * MiB:3 * MiB + 68 * 1024] = b"\x5c" * (68 * 1024)
        expect[size - 8192:] = b"\xee" * 8192
        out = os.path.join(self.tmp, "dump.raw")
        umdtest.umd("--dump", *paths, "--output", out)
        with open(out, "rb") as f:
            self.assertTrue(f.read() == bytes(expect), "--dump differs from what was written through NBD")
        # Each member alone is missing from a raid5: every degraded view reads the same.
        for gone in range(3):
            umdtest.umd("--dump", *[p for i, p in enumerate(paths) if i != gone], "--output", out)
            with open(out, "rb") as f:
                self.assertTrue(f.read() == bytes(expect), f"degraded dump without member {gone} differs")

    def test_random_data_survives_stop_and_a_missing_member(self):
        paths = self.images(4)
        self.create(6, paths, "--chunk=32")
        self.assemble("md0", *paths)
        self.assertFalse(self.detail()["array"]["read_only"])
        uri = self.uri()
        data = os.urandom(self.nbd_size(uri))
        src = os.path.join(self.tmp, "random.raw")
        with open(src, "wb") as f:
            f.write(data)
        umdtest.run(["nbdcopy", "--flush", "--", src, uri])
        self.assertTrue(self.nbd_read_all(uri) == data, "read back differs from what was written")
        self.stop()
        out = os.path.join(self.tmp, "dump.raw")
        umdtest.umd("--dump", *paths, "--output", out)
        with open(out, "rb") as f:
            self.assertTrue(f.read() == data, "--dump differs from what was written through NBD")
        # raid6 without two of its members, served read-write: still the same data.
        self.assemble("md0", paths[0], paths[2], "--run")
        self.assertTrue(self.detail()["array"]["degraded"])
        self.assertIn("[4/2] [U_U_]", umdtest.umd("--status").stdout)
        self.assertTrue(self.nbd_read_all(self.uri()) == data, "the degraded array reads differently")
        self.stop()

    def test_foreground_and_sigterm(self):
        paths = self.images(2)
        self.create(1, paths)
        p = subprocess.Popen([umdtest.UMD, "--assemble", "md0", *paths, "--foreground"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        self.assertIn("md0 is running (pid", line, p.stderr.read() if not line else line)
        self.assertIn(f"(pid {p.pid})", line)
        d = self.detail()
        self.assertEqual(d["pid"], p.pid)
        self.assertEqual(self.nbd_size(d["nbd"][0]["uri"]), d["array"]["array_sectors"] * 512)
        self.qemu_io(d["nbd"][0]["uri"], "read -P 0 0 64k", read_only=True)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "md0")))
        for j in umdtest.umd_json("--examine", *paths):
            self.assertEqual(j["state"], "clean")

    def test_foreground_stopped_by_stop(self):
        paths = self.images(2)
        self.create(0, paths)
        p = subprocess.Popen([umdtest.UMD, "--assemble", "md0", *paths, "--foreground"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        self.assertIn("is running", p.stdout.readline())
        status = umdtest.umd("--status").stdout
        self.assertIn("md0 : active", status)
        self.assertIn("raid0 d1.img[1] d0.img[0]", status)
        umdtest.umd("--stop", "md0")
        self.assertEqual(p.wait(timeout=10), 0)  # --stop returned after the daemon exited

    def test_background_daemon_stops_on_sigterm_and_sigint(self):
        paths = self.images(3)
        self.create(5, paths)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                self.assemble("md0", *paths)
                pid = self.detail()["pid"]
                os.kill(pid, sig)
                umdtest.wait_until(lambda: not umdtest.pid_alive(pid), 60, f"the daemon to exit on {sig.name}")
                umdtest.wait_until(lambda: not os.path.exists(os.path.join(self.run_dir, "md0")), 10,
                                   "the runtime directory to go")
                self.started.remove("md0")
                for j in umdtest.umd_json("--examine", *paths):
                    self.assertEqual(j["state"], "clean")

    def test_tcp_and_unix_endpoints_together(self):
        paths = self.images(2)
        self.create(1, paths)
        sock = os.path.join(self.tmp, "my.sock")
        r = self.assemble("md0", *paths, "--serve", "nbd:tcp:127.0.0.1:0", "--serve", f"nbd:unix:{sock}")
        d = self.detail()
        uris = [e["uri"] for e in d["nbd"]]
        self.assertEqual(len(uris), 2)
        self.assertTrue(uris[0].startswith("nbd://127.0.0.1:") and uris[0].endswith("/md0"), uris[0])
        self.assertNotIn(":0/", uris[0])
        self.assertEqual(uris[1], umdtest.nbd_unix_uri(sock, "md0"))
        for u in uris:
            self.assertIn(u, r.stdout)
            self.assertEqual(self.nbd_size(u), d["array"]["array_sectors"] * 512)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "md0", "nbd.sock")))
        self.stop()
        self.assertFalse(os.path.exists(sock))

    def test_readonly(self):
        paths = self.images(2)
        self.create(1, paths)
        before = umdtest.hash_members(paths)
        self.assemble("md0", *paths, "--readonly")
        d = self.detail()
        self.assertTrue(d["array"]["read_only"])
        info = json.loads(umdtest.run(["nbdinfo", "--json", d["nbd"][0]["uri"]]).stdout)["exports"][0]
        self.assertTrue(info["is_read_only"])
        self.assertFalse(self.qemu_io(d["nbd"][0]["uri"], "write -P 1 0 4k", check=False))
        self.assertIn("(read-only)", umdtest.umd("--status").stdout)
        self.stop()
        self.assertEqual(umdtest.hash_members(paths), before, "a read-only array changed a member")

    # --- refusals -----------------------------------------------------------------

    def test_second_assemble_of_same_name_refused(self):
        a = self.images(2, prefix="a")
        b = self.images(2, prefix="b")
        self.create(1, a)
        umdtest.umd("--create", "md1", "--level=1", "-n2", "--assume-clean", *b)
        self.assemble("md0", *a)
        pid = self.detail()["pid"]
        r = self.assemble("md0", *b, check=False)
        self.one_error_line(r, 1, f"md0 is already assembled (pid {pid})")
        self.assertTrue(umdtest.pid_alive(pid))
        self.assemble("md1", *b)  # another name is fine
        self.assertEqual([x["name"] for x in umdtest.umd_json("--status")["arrays"]], ["md0", "md1"])

    def test_bad_serve_spec_is_a_usage_error(self):
        paths = self.images(2)
        self.create(1, paths)
        for spec in ["foo:bar", "nbd:tcp:localhost", "nbd:tcp:h:99999", "nbd:unix:"]:
            with self.subTest(spec=spec):
                r = self.assemble("md0", *paths, "--serve", spec, check=False)
                self.one_error_line(r, 2, f'"{spec}"')
                self.assertFalse(os.path.exists(os.path.join(self.run_dir, "md0")))

    def test_usage_errors(self):
        self.one_error_line(umdtest.umd("--assemble", "md0", check=False), 2, "MEMBER")
        self.one_error_line(umdtest.umd("--assemble", "a/b", "x.img", check=False), 2, "a/b")
        self.one_error_line(umdtest.umd("--dump", "x.img", "--serve", "nbd:unix:/x", check=False), 2, "--serve")
        self.one_error_line(umdtest.umd("--stop", check=False), 2, "NAME")

    def test_assemble_failure_leaves_no_daemon(self):
        paths = self.images(2)
        r = self.assemble("md0", *paths, check=False)  # no superblocks
        self.one_error_line(r, 1, "d0.img")
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "md0")))
        self.one_error_line(umdtest.umd("--detail", "md0", check=False), 1, "md0 is not assembled")

    def test_unusable_serve_endpoint_fails_cleanly(self):
        paths = self.images(2)
        self.create(1, paths)
        r = self.assemble("md0", *paths, "--serve", f"nbd:unix:{self.tmp}/no/such/dir/x.sock", check=False)
        self.one_error_line(r, 1, "no/such/dir")
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "md0")))
        self.assemble("md0", *paths)

    # --- members missing or stale ---------------------------------------------------

    def test_member_one_event_ahead_of_the_others_assembles_whole(self):
        # A power cut between two members' superblock writes (raid6, lockless bitmap):
        # one member at events N+1, the others at N. md takes them all; so does umd.
        paths = self.images(5)
        self.create(6, paths, "--bitmap=lockless")
        ev = sb_patch.read_u64(paths[3], sb_patch.EVENTS)
        sb_patch.patch_u64(paths[3], sb_patch.EVENTS, ev + 1)
        self.assemble("md0", *paths)
        a = self.detail()["array"]
        self.assertFalse(a["degraded"], a)
        self.assertEqual(sorted(m["slot"] for m in a["members"]), [0, 1, 2, 3, 4], a)
        self.stop()
        evs = {sb_patch.read_u64(p, sb_patch.EVENTS) for p in paths}
        self.assertEqual(len(evs), 1, "the next superblock write brings every member level")
        self.assertGreater(evs.pop(), ev + 1)

    def test_stale_member_is_left_out_with_a_message(self):
        paths = self.images(3)
        self.create(5, paths)
        ev = sb_patch.read_u64(paths[0], sb_patch.EVENTS)
        for p in paths[1:]:
            sb_patch.patch_u64(p, sb_patch.EVENTS, ev + 5)
        r = self.assemble("md0", *paths, check=False)
        if r.returncode != 0:  # refused: it would start degraded; the error says which member or slot
            self.one_error_line(r, 1, "")
            self.assertTrue("d0.img" in r.stderr or "slot 0" in r.stderr, r.stderr)
            r = self.assemble("md0", *paths, "--run", check=False)
        if r.returncode != 0:
            r = self.assemble("md0", *paths, "--run", "--force", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        warn = [l for l in r.stderr.splitlines() if "d0.img" in l]
        self.assertTrue(warn and warn[0].startswith("umd: ") and "stale" in warn[0], r.stderr)
        a = self.detail()["array"]
        self.assertTrue(a["degraded"])
        self.assertNotIn(0, [m["slot"] for m in a["members"] if "faulty" not in m["state"]])
        self.assertIn("[3/2] [_UU]", umdtest.umd("--status").stdout)
        self.assertIn("removed", umdtest.umd("--detail", "md0").stdout)

    def test_degraded_array_serves_correct_data(self):
        # Random data made consistent by hand: in a 3-member raid5 every stripe's parity is
        # the XOR of the other two chunks, whatever the rotation, so d2 = d0 ^ d1.
        paths = self.images(3)
        size = 16 * MiB
        d0, d1 = os.urandom(size), os.urandom(size)
        for p, data in zip(paths, [d0, d1, xor_bytes(d0, d1)]):
            with open(p, "wb") as f:
                f.write(data)
        self.create(5, paths)  # --assume-clean: the data area is left as it is
        full = os.path.join(self.tmp, "full.raw")
        umdtest.umd("--dump", *paths, "--output", full)
        with open(full, "rb") as f:
            truth = f.read()
        self.assertNotEqual(truth[:4096], bytes(4096))
        present = [paths[0], paths[2]]
        self.assemble("md0", *present, "--run")
        a = self.detail()["array"]
        self.assertTrue(a["degraded"])
        self.assertIn("[3/2] [U_U]", umdtest.umd("--status").stdout)
        got = self.nbd_read_all(self.uri())
        self.assertEqual(len(got), len(truth))
        self.assertTrue(got == truth, "the degraded array reads differently from the whole one")

    def test_a_suspended_write_holds_no_other_request_of_its_connection(self):
        # md suspends writes to [suspend_lo, suspend_hi) only. On one NBD connection, a
        # write into the window, then a read and a write elsewhere: those two are
        # answered first, and the first once the window is lifted.
        paths = self.images(3)
        self.create(5, paths, "--chunk=64K")
        sock = os.path.join(self.tmp, "md0.sock")
        self.assemble("md0", *paths, "--serve", f"nbd:unix:{sock}")
        umdtest.umd("--attr", "md0", "suspend_lo", "0")
        umdtest.umd("--attr", "md0", "suspend_hi", "4096")
        c = nbd_raw.Client(sock, "md0")
        try:
            block = os.urandom(4096)
            c.send(nbd_raw.CMD_WRITE, 1, 0, data=block)
            c.send(nbd_raw.CMD_READ, 2, 4 * MiB, 4096)
            c.send(nbd_raw.CMD_WRITE, 3, 5 * MiB, data=block)
            first = [c.reply({2: 4096})[:2] for _ in range(2)]
            self.assertEqual(sorted(first), [(2, 0), (3, 0)])
            umdtest.umd("--attr", "md0", "suspend_hi", "0")
            self.assertEqual(c.reply({})[:2], (1, 0))
            c.send(nbd_raw.CMD_READ, 4, 0, 4096)
            handle, err, data = c.reply({4: 4096})
            self.assertEqual((handle, err), (4, 0))
            self.assertEqual(data, block, "the parked write reached the array")
        finally:
            c.close()

    def test_status_and_detail_clean_up_a_dead_daemons_directory(self):
        stale = os.path.join(self.run_dir, "md9")
        os.makedirs(stale)
        for name, content in [("pid", "999999\n"), ("lock", ""), ("control", "")]:
            with open(os.path.join(stale, name), "w") as f:
                f.write(content)
        self.one_error_line(umdtest.umd("--detail", "md9", check=False), 1, "md9 is not assembled")
        os.makedirs(stale, exist_ok=True)
        with open(os.path.join(stale, "pid"), "w") as f:
            f.write("999999\n")
        status = umdtest.umd("--status")
        self.assertNotIn("md9", status.stdout)
        self.assertFalse(os.path.exists(stale))
        self.assertEqual(umdtest.umd_json("--status")["arrays"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
