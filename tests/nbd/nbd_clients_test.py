#!/usr/bin/env python3
"""The umd NBD server against real clients: nbdinfo, qemu-io, qemu-img, nbdcopy, fio, nbdkit.

Each test starts nbd_serve_test_target (path in $UMD_NBD_SERVE) on a Unix socket in a temp
dir, drives it with a real client, and checks the data. Tools that are missing skip their test.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

SERVE = os.environ.get("UMD_NBD_SERVE", "")
MiB = 1 << 20


def have(tool):
    return shutil.which(tool) is not None


def run(*args, timeout=120, check=True):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def uri(sock, name=""):
    return f"nbd+unix:///{name}?socket={sock}"


class Served:
    """A running nbd_serve_test_target."""

    def __init__(self, tmp, size=64 * MiB, extra=(), name="ram"):
        self.sock = os.path.join(tmp, "umd.sock")
        self.proc = subprocess.Popen([SERVE, "--socket", self.sock, "--size", str(size),
                                      "--name", name, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise AssertionError(f"server did not start: {line} {self.proc.stderr.read()}")
        self.uri = uri(self.sock)
        self.tcp_port = None
        if "--tcp" in extra:
            self.tcp_port = int(self.proc.stdout.readline().split()[1])
        self.stats = ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        self.stats = err
        return self.proc.returncode


def random_file(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))


@unittest.skipUnless(SERVE and os.path.exists(SERVE), "UMD_NBD_SERVE not set")
class NbdClientsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="umd-nbd-it-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            rc = s.stop()
            self.assertEqual(rc, 0, f"server exited {rc}: {s.stats}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, **kw):
        s = Served(self.tmp, **kw)
        self.servers.append(s)
        return s

    def path(self, name):
        return os.path.join(self.tmp, name)

    @unittest.skipUnless(have("nbdinfo"), "nbdinfo missing")
    def test_nbdinfo_size_block_sizes_flags(self):
        s = self.serve(size=48 * MiB, extra=("--block-size", "4096", "--preferred", "65536"))
        for name in ("", "ram"):
            info = json.loads(run("nbdinfo", "--json", uri(s.sock, name)).stdout)
            e = info["exports"][0]
            self.assertEqual(e["export-size"], 48 * MiB)
            self.assertEqual(e["block_size_minimum"], 4096)
            self.assertEqual(e["block_size_preferred"], 65536)
            self.assertEqual(e["block_size_maximum"], 32 * MiB)
            for flag in ("can_flush", "can_fua", "can_multi_conn", "can_trim", "can_zero"):
                self.assertTrue(e[flag], flag)
            self.assertFalse(e["is_read_only"])
        listed = run("nbdinfo", "--list", "--json", s.uri).stdout
        self.assertEqual([x["export-name"] for x in json.loads(listed)["exports"]], ["ram"])
        bad = run("nbdinfo", uri(s.sock, "nosuch"), check=False)
        self.assertNotEqual(bad.returncode, 0)

    @unittest.skipUnless(have("qemu-io"), "qemu-io missing")
    def test_tcp_listener(self):
        s = self.serve(extra=("--tcp", "0"))
        tcp = f"nbd://127.0.0.1:{s.tcp_port}/ram"
        run("qemu-io", "-f", "raw", "-c", "write -P 0x3c 4k 8k", tcp)
        run("qemu-io", "-f", "raw", "-c", "read -P 0x3c 4k 8k", s.uri)  # same disk over unix

    @unittest.skipUnless(have("nbdinfo"), "nbdinfo missing")
    def test_nbdinfo_read_only(self):
        s = self.serve(extra=("--read-only", "--no-trim"))
        e = json.loads(run("nbdinfo", "--json", s.uri).stdout)["exports"][0]
        self.assertTrue(e["is_read_only"])
        self.assertFalse(e["can_trim"])

    @unittest.skipUnless(have("qemu-io"), "qemu-io missing")
    def test_qemu_io_patterns_flush_discard(self):
        s = self.serve(extra=("--delay-us", "200"))

        def qio(*cmds):
            args = ["qemu-io", "-f", "raw"]
            for c in cmds:
                args += ["-c", c]
            out = run(*args, s.uri).stdout
            self.assertNotIn("Pattern verification failed", out)
            self.assertNotIn("error", out.lower())
            return out

        qio("write -P 0xa5 0 1M", "write -P 0x5a 1M 64k", "write -f -P 0x11 8M 4k", "flush")
        qio("read -P 0xa5 0 1M", "read -P 0x5a 1M 64k", "read -P 0x11 8M 4k")
        qio("discard 0 64k", "read -P 0 0 64k", "read -P 0xa5 64k 960k")
        qio("write -z 1M 32k", "read -P 0 1M 32k", "read -P 0x5a 1056k 32k")
        # Concurrent requests from one qemu-io: aio_write + aio_flush.
        qio("aio_write -P 0x77 16M 256k", "aio_write -P 0x78 17M 256k", "aio_flush",
            "read -P 0x77 16M 256k", "read -P 0x78 17M 256k")
        # A failed pattern check must be detectable (the test would notice a broken read).
        bad = run("qemu-io", "-f", "raw", "-c", "read -P 0x99 0 4k", s.uri, check=False)
        self.assertIn("Pattern verification failed", bad.stdout + bad.stderr)

    @unittest.skipUnless(have("qemu-img"), "qemu-img missing")
    def test_qemu_img_convert_and_compare(self):
        s = self.serve(size=32 * MiB, extra=("--delay-us", "100"))
        src = self.path("src.img")
        random_file(src, 32 * MiB)
        run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, s.uri)
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", src, s.uri)
        back = self.path("back.img")
        run("qemu-img", "convert", "-f", "raw", "-O", "raw", s.uri, back)
        with open(src, "rb") as a, open(back, "rb") as b:
            self.assertEqual(a.read(), b.read())
        # Change one byte in the file: compare must now fail.
        with open(src, "r+b") as f:
            f.seek(12345)
            byte = f.read(1)
            f.seek(12345)
            f.write(bytes([byte[0] ^ 0xff]))
        self.assertEqual(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src, s.uri,
                             check=False).returncode, 1)

    @unittest.skipUnless(have("nbdcopy"), "nbdcopy missing")
    def test_nbdcopy_both_ways_multi_conn(self):
        s = self.serve(size=64 * MiB, extra=("--delay-us", "300"))
        src, back = self.path("src.img"), self.path("back.img")
        random_file(src, 64 * MiB)
        run("nbdcopy", "--connections=4", "--threads=4", "--flush", src, s.uri)
        run("nbdcopy", "--connections=4", "--threads=4", s.uri, back)
        with open(src, "rb") as a, open(back, "rb") as b:
            self.assertEqual(a.read(), b.read())
        s.stop()
        m = re.search(r"connections (\d+) .*writes (\d+)", s.stats)
        self.assertIsNotNone(m, s.stats)
        self.assertGreaterEqual(int(m.group(1)), 8)  # 4 connections each way were really used

    @unittest.skipUnless(have("fio") and "nbd" in run("fio", "--enghelp", check=False).stdout,
                         "fio without the nbd engine")
    def test_fio_randwrite_verify_qd32(self):
        s = self.serve(size=64 * MiB)
        common = ["fio", "--name=umd", "--ioengine=nbd", f"--uri={s.uri}", "--bs=4k",
                  "--iodepth=32", "--output-format=json"]
        # Random 4k writes with crc32c verify at queue depth 32.
        out = run(*common, "--rw=randwrite", "--size=16M", "--verify=crc32c",
                  "--verify_fatal=1", "--do_verify=1", timeout=300).stdout
        job = json.loads(out[out.index("{"):])["jobs"][0]
        self.assertEqual(job["error"], 0)
        self.assertGreater(job["read"]["io_bytes"], 0)  # the verify pass read everything back
        # A short timed run for a sanity IOPS figure.
        out = run(*common, "--rw=randwrite", "--size=64M", "--time_based", "--runtime=3",
                  timeout=120).stdout
        job = json.loads(out[out.index("{"):])["jobs"][0]
        self.assertEqual(job["error"], 0)
        iops = job["write"]["iops"]
        print(f"\nfio nbd 4k randwrite qd32 against the RAM target: {iops:.0f} IOPS")
        self.assertGreater(iops, 100)

    @unittest.skipUnless(have("nbdkit") and have("nbdcopy") and have("qemu-img"),
                         "nbdkit/nbdcopy/qemu-img missing")
    def test_nbdkit_peer_copy_and_compare(self):
        s = self.serve(size=32 * MiB)
        ksock = self.path("kit.sock")
        kit = subprocess.Popen(["nbdkit", "-f", "--exit-with-parent", "-U", ksock, "random",
                                "size=32M", "seed=4242"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if os.path.exists(ksock):
                    break
                time.sleep(0.05)
            run("nbdcopy", "--connections=4", "--flush", uri(ksock), s.uri)
            run("qemu-img", "compare", "-f", "raw", "-F", "raw", uri(ksock), s.uri)
            out = self.path("out.img")
            run("nbdcopy", s.uri, out)
            ref = self.path("ref.img")
            run("nbdcopy", uri(ksock), ref)
            with open(out, "rb") as a, open(ref, "rb") as b:
                self.assertEqual(a.read(), b.read())
        finally:
            kit.terminate()
            kit.wait(timeout=30)

    @unittest.skipUnless(have("qemu-io"), "qemu-io missing")
    def test_errors_reach_the_client(self):
        s = self.serve(size=8 * MiB, extra=("--read-only",))
        p = run("qemu-io", "-f", "raw", "-c", "write -P 1 0 4k", s.uri, check=False)
        self.assertTrue("permission" in (p.stdout + p.stderr).lower()
                        or "read-only" in (p.stdout + p.stderr).lower()
                        or "read only" in (p.stdout + p.stderr).lower(), p.stdout + p.stderr)
        run("qemu-io", "-f", "raw", "-r", "-c", "read -P 0 0 4k", s.uri)

    def test_client_killed_mid_stream_server_survives(self):
        if not have("nbdcopy"):
            self.skipTest("nbdcopy missing")
        s = self.serve(size=64 * MiB, extra=("--delay-us", "2000"))
        src = self.path("src.img")
        random_file(src, 64 * MiB)
        p = subprocess.Popen(["nbdcopy", "--connections=4", src, s.uri],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        p.kill()
        p.wait()
        # Still serving.
        run("nbdcopy", "--connections=2", src, s.uri)
        back = self.path("back.img")
        run("nbdcopy", s.uri, back)
        with open(src, "rb") as a, open(back, "rb") as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
