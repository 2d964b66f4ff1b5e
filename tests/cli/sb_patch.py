"""Test-only surgery on a v1.x superblock in an image file: change a field and fix the
checksum, as a stale or foreign member would look. Offsets are md_p.h's."""
import struct

SB12_OFFSET = 4096


def _csum(sb):
    max_dev = struct.unpack_from("<I", sb, 220)[0]
    size = 256 + 2 * max_dev
    b = bytearray(sb[:size])
    struct.pack_into("<I", b, 216, 0)
    total = 0
    for i in range(0, size - size % 4, 4):
        total += struct.unpack_from("<I", b, i)[0]
    if size % 4 == 2:
        total += struct.unpack_from("<H", b, size - 2)[0]
    return ((total & 0xFFFFFFFF) + (total >> 32)) & 0xFFFFFFFF


def patch_u64(path, field_offset, value, sb_offset=SB12_OFFSET):
    with open(path, "r+b") as f:
        f.seek(sb_offset)
        sb = bytearray(f.read(4096))
        struct.pack_into("<Q", sb, field_offset, value)
        struct.pack_into("<I", sb, 216, _csum(sb))
        f.seek(sb_offset)
        f.write(sb)


def patch_bytes(path, field_offset, value, sb_offset=SB12_OFFSET):
    with open(path, "r+b") as f:
        f.seek(sb_offset)
        sb = bytearray(f.read(4096))
        sb[field_offset:field_offset + len(value)] = value
        struct.pack_into("<I", sb, 216, _csum(sb))
        f.seek(sb_offset)
        f.write(sb)


def read_u64(path, field_offset, sb_offset=SB12_OFFSET):
    with open(path, "rb") as f:
        f.seek(sb_offset + field_offset)
        return struct.unpack("<Q", f.read(8))[0]


EVENTS = 200
SET_NAME = 32  # 32 bytes, NUL-padded
