#!/usr/bin/env bash
# The main job: load examples/filter.rules with bpftables into a scratch namespace and show
# traffic allowed and denied by the eBPF datapath, with no iptables rules present.
# Topology: bpft-demo-peer (10.201.0.1) <-veth-> bpft-demo-host (10.201.0.2, firewalled).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/dist/bin
PROBE="node $PWD/scripts/netprobe.mjs"
H=bpft-demo-host P=bpft-demo-peer
cleanup() {
  ip netns pids $H 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns exec $H "$BIN/bpftables" --bpftables-teardown >/dev/null 2>&1
  ip netns del $H 2>/dev/null; ip netns del $P 2>/dev/null
}
trap cleanup EXIT
cleanup
ip netns add $H && ip netns add $P
ip link add bpftd0 netns $H type veth peer name bpftd1 netns $P
ip -n $H addr add 10.201.0.2/24 dev bpftd0 && ip -n $H link set bpftd0 up && ip -n $H link set lo up
ip -n $P addr add 10.201.0.1/24 dev bpftd1 && ip -n $P link set bpftd1 up && ip -n $P link set lo up
ip netns exec $H $PROBE listen-tcp 8080 & ip netns exec $H $PROBE listen-tcp 9090 &
ip netns exec $H $PROBE listen-udp 5005 & ip netns exec $H $PROBE listen-udp 6000 &
sleep 0.5

echo "== bpftables-restore examples/filter.rules (in $H)"
ip netns exec $H "$BIN/iptables-restore" < examples/filter.rules || exit 1
echo "== real iptables in $H has no rules:"
echo "   iptables-nft-save lines: $(ip netns exec $H iptables-nft-save | grep -c '^-A')," \
     "iptables-legacy-save lines: $(ip netns exec $H iptables-legacy-save | grep -c '^-A')"

fail=0
check() { # description expected command...
  local what=$1 want=$2; shift 2
  local got; got=$("$@" 2>&1 | tail -1)
  local mark=ok; [ "$got" = "$want" ] || { mark=UNEXPECTED; fail=1; }
  printf '  %-34s %-8s (expected %-7s) %s\n' "$what" "$got" "$want" "$mark"
}
echo "== traffic from $P to $H"
check "ping 10.201.0.2"            ok      bash -c "ip netns exec $P ping -c1 -W1 10.201.0.2 >/dev/null && echo ok || echo lost"
check "tcp 10.201.0.2:8080"        open    ip netns exec $P $PROBE tcp 10.201.0.2 8080 1000
check "tcp 10.201.0.2:9090"        timeout ip netns exec $P $PROBE tcp 10.201.0.2 9090 1000
check "tcp 10.201.0.2:9091 (REJECT)" refused ip netns exec $P $PROBE tcp 10.201.0.2 9091 1000
check "udp 10.201.0.2:5005"        reply   ip netns exec $P $PROBE udp 10.201.0.2 5005 1000
check "udp 10.201.0.2:6000"        timeout ip netns exec $P $PROBE udp 10.201.0.2 6000 1000
echo "== bpftables -L -v -n (counters from the eBPF datapath)"
ip netns exec $H "$BIN/iptables" -L -v -n --line-numbers
exit $fail
