slot=0
wipe() { for d in /dev/vda /dev/vdb /dev/vdc /dev/vdd; do dd if=/dev/zero of=$d bs=1M count=24 2>/dev/null; done; }
dump() { # name dev
  ex=$(mdadm --examine $2)
  echo "=== EXAMINE $1 $2"
  echo "$ex"
  so=$(echo "$ex" | sed -n 's/.*Super Offset : \([0-9]*\) sectors.*/\1/p')
  if [ -z "$so" ]; then sz=$(cat /sys/block/${2#/dev/}/size); so=$(( (sz & ~127) - 128 )); fi
  dd if=$2 of=/dev/vde bs=512 skip=$so count=8 seek=$((slot*8)) 2>/dev/null
  echo "FIX $1 slot=$slot so=$so"
  slot=$((slot+1))
}
finish() { # prefix devs...
  p=$1; shift
  mdadm --stop /dev/md0 >/dev/null
  for d in "$@"; do dump ${p}_${d#/dev/} $d; done
  wipe
}
wipe
echo "### c1: 1.2 raid5 n3 chunk64"
mdadm --create /dev/md0 --run --metadata=1.2 --level=5 --chunk=64 -n3 --name=fx1 /dev/vda /dev/vdb /dev/vdc
mdadm --wait /dev/md0; cat /proc/mdstat
finish v12r5 /dev/vda /dev/vdb /dev/vdc
echo "### c2: 1.2 raid1 bitmap"
mdadm --create /dev/md0 --run --metadata=1.2 --level=1 -n2 --bitmap=internal --name=fx2 /dev/vda /dev/vdb
mdadm --wait /dev/md0
finish v12r1b /dev/vda /dev/vdb
echo "### c3: 1.1 raid1 + spare, fail"
mdadm --create /dev/md0 --run --metadata=1.1 --level=1 -n2 -x1 --name=fx3 /dev/vda /dev/vdb /dev/vdc
mdadm --wait /dev/md0
mdadm /dev/md0 --fail /dev/vdb; sleep 1; mdadm --wait /dev/md0; sleep 1; cat /proc/mdstat
finish v11r1f /dev/vda /dev/vdb /dev/vdc
echo "### c4: 1.0 raid1 bitmap"
mdadm --create /dev/md0 --run --metadata=1.0 --level=1 -n2 --bitmap=internal --name=fx4 /dev/vda /dev/vdb
mdadm --wait /dev/md0
finish v10r1b /dev/vda /dev/vdb
echo "### c5: 1.0 raid5 chunk128"
mdadm --create /dev/md0 --run --metadata=1.0 --level=5 --chunk=128 -n3 --name=fx5 /dev/vda /dev/vdb /dev/vdc
mdadm --wait /dev/md0
finish v10r5 /dev/vda /dev/vdb /dev/vdc
echo "### c6: 0.90 raid1"
mdadm --create /dev/md0 --run --metadata=0.90 --level=1 -n2 /dev/vda /dev/vdb
mdadm --wait /dev/md0
finish v090r1 /dev/vda /dev/vdb
echo "### c7: 0.90 raid5 chunk64 + spare, fail"
mdadm --create /dev/md0 --run --metadata=0.90 --level=5 --chunk=64 -n3 -x1 /dev/vda /dev/vdb /dev/vdc /dev/vdd
mdadm --wait /dev/md0
mdadm /dev/md0 --fail /dev/vdb; sleep 1; mdadm --wait /dev/md0; sleep 1; cat /proc/mdstat
finish v090r5f /dev/vda /dev/vdb /dev/vdc /dev/vdd
echo "### c8: 1.2 raid6 n4 chunk 32 left-symmetric, dirty (assume-clean, stop at once)"
mdadm --create /dev/md0 --run --metadata=1.2 --level=6 --chunk=32 --layout=left-symmetric -n4 --name=fx8 /dev/vda /dev/vdb /dev/vdc /dev/vdd
sleep 1
finish v12r6 /dev/vda /dev/vdb /dev/vdc /dev/vdd
echo "### c9: 0.90 raid1 bitmap"
mdadm --create /dev/md0 --run --metadata=0.90 --level=1 -n2 --bitmap=internal /dev/vda /dev/vdb
mdadm --wait /dev/md0
finish v090r1b /dev/vda /dev/vdb
echo DONE
