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
#    host's into /etc/iptables;
#  - fail2ban: its iptables actions (iptables-multiport, iptables-allports) are driven by
#    clients-fail2ban.test.ts with a private config dir, socket and database;
#  - ferm: a firewall front end that compiles its config into iptables-restore input
#    (clients-ferm.test.ts);
#  - shorewall: the firewall compiler (clients-shorewall.test.ts); STARTUP_ENABLED=No as shipped.
# Services must never run on the host: starts during installation are denied (policy-rc.d),
# ferm is preseeded not to load its rules at boot, and the fail2ban / ferm / shorewall units are disabled and
# stopped afterwards. Nothing here removes a package (apt-get would refuse, not remove).
set -euo pipefail

need=()
for p in containernetworking-plugins iptables-persistent netfilter-persistent fail2ban ferm shorewall; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "clients/setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  printf '%s\n' \
    'iptables-persistent iptables-persistent/autosave_v4 boolean false' \
    'iptables-persistent iptables-persistent/autosave_v6 boolean false' \
    'ferm ferm/enable boolean false' | debconf-set-selections
  # apt lists may be missing on a fresh machine; update only when a package is not found.
  if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then apt-get update -qq; fi
  # Deny service starts during installation unless a policy already does (exit 101 = denied).
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends --no-remove "${need[@]}" >/dev/null || rc=$?
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || exit "$rc"
  # The clients run only inside the tests' namespaces, never as host services (only units
  # installed just now: a machine that already used fail2ban or ferm keeps its setup).
  for unit in "${need[@]}"; do
    case "$unit" in fail2ban | ferm | shorewall) ;; *) continue ;; esac
    if command -v systemctl >/dev/null; then
      systemctl disable "$unit" >/dev/null 2>&1 || true
      systemctl stop "$unit" >/dev/null 2>&1 || true
    fi
  done
fi
for f in /usr/lib/cni/firewall /usr/lib/cni/portmap /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/sbin/netfilter-persistent /usr/bin/fail2ban-server /usr/bin/fail2ban-client /usr/sbin/ferm /sbin/shorewall; do
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
