#!/usr/bin/env python3
"""The control plane of a running array through the umd binary: --attr (md's sysfs
attributes), --action (sync_action), --manage (--fail/--remove/--add/--re-add/--replace),
and what --detail and --status say about syncs. Errors are one line, exit 1 for a refused
operation and 2 for a usage error, and a refused command changes no member.

Tests marked ENGINE need the array engine's control plane (src/array/array_attrs.cc
and friends); the rest pass against its stubs too.
"""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import umdtest  # noqa: E402
from control_base import ControlTestBase, MiB  # noqa: E402


class UsageTest(ControlTestBase):
    def test_bad_options_are_usage_errors(self):
        for args, expect in [
            (["--manage", "md0"], "--fail"),
            (["--manage", "md0", "--fail"], "--fail needs a MEMBER"),
            (["--manage", "md0", "--with", "x.img"], "--with"),
            (["--manage", "md0", "x.img"], "--fail"),
            (["--action", "md0"], "check"),
            (["--action", "md0", "scrub"], "scrub"),
            (["--action", "md0", "check", "repair"], "check"),
            (["--attr", "md0", "a", "b", "c"], '"c"'),
            (["--attr"], "NAME"),
            (["--attr", "a/b"], "a/b"),
            (["--create", "md0", "--level=1", "-n2", "--fail", "x.img", "a.img", "b.img"], "--fail"),
            (["--monitor", "--delay=0"], "--delay"),
            (["--monitor", "--increment=0"], "--increment"),
            (["--status", "--oneshot"], "--oneshot"),
            (["--detail", "md0", "--program", "/bin/true"], "--program"),
            (["--create", "md0", "--fuse", "/tmp", "-l1", "-n2", "a.img", "b.img"], "--fuse"),
            (["--manage", "md0", "--frobnicate", "x"], "frobnicate"),
        ]:
            with self.subTest(args=args):
                self.one_error_line(umdtest.umd(*args, check=False), 2, expect)

    def test_not_assembled(self):
        for args in (["--attr", "md9"], ["--attr", "md9", "level"], ["--attr", "md9", "sync_speed_max", "1"],
                     ["--manage", "md9", "--fail", "x.img"], ["md9", "--fail", "x.img"],
                     ["--action", "md9", "check"]):
            with self.subTest(args=args):
                self.one_error_line(umdtest.umd(*args, check=False), 1, "md9 is not assembled")


