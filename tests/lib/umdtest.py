"""Helpers shared by umd's integration tests: run the umd binary, real mdadm and the
kernel oracle VM (../shared/oracle), and compare what they say.

Environment: UMD_BIN (path to the umd binary), UMD_SHARED (path to ../shared).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

UMD = os.environ.get("UMD_BIN", "umd")
SHARED = os.environ.get("UMD_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
VM = os.path.join(SHARED, "oracle", "vm.sh")
MAX_VM_DISKS = 24  # q35 runs out of PCI slots at 27 virtio disks


def run(args, check=True, input=None):
    """Runs a command; returns CompletedProcess with text stdout/stderr."""
    p = subprocess.run(args, capture_output=True, text=True, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def umd(*args, check=True):
    return run([UMD, *map(str, args)], check=check)


def umd_json(*args):
    return json.loads(umd(*args, "--json").stdout)


def make_images(directory, names_sizes):
    """Creates sparse zero-filled image files; returns their paths."""
    paths = []
    for name, size in names_sizes:
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.truncate(size)
        paths.append(path)
    return paths


def sha256_file(path, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = length
        while True:
            n = 1 << 20 if left is None else min(1 << 20, left)
            if n == 0:
                break
            b = f.read(n)
            if not b:
                break
            h.update(b)
            if left is not None:
                left -= len(b)
    return h.hexdigest()


def hash_members(paths):
    return {p: sha256_file(p) for p in paths}


def mdadm_examine(path):
    """Parses `mdadm --examine FILE` into a dict of 'Key' -> 'value' (stripped)."""
    p = run(["mdadm", "--examine", path], check=False)
    out = {"_rc": p.returncode, "_text": p.stdout + p.stderr}
    for line in p.stdout.splitlines():
        m = re.match(r"^\s*([A-Za-z][A-Za-z0-9 ./()-]*?)\s*:\s(.*)$", line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def have_oracle():
    return os.path.exists(VM) and shutil.which("qemu-system-x86_64") is not None


def vm_run(script, disks, timeout=900):
    """Boots the oracle VM with SCRIPT (text) and DISKS; returns (stdout, rc). A guest that
    never reaches the script (no "ORACLE:" banner: the TCG boot failed, which a loaded host
    made happen once) is booted once more, saying so on stderr; the script has not run,
    so nothing was written to the disks."""
    assert len(disks) <= 26, "the VM has PCI slots for 26 disks"
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(script)
        name = f.name
    try:
        env = dict(os.environ, VM_TIMEOUT=str(timeout))
        for attempt in range(2):
            p = subprocess.run(["bash", VM, name, *disks], capture_output=True, text=True, env=env,
                               timeout=timeout + 60)
            if "ORACLE:" in p.stdout or attempt:
                break
            print(f"oracle VM: the guest never reached the script; booting it again:\n{p.stdout[-500:]}",
                  file=sys.stderr)
    finally:
        os.unlink(name)
    out = p.stdout
    m = re.search(r"ORACLE-RC: (\d+)", out)
    rc = int(m.group(1)) if m else -1
    return out, rc


class TempDirTest(unittest.TestCase):
    """A test case with a fresh temporary directory in self.tmp."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="umd-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- running arrays (umd --assemble) ---------------------------------------------------

def spawn_group(args):
    """Starts a background command (quiet) in a session of its own, for kill_group()."""
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_group(proc):
    """SIGKILLs the whole session spawn_group() started and reaps it. (fio's nbd engine
    spins deaf to SIGTERM once its server is gone; run it with --thread so its jobs are
    in the process killed here.)"""
    import signal
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class DaemonTest(TempDirTest):
    """A test that runs umd daemons in a runtime directory of its own (self.env), and stops
    those named in self.running on the way out."""

    def setUp(self):
        super().setUp()
        self.env = dict(os.environ, UMD_RUNTIME_DIR=os.path.join(self.tmp, "run"))
        self.env.pop("UMD_TEST_FAULTS", None)
        self.running = []

    def tearDown(self):
        for name in self.running:
            subprocess.run([UMD, "--stop", name], env=self.env, capture_output=True)
        super().tearDown()

    def umd(self, *args, check=True):
        p = subprocess.run([UMD, *map(str, args)], env=self.env, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"umd {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
        return p

    def attr(self, name, a):
        return self.umd("--attr", name, a).stdout.strip()

    def assemble(self, name, paths, *extra, serve=None):
        """umd --assemble NAME PATHS EXTRA [--serve nbd:unix:SERVE]; stopped on the way out."""
        args = ["--assemble", name, *paths, *extra]
        if serve:
            args += ["--serve", f"nbd:unix:{serve}"]
        self.umd(*args)
        self.running.append(name)

    def stop(self, name):
        self.umd("--stop", name)
        self.running.remove(name)


def vm_lines(out, key):
    """The lines "KEY NAME VALUE..." of an oracle VM script's output -> {NAME: [VALUE...]}."""
    res = {}
    for line in out.splitlines():
        p = line.split()
        if p and p[0] == key:
            res[p[1]] = p[2:]
    return res


def wait_until(predicate, timeout=30.0, what="condition"):
    """Polls predicate() until true; AssertionError naming `what` after timeout seconds."""
    import time
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def sigkill_and_wait(pid):
    """SIGKILLs pid (a daemon crashing) and waits until every thread of it is gone."""
    import signal
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), what=f"pid {pid} to die")


def pid_alive(pid):
    """True while any thread of pid runs. A zombie counts as gone, but only once every
    thread is one: the leader turns zombie first, and the process's files (and so its
    flock on the runtime directory) are released only when its last thread exits."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return False
    for tid in tids:
        # A thread that exits while we look: its stat is gone (ENOENT) or reads ESRCH.
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return True
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return False


def nbd_unix_uri(sock, name=""):
    return f"nbd+unix:///{name}?socket={sock}"


# --- the control socket (src/daemon/control_protocol.h) -------------------------------

def runtime_dir():
    return os.environ.get("UMD_RUNTIME_DIR") or os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/run"), "umd")


class ControlClosed(AssertionError):
    """The daemon closed the control connection without answering."""


def control_call(name, request, timeout=30.0):
    """Sends one request to the daemon of array NAME ($UMD_RUNTIME_DIR/NAME/control): one
    JSON line out, one back. Returns the response dict ({"ok": ...}); ControlClosed when
    the daemon closes the connection first."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(os.path.join(runtime_dir(), name, "control"))
        s.sendall(json.dumps(request, separators=(",", ":")).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ControlClosed(f"control socket of {name} closed before answering {request}")
            buf += chunk
    return json.loads(buf)


def fault(name, member, action):
    """Test-only fault injection (the daemon needs UMD_TEST_FAULTS=1 or =cache at
    --assemble): member is a path or a slot number; action
    vanish|reappear|fail-writes|fail-reads|clear|power-cut. Returns the response dict.
    A power cut ends the daemon without an answer: then {"ok": True, "closed": True}
    (the caller waits for the daemon's pid to be gone)."""
    try:
        return control_call(name, {"op": "fault", "member": member, "action": action})
    except (ControlClosed, BrokenPipeError):
        if action != "power-cut":
            raise
        return {"ok": True, "closed": True}
