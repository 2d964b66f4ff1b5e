"""What the bench's umd sections (sync_bench.py, bitmap_bench.py) share: attribute calls
through the umd CLI, tearing an array down, running a sub-section without ending the
bench, and the table's number formats. A section class subclasses UmdSection and
provides self.umd(*argv, timeout), self.log(msg), self.b (the bench), self.H (the bench
module) and self.out (its results)."""
from __future__ import annotations

import json
import os


class UmdSection:
    def attr(self, arr, name) -> str:
        return self.umd("--attr", arr, name, timeout=15)

    def set_attr(self, arr, name, value) -> None:
        self.umd("--attr", arr, name, str(value), timeout=15)

    @staticmethod
    def unlink(paths):
        for p in paths:
            try:
                os.unlink(p)
            except OSError:
                pass

    def stop(self, a) -> None:
        self.b.umd_stop(a["arr"], a["proc"])
        self.unlink(a["files"] + [a["sock"]])

    def section(self, name, fn, *a):
        """Runs one section; a failure the section did not foresee becomes a note, not the
        end of the bench (an interrupt still ends it)."""
        try:
            return fn(*a)
        except self.H.Interrupted:
            raise
        except Exception as e:  # noqa: BLE001 -- reported, never hidden
            self.out["notes"].append(f"n/a: {name}: unexpected {type(e).__name__}: {e}")
            self.log(f"{name}: unexpected {type(e).__name__}: {e}")
            return None


def fio_jobs(path, r, error) -> list:
    """The jobs of fio's JSON output at PATH (a line fio prints on SIGINT may come before
    the JSON). None there: raises error("fio exit N: LAST LINE") from r, fio's
    CompletedProcess."""
    try:
        with open(path) as f:
            s = f.read()
        jobs = json.loads(s[s.index("{"):])["jobs"]
        if not jobs:
            raise ValueError("no job")
        return jobs
    except (OSError, ValueError, KeyError):
        msg = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["?"])[-1]
        raise error(f"fio exit {r.returncode}: {msg}")


def run_section(bench, H, cls) -> dict:
    """A section's results: cls(bench, H).run(), H being the bench module (its helpers:
    log, run_group, wait_for_socket, last_line, uri_of, ...); an error result when the
    bench has no umd binary."""
    if not bench.args.umd or not os.access(bench.args.umd, os.X_OK):
        return {"error": f"no umd binary at {bench.args.umd}", "rows": [], "notes": []}
    return cls(bench, H).run()


def fmt_bw(x):
    return "n/a" if x is None else f"{x / 1e6:,.0f} MB/s"


def fmt_iops(x):
    if x is None:
        return "—"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"
