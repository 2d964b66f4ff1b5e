#!/usr/bin/env bash
# Makes the partition-table fixtures (pt_*.sectors, pt_*.sfdisk.json) with util-linux's
# sfdisk on image files (no root, no loop devices). Run from this directory:
#   ./make_partition_fixtures.sh
# pt_NAME.sectors holds only the image's non-zero sectors ("UMDSECT1", le64 image bytes,
# then le64 sector number + 512 bytes per sector); pt_NAME.sfdisk.json is
# `sfdisk --json` of the same image, what partition_table_test holds the codec against.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make() {  # make NAME SIZE_MIB SCRIPT
  local img="$tmp/$1.img"
  truncate -s "$2M" "$img"
  printf '%s\n' "$3" | sfdisk --quiet --no-reread --no-tell-kernel "$img" >/dev/null
  sfdisk --json "$img" | sed "s#$tmp/##g" >"pt_$1.sfdisk.json"
  python3 - "$img" "pt_$1.sectors" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
size = os.path.getsize(src)
with open(src, "rb") as f, open(dst, "wb") as out:
    out.write(b"UMDSECT1" + struct.pack("<Q", size))
    n = 0
    while True:
        b = f.read(512)
        if not b:
            break
        if any(b):
            out.write(struct.pack("<Q", n) + b)
        n += 1
PY
}

# MBR: two primaries around an extended partition holding three logical ones (5, 6, 7),
# primary slot 4 left empty.
make mbr_logical 32 'label: dos
label-id: 0x1234abcd
mbr_logical.img1 : start=2048, size=8M, type=fd
mbr_logical.img2 : size=16M, type=5
mbr_logical.img3 : size=4M, type=83
mbr_logical.img5 : size=4M, type=fd
mbr_logical.img6 : size=4M, type=fd
mbr_logical.img7 : size=4M, type=83'

# GPT: three partitions with names, Linux RAID and Linux filesystem types.
make gpt 32 'label: gpt
label-id: 5C8B7A0E-2F41-4E9A-9A43-5B2D3C1E7F10
start=2048, size=8M, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="system"
size=8M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data fs"
type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="raid"'

# GPT with holes in the entry array: partitions 2 and 4 only.
make gpt_gaps 16 'label: gpt
label-id: 0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9
gpt_gaps.img2 : start=2048, size=4M, type=A19D880F-05FC-4D3B-A006-743F0F84911E
gpt_gaps.img4 : start=12288, size=2M, type=A19D880F-05FC-4D3B-A006-743F0F84911E'
