# members: $DEVS; out disk /dev/vdb; pattern /dev/vda
SLOT=0
doarr() {
  tag=$1; shift
  for d in $DEVS; do dd if=/dev/zero of=$d bs=1M 2>/dev/null; done
  if ! mdadm --create /dev/md0 --run --assume-clean --metadata=1.2 --data-offset=1024 "$@" $DEVS >/tmp/log 2>&1; then echo "FAIL $tag"; cat /tmp/log; return; fi
  sz=$(blockdev --getsz /dev/md0)
  dd if=/dev/vda of=/dev/md0 bs=4k 2>/dev/null
  sync
  lay=$(mdadm --detail /dev/md0 | grep -E 'Layout' | sed 's/.*: //')
  mdadm --stop /dev/md0 >/dev/null 2>&1
  for d in $DEVS; do
    ds=$(blockdev --getsz $d)
    dsz=$(mdadm -E $d | grep 'Avail Dev Size' | sed 's/.*: *\([0-9]*\).*/\1/')
    usz=$(mdadm -E $d | grep "Used Dev Size" | sed "s/.*: *\([0-9]*\).*/\1/"); [ -z "$usz" ] && usz=$dsz
    role=$(mdadm -E $d | grep 'Device Role' | sed 's/.*: *//')
    dd if=$d of=/dev/vdb bs=1M seek=$((SLOT*8)) 2>/dev/null
    echo "MEM $tag slot=$SLOT dev=$d role=$role devsz=$ds avail=$dsz used=$usz"
    SLOT=$((SLOT+1))
  done
  echo "ARR $tag size=$sz layout=$lay args=$*"
}
