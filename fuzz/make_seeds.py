#!/usr/bin/env python3
"""Seeds for the fuzz targets, made from the kernel fixtures in the modules' testdata/
(recorded from the real kernel, see their README.md) into OUT/<target>/. The small
hand-made seeds of the protocols live in fuzz/corpus/<target>/ (committed).
Usage: make_seeds.py OUT"""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMAT = os.path.join(ROOT, "src", "format", "testdata")
BITMAP = os.path.join(ROOT, "src", "bitmap", "testdata")
MEMBER_BYTES = 256 << 10  # as fuzz_examine.cc


def read(path):
    with open(path, "rb") as f:
        return f.read()


def trim(b, keep=1024):
    """A 1.x superblock file is 4 KiB, mostly 0xff/0 after the roles: keep what matters."""
    return b[:keep]


def small_member(sb):
    """A 1.2 superblock moved onto fuzz_member_set's 1 MiB members (2048 sectors): data at
    sector 64 (a recorded new offset 32 sectors lower), a size that fits, and a recorded
    reshape position inside the array. The harness writes the checksum."""
    b = bytearray(sb[:1024].ljust(1024, b"\0"))
    chunk, new_chunk = struct.unpack_from("<I", b, 88)[0], struct.unpack_from("<I", b, 120)[0]
    unit = max(chunk, new_chunk, 8)
    struct.pack_into("<QQ", b, 128, 64, 2048 - 64)          # data_offset, data_size
    struct.pack_into("<Q", b, 80, (2048 - 64) // unit * unit)  # size
    feature = struct.unpack_from("<I", b, 8)[0]
    if feature & 0x40:
        struct.pack_into("<i", b, 124, -32)                 # new_offset
    if feature & 0x4:
        struct.pack_into("<Q", b, 104, 4 * unit)            # reshape_position
    return bytes(b)


def put(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main(out):
    for name in sorted(os.listdir(FORMAT)):
        if not name.endswith(".sb"):
            continue
        sb = read(os.path.join(FORMAT, name))
        if name.startswith("v090"):
            put(out, "fuzz_superblock0", name, sb)
        else:
            max_dev = struct.unpack_from("<I", sb, 220)[0]
            put(out, "fuzz_superblock1", name, sb[:256 + 2 * max_dev])
    # Member sets for fuzz_member_set: a count byte, then each 1.2 member's first 1024
    # bytes moved onto a small member, for every array the fixtures hold (v12r5_vda, ...).
    groups = {}
    for name in sorted(os.listdir(FORMAT)):
        if name.startswith("v12") and name.endswith(".sb"):
            groups.setdefault(name.rsplit("_", 1)[0], []).append(name)
    for prefix, names in groups.items():
        data = bytes([len(names) - 1]) + b"".join(small_member(read(os.path.join(FORMAT, n))) for n in names)
        put(out, "fuzz_member_set", prefix, data)
    # Bitmap superblocks and their bits, as the kernel wrote them; the lockless one too.
    for name in sorted(os.listdir(BITMAP)):
        if name.endswith(".bitmap"):
            put(out, "fuzz_bitmap_super", name, read(os.path.join(BITMAP, name))[:2048])
    # Member images for fuzz_examine: a mode byte, then the bytes laid where the kernel
    # put them (fixtures.txt: so = superblock sector, bo = bitmap offset from it).
    with open(os.path.join(BITMAP, "fixtures.txt")) as f:
        for line in f:
            words = line.split()
            if not words or "so" not in line:
                continue
            name, kv = words[0], dict(w.split("=") for w in words[1:])
            so, bo, size = int(kv["so"]), int(kv["bo"]), int(kv["size"])
            sb = read(os.path.join(BITMAP, name + ".sb"))
            bm = read(os.path.join(BITMAP, name + ".bitmap"))[:1024]
            if so == 8:  # 1.2: mode 0, from byte 0
                img = bytearray(4096 + max(4096, bo * 512 + len(bm)))
                img[4096:4096 + 1024] = sb[:1024]
                img[4096 + bo * 512:4096 + bo * 512 + len(bm)] = bm
                put(out, "fuzz_examine", name, bytes([0]) + bytes(img))
            elif name.startswith("v090"):  # 0.90: mode 1, from the superblock on
                img = bytearray(bo * 512 + len(bm))
                img[0:4096] = sb
                img[bo * 512:] = bm
                put(out, "fuzz_examine", name, bytes([1]) + bytes(img))
            else:  # 1.0: mode 2, ending at the member's end; the bitmap before the superblock
                tail = (size - so) * 512  # from the superblock to the end
                img = bytearray(-bo * 512 + tail)
                img[0:len(bm)] = bm
                img[-bo * 512:-bo * 512 + 1024] = sb[:1024]
                put(out, "fuzz_examine", name, bytes([2]) + bytes(img))
    put(out, "fuzz_examine", "file.bitmap", bytes([0]) + read(os.path.join(BITMAP, "file.bitmap")))


if __name__ == "__main__":
    main(sys.argv[1])
