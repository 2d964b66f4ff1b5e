#!/usr/bin/env bash
# Builds umd and runs it on a demo array of image files: creates a RAID-5 of four 64 MiB
# images, examines a member (with umd and with the real mdadm), assembles the array and
# serves it over NBD, writes and reads it with qemu-io, shows --detail and --status, and
# leaves it serving. Stop it with: build/src/cli/umd --stop md0
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build umd
UMD=$PWD/build/src/cli/umd
D=${UMD_DEMO_DIR:-/tmp/umd-demo}
export UMD_RUNTIME_DIR=${UMD_RUNTIME_DIR:-$D/run}
"$UMD" --stop md0 2>/dev/null || true
rm -rf "$D"; mkdir -p "$D"
for i in 0 1 2 3; do truncate -s 64M "$D/disk$i.img"; done
SOCK=$D/md0.sock
set -x
"$UMD" --create md0 --level=5 --raid-devices=4 --chunk=64K --assume-clean "$D"/disk{0,1,2,3}.img
"$UMD" --examine "$D/disk0.img"
mdadm --examine "$D/disk0.img" | head -12
"$UMD" --assemble md0 "$D"/disk{0,1,2,3}.img --serve "nbd:unix:$SOCK"
nbdinfo "nbd+unix:///md0?socket=$SOCK"
qemu-io -f raw -c 'write -P 0xab 1M 4M' -c flush -c 'read -P 0xab 1M 4M' "nbd+unix:///md0?socket=$SOCK"
"$UMD" --detail md0
"$UMD" --status
set +x
echo
echo "md0 is served at nbd+unix:///md0?socket=$SOCK"
echo "  e.g.  qemu-img info 'nbd+unix:///md0?socket=$SOCK'"
echo "  stop: UMD_RUNTIME_DIR=$UMD_RUNTIME_DIR $UMD --stop md0"
echo "  then: $UMD --dump $D/disk{0,1,3}.img --output $D/array.bin   # degraded read of what was written"
