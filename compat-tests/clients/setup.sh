#!/usr/bin/env bash
# Installs the real iptables clients that compat-tests/clients-*.test.ts drive, from Debian
# packages, idempotently and without prompting (run as root; scripts/setup.sh calls it):
#  - containernetworking-plugins: the CNI reference plugins in /usr/lib/cni (firewall, portmap,
#    bridge, host-local, ...);
#  - ufw: NOT installed (its package Breaks iptables-persistent) but downloaded and unpacked
#    under /opt/bpftables-clients/ufw/root, where clients-ufw.test.ts runs it with --rootdir
#    (plus etc/ufw/ufw.conf, which the package's postinst would have put in /etc/ufw);
#  - iptables-persistent + netfilter-persistent: preseeded NOT to save the machine's current
#    rules at install time (autosave_v4/v6 = false), so installing writes nothing of ours or the
#    host's into /etc/iptables.
set -euo pipefail

need=()
for p in containernetworking-plugins iptables-persistent netfilter-persistent; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "clients/setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  printf '%s\n' \
    'iptables-persistent iptables-persistent/autosave_v4 boolean false' \
    'iptables-persistent iptables-persistent/autosave_v6 boolean false' | debconf-set-selections
  # apt lists may be missing on a fresh machine; update only when a package is not found.
  if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then apt-get update -qq; fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for f in /usr/lib/cni/firewall /usr/lib/cni/portmap /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/sbin/netfilter-persistent; do
  [ -x "$f" ] || { echo "clients/setup: $f missing after install" >&2; exit 1; }
done
UFW_ROOT=/opt/bpftables-clients/ufw/root
if [ ! -x "$UFW_ROOT/usr/sbin/ufw" ] || [ ! -f "$UFW_ROOT/etc/ufw/ufw.conf" ]; then
  echo "clients/setup: unpacking ufw under $UFW_ROOT"
  tmp=$(mktemp -d)
  # apt-get download writes into the current directory; _apt cannot write to mktemp's 0700 dir.
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -qq ufw) 2>/dev/null; then
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq ufw)
  fi
  rm -rf "$UFW_ROOT.tmp"
  mkdir -p "$UFW_ROOT.tmp"
  dpkg-deb -x "$tmp"/ufw_*.deb "$UFW_ROOT.tmp"
  cp "$UFW_ROOT.tmp/usr/share/ufw/ufw.conf" "$UFW_ROOT.tmp/etc/ufw/ufw.conf"
  rm -rf "$tmp" "$UFW_ROOT"
  mv "$UFW_ROOT.tmp" "$UFW_ROOT"
fi
[ -x "$UFW_ROOT/usr/sbin/ufw" ] || { echo "clients/setup: $UFW_ROOT/usr/sbin/ufw missing after unpack" >&2; exit 1; }
echo "clients/setup: ok"
