#!/usr/bin/env bash
# Install what stacklab needs on a bare Debian 12 machine: apt packages (only
# those missing), the BPF filesystem, and the Python venv in .venv.
# Idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # fabric and capture
  iproute2 nftables tcpdump netsniff-ng
  # compute: libvirt/QEMU, guest image, storage benchmark
  libvirt-daemon-system libvirt-dev pkg-config qemu-system-x86 qemu-utils
  busybox-static fio cpio debootstrap e2fsprogs
  # load balancer datapath
  clang llvm libbpf-dev bpftool
  # provisioning, verification, reporting
  frr prometheus graphviz perftest rdma-core ibverbs-utils
  # ansible tests: a real sshd to prove the hardened config refuses passwords
  openssh-server
  # scripts/test.sh --under-load: a bounded CPU and disk load beside the tests
  stress-ng
  # site-to-site VPN (lab/vpn): userspace data paths, this kernel has no ESP or
  # WireGuard: wireguard-go (TUN), strongSwan's charon with kernel-libipsec
  # (libcharon-extra-plugins) driven over VICI, swanctl to load the shared config
  wireguard-go strongswan-charon strongswan-swanctl libcharon-extra-plugins
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "[install] apt packages missing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # daemons are started by stacklab itself when it needs them
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
else
  echo "[install] apt packages: all present"
fi

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || true

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "[install] installing stacklab into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*; touch "$stamp"
else
  echo "[install] .venv up to date"
fi
