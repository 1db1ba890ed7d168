// addrtype with real packets: two identical pairs of namespaces (sender S — target T over a
// veth, the same addresses in both), T filtered by bpftables in one pair and by iptables-nft in
// the other. The same ruleset (count-only addrtype rules for LOCAL / BROADCAST / MULTICAST /
// UNICAST, inversions, --limit-iface-in / -out, and verdict rules) and the same traffic in
// both; then every rule's and policy's counters and each ping's outcome must agree. Part of the
// traffic runs after T's addresses change (an address added, then removed, after the ruleset
// was loaded): the kernel decides the address type per packet, and so must the datapath.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, Scratch, type Impl } from './lib/netns.ts';

const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m addrtype --dst-type LOCAL
-A INPUT -m addrtype --dst-type BROADCAST
-A INPUT -m addrtype --dst-type MULTICAST
-A INPUT -m addrtype --dst-type UNICAST
-A INPUT -m addrtype --src-type LOCAL
-A INPUT -m addrtype --src-type LOCAL --limit-iface-in
-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in
-A INPUT -m addrtype ! --src-type LOCAL ! --dst-type LOCAL
-A INPUT -m addrtype --src-type UNICAST --dst-type BROADCAST,MULTICAST
-A INPUT -p icmp -m addrtype --dst-type BROADCAST -j DROP
-A INPUT -p icmp -s 10.197.0.1 -m addrtype --dst-type MULTICAST -j DROP
-A OUTPUT -m addrtype --dst-type LOCAL
-A OUTPUT -m addrtype --dst-type UNICAST
-A OUTPUT -m addrtype --src-type LOCAL --limit-iface-out
-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-out
-A OUTPUT -m addrtype ! --dst-type LOCAL,UNICAST
-A OUTPUT -d 10.197.0.77 -m addrtype --dst-type LOCAL
-A OUTPUT -d 10.197.0.77 -m addrtype --dst-type UNICAST
-A OUTPUT -d 10.197.0.78 -m addrtype --dst-type LOCAL -j DROP
COMMIT
`;

interface Pair {
  s: Scratch;
  t: Scratch;
}

const pairs = new Map<Impl, Pair>();

function sh(ns: Scratch, cmd: string): number {
  return ns.exec(['sh', '-c', cmd]).code;
}

function setup(impl: Impl): Pair {
  const s = Scratch.create('at-s');
  const t = Scratch.create('at-t');
  const ok = (argv: string[]) => {
    const r = s.exec(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  ok(['ip', 'link', 'add', 'bpft-ats', 'type', 'veth', 'peer', 'name', 'bpft-att', 'netns', t.name]);
  ok(['ip', 'addr', 'add', '10.197.0.1/24', 'dev', 'bpft-ats']);
  ok(['ip', 'link', 'set', 'bpft-ats', 'up']);
  // Permanent neighbours for 10.197.0.77 and .78 while they are not T's: no ARP failure, whose
  // late ICMP host-unreachable (3 s after the ping) would race with reading the counters.
  for (const c of ['ip addr add 10.197.0.2/24 dev bpft-att', 'ip link set bpft-att up', 'sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0', 'ip neigh replace 10.197.0.77 lladdr 02:00:00:00:00:77 dev bpft-att nud permanent', 'ip neigh replace 10.197.0.78 lladdr 02:00:00:00:00:78 dev bpft-att nud permanent']) {
    if (sh(t, c) !== 0) throw new Error(`${t.name}: ${c}`);
  }
  // The sender answers nothing itself (only T's hooks are compared) but needs a multicast route.
  ok(['ip', 'route', 'add', '224.0.0.0/4', 'dev', 'bpft-ats']);
  const r = run(t, impl, 'iptables-restore', [], RULES);
  if (r.code !== 0) throw new Error(`${impl} restore: ${r.stderr}`);
  return { s, t };
}

/** The same traffic in each pair; returns the outcome of every ping (true = answered). */
function traffic(p: Pair): Record<string, boolean> {
  const ping = (ns: Scratch, args: string) => sh(ns, `ping -n -q -c 1 -W 1 ${args} >/dev/null 2>&1`) === 0;
  const out: Record<string, boolean> = {};
  out.unicast = ping(p.s, '10.197.0.2');
  out.directedBroadcast = ping(p.s, '-b 10.197.0.255');
  out.limitedBroadcast = ping(p.s, '-b -I bpft-ats 255.255.255.255');
  out.multicast = ping(p.s, '-I bpft-ats 224.0.0.1');
  out.loopback = ping(p.t, '127.0.0.1');
  out.loopback2 = ping(p.t, '127.0.0.9');
  out.ownAddress = ping(p.t, '10.197.0.2');
  // 10.197.0.77 is not T's yet: OUTPUT sees a UNICAST destination (sent to a MAC nobody has).
  out.before = ping(p.t, '10.197.0.77');
  sh(p.t, 'ip addr add 10.197.0.77/32 dev bpft-att && ip addr add 10.197.0.78/32 dev lo');
  out.added = ping(p.t, '10.197.0.77');
  out.addedDrop = ping(p.t, '10.197.0.78');
  out.fromSender = ping(p.s, '10.197.0.77');
  sh(p.t, 'ip addr del 10.197.0.77/32 dev bpft-att && ip addr del 10.197.0.78/32 dev lo');
  out.removed = ping(p.t, '10.197.0.77');
  out.removedDrop = ping(p.t, '10.197.0.78');
  return out;
}

function counters(impl: Impl, p: Pair): string {
  const r = run(p.t, impl, 'iptables-save', ['-c', '-t', 'filter']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

beforeAll(() => {
  for (const impl of ['bpftables', 'nft'] as Impl[]) pairs.set(impl, setup(impl));
}, 180_000);

afterAll(() => {
  for (const p of pairs.values()) {
    p.s.destroy();
    p.t.destroy();
  }
});

describe('addrtype in the datapath against iptables-nft', () => {
  it('same verdicts and per-rule counters, across address changes', () => {
    const bp = traffic(pairs.get('bpftables')!);
    const nft = traffic(pairs.get('nft')!);
    expect(bp).toEqual(nft);
    // The rules decided something: broadcast and the dropped local address fail, the rest answer.
    expect(nft).toMatchObject({ unicast: true, directedBroadcast: false, limitedBroadcast: false, multicast: false, loopback: true, ownAddress: true, added: true, addedDrop: false, removedDrop: false });
    const want = counters('nft', pairs.get('nft')!);
    const got = counters('bpftables', pairs.get('bpftables')!);
    expect(got).toEqual(want);
    // Every count-only rule saw traffic in one case at least, except those that cannot here.
    expect(want).toMatch(/\[[1-9]\d*:\d+\] -A INPUT -m addrtype --dst-type BROADCAST\n/);
    expect(want).toMatch(/\[[1-9]\d*:\d+\] -A INPUT -m addrtype --dst-type MULTICAST\n/);
    expect(want).toMatch(/\[[1-9]\d*:\d+\] -A OUTPUT -d 10\.197\.0\.77\/32 -m addrtype --dst-type LOCAL\n/);
    expect(want).toMatch(/\[[1-9]\d*:\d+\] -A OUTPUT -d 10\.197\.0\.77\/32 -m addrtype --dst-type UNICAST\n/);
  }, 120_000);
});
