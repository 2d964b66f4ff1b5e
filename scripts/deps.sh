#!/usr/bin/env bash
# Installs the Debian 12 packages umd needs to build, test and demo. Idempotent: it runs
# apt-get only when a package is missing.
set -euo pipefail
PKGS=(
  # build
  build-essential cmake ninja-build ccache pkg-config python3
  # clang: the thread-safety analysis build (scripts/test.sh) and the libFuzzer targets
  # (fuzz/run.sh) with their fuzzer/sanitizer runtimes
  clang libclang-rt-14-dev
  # libraries
  libisal-dev liburing-dev libnbd-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  # libcrypto (SHA-1 of the host name for a 0.90 member's --examine)
  libssl-dev
  # real peers and clients used by tests and benchmarks
  mdadm qemu-utils libnbd-bin nbdkit fio
  # sfdisk: partitioned disk images in the recovery tests and fixtures
  fdisk
  # the FUSE frontend (--fuse DIR)
  libfuse3-dev fuse3
  # the kernel oracle (../shared/oracle)
  qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs cpio
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
