#!/usr/bin/env bash
# Builds umd and shows it on a demo array of image files: creates a RAID-5 of four
# 64 MiB images, examines a member (and lets the real mdadm examine it too), and dumps
# the array's contents, whole and with one member missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build umd
UMD=$PWD/build/src/cli/umd
D=${UMD_DEMO_DIR:-/tmp/umd-demo}
rm -rf "$D"; mkdir -p "$D"
for i in 0 1 2 3; do truncate -s 64M "$D/disk$i.img"; done
set -x
"$UMD" --create md0 --level=5 --raid-devices=4 --chunk=64K "$D"/disk{0,1,2,3}.img
"$UMD" --examine "$D/disk0.img"
mdadm --examine "$D/disk0.img" | head -20
"$UMD" --dump "$D"/disk{0,1,2,3}.img --output "$D/array.bin"
"$UMD" --dump "$D"/disk{0,1,3}.img --output "$D/array-degraded.bin"
cmp "$D/array.bin" "$D/array-degraded.bin"
ls -l "$D"
