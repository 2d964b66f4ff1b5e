"""The matrix of arrays held against the kernel: every level, every md layout, several
chunk sizes and every metadata version. Each case: name, level, layout (None = default),
chunk KiB (None = default), metadata, member sizes in MiB, members to drop for the
degraded comparison."""
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Case:
    name: str
    level: str
    layout: Optional[str]
    chunk_kib: Optional[int]
    metadata: str
    sizes_mib: List[int]
    drop: List[int] = field(default_factory=list)

    @property
    def n(self):
        return len(self.sizes_mib)


def _eq(n, mib=12):
    return [mib] * n


RAID5_LAYOUTS = ["left-asymmetric", "right-asymmetric", "left-symmetric", "right-symmetric",
                 "parity-first", "parity-last"]
RAID6_LAYOUTS = RAID5_LAYOUTS + ["ddf-zero-restart", "ddf-N-restart", "ddf-N-continue",
                                 "left-asymmetric-6", "right-asymmetric-6", "left-symmetric-6",
                                 "right-symmetric-6", "parity-first-6"]
CHUNKS = [4, 16, 64, 128, 512]
METAS = ["1.2", "1.0", "1.1", "0.90"]


def all_cases():
    cases = [
        Case("linear-eq", "linear", None, None, "1.2", _eq(3)),
        Case("linear-uneq", "linear", None, None, "1.2", [8, 12, 16]),
        Case("linear-090", "linear", None, None, "0.90", [8, 12]),
        Case("raid0-eq-64k", "0", None, 64, "1.2", _eq(4)),
        Case("raid0-eq-4k-10", "0", None, 4, "1.0", _eq(3)),
        Case("raid0-orig-uneq", "0", "original", 16, "1.2", [8, 12, 16]),
        Case("raid0-alt-uneq", "0", "alternate", 64, "1.2", [8, 16, 12, 16]),
        Case("raid1-2", "1", None, None, "1.2", _eq(2), drop=[0]),
        Case("raid1-3-10", "1", None, None, "1.0", _eq(3), drop=[1, 2]),
        Case("raid1-090", "1", None, None, "0.90", _eq(2), drop=[1]),
        Case("raid4-64k", "4", None, 64, "1.2", _eq(4), drop=[3]),
        Case("raid4-11", "4", None, 16, "1.1", _eq(3), drop=[0]),
    ]
    for i, lay in enumerate(RAID5_LAYOUTS):
        cases.append(Case(f"raid5-{lay}", "5", lay, CHUNKS[i % len(CHUNKS)], METAS[i % len(METAS)],
                          _eq(3 + i % 3), drop=[i % 3]))
    for i, lay in enumerate(RAID6_LAYOUTS):
        n = 4 + i % 3
        cases.append(Case(f"raid6-{lay}", "6", lay, CHUNKS[(i + 2) % len(CHUNKS)], METAS[i % 3],
                          _eq(n), drop=[i % n, (i + 2) % n]))
    cases += [
        Case("raid6-090", "6", None, 64, "0.90", _eq(5), drop=[1, 4]),
        Case("raid10-n2-4", "10", "n2", 64, "1.2", _eq(4), drop=[0, 3]),
        Case("raid10-n2-3", "10", "n2", 16, "1.2", _eq(3), drop=[1]),
        Case("raid10-f2-4", "10", "f2", 64, "1.2", _eq(4), drop=[1]),
        Case("raid10-f2-5", "10", "f2", 4, "1.0", _eq(5), drop=[2]),
        Case("raid10-o2-4", "10", "o2", 64, "1.2", _eq(4), drop=[0]),
        Case("raid10-o3-5", "10", "o3", 16, "1.1", _eq(5), drop=[0, 1]),
        Case("raid10-n3-4", "10", "n3", 128, "1.2", _eq(4), drop=[2, 3]),
        Case("raid10-f3-6", "10", "f3", 64, "1.2", _eq(6), drop=[0, 5]),
        Case("raid10-090", "10", "n2", 64, "0.90", _eq(4), drop=[2]),
    ]
    return cases


def batches(cases, max_disks):
    """Groups cases so that each VM boot gets at most max_disks disks."""
    out, cur, used = [], [], 0
    for c in cases:
        if used + c.n > max_disks and cur:
            out.append(cur)
            cur, used = [], 0
        cur.append(c)
        used += c.n
    if cur:
        out.append(cur)
    return out


def create_args(c):
    args = [f"--level={c.level}", f"--raid-devices={c.n}", f"--metadata={c.metadata}"]
    if c.layout:
        args.append(f"--layout={c.layout}")
    if c.chunk_kib:
        args.append(f"--chunk={c.chunk_kib}")
    return args
