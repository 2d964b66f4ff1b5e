"""NAS-like disk sets for the recovery tests: image files partitioned with sfdisk (on the
host, no root, no loop devices), as Synology and QNAP lay them out: a small system array
on the first partition of every disk, a data array on a later one."""
import os
import subprocess

MiB = 1 << 20

# MBR: p1 system, extended p2 holding logical p5 (data), p3 a primary to the disk's end
# (where an end-of-device superblock, 0.90 or 1.0, is also the whole disk's).
MBR_LAYOUT = """label: dos
{n}1 : start=2048, size=12M, type=fd
{n}2 : size=26M, type=5
{n}3 : type=fd
{n}5 : size=24M, type=fd
"""

# GPT: p1 system, p2 swap-like filler, p3 data.
GPT_LAYOUT = """label: gpt
{n}1 : start=2048, size=12M, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="system"
{n}2 : size=4M, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
{n}3 : size=24M, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="data"
"""

DISK_BYTES = 48 * MiB


def partition(path, layout, size=DISK_BYTES):
    """Creates PATH (sparse, SIZE bytes) and writes LAYOUT's table with sfdisk."""
    with open(path, "wb") as f:
        f.truncate(size)
    script = layout.format(n=os.path.basename(path))
    subprocess.run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path], input=script, text=True,
                   check=True, capture_output=True)


def have_sfdisk():
    from shutil import which
    return which("sfdisk") is not None
