// Differential packet test: the same random ruleset is loaded into real iptables (iptables-nft,
// the machine's `iptables`) in one pair of namespaces and into bpftables in another pair; the
// same probe traffic (UDP, TCP handshakes, ICMP echo) crosses both; delivered packets, probe
// outcomes and every rule's packet/byte counters (iptables-save -c) must be identical.
//
// Topology per implementation: client ns (10.210.0.11-16 on veth c0) <-> server ns
// (10.210.0.1, 10.210.0.2 on veth s0). The ruleset lives in the server's filter table.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rng } from './datapath-helpers.ts';
import { ROOT, Scratch, run, type Impl } from './lib/netns.ts';

const TRAFFIC = join(ROOT, 'compat-tests', 'lib', 'traffic.mjs');
const CLIENT_ADDRS = ['10.210.0.11', '10.210.0.12', '10.210.0.13', '10.210.0.14', '10.210.0.15', '10.210.0.16'];
const SERVER_ADDRS = ['10.210.0.1', '10.210.0.2'];
const PORTS = [1000, 1001, 1002, 1003, 1004, 1005];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

const maybeNot = (r: () => number, p = 0.2): string => (r() < p ? '! ' : '');

/** A random filter ruleset (iptables-restore text) over INPUT, OUTPUT and up to three user chains. */
export function randomRuleset(seed: number): string {
  const r = rng(seed);
  // The header matches (bpf/headers.h) draw from their own stream, so the rest of each seed's
  // ruleset is what it was before they were added.
  const r2 = rng(seed ^ 0x6b6b6b6b);
  const users = ['U1', 'U2', 'U3'].slice(0, Math.floor(r() * 4));
  const lines = ['*filter', `:INPUT ${pick(r, ['ACCEPT', 'DROP'])} [0:0]`, ':FORWARD ACCEPT [0:0]', `:OUTPUT ${pick(r, ['ACCEPT', 'ACCEPT', 'DROP'])} [0:0]`];
  for (const u of users) lines.push(`:${u} - [0:0]`);
  const rule = (chain: string, idx: number): string => {
    const parts: string[] = [];
    const local = chain === 'OUTPUT' ? 'd' : 's';
    const remote = chain === 'OUTPUT' ? 's' : 'd';
    if (r() < 0.4) parts.push(`${maybeNot(r)}-${local} ${pick(r, ['10.210.0.11/32', '10.210.0.12/31', '10.210.0.8/29', '10.210.0.16/30', '10.210.0.0/24', '10.0.0.0/8'])}`);
    if (r() < 0.2) parts.push(`${maybeNot(r)}-${remote} ${pick(r, ['10.210.0.1/32', '10.210.0.2/32', '10.210.0.0/30'])}`);
    if (chain !== 'OUTPUT' && r() < 0.2) parts.push(`${maybeNot(r)}-i ${pick(r, ['s0', 's+', 'lo', 'x9'])}`);
    if (chain === 'OUTPUT' && r() < 0.2) parts.push(`${maybeNot(r)}-o ${pick(r, ['s0', 's+', 'lo'])}`);
    const proto = pick(r, ['', '', 'tcp', 'udp', 'udp', 'icmp']);
    if (proto) {
      parts.push(`${r() < 0.1 ? '! ' : ''}-p ${proto}`);
      const inverted = parts[parts.length - 1].startsWith('!');
      if (!inverted && (proto === 'tcp' || proto === 'udp')) {
        const portKey = chain === 'OUTPUT' ? 'sport' : 'dport';
        const c = r();
        if (c < 0.35) parts.push(`-m ${proto} ${maybeNot(r)}--${portKey} ${pick(r, PORTS)}`);
        else if (c < 0.5) parts.push(`-m ${proto} --${portKey} ${pick(r, ['1000:1002', '1003:1005', '999:1001'])}`);
        else if (c < 0.65) parts.push(`-m multiport ${maybeNot(r)}--${portKey}s ${pick(r, ['1000,1003', '1001:1002,1005', '1004'])}`);
        if (proto === 'tcp' && r() < 0.15) parts.push(`-m tcp ${maybeNot(r)}--syn`);
      } else if (!inverted && proto === 'icmp' && r() < 0.5) {
        parts.push(`-m icmp --icmp-type ${pick(r, ['8', 'echo-request', '0', 'any'])}`);
      }
    }
    const tcpPlain = proto === 'tcp' && !parts[parts.length - 1]?.startsWith('!');
    if (tcpPlain && r2() < 0.2) parts.push(`-m tcpmss ${maybeNot(r2)}--mss ${pick(r2, ['1000:1460', '536', '1460:65535', '65495'])}`);
    if (r2() < 0.12) parts.push(`-m u32 ${maybeNot(r2)}--u32 ${pick(r2, ['0>>22&0x3C@0>>16=1000:1002', '0x8&0xff0000>>16=17', '6&0x1fff=0&&0>>22&0x3C@12>>26&0x3C@0=0:0x7fffffff', '0>>22&0x3C@4=0:0xffff'])}`);
    if (r2() < 0.08) parts.push(`-m string ${maybeNot(r2)}--string ${pick(r2, ['ab', 'probe', 'x'])} --algo ${pick(r2, ['bm', 'kmp'])}${r2() < 0.3 ? ' --icase' : ''}`);
    if (r2() < 0.05) parts.push(`-m time ${pick(r2, ['--datestop 2001-01-01', '--datestart 2001-01-01', '--weekdays Mon,Tue,Wed,Thu,Fri,Sat,Sun'])}`);
    if (r() < 0.25) parts.push(`-m conntrack ${maybeNot(r, 0.1)}--ctstate ${pick(r, ['NEW', 'ESTABLISHED', 'RELATED,ESTABLISHED', 'INVALID', 'NEW,ESTABLISHED'])}`);
    const laterUsers = chain.startsWith('U') ? users.filter((u) => u > chain) : users;
    const targets = ['ACCEPT', 'DROP', 'DROP', '', 'RETURN', ...laterUsers.map((u) => u), ...laterUsers.map((u) => `g:${u}`)];
    let t = pick(r, targets);
    if (t === 'RETURN' && !chain.startsWith('U') && idx % 2 === 0) t = '';
    const target = t === '' ? '' : t.startsWith('g:') ? ` -g ${t.slice(2)}` : ` -j ${t}`;
    return `-A ${chain}${parts.length ? ' ' + parts.join(' ') : ''}${target}`;
  };
  for (const chain of ['INPUT', 'OUTPUT', ...users]) {
    const n = chain === 'OUTPUT' ? Math.floor(r() * 4) : 1 + Math.floor(r() * 8);
    for (let i = 0; i < n; i++) lines.push(rule(chain, i));
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

interface Probe {
  id: number;
  kind: 'udp' | 'tcp';
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

function randomProbes(seed: number): Probe[] {
  const r = rng(seed ^ 0x5a5a5a5a);
  const probes: Probe[] = [];
  for (let i = 0; i < 24; i++) {
    const kind = r() < 0.6 ? 'udp' : 'tcp';
    probes.push({ id: i + 1, kind, src: pick(r, CLIENT_ADDRS), dst: pick(r, SERVER_ADDRS), sport: kind === 'udp' ? 2000 + Math.floor(r() * 3) : 30000 + i, dport: pick(r, PORTS) });
  }
  return probes;
}

interface Topology {
  client: Scratch;
  server: Scratch;
}

function topology(tag: string): Topology {
  const client = Scratch.create(`${tag}c`);
  const server = Scratch.create(`${tag}s`);
  const sh = (args: string[]) => {
    const res = spawnSync('ip', args, { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`ip ${args.join(' ')}: ${res.stderr}`);
  };
  sh(['link', 'add', 'c0', 'netns', client.name, 'type', 'veth', 'peer', 'name', 's0', 'netns', server.name]);
  for (const a of CLIENT_ADDRS) sh(['-n', client.name, 'addr', 'add', `${a}/24`, 'dev', 'c0']);
  for (const a of SERVER_ADDRS) sh(['-n', server.name, 'addr', 'add', `${a}/24`, 'dev', 's0']);
  sh(['-n', client.name, 'link', 'set', 'c0', 'up']);
  sh(['-n', server.name, 'link', 'set', 's0', 'up']);
  // No SYN-ACK retransmissions: a handshake whose ACK the ruleset drops must not add packets
  // to the counters at timing-dependent moments.
  server.exec(['sysctl', '-qw', 'net.ipv4.tcp_synack_retries=0']);
  return { client, server };
}

interface Outcome {
  received: string[];
  probes: string;
  pings: string[];
  save: string;
}

/**
 * The same ruleset built by single commands (each one an incremental datapath update in
 * bpftables): a restore of the chains and every other rule, then the rest by `-I chain n`, a
 * decoy rule inserted at the head and deleted by its spec, and the first rule replaced by -R.
 */
export function byCommands(rules: string): { restore: string; commands: string[][] } {
  const lines = rules.split('\n');
  const keep: string[] = [];
  const commands: string[][] = [];
  const seen = new Map<string, number>();
  const first = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^-A (\S+)(.*)$/.exec(l);
    if (!m) {
      if (l === 'COMMIT') keep.push(l, '');
      else if (l) keep.push(l);
      continue;
    }
    const [, chain, rest] = m;
    const i = seen.get(chain) ?? 0;
    seen.set(chain, i + 1);
    const args = rest.trim() ? rest.trim().split(/\s+/) : [];
    if (i === 0) first.set(chain, args);
    if (i % 2 === 0) keep.push(l);
    else commands.push(['-w', '-I', chain, String(i + 1), ...args]);
  }
  commands.unshift(['-w', '-I', 'INPUT', '1', '-s', '10.99.0.1/32', '-j', 'DROP']);
  commands.push(['-w', '-D', 'INPUT', '-s', '10.99.0.1/32', '-j', 'DROP']);
  for (const [chain, args] of first) commands.push(['-w', '-R', chain, '1', ...args]);
  return { restore: keep.join('\n'), commands };
}

async function exercise(impl: Impl, topo: Topology, rules: string, probes: Probe[], build?: { restore: string; commands: string[][] }): Promise<Outcome> {
  const load = run(topo.server, impl, 'iptables-restore', [], build ? build.restore : rules);
  if (load.code !== 0) throw new Error(`${impl} restore failed: ${load.stderr}`);
  for (const c of build?.commands ?? []) {
    const res = run(topo.server, impl, 'iptables', c);
    if (res.code !== 0) throw new Error(`${impl} iptables ${c.join(' ')} failed: ${res.stderr}`);
  }
  const server = spawn('ip', ['netns', 'exec', topo.server.name, 'node', TRAFFIC, 'serve', JSON.stringify({ udp: PORTS, tcp: PORTS })]);
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  await new Promise<void>((res) => {
    const check = () => (out.includes('ready') ? res() : setTimeout(check, 20));
    check();
  });
  const sent = topo.client.exec(['node', TRAFFIC, 'send', JSON.stringify(probes)]);
  const pings: string[] = [];
  for (const [src, dst] of [['10.210.0.11', '10.210.0.1'], ['10.210.0.14', '10.210.0.2']]) {
    const p = topo.client.exec(['ping', '-c', '1', '-W', '1', '-I', src, dst]);
    pings.push(`${src}->${dst}: ${p.code === 0 ? 'reply' : 'lost'}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  const save = run(topo.server, impl, 'iptables-save', ['-c', '-t', 'filter']).stdout;
  server.kill('SIGTERM');
  await new Promise((res) => server.on('exit', res));
  // The server's exit closes its sockets (FIN / RST exchanges): let them pass before the next
  // round's restore zeroes the counters, so they are never counted in the next round.
  await new Promise((r) => setTimeout(r, 300));
  const received = out.split('\n').filter((l) => l && l !== 'ready').sort();
  return { received, probes: sent.stdout, pings, save: save.replace(/^#.*\n/gm, '') };
}

// VERDICT_OURS=legacy checks the harness itself (two real implementations must agree).
const OURS = (process.env.VERDICT_OURS as Impl | undefined) ?? 'bpftables';
const SEEDS = Array.from({ length: Number(process.env.VERDICT_SEEDS ?? 6) }, (_, i) => 1000 + i);

describe('random rulesets: real iptables vs bpftables on real packets', () => {
  const real = topology('vr');
  const ours = topology('vb');
  afterAll(() => {
    for (const t of [real, ours]) {
      t.client.destroy();
      t.server.destroy();
    }
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: same deliveries, outcomes and counters`, async () => {
      const rules = randomRuleset(seed);
      const probes = randomProbes(seed);
      // Each round starts from a clean slate in both: flush conntrack-visible state by
      // replacing the ruleset (restore flushes) and using fresh source ports per seed.
      const shifted = probes.map((p) => ({ ...p, sport: p.kind === 'tcp' ? p.sport + (seed % 100) * 30 : p.sport + (seed % 100) * 10 }));
      const a = await exercise('nft', real, rules, shifted);
      const b = await exercise(OURS, ours, rules, shifted);
      expect({ seed, rules, ...b }).toEqual({ seed, rules, ...a });
    });
  }

  // The same check with the ruleset built by single -I / -D / -R commands: bpftables updates its
  // classifier incrementally (classifier/incremental.ts) and swaps generations per command.
  for (const seed of SEEDS.slice(0, Number(process.env.VERDICT_EDIT_SEEDS ?? 4)).map((s) => s + 1000)) {
    it(`seed ${seed}, built by single commands: same deliveries, outcomes and counters`, async () => {
      const rules = randomRuleset(seed);
      const build = byCommands(rules);
      const probes = randomProbes(seed);
      // Source ports apart from the restore rounds' (seed % 100 repeats there).
      const shifted = probes.map((p) => ({ ...p, sport: p.kind === 'tcp' ? p.sport + ((seed % 100) + 50) * 30 : p.sport + ((seed % 100) + 50) * 10 }));
      const a = await exercise('nft', real, rules, shifted, build);
      const b = await exercise(OURS, ours, rules, shifted, build);
      expect({ seed, rules, ...b }).toEqual({ seed, rules, ...a });
    });
  }
});
