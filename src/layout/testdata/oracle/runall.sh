cd /tmp/umdo
for b in A B C; do
  rm -f out$b.img; truncate -s 1G out$b.img
  for i in 0 1 2 3 4 5; do rm -f m$i.img; truncate -s 4M m$i.img; done
  rm -f u*.img; truncate -s 4M u0.img; truncate -s 3M u1.img; truncate -s 6M u2.img; truncate -s 5M u3.img
  cat lib.sh boot$b.sh > run$b.sh; /work/shared/oracle/vm.sh run$b.sh pat.img out$b.img m0.img m1.img m2.img m3.img m4.img m5.img u0.img u1.img u2.img u3.img > log$b.txt 2>&1
done
echo done > alldone
