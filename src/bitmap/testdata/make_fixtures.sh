#!/usr/bin/env bash
# Regenerates the fixtures of this folder from the real kernel: boots the oracle VM
# (../../../../shared/oracle: Linux 6.1, mdadm 4.2) with vm_script.sh, then splits what
# it wrote to the output disk and printed into NAME.sb (the 4 KiB md superblock area),
# NAME.bitmap (the 4 KiB from the bitmap superblock on), NAME.X.txt (mdadm -X) and
# fixtures.txt (where each came from: super offset, bitmap offset, device size).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=${UMD_SHARED:-$here/../../../../shared}/oracle/vm.sh
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
for i in 0 1 2; do truncate -s 32M "$w/m$i.img"; done
truncate -s 32M "$w/fs.img"; truncate -s 1M "$w/out.img"
"$vm" "$here/vm_script.sh" "$w/m0.img" "$w/m1.img" "$w/m2.img" "$w/fs.img" "$w/out.img" > "$w/log"
grep -q "ORACLE-RC: 0" "$w/log" || { cat "$w/log"; exit 1; }
# mdadm -X texts
awk -v dir="$here" '/^=== X /{f=dir "/" $3 ".X.txt"; next} /^=== END/{close(f); f=""; next} f{print > f}' "$w/log"
: > "$here/fixtures.txt"
grep '^FIX ' "$w/log" | while read -r _ name rest; do
  echo "$name $rest" >> "$here/fixtures.txt"
  if [ "$name" = file ]; then
    slot=$(echo "$rest" | sed -n 's/.*slot=\([0-9]*\).*/\1/p')
    size=$(echo "$rest" | sed -n 's/.*fsize=\([0-9]*\).*/\1/p')
    dd if="$w/out.img" of="$here/file.bitmap" bs=1 skip=$((slot*4096)) count="$size" status=none
  else
    slot=$(echo "$rest" | sed -n 's/.*sb=\([0-9]*\).*/\1/p')
    dd if="$w/out.img" of="$here/$name.sb" bs=4096 skip="$slot" count=1 status=none
    dd if="$w/out.img" of="$here/$name.bitmap" bs=4096 skip=$((slot+1)) count=1 status=none
  fi
done
cat "$here/fixtures.txt"
