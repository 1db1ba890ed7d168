#!/usr/bin/env bash
# Switches iptables back and removes bpftables (as root, Debian):
#
#   bash scripts/uninstall.sh                 back to the alternative selected before install.sh
#                                             (recorded then; iptables-nft if nothing was recorded)
#   bash scripts/uninstall.sh iptables-legacy back to the one given: iptables-nft, iptables-legacy,
#                                             auto, or a full path such as /usr/sbin/iptables-nft
#   bash scripts/uninstall.sh --keep-rules    do not tear down this namespace's datapath first
#
# Before removing the program it runs `pcn-iptables-clean` in the current network namespace
# (detaches programs, removes pins and the stored ruleset), because once the program is gone
# nothing could list or remove those rules. Other namespaces' pins under
# /sys/fs/bpf/bpftables/ are reported, not touched. Safe to repeat.
set -euo pipefail

PREFIX=/usr/local/lib/bpftables
SBIN=/usr/local/sbin
STATE_DIR=/var/lib/bpftables
LINKED_NAMES=(bpftables bpftables-save bpftables-restore pcn-iptables pcn-iptables-init pcn-iptables-init-xdp pcn-iptables-clean)

target=""
explicit=0
keep_rules=0
for a in "$@"; do
  case "$a" in
    --keep-rules) keep_rules=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "uninstall: unknown option $a" >&2; exit 2 ;;
    *) target="$a"; explicit=1 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then echo "uninstall: must be run as root" >&2; exit 1; fi

if [ -z "$target" ]; then
  target=$(cat "$STATE_DIR/previous-alternative" 2>/dev/null || true)
  [ -n "$target" ] || target=iptables-nft
fi
case "$target" in
  auto) ;;
  /*) ;;
  iptables-nft|nft) target=/usr/sbin/iptables-nft ;;
  iptables-legacy|legacy) target=/usr/sbin/iptables-legacy ;;
  *) echo "uninstall: unknown alternative '$target' (iptables-nft, iptables-legacy, auto or a path)" >&2; exit 2 ;;
esac
if [ "$target" != auto ] && [ "$target" != "$PREFIX/bin/iptables" ]; then
  update-alternatives --list iptables 2>/dev/null | grep -qxF "$target" || {
    echo "uninstall: $target is not a registered iptables alternative:" >&2
    update-alternatives --list iptables >&2 || true
    exit 1
  }
fi

# Tear down this namespace's datapath while the program still exists.
if [ "$keep_rules" = 0 ] && [ -x "$PREFIX/bin/pcn-iptables-clean" ] && ! grep -q '"entry": "standin"' "$PREFIX/manifest.json" 2>/dev/null; then
  "$PREFIX/bin/pcn-iptables-clean" || echo "uninstall: warning: pcn-iptables-clean failed; bpftables programs may still be attached" >&2
fi
for d in /sys/fs/bpf/bpftables/*/; do
  [ -d "$d" ] && echo "uninstall: note: pins of another network namespace remain in $d (run pcn-iptables-clean inside it, or rm -r it)" >&2
done

# Unregister ours (update-alternatives falls back to auto if ours was selected), then select.
# When ours was not registered and no alternative was named, the selection is left as it is.
registered=0
if update-alternatives --list iptables 2>/dev/null | grep -qxF "$PREFIX/bin/iptables"; then
  registered=1
  update-alternatives --quiet --remove iptables "$PREFIX/bin/iptables"
fi
if [ "$registered" = 1 ] || [ "$explicit" = 1 ]; then
  if [ "$target" = auto ]; then
    update-alternatives --quiet --auto iptables
  else
    update-alternatives --quiet --set iptables "$target"
  fi
fi

for n in "${LINKED_NAMES[@]}"; do
  if [ -L "$SBIN/$n" ] && [ "$(readlink "$SBIN/$n")" = "$PREFIX/bin/$n" ]; then rm -f "$SBIN/$n"; fi
done
rm -rf "$PREFIX" "$PREFIX.new" "$PREFIX.old"
rm -f "$STATE_DIR/previous-alternative"
rmdir "$STATE_DIR" 2>/dev/null || true

echo "uninstall: iptables is $(update-alternatives --query iptables | sed -n 's/^Value: //p') ($(/usr/sbin/iptables --version))"
