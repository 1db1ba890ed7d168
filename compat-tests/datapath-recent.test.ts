// The recent match on real traffic: the same rulesets loaded into real iptables (iptables-nft)
// in one pair of namespaces and into bpftables (the CLI in dist/) in another (bpft-rc-*, veth
// between client and server, traffic only between them). The client opens TCP connections
// (a listener answers every port used: "open" = accepted, "timeout" = dropped,
// "ECONNREFUSED" = rejected) and pings; the outcomes must be the expected ones in both, and
// every rule and policy counter (iptables-save -c) must equal real iptables'.
//
// Covered: the ssh brute-force pattern (--set + --update --seconds --hitcount), --rcheck,
// --remove, `!`, --rdest set at OUTPUT and checked with --rsource at INPUT, --seconds expiry,
// a side effect that happens although a later match of the rule fails and one that does not
// happen because an earlier match fails, lists surviving ruleset swaps that still name them
// (and lost with the rules that named them), and ufw's `limit` rules (recent + limit + LOG +
// REJECT in user chains).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatapath, type Datapath } from '../bpf/loader/api.ts';
import { compileTable } from '../classifier/compile.ts';
import { RECENT_LIST_TOT, RecentLists, recentOracle } from '../classifier/recent.ts';
import { classifySpec } from '../classifier/lookup.ts';
import type { RecentData } from '../extensions/match/recent.ts';
import { emptyTable, zeroCounters, type Rule, type Table } from '../ruleset/types.ts';
import { craft, ip, keyOf, withNetns } from './datapath-helpers.ts';
import { DIST_BIN, ROOT, Scratch, run, type Impl } from './lib/netns.ts';
import { destroyPair, listenTraffic, vethPair, type Pair } from './lib/pair.ts';

const CLIENT = '10.215.0.1';
const SERVER = '10.215.0.2';
const TRAFFIC = join(ROOT, 'compat-tests', 'lib', 'traffic.mjs');

function pair(tag: string): Pair {
  return vethPair(`rc-${tag}`, CLIENT, SERVER);
}

const PORTS = [22, ...Array.from({ length: 12 }, (_, i) => 7030 + i)];

function listen(p: Pair): Promise<void> {
  return listenTraffic(p, { tcp: PORTS });
}

let sport = 40000;

