# Runs inside the oracle VM (Linux 6.1, mdadm 4.2): make_fixtures.sh boots it with
# /dev/vda..vdc = three 32 MiB members, /dev/vdd = a scratch disk for a file system
# holding a bitmap file, /dev/vde = the output disk (slot N at byte N*4096).
slot=0
out() { # copy 8 sectors of $1 at sector $2 into the next output slot
  dd if=$1 of=/dev/vde bs=512 skip=$2 count=8 seek=$((slot*8)) conv=notrunc 2>/dev/null
  slot=$((slot+1))
}
wipe() { for d in /dev/vda /dev/vdb /dev/vdc; do dd if=/dev/zero of=$d bs=1M count=32 2>/dev/null; done; }
cap() { # NAME DEV: md superblock area, bitmap area and mdadm -X of one member
  ex=$(mdadm --examine $2)
  so=$(echo "$ex" | sed -n 's/.*Super Offset : \([0-9]*\) sectors.*/\1/p')
  bo=$(echo "$ex" | sed -n 's/.*Internal Bitmap : \(-*[0-9]*\) sectors.*/\1/p')
  if [ -z "$so" ]; then sz=$(cat /sys/block/${2#/dev/}/size); so=$(( (sz & ~127) - 128 )); bo=8; fi
  echo "=== X $1"
  mdadm -X $2
  echo "=== END"
  echo "FIX $1 sb=$slot so=$so bo=$bo size=$(cat /sys/block/${2#/dev/}/size)"
  out $2 $so
  out $2 $((so+bo))
}
w() { dd if=/dev/urandom of=/dev/md0 bs=4k seek=$(( $1 / 4 )) count=$(( $2 / 4 )) oflag=direct 2>/dev/null; }

wipe
echo "### r1: 1.2 raid1, write-mostly vdb, write-behind 256, assume-clean"
# The new bitmap starts all dirty; two daemon passes (5 s each) clear it before the writes.
mdadm --create /dev/md0 --run --metadata=1.2 --level=1 -n2 --assume-clean --bitmap=internal \
  --bitmap-chunk=64K --write-behind=256 --name=bm1 /dev/vda --write-mostly /dev/vdb
sleep 12
w 0 1024; w 5120 4; w 20480 192
sleep 1
cap r1run_vda /dev/vda
cap r1run_vdb /dev/vdb
mdadm --stop /dev/md0
cap r1stop_vda /dev/vda
wipe

echo "### r5: 1.2 raid5 3 members, chunk 64K, bitmap chunk 64K, resynced"
mdadm --create /dev/md0 --run --metadata=1.2 --level=5 -n3 --chunk=64 --bitmap=internal \
  --bitmap-chunk=64K --name=bm5 /dev/vda /dev/vdb /dev/vdc
mdadm --wait /dev/md0
sleep 12
w 0 256; w 8192 64; w 40960 4
sleep 1
cap r5run_vda /dev/vda
cap r5run_vdc /dev/vdc
mdadm --stop /dev/md0
wipe

echo "### r10: 1.0 raid1, bitmap before the superblock"
mdadm --create /dev/md0 --run --metadata=1.0 --level=1 -n2 --assume-clean --bitmap=internal \
  --bitmap-chunk=128K --name=bm10 /dev/vda /dev/vdb
sleep 12
w 1024 2048
sleep 1
cap v10run_vda /dev/vda
mdadm --stop /dev/md0
wipe

echo "### r090: 0.90 raid1, bitmap 4 KiB after the superblock"
mdadm --create /dev/md0 --run --metadata=0.90 --level=1 -n2 --assume-clean --bitmap=internal \
  --bitmap-chunk=64K /dev/vda /dev/vdb
sleep 12
w 0 64; w 16384 4
sleep 1
cap v090run_vda /dev/vda
mdadm --stop /dev/md0
wipe

echo "### file: 1.2 raid1 with its bitmap in a file on ext4"
mke2fs -q -t ext4 /dev/vdd && mkdir -p /mnt && mount -t ext4 /dev/vdd /mnt
mdadm --create /dev/md0 --run --metadata=1.2 --level=1 -n2 --assume-clean --bitmap=/mnt/bm.bin \
  --bitmap-chunk=64K --delay=30 --name=bmf /dev/vda /dev/vdb
w 0 128; w 10240 4
sleep 1
echo "=== X file"
mdadm -X /mnt/bm.bin
echo "=== END"
echo "FIX file slot=$slot fsize=$(wc -c < /mnt/bm.bin)"
dd if=/mnt/bm.bin of=/dev/vde bs=4096 seek=$slot count=1 iflag=direct conv=notrunc 2>/dev/null
slot=$((slot+1))
mdadm --stop /dev/md0
umount /mnt
echo DONE
