#!/usr/bin/env bash
# Installs the real iptables clients that compat-tests/clients-*.test.ts drive, from Debian
# packages, idempotently and without prompting (run as root; scripts/setup.sh calls it):
#  - containernetworking-plugins: the CNI reference plugins in /usr/lib/cni (firewall, portmap,
#    bridge, host-local, ...);
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
echo "clients/setup: ok"
