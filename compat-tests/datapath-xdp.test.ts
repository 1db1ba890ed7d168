// The XDP fast path (bpf/xdp.bpf.c, pcn-iptables-init-xdp) with real packets, against
// iptables-nft: the same ruleset in a fresh DUT namespace per implementation (bpftables with
// the fast path on), the same traffic from a peer with several source addresses (and, with
// forwarding on, through the DUT to a sink), and then the delivered datagrams and every rule
// counter must agree. The XDP program's own statistics must show that it dropped packets,
// so the agreement is not the netfilter program's alone.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsAdd, netnsDel, sh } from './datapath-helpers.ts';
import { DIST_BIN, ROOT } from './lib/netns.ts';

type Impl = 'nft' | 'bpftables';
const PEER_MAC = '02:00:00:5e:11:01';
const DUT_MAC = '02:00:00:5e:11:02';
const PEER = '10.199.9.1';
const DUT = '10.199.9.2';
const SINK = '10.199.10.2';
const SOURCES = [PEER, '10.199.9.5', '10.199.9.6', '10.199.9.7', '10.199.9.77'];
const TRAFFIC = join(ROOT, 'compat-tests', 'lib', 'traffic.mjs');
const made: string[] = [];

// Head of INPUT / FORWARD: source-only DROPs (the fast path's share); then rules it must leave
// to the netfilter program, including a later source DROP.
const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 10.199.9.5/32 -j DROP
-A INPUT -s 10.199.9.4/30 -j DROP
-A INPUT -s 10.199.9.6/31 -m comment --comment "nested in the /30 above" -j DROP
-A INPUT -p udp -m udp --dport 5002 -j DROP
-A INPUT -s 10.199.9.77/32 -j DROP
-A INPUT -p udp -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A FORWARD -s 10.199.9.6/32 -j DROP
-A FORWARD -s 10.199.9.0/29 -m comment --comment head -j DROP
-A FORWARD -p udp -m udp --dport 5002 -j DROP
-A FORWARD -s 10.199.9.77/32 -j DROP
COMMIT
`;

function run(cmd: string[], input?: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

interface Topo {
  dut: string;
  peer: string;
  sink: string;
  dv: string;
}

function topology(impl: Impl, tag: string, forwarding: boolean): Topo {
  const dut = `bpft-xdp-${tag}d-${process.pid}`;
  const peer = `bpft-xdp-${tag}p-${process.pid}`;
  const sink = `bpft-xdp-${tag}s-${process.pid}`;
  for (const n of [dut, peer, sink]) {
    netnsAdd(n);
    made.push(n);
  }
  const dv = `bpftx${tag}d`;
  const pv = `bpftx${tag}p`;
  run(['ip', 'link', 'add', dv, 'netns', dut, 'address', DUT_MAC, 'type', 'veth', 'peer', 'name', pv, 'netns', peer, 'address', PEER_MAC]);
  run(['ip', 'link', 'add', `${dv}o`, 'netns', dut, 'type', 'veth', 'peer', 'name', `${pv}s`, 'netns', sink]);
  run(['ip', '-n', dut, 'addr', 'add', `${DUT}/24`, 'dev', dv]);
  run(['ip', '-n', dut, 'addr', 'add', '10.199.10.1/24', 'dev', `${dv}o`]);
  run(['ip', '-n', sink, 'addr', 'add', `${SINK}/24`, 'dev', `${pv}s`]);
  for (const a of SOURCES) run(['ip', '-n', peer, 'addr', 'add', `${a}/24`, 'dev', pv]);
  for (const [n, d] of [[dut, dv], [dut, `${dv}o`], [peer, pv], [sink, `${pv}s`]] as const) run(['ip', '-n', n, 'link', 'set', d, 'up']);
  run(['ip', '-n', peer, 'route', 'add', '10.199.10.0/24', 'via', DUT]);
  run(['ip', '-n', sink, 'route', 'add', '10.199.9.0/24', 'via', '10.199.10.1']);
  sh(dut, `sysctl -qw net.ipv4.ip_forward=${forwarding ? 1 : 0}`, { check: true });
  sh(peer, `ip neigh replace ${DUT} lladdr ${DUT_MAC} dev ${pv} nud permanent`, { check: true });
  for (const a of SOURCES) sh(dut, `ip neigh replace ${a} lladdr ${PEER_MAC} dev ${dv} nud permanent`, { check: true });
  if (impl === 'bpftables') {
    run(['ip', 'netns', 'exec', dut, join(DIST_BIN, 'pcn-iptables-init-xdp')]);
    run(['ip', 'netns', 'exec', dut, join(DIST_BIN, 'iptables-restore')], RULES);
  } else {
    run(['ip', 'netns', 'exec', dut, 'iptables-nft-restore'], RULES);
  }
  return { dut, peer, sink, dv };
}

function ruleCounters(impl: Impl, dut: string): string[] {
  const save = impl === 'nft' ? ['iptables-nft-save', '-c'] : [join(DIST_BIN, 'iptables-save'), '-c'];
  return run(['ip', 'netns', 'exec', dut, ...save]).split('\n').filter((l) => l.startsWith('['));
}

/** [dropped, passed] by the XDP program attached to dev in ns (summed over CPUs). */
function xdpStats(ns: string, dev: string): [number, number] {
  const link = JSON.parse(run(['ip', '-n', ns, '-j', '-d', 'link', 'show', 'dev', dev])) as Array<{ xdp?: { prog?: { id: number } } }>;
  const progId = link[0]?.xdp?.prog?.id;
  if (progId === undefined) throw new Error(`no XDP program on ${dev}`);
  const prog = JSON.parse(run(['bpftool', '-j', 'prog', 'show', 'id', String(progId)])) as { map_ids: number[] };
  for (const id of prog.map_ids) {
    const m = JSON.parse(run(['bpftool', '-j', 'map', 'show', 'id', String(id)])) as { name: string };
    if (m.name !== 'xdpstats') continue;
    // With BTF, bpftool gives the decoded entries under `formatted`.
    const dump = JSON.parse(run(['bpftool', '-j', 'map', 'dump', 'id', String(id)])) as Array<{ formatted: { key: number; values: Array<{ value: number }> } }>;
    const sum = (k: number): number => dump.find((e) => e.formatted.key === k)!.formatted.values.reduce((a, v) => a + Number(v.value), 0);
    return [sum(0), sum(1)];
  }
  throw new Error('xdpstats not found');
}

async function exercise(impl: Impl, tag: string, forwarding: boolean): Promise<{ delivered: string[]; counters: string[]; stats?: [number, number] }> {
  const t = topology(impl, tag, forwarding);
  const servers = [t.dut, t.sink].map((ns) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'node', TRAFFIC, 'serve', '{"udp":[5001,5002]}'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const s = { out: '', ended: new Promise<void>((res) => p.on('exit', () => res())), p };
    p.stdout.on('data', (b: Buffer) => (s.out += b.toString()));
    return s;
  });
  for (let i = 0; i < 100 && !servers.every((s) => s.out.includes('ready')); i++) await new Promise((r) => setTimeout(r, 100));
  for (const s of servers) expect(s.out).toContain('ready');
  const probes: object[] = [];
  let id = 1;
  for (const src of SOURCES) {
    for (const dport of [5001, 5002]) {
      probes.push({ id: id++, kind: 'udp', src, dst: DUT, sport: 43000 + id, dport });
      if (forwarding) probes.push({ id: id++, kind: 'udp', src, dst: SINK, sport: 43000 + id, dport });
    }
    // A TCP SYN to a closed port: dropped, or answered with a RST.
    probes.push({ id: id++, kind: 'tcp', src, dst: DUT, sport: 43000 + id, dport: 7 });
  }
  sh(t.peer, `node ${TRAFFIC} send '${JSON.stringify(probes)}'`, { check: true });
  for (const src of SOURCES) sh(t.peer, `ping -c 2 -i 0.2 -W 1 -I ${src} ${DUT}`);
  await new Promise((r) => setTimeout(r, 300));
  const delivered: string[] = [];
  for (const [i, s] of servers.entries()) {
    s.p.kill('SIGTERM');
    await s.ended;
    delivered.push(...s.out.split('\n').filter((l) => l.startsWith('udp ')).map((l) => `${i ? 'sink' : 'dut'} ${l}`));
  }
  const out = { delivered: delivered.sort(), counters: ruleCounters(impl, t.dut) };
  return impl === 'bpftables' ? { ...out, stats: xdpStats(t.dut, t.dv) } : out;
}

afterAll(() => {
  for (const n of made) {
    spawnSync('ip', ['netns', 'exec', n, join(DIST_BIN, 'bpftables'), '--bpftables-teardown'], { encoding: 'utf8' });
    netnsDel(n);
  }
});

describe('XDP fast path: verdicts and counters as iptables-nft', () => {
  for (const forwarding of [false, true]) {
    it(`forwarding ${forwarding ? 'on (INPUT and FORWARD)' : 'off (INPUT)'}`, async () => {
      const tag = forwarding ? 'f' : 'i';
      const nft = await exercise('nft', `n${tag}`, forwarding);
      const bpf = await exercise('bpftables', `b${tag}`, forwarding);
      expect(bpf.delivered).toEqual(nft.delivered);
      expect(bpf.counters).toEqual(nft.counters);
      // Something was delivered and something dropped, and the fast path did drop.
      expect(nft.delivered.length).toBeGreaterThan(0);
      expect(bpf.stats![0]).toBeGreaterThan(0);
      expect(bpf.stats![1]).toBeGreaterThan(0);
    }, 120_000);
  }
});