/** TCP connects from the client to the server, one after another: open / timeout / ECONNREFUSED. */
function connect(p: Pair, ports: number[]): string[] {
  const probes = ports.map((dport, id) => ({ id, kind: 'tcp', src: CLIENT, dst: SERVER, sport: sport++, dport }));
  const r = p.client.exec([process.execPath, TRAFFIC, 'send', JSON.stringify(probes)]);
  if (r.code !== 0) throw new Error(`traffic.mjs send failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]);
}

function ping(p: Pair): string {
  return p.client.exec(['ping', '-c', '1', '-W', '1', SERVER]).code === 0 ? 'ping ok' : 'ping lost';
}

function load(p: Pair, impl: Impl, rules: string): void {
  const r = run(p.server, impl, 'iptables-restore', [], rules);
  if (r.code !== 0) throw new Error(`${impl} restore failed: ${r.stderr}`);
}

function iptables(p: Pair, impl: Impl, ...args: string[]): void {
  const r = run(p.server, impl, 'iptables', args);
  if (r.code !== 0) throw new Error(`${impl} iptables ${args.join(' ')} failed: ${r.stderr}`);
}

function save(p: Pair, impl: Impl): string {
  spawnSync('sleep', ['0.2']);
  return run(p.server, impl, 'iptables-save', ['-c', '-t', 'filter']).stdout.replace(/^#.*\n/gm, '');
}

const SSH = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7030 -m conntrack --ctstate NEW -m recent --set --name SSH --mask 255.255.255.255 --rsource
-A INPUT -p tcp -m tcp --dport 7030 -m conntrack --ctstate NEW -m recent --update --seconds 60 --hitcount 4 --name SSH --mask 255.255.255.255 --rsource -j DROP
COMMIT
`;

const VARIANTS = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7031 -m conntrack --ctstate NEW -m recent --set --name KNOCK --mask 255.255.255.255 --rsource
-A INPUT -p tcp -m tcp --dport 7032 -m conntrack --ctstate NEW -m recent --rcheck --name KNOCK --mask 255.255.255.255 --rsource -j ACCEPT
-A INPUT -p tcp -m tcp --dport 7032 -m conntrack --ctstate NEW -j DROP
-A INPUT -p tcp -m tcp --dport 7033 -m conntrack --ctstate NEW -m recent --remove --name KNOCK --mask 255.255.255.255 --rsource
-A INPUT -p tcp -m tcp --dport 7034 -m conntrack --ctstate NEW -m recent ! --rcheck --name KNOCK --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p icmp -m recent --set --name PING --mask 255.255.255.255 --rsource -m conntrack --ctstate INVALID -j DROP
-A INPUT -p icmp -m conntrack --ctstate INVALID -m recent --set --name NEVER --mask 255.255.255.255 --rsource
-A INPUT -p tcp -m tcp --dport 7035 -m conntrack --ctstate NEW -m recent --rcheck --seconds 2 --name PING --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p tcp -m tcp --dport 7036 -m conntrack --ctstate NEW -m recent --rcheck --name NEVER --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p tcp -m tcp --dport 7038 -m conntrack --ctstate NEW -m recent --rcheck --name OUT --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p tcp -m tcp --dport 7039 -m conntrack --ctstate NEW -m recent --update --hitcount 2 --name HC --mask 255.255.255.0 --rsource -j DROP
-A INPUT -p tcp -m tcp --dport 7039 -m conntrack --ctstate NEW -m recent --set --name HC --mask 255.255.255.0 --rsource
-A OUTPUT -p tcp -m tcp --sport 7037 -m recent --set --name OUT --mask 255.255.255.255 --rdest
COMMIT
`;

// ufw 0.36 (Debian 12) `ufw limit 22/tcp`, as its user rules and chains are written.
const UFW = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-user-input - [0:0]
:ufw-user-limit - [0:0]
:ufw-user-limit-accept - [0:0]
-A INPUT -j ufw-user-input
-A ufw-user-input -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource
-A ufw-user-input -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --mask 255.255.255.255 --rsource -j ufw-user-limit
-A ufw-user-input -p tcp -m tcp --dport 22 -j ufw-user-limit-accept
-A ufw-user-limit -m limit --limit 3/min -j LOG --log-prefix "[UFW LIMIT BLOCK] "
-A ufw-user-limit -j REJECT --reject-with icmp-port-unreachable
-A ufw-user-limit-accept -j ACCEPT
COMMIT
`;

interface Outcome {
  steps: string[];
  save: string;
}

function sshScenario(impl: Impl, p: Pair): Outcome & { swaps: string[] } {
  load(p, impl, SSH);
  const steps = connect(p, [7030, 7030, 7030, 7030, 7030, 7031]);
  const s = save(p, impl);
  // A ruleset swap that still names SSH keeps its entries (nft adds the rule alone; bpftables
  // commits a whole new ruleset).
  const swaps: string[] = [];
  iptables(p, impl, '-A', 'INPUT', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT');
  swaps.push(...connect(p, [7030]));
  // A restore (one transaction) that names it again keeps it too.
  load(p, impl, SSH);
  swaps.push(...connect(p, [7030]));
  // Flushing the rules that name it frees the list: re-adding them starts empty.
  iptables(p, impl, '-F', 'INPUT');
  load(p, impl, SSH);
  swaps.push(...connect(p, [7030, 7030, 7030, 7030]));
  return { steps, save: s, swaps };
}

function variantsScenario(impl: Impl, p: Pair): Outcome {
  load(p, impl, VARIANTS);
  const steps: string[] = [];
  steps.push(...connect(p, [7032, 7034, 7031, 7032, 7034, 7033, 7032, 7035, 7036]));
  steps.push(ping(p));
  steps.push(...connect(p, [7035, 7036]));
  spawnSync('sleep', ['2.3']);
  steps.push(...connect(p, [7035, 7038, 7037, 7038, 7039, 7039, 7039]));
  return { steps, save: save(p, impl) };
}

function ufwScenario(impl: Impl, p: Pair): Outcome {
  load(p, impl, UFW);
  return { steps: connect(p, [22, 22, 22, 22, 22, 22, 22]), save: save(p, impl) };
}

describe('-m recent on real traffic, like iptables', () => {
  let real: Pair;
  let ours: Pair;
  beforeAll(async () => {
    if (!existsSync(join(DIST_BIN, 'iptables-restore'))) spawnSync('node', [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
    real = pair('n');
    ours = pair('b');
    await listen(real);
    await listen(ours);
    // Neighbours resolved before any rule counts a packet.
    for (const p of [real, ours]) ping(p);
  });
  afterAll(() => {
    for (const p of [real, ours]) destroyPair(p);
  });

  it('ssh brute force: --set, then --update --seconds 60 --hitcount 4 drops the 4th new connection; lists survive swaps that name them', () => {
    const a = sshScenario('nft', real);
    const b = sshScenario('bpftables', ours);
    expect(a.steps).toEqual(['open', 'open', 'open', 'timeout', 'timeout', 'open']);
    expect(b.steps).toEqual(a.steps);
    expect(b.save).toEqual(a.save);
    expect(a.swaps).toEqual(['timeout', 'timeout', 'open', 'open', 'open', 'timeout']);
    expect(b.swaps).toEqual(a.swaps);
  });

  it('--rcheck, --remove, !, --rdest at OUTPUT, --seconds expiry, --mask, and match order around the side effect', () => {
    const a = variantsScenario('nft', real);
    const b = variantsScenario('bpftables', ours);
    expect(a.steps).toEqual([
      'timeout', // 7032: no knock yet
      'timeout', // 7034: ! --rcheck of an absent address
      'open', // 7031: knock (--set)
      'open', // 7032: --rcheck
      'open', // 7034
      'open', // 7033: --remove
      'timeout', // 7032: removed
      'open', // 7035: no ping yet
      'open', // 7036
      'ping ok', // --set PING although the later conntrack match fails; NEVER not set
      'timeout', // 7035: pinged within 2 s
      'open', // 7036: NEVER is empty
      'open', // 7035: the ping is older than 2 s
      'open', // 7038: OUT is empty
      'open', // 7037: the SYN-ACK from port 7037 records the client (--rdest at OUTPUT)
      'timeout', // 7038
      'open', // 7039: --update misses, --set
      'open', // 7039: one stamp < hitcount 2, --set
      'timeout', // 7039: two stamps
    ]);
    expect(b.steps).toEqual(a.steps);
    expect(b.save).toEqual(a.save);
  });

  it("ufw's limit rules: the 6th new connection within 30 s goes to ufw-user-limit", () => {
    const a = ufwScenario('nft', real);
    const b = ufwScenario('bpftables', ours);
    expect(a.steps).toEqual(['open', 'open', 'open', 'open', 'open', 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(b.steps).toEqual(a.steps);
    expect(b.save).toEqual(a.save);
  });
});

// The 100-address cap, --reap, lists forgotten when no rule names them and lists per namespace,
// with BPF_PROG_TEST_RUN on crafted packets (thousands of source addresses are easier here than
// on a veth), against the model (classifier/recent.ts).
describe('recent lists in the datapath (test_run)', () => {
  let a: Scratch;
  let b: Scratch;
  let dpa: Datapath | undefined;
  let dpb: Datapath | undefined;
  beforeAll(() => {
    a = Scratch.create('rc-ta');
    b = Scratch.create('rc-tb');
  });
  afterAll(() => {
    if (dpa) withNetns(a.name, () => dpa!.teardown());
    if (dpb) withNetns(b.name, () => dpb!.teardown());
    a?.destroy();
    b?.destroy();
  });

  const data = (d: Partial<RecentData>): RecentData => ({ cmd: 'CHECK', name: 'E', side: 'source', mask: 0xffffffff, seconds: 0, hitcount: 0, ...d });
  const rule = (id: number, proto: number, d: Partial<RecentData>, drop: boolean): Rule => ({
    id,
    proto: { proto, invert: false },
    matches: [{ name: 'recent', data: data(d) }],
    counters: zeroCounters(),
    target: drop ? { kind: 'standard', verdict: 'DROP' } : undefined,
  });
  /** INPUT: udp from a listed source is dropped; tcp lists the source (--set); icmp: rcheck --reap. */
  const table = (name = 'E'): Table => {
    const t = emptyTable('filter');
    t.chains[0].rules.push(rule(16, 17, { name }, true), rule(17, 6, { cmd: 'SET', name }, false), rule(18, 1, { name, seconds: 1, reap: true }, true));
    return t;
  };
  const DST = ip('10.216.0.1');
  const send = (ns: Scratch, dp: Datapath, proto: number, src: number) =>
    withNetns(ns.name, () => dp.testRun(craft({ src, dst: DST, proto, sport: 1000, dport: 80 }), 'INPUT').verdict);

  it('keeps 100 addresses per list (the least recently stamped goes), like the model', () => {
    const spec = compileTable(table());
    dpa = withNetns(a.name, () => ensureDatapath());
    withNetns(a.name, () => dpa!.commit(spec));
    const model = new RecentLists();
    const srcs = Array.from({ length: RECENT_LIST_TOT + 5 }, (_, i) => ip('10.1.0.0') + i);
    for (const src of srcs) {
      expect(send(a, dpa, 6, src)).toBe('ACCEPT');
      classifySpec(spec, 'INPUT', keyOf({ src, dst: DST, proto: 6, sport: 1000, dport: 80 }, 'INPUT', { iif: '', oif: '' }, 4), recentOracle(model, 'INPUT', 0));
    }
    const listed = (src: number) => send(a, dpa!, 17, src) === 'DROP';
    const got = srcs.map(listed);
    const want = srcs.map((src) => model.addresses('E').includes(src));
    expect(got).toEqual(want);
    expect(got.filter((x) => !x).length).toBe(5);
    expect(got.slice(0, 5)).toEqual([false, false, false, false, false]);
  });

  it('--reap removes the oldest address once it is outside the window', () => {
    const first = ip('10.1.0.0') + 5; // the oldest listed address after the test above
    expect(send(a, dpa!, 17, first)).toBe('DROP');
    spawnSync('sleep', ['1.2']);
    // The icmp rule --rcheck --seconds 1 --reap from another listed address: its stamp is too
    // old to match, and the list's oldest entry (first) is reaped.
    expect(send(a, dpa!, 1, first + 1)).toBe('ACCEPT');
    expect(send(a, dpa!, 17, first)).toBe('ACCEPT');
    expect(send(a, dpa!, 17, first + 2)).toBe('DROP');
  });

  it('lists are per namespace, kept by a ruleset that names them, forgotten by one that does not', () => {
    dpb = withNetns(b.name, () => ensureDatapath());
    withNetns(b.name, () => dpb!.commit(compileTable(table())));
    const src = ip('10.1.0.0') + 50;
    expect(send(a, dpa!, 17, src)).toBe('DROP');
    expect(send(b, dpb, 17, src)).toBe('ACCEPT'); // b's list E is its own
    withNetns(a.name, () => dpa!.commit(compileTable(table())));
    expect(send(a, dpa!, 17, src)).toBe('DROP');
    withNetns(a.name, () => dpa!.commit(compileTable(table('F'))));
    withNetns(a.name, () => dpa!.commit(compileTable(table())));
    expect(send(a, dpa!, 17, src)).toBe('ACCEPT');
  });
});
