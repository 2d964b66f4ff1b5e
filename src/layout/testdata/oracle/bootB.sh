# (vm.sh takes one script: lib.sh is pasted in front of this body before booting)
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf /dev/vdg"
for l in left-asymmetric right-asymmetric left-symmetric right-symmetric parity-first parity-last ddf-zero-restart ddf-N-restart ddf-N-continue left-asymmetric-6 right-asymmetric-6 left-symmetric-6 right-symmetric-6 parity-first-6; do doarr r6-$l-5 --level=6 -n5 -c4 --layout=$l; done
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf /dev/vdg /dev/vdh"
for l in left-asymmetric ddf-zero-restart ddf-N-restart ddf-N-continue left-symmetric-6 right-asymmetric-6; do doarr r6-$l-6 --level=6 -n6 -c4 --layout=$l; done
DEVS="/dev/vdc /dev/vdd /dev/vde /dev/vdf"
doarr r6-left-symmetric-4 --level=6 -n4 -c4 --layout=left-symmetric
