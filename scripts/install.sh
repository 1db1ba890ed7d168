#!/usr/bin/env bash
# Installs bpftables as the system's iptables (as root, Debian):
#
#   bash scripts/install.sh            build the package if needed, install, switch iptables to it
#   bash scripts/install.sh --no-switch  install and register the alternative, keep the current one
#   bash scripts/install.sh --rebuild    rebuild the package even if it looks up to date
#   bash scripts/install.sh --no-build   install dist/pkg/bpftables as it is
#
# What it does, each step safe to repeat:
#  1. builds dist/pkg/bpftables (scripts/package.mjs: Bun-compiled executable + BPF objects) when it
#     is missing or older than the sources;
#  2. copies it to /usr/local/lib/bpftables/ (new tree beside the old one, then renamed over it, so
#     a running iptables never sees half a tree);
#  3. registers /usr/local/lib/bpftables/bin/iptables as an alternative for `iptables` with the
#     slaves `iptables-save` and `iptables-restore`, exactly as Debian's iptables package registers
#     iptables-legacy (priority 10) and iptables-nft (20); ours has priority 5 so that
#     `update-alternatives --auto iptables` never picks it behind anyone's back;
#  4. remembers which alternative was selected before (in /var/lib/bpftables/previous-alternative,
#     only the first time, so scripts/uninstall.sh can switch back to it) and selects ours with
#     `update-alternatives --set`;
#  5. links bpftables, bpftables-save, bpftables-restore and the pcn-iptables* names into
#     /usr/local/sbin.
# ip6tables, arptables and ebtables are left alone: bpftables filters IPv4 only.
set -euo pipefail

PREFIX=/usr/local/lib/bpftables
SBIN=/usr/local/sbin
STATE_DIR=/var/lib/bpftables
PRIORITY=5
LINKED_NAMES=(bpftables bpftables-save bpftables-restore pcn-iptables pcn-iptables-init pcn-iptables-init-xdp pcn-iptables-clean)

root=$(cd "$(dirname "$0")/.." && pwd)
pkg="$root/dist/pkg/bpftables"
switch=1
rebuild=0
build=1
for a in "$@"; do
  case "$a" in
    --no-switch) switch=0 ;;
    --rebuild) rebuild=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown option $a" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" != 0 ]; then echo "install: must be run as root" >&2; exit 1; fi
command -v update-alternatives >/dev/null || { echo "install: update-alternatives not found (Debian's dpkg provides it)" >&2; exit 1; }

# 1. Build when missing or stale (any source newer than the executable).
needs_build() {
  [ "$rebuild" = 1 ] && return 0
  [ -x "$pkg/bin/bpftables" ] || return 0
  [ -n "$(find "$root/bin" "$root/parser" "$root/ruleset" "$root/extensions" "$root/classifier" "$root/state" "$root/bpf" \
      "$root/package.json" -newer "$pkg/bin/bpftables" \( -name '*.ts' -o -name '*.c' -o -name '*.h' -o -name package.json \) \
      -not -path '*/build/*' -print -quit 2>/dev/null)" ] && return 0
  # A stand-in package (built before bin/main.ts existed) is stale once the real entry exists.
  [ -f "$root/bin/main.ts" ] && grep -q '"entry": "standin"' "$pkg/manifest.json" 2>/dev/null && return 0
  return 1
}
if [ "$build" = 1 ] && needs_build; then
  echo "install: building the package"
  if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  (cd "$root" && node scripts/package.mjs --no-tar)
fi
[ -x "$pkg/bin/bpftables" ] || { echo "install: no package at $pkg" >&2; exit 1; }

# 2. Copy the tree; replace the old one by rename.
mkdir -p "$(dirname "$PREFIX")"
rm -rf "$PREFIX.new" "$PREFIX.old"
cp -a "$pkg" "$PREFIX.new"
if [ -e "$PREFIX" ]; then mv "$PREFIX" "$PREFIX.old"; fi
mv "$PREFIX.new" "$PREFIX"
rm -rf "$PREFIX.old"

# 3. Register the alternative (update-alternatives --install is idempotent).
update-alternatives --quiet \
  --install /usr/sbin/iptables iptables "$PREFIX/bin/iptables" "$PRIORITY" \
  --slave /usr/sbin/iptables-restore iptables-restore "$PREFIX/bin/iptables-restore" \
  --slave /usr/sbin/iptables-save iptables-save "$PREFIX/bin/iptables-save"

# 4. Remember what was selected before, then select ours.
mkdir -p "$STATE_DIR"
if [ ! -s "$STATE_DIR/previous-alternative" ]; then
  q=$(update-alternatives --query iptables)
  status=$(sed -n 's/^Status: //p' <<<"$q")
  value=$(sed -n 's/^Value: //p' <<<"$q")
  if [ "$value" != "$PREFIX/bin/iptables" ]; then
    if [ "$status" = auto ]; then echo auto; else echo "$value"; fi >"$STATE_DIR/previous-alternative"
  fi
fi
if [ "$switch" = 1 ]; then
  update-alternatives --quiet --set iptables "$PREFIX/bin/iptables"
fi

# 5. Our own names on PATH.
for n in "${LINKED_NAMES[@]}"; do ln -sfn "$PREFIX/bin/$n" "$SBIN/$n"; done

# Check what a client will see.
if [ "$switch" = 1 ]; then
  v=$(/usr/sbin/iptables --version)
  case "$v" in
    "iptables v1.8.9 "*) ;;
    *) echo "install: /usr/sbin/iptables --version printed '$v'" >&2; exit 1 ;;
  esac
  echo "install: iptables, iptables-save and iptables-restore are now bpftables ($PREFIX); switch back with scripts/uninstall.sh"
else
  echo "install: bpftables installed in $PREFIX and registered; select it with: update-alternatives --set iptables $PREFIX/bin/iptables"
fi
