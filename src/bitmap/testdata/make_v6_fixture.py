#!/usr/bin/env python3
"""Writes v6.bitmap, v6.bits.txt and v6.metadata.txt: a lockless bitmap (version 6)
as Linux 6.18's md-llbitmap.c lays it out. The oracle's kernel (6.1) has no llbitmap,
so this one is built from the kernel source's definitions instead of recorded:
bitmap_super_t's fields (md-bitmap.h), the state bytes from byte 1024
(BITMAP_DATA_OFFSET), chunksize in sectors, one byte per chunk with the values of
enum llbitmap_state, and the texts of bits_show() and metadata_show(). Independent of
umd's encoder on purpose: the unit test decodes it with umd's decoder.
"""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
UNWRITTEN, CLEAN, DIRTY, NEED_SYNC, SYNCING = range(5)

sync_size = 63488          # sectors: a 31 MiB member share
chunksize = 128            # sectors (64 KiB): llbitmap's smallest chunk
chunks = -(-sync_size // chunksize)
uuid = bytes(range(0xb0, 0xc0))
state = 0                  # initialised, not stale
sb = struct.pack("<II16sQQQIIIIII64s", 0x6d746962, 6, uuid, 42, 40, sync_size, state,
                 chunksize, 30, 0, 256, 0, b"")
sb += bytes(256 - len(sb))
assert len(sb) == 256

states = [CLEAN] * chunks
for c in range(0, 64):
    states[c] = UNWRITTEN   # never written since the array was made
for c in (100, 101, 102):
    states[c] = DIRTY       # written in the last few seconds
for c in (200, 201):
    states[c] = NEED_SYNC   # found dirty when the array was assembled after a crash
states[202] = SYNCING
region = sb + bytes(1024 - 256) + bytes(states)
# The kernel reads and writes whole 4 KiB pages: pad the region to one.
region += bytes(-len(region) % 4096)

with open(os.path.join(here, "v6.bitmap"), "wb") as f:
    f.write(region)
count = [states.count(s) for s in range(5)]
with open(os.path.join(here, "v6.bits.txt"), "w") as f:
    f.write("unwritten %d\nclean %d\ndirty %d\nneed sync %d\nsyncing %d\n" % tuple(count))
with open(os.path.join(here, "v6.metadata.txt"), "w") as f:
    # offset: 8 sectors after a 1.2 superblock, where mdadm puts the bitmap
    f.write("chunksize %d\nchunkshift %d\nchunks %d\noffset %d\ndaemon_sleep %d\n"
            % (chunksize, chunksize.bit_length() - 1, chunks, 8, 30))