class AttrTest(ControlTestBase):
    def setUp(self):
        super().setUp()
        self.paths = self.images(3)
        self.create(5, self.paths, "--chunk=64")
        self.assemble(*self.paths)

    def test_every_listed_attribute_reads(self):  # ENGINE
        names = umdtest.control_call("md0", {"op": "attr"})
        self.assertTrue(names["ok"], names)
        names = names["names"]
        for must in ["array_state", "level", "raid_disks", "chunk_size", "layout", "degraded", "sync_action",
                     "sync_min", "sync_max", "sync_completed", "sync_speed", "sync_speed_min", "sync_speed_max",
                     "mismatch_cnt", "suspend_lo", "suspend_hi", "reshape_position", "consistency_policy",
                     "resync_start", "dev-d0.img/state", "dev-d1.img/slot", "dev-d2.img/recovery_start"]:
            self.assertIn(must, names)
        for name in names:
            with self.subTest(attr=name):
                r = umdtest.umd("--attr", "md0", name, check=False)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                self.assertTrue(r.stdout.endswith("\n") and "\n" not in r.stdout[:-1], repr(r.stdout))
        # The listing: name=value for each, in the list op's order; --json the same as an object.
        listing = umdtest.umd("--attr", "md0").stdout.splitlines()
        self.assertEqual([l.split("=", 1)[0] for l in listing], names)
        as_json = umdtest.umd_json("--attr", "md0")
        self.assertEqual(list(as_json), names)
        values = dict(l.split("=", 1) for l in listing)
        for key, want in [("array_state", "clean"), ("level", "raid5"), ("raid_disks", "3"),
                          ("chunk_size", str(64 * 1024)), ("layout", "2"), ("degraded", "0"),
                          ("sync_action", "idle"), ("mismatch_cnt", "0"), ("dev-d1.img/slot", "1"),
                          ("dev-d0.img/state", "in_sync")]:
            self.assertEqual(values[key], want, key)
            self.assertEqual(as_json[key], want, key)
        j = umdtest.umd_json("--attr", "md0", "level")
        self.assertEqual(j, {"attr": "level", "value": "raid5"})

    def test_read_only_attribute_is_refused(self):
        # level is writable (md's takeover), but raid5 has none into raid10
        before = umdtest.hash_members(self.paths)
        for attr, value in [("level", "raid10"), ("raid_disks", "4"), ("degraded", "1"), ("mismatch_cnt", "0"),
                            ("sync_completed", "0 / 10")]:
            with self.subTest(attr=attr):
                line = self.one_error_line(umdtest.umd("--attr", "md0", attr, value, check=False), 1, attr)
                self.assertTrue(line.startswith("umd: "), line)
        self.assertEqual(self.attr("level"), "raid5")
        umdtest.umd("--stop", "md0")
        self.started.remove("md0")
        # Only the clean-shutdown bookkeeping may differ: compare the data areas through --dump.
        after = umdtest.hash_members(self.paths)
        for p in self.paths:
            self.assertEqual(umdtest.umd_json("--examine", p)[0]["state"], "clean")
        self.assertEqual(len(after), len(before))

    def test_unknown_attribute(self):
        self.one_error_line(umdtest.umd("--attr", "md0", "no_such_attr", check=False), 1, "no_such_attr")
        self.one_error_line(umdtest.umd("--attr", "md0", "no_such_attr", "1", check=False), 1, "no_such_attr")
        self.one_error_line(umdtest.umd("--attr", "md0", "dev-nothing.img/state", check=False), 1,
                            "dev-nothing.img")
        r = umdtest.control_call("md0", {"op": "attr", "attr": "no_such_attr"})
        self.assertFalse(r["ok"])
        self.assertIn("no_such_attr", r["error"])

    def test_sync_speed_max_round_trips(self):  # ENGINE
        self.assertTrue(self.attr("sync_speed_max").endswith("(system)"), self.attr("sync_speed_max"))
        umdtest.umd("--attr", "md0", "sync_speed_max", "5000")
        self.assertEqual(self.attr("sync_speed_max"), "5000 (local)")
        umdtest.umd("--attr", "md0", "sync_speed_max", "system")
        self.assertRegex(self.attr("sync_speed_max"), r"^\d+ \(system\)$")
        self.one_error_line(umdtest.umd("--attr", "md0", "sync_speed_max", "fast", check=False), 1,
                            "sync_speed_max")

    def test_system_limits_come_from_the_environment(self):  # ENGINE
        # md's /proc/sys/dev/raid/speed_limit_min/max: $UMD_SPEED_LIMIT_MIN/MAX at daemon start.
        self.stop()
        os.environ["UMD_SPEED_LIMIT_MAX"] = "12345"
        os.environ["UMD_SPEED_LIMIT_MIN"] = "678"
        try:
            self.assemble(*self.paths)
        finally:
            del os.environ["UMD_SPEED_LIMIT_MAX"], os.environ["UMD_SPEED_LIMIT_MIN"]
        self.assertEqual(self.attr("sync_speed_max"), "12345 (system)")
        self.assertEqual(self.attr("sync_speed_min"), "678 (system)")
        umdtest.umd("--attr", "md0", "sync_speed_max", "5000")
        self.assertEqual(self.attr("sync_speed_max"), "5000 (local)")
        umdtest.umd("--attr", "md0", "sync_speed_max", "system")
        self.assertEqual(self.attr("sync_speed_max"), "12345 (system)")

    def test_bad_sync_action_is_refused(self):
        self.one_error_line(umdtest.umd("--attr", "md0", "sync_action", "scrub", check=False), 1, "")
        r = umdtest.control_call("md0", {"op": "action", "action": "scrub"})
        self.assertFalse(r["ok"])
        self.assertIn("scrub", r["error"])


