# (vm.sh takes one script: lib.sh is pasted in front of this body before booting)
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf"
for l in left-asymmetric right-asymmetric left-symmetric right-symmetric parity-first parity-last; do doarr r5-$l-4 --level=5 -n4 -c4 --layout=$l; done
doarr r4-4 --level=4 -n4 -c4
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf /dev/vdg"
doarr r5-left-symmetric-5c64 --level=5 -n5 -c64 --layout=left-symmetric
doarr r5-left-asymmetric-5 --level=5 -n5 -c4 --layout=left-asymmetric
DEVS="/dev/vdc /dev/vdd /dev/vde"
doarr r5-right-symmetric-3 --level=5 -n3 -c4 --layout=right-symmetric
