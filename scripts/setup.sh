#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine (run as root): system packages, bpffs,
# npm dependencies, build (BPF objects + bundled CLI). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for p in clang llvm libbpf-dev libbpf1 bpftool iptables nftables iproute2 iputils-ping ethtool util-linux gcc-multilib; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# bpffs in this mount namespace (bpftables itself also finds/mounts the init namespace's one).
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mount -t bpf bpf /sys/fs/bpf
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run --silent build

# Real iptables clients driven by compat-tests/clients-*.test.ts.
bash compat-tests/clients/setup.sh
echo "setup: ok"
