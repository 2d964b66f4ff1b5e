#!/usr/bin/env python3
"""`umd --monitor`: mdadm's events from the daemons' details (the rules and their unit
tests: src/cli/monitor_events.h), printed, and passed to --program as EVENT ARRAY [MEMBER].
ENGINE marks what needs the engine's --manage."""
import os
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402
from control_base import ControlTestBase  # noqa: E402


class MonitorTest(ControlTestBase):
    def setUp(self):
        super().setUp()
        self.log = os.path.join(self.tmp, "events.log")
        self.program = os.path.join(self.tmp, "alert.sh")
        with open(self.program, "w") as f:
            f.write(f'#!/bin/sh\necho "$@" >> {self.log}\n')
        os.chmod(self.program, stat.S_IRWXU)

    def logged(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()

    def degraded_md0_and_whole_md1(self):
        a = self.images(3, prefix="a")
        self.create(5, a)
        self.assemble(a[0], a[2], "--run")
        b = self.images(2, prefix="b")
        self.create(1, b, name="md1")
        self.assemble(*b, name="md1")

    def test_test_oneshot_program(self):
        self.degraded_md0_and_whole_md1()
        r = umdtest.umd("--monitor", "md0", "md1", "--test", "--oneshot", f"--program={self.program}")
        self.assertEqual(self.logged(), ["TestMessage md0", "DegradedArray md0", "TestMessage md1"])
        self.assertEqual(r.stdout.splitlines(), ["Event: TestMessage, Array: md0", "Event: DegradedArray, Array: md0",
                                                 "Event: TestMessage, Array: md1"])
        # Without --test a oneshot look reports only the degraded array.
        r = umdtest.umd("--monitor", "md0", "md1", "--oneshot")
        self.assertEqual(r.stdout.splitlines(), ["Event: DegradedArray, Array: md0"])

    def test_scan_oneshot_finds_every_array(self):
        self.degraded_md0_and_whole_md1()
        r = umdtest.umd("--monitor", "--scan", "--oneshot", "--alert", self.program)
        self.assertEqual(sorted(self.logged()), ["DegradedArray md0", "NewArray md0", "NewArray md1"])
        self.assertIn("Event: NewArray, Array: md1", r.stdout.splitlines())

    def test_absent_named_array(self):
        r = umdtest.umd("--monitor", "md7", "--oneshot")
        self.assertEqual(r.stdout.splitlines(), ["Event: DeviceDisappeared, Array: md7"])
        # Not --oneshot: with nothing left to watch it exits too, as mdadm does.
        r = umdtest.run([umdtest.UMD, "--monitor", "md7", "--delay=1"])
        self.assertEqual(r.stdout.splitlines(), ["Event: DeviceDisappeared, Array: md7"])

    def test_fail_and_disappear_while_watching(self):  # ENGINE
        paths = self.images(3)
        self.create(5, paths)
        self.assemble(*paths)
        p = subprocess.Popen([umdtest.UMD, "--monitor", "md0", "--delay=1", f"--program={self.program}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            umdtest.wait_until(lambda: umdtest.umd("--status").stdout.count("md0") > 0, 10, "md0")
            import time
            time.sleep(1.5)  # the monitor's first look
            umdtest.umd("--manage", "md0", "--fail", paths[1])
            umdtest.wait_until(lambda: f"Fail md0 {paths[1]}" in self.logged(), 20, "the Fail event")
            self.stop()
            out, err = p.communicate(timeout=20)  # it exits once md0 is gone
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.logged(), [f"Fail md0 {paths[1]}", "DegradedArray md0", "DeviceDisappeared md0"])
        self.assertIn(f"Event: Fail, Array: md0, Member: {paths[1]}", out.splitlines())


if __name__ == "__main__":
    unittest.main(verbosity=2)