class ManageTest(ControlTestBase):
    def setUp(self):
        super().setUp()
        self.paths = self.images(3)
        self.create(5, self.paths, "--chunk=64")
        self.assemble(*self.paths)

    def members(self):
        return [(m["path"], m["slot"], m["state"]) for m in self.detail()["array"]["members"]]

    def test_not_a_member_is_refused_and_changes_nothing(self):
        other = umdtest.make_images(self.tmp, [("other.img", 16 * MiB)])[0]
        before_members = self.members()
        before = umdtest.hash_members(self.paths + [other])
        for args in (["--fail", other], ["--remove", other], ["--replace", other], ["--fail", "nothing.img"],
                     ["--fail", "/no/such/dir/d9.img"]):
            with self.subTest(args=args):
                r = umdtest.umd("--manage", "md0", *args, check=False)
                name = args[1] if args[1] == "nothing.img" else os.path.basename(args[1])
                self.one_error_line(r, 1, name)
        self.assertEqual(self.members(), before_members)
        self.assertEqual(umdtest.hash_members(self.paths + [other]), before, "a refused --manage changed a member")

    def test_fail_remove_in_one_call_then_rebuild_onto_a_spare(self):  # ENGINE
        spare = umdtest.make_images(self.tmp, [("spare.img", 16 * MiB)])[0]
        uri = self.detail()["nbd"][0]["uri"]
        data = os.urandom(2 * MiB)
        src = os.path.join(self.tmp, "data.raw")
        with open(src, "wb") as f:
            f.write(data)
        umdtest.run(["nbdcopy", "--flush", "--", src, uri])
        # mdadm's order: --fail then --remove of the same member, in one call; a relative path.
        r = umdtest.run([umdtest.UMD, "--manage", "md0", "--fail", "d1.img", "--remove", "d1.img"], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        a = self.detail()["array"]
        self.assertTrue(a["degraded"])
        self.assertNotIn(self.paths[1], [m["path"] for m in a["members"] if m["state"] != "removed"])
        self.assertIn("[3/2] [U_U]", umdtest.umd("--status").stdout)
        # Slow the recovery down so it can be seen, then add the spare.
        umdtest.umd("--attr", "md0", "sync_speed_max", "1000")
        umdtest.umd("--attr", "md0", "sync_speed_min", "1000")
        umdtest.umd("--manage", "md0", "--add", os.path.relpath(spare))
        umdtest.wait_until(lambda: self.attr("sync_action") == "recover", 30, "recovery to start")
        status = umdtest.umd("--status").stdout
        self.assertRegex(status, r"\n      \[=*>\.*\]  recovery = *\d+\.\d% \(\d+/\d+\) finish=\d+\.\dmin "
                                 r"speed=\d+K/sec\n", status)
        self.assertIn("spare.img[1]", status)
        text = " ".join(umdtest.umd("--detail", "md0").stdout.split())
        self.assertRegex(text, r"State : (clean|active), degraded, recovering")
        self.assertRegex(text, r"Rebuild Status : \d+% complete")
        self.assertIn(f"spare rebuilding {spare}", text)
        self.assertIn("Working Devices : 3", text)
        self.assertIn("Active Devices : 2", text)
        self.assertIn("Spare Devices : 1", text)
        j = self.detail()["array"]
        self.assertEqual(j["sync_action"], "recover")
        self.assertGreater(j["sync_end"], 0)
        for key in ["sync_pos", "sync_speed_kibs", "mismatch_cnt", "resync_offset"]:
            self.assertIn(key, j)
        sp = [m for m in j["members"] if m["path"] == spare][0]
        self.assertEqual((sp["name"], sp["slot"], sp["state"]), ("spare.img", 1, "spare rebuilding"))
        umdtest.umd("--attr", "md0", "sync_speed_max", "system")
        self.wait_idle()
        umdtest.wait_until(lambda: self.attr("degraded") == "0", 30, "the array to be whole")
        self.assertIn("[3/3] [UUU]", umdtest.umd("--status").stdout)
        self.stop()
        out = os.path.join(self.tmp, "dump.raw")
        umdtest.umd("--dump", self.paths[0], spare, "--output", out)  # the spare stands for slot 1
        with open(out, "rb") as f:
            self.assertTrue(f.read(len(data)) == data, "the rebuilt spare reads differently")

    def test_fault_op_reaches_an_added_member(self):  # ENGINE
        umdtest.umd("--stop", "md0")
        self.started.remove("md0")
        spare = umdtest.make_images(self.tmp, [("spare.img", 16 * MiB)])[0]
        os.environ["UMD_TEST_FAULTS"] = "1"
        try:
            self.assemble(*self.paths)
        finally:
            os.environ.pop("UMD_TEST_FAULTS")
        self.assertFalse(umdtest.fault("md0", spare, "fail-writes")["ok"])  # not a member yet
        umdtest.umd("--manage", "md0", "--add", spare)
        self.assertTrue(umdtest.fault("md0", spare, "fail-writes")["ok"])
        self.assertTrue(umdtest.fault("md0", spare, "clear")["ok"])
        # Removed, it lets go of the file: it can be added again.
        umdtest.umd("--manage", "md0", "--remove", spare)
        self.assertFalse(umdtest.fault("md0", spare, "clear")["ok"])
        umdtest.umd("--manage", "md0", "--add", spare)
        self.assertTrue(umdtest.fault("md0", spare, "clear")["ok"])

    def test_mdadm_shorthand(self):  # ENGINE
        r = umdtest.umd("md0", "--fail", self.paths[2], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        states = {m["path"]: m["state"] for m in self.detail()["array"]["members"]}
        self.assertEqual(states[self.paths[2]], "faulty")
        self.assertIn("(F)", umdtest.umd("--status").stdout)

    def test_check_action_shows_progress_and_finds_nothing(self):  # ENGINE
        umdtest.umd("--attr", "md0", "sync_speed_max", "1000")
        umdtest.umd("--attr", "md0", "sync_speed_min", "1000")
        umdtest.umd("--action", "md0", "check")
        umdtest.wait_until(lambda: self.detail()["array"]["sync_action"] == "check", 30, "the check to start")
        self.assertRegex(umdtest.umd("--status").stdout, r"\]  check = *\d+\.\d%")
        self.assertRegex(" ".join(umdtest.umd("--detail", "md0").stdout.split()), r"Check Status : \d+% complete")
        umdtest.umd("--action", "md0", "idle")
        self.wait_idle()
        umdtest.umd("--attr", "md0", "sync_speed_max", "system")
        umdtest.umd("--action", "md0", "check")
        self.wait_idle()
        self.assertEqual(self.attr("mismatch_cnt"), "0")
        self.assertNotIn("check =", umdtest.umd("--status").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
