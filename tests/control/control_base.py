"""Shared by the control-plane tests: a temporary runtime directory ($UMD_RUNTIME_DIR),
image files, arrays made with `umd --create --assume-clean`, daemons stopped at the end."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402

MiB = 1 << 20


class ControlTestBase(umdtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.tmp, "run")
        self.old_env = os.environ.get("UMD_RUNTIME_DIR")
        os.environ["UMD_RUNTIME_DIR"] = self.run_dir
        self.started = []

    def tearDown(self):
        for name in self.started:
            if os.path.exists(os.path.join(self.run_dir, name)):
                umdtest.umd("--stop", name, check=False)
        if self.old_env is None:
            os.environ.pop("UMD_RUNTIME_DIR", None)
        else:
            os.environ["UMD_RUNTIME_DIR"] = self.old_env
        super().tearDown()

    def images(self, n, size=16 * MiB, prefix="d"):
        return umdtest.make_images(self.tmp, [(f"{prefix}{i}.img", size) for i in range(n)])

    def create(self, level, paths, *extra, name="md0"):
        umdtest.umd("--create", name, f"--level={level}", f"--raid-devices={len(paths)}", "--assume-clean",
                    *extra, *paths)

    def assemble(self, *args, name="md0", check=True):
        r = umdtest.umd("--assemble", name, *args, check=check)
        if r.returncode == 0:
            self.started.append(name)
        return r

    def stop(self, name="md0"):
        umdtest.umd("--stop", name)
        self.started.remove(name)

    def detail(self, name="md0"):
        return umdtest.umd_json("--detail", name)

    def attr(self, attr, name="md0"):
        return umdtest.umd("--attr", name, attr).stdout.rstrip("\n")

    def one_error_line(self, r, code, expect):
        self.assertEqual(r.returncode, code, f"{r.stdout} {r.stderr}")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"want one error line, got: {r.stderr!r}")
        self.assertIn(expect, lines[0])
        return lines[0]

    def wait_idle(self, timeout=120, name="md0"):
        umdtest.wait_until(lambda: self.attr("sync_action", name) == "idle", timeout, "the sync to finish")
