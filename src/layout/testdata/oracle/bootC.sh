# (vm.sh takes one script: lib.sh is pasted in front of this body before booting)
DEVS="/dev/vdc /dev/vdd /dev/vde"
for l in n2 f2 o2 n3 f3; do doarr r10-$l-3 --level=10 -n3 -c4 --layout=$l; done
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf"
for l in n2 f2 o2 n3 f4; do doarr r10-$l-4 --level=10 -n4 -c4 --layout=$l; done
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf /dev/vdg"
for l in n2 f2 o2 n3 f3 o3; do doarr r10-$l-5 --level=10 -n5 -c4 --layout=$l; done
doarr r10-f2-5c64 --level=10 -n5 -c64 --layout=f2
DEVS="/dev/vdc /dev/vdd"
doarr r1-2 --level=1 -n2
DEVS="/dev/vdi /dev/vdj /dev/vdk /dev/vdl"
doarr r0-original-u --level=0 -n4 -c4 --layout=original
doarr r0-alternate-u --level=0 -n4 -c4 --layout=alternate
doarr r0-alternate-u-c12 --level=0 -n4 -c12 --layout=alternate
doarr r0-original-u-c12 --level=0 -n4 -c12 --layout=original
doarr linear-u --level=linear -n4
doarr linear-u-c64 --level=linear -n4 -c64
DEVS="/dev/vdj /dev/vdi /dev/vdl"
doarr r0-alternate-u3 --level=0 -n3 -c8 --layout=alternate
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf /dev/vdg"
doarr r0-5 --level=0 -n5 -c4
