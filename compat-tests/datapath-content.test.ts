// -m mac and -m owner in the eBPF datapath (bpf/content.h) with real packets, against
// iptables-nft: the same ruleset is restored into a fresh DUT namespace per implementation,
// with a peer namespace on a veth pair whose MAC is fixed; the same traffic crosses both, and
// the delivered datagrams, the senders' outcomes and every rule counter must agree.
// - mac (INPUT): datagrams from the peer against a rule with the peer's MAC, one with another
//   MAC, an inverted one; loopback datagrams against 00:00:00:00:00:00 rules (xt_mac needs an
//   ARPHRD_ETHER device: neither the rule nor its inversion matches on lo).
// - owner (OUTPUT): datagrams sent by processes of different uid / gid / supplementary groups
//   (setpriv), uid / gid ranges and inversions, --suppl-groups, --socket-exists; packets the
//   kernel sends itself (echo replies, the RST of a closed port) for the socket-less cases.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsAdd, netnsDel, sh } from './datapath-helpers.ts';
import { DIST_BIN, ROOT } from './lib/netns.ts';

type Impl = 'nft' | 'bpftables';
const PEER_MAC = '02:00:00:5e:10:01';
const DUT_MAC = '02:00:00:5e:10:02';
const PEER = '10.199.7.1';
const DUT = '10.199.7.2';
const TRAFFIC = join(ROOT, 'compat-tests', 'lib', 'traffic.mjs');
const made: string[] = [];

const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 5001 -m mac --mac-source ${PEER_MAC} -j ACCEPT
-A INPUT -p udp -m udp --dport 5001 -j DROP
-A INPUT -p udp -m udp --dport 5002 -m mac --mac-source 02:00:00:5e:10:99 -j ACCEPT
-A INPUT -p udp -m udp --dport 5002 -m mac ! --mac-source ${PEER_MAC} -j ACCEPT
-A INPUT -p udp -m udp --dport 5002 -j DROP
-A INPUT -p udp -m udp --dport 5003 -m mac ! --mac-source 02:00:00:5e:10:99 -j ACCEPT
-A INPUT -i lo -p udp -m mac --mac-source 00:00:00:00:00:00
-A INPUT -i lo -p udp -m mac ! --mac-source 00:00:00:00:00:00
-A INPUT -i lo -p udp -j ACCEPT
-A OUTPUT -p udp -m udp --dport 6001 -m owner --uid-owner 1000 -j DROP
-A OUTPUT -p udp -m udp --dport 6001 -m owner --socket-exists ! --uid-owner 0-999 --gid-owner 3000 -j DROP
-A OUTPUT -p udp -m udp --dport 6001 -m owner --gid-owner 4000 --suppl-groups -j DROP
-A OUTPUT -p udp -m udp --dport 6001 -m owner --uid-owner 2000-2999
-A OUTPUT -p udp -m udp --dport 6001 -m owner ! --uid-owner 0
-A OUTPUT -p udp -m udp --dport 6001 -m owner --uid-owner 0 ! --gid-owner 0
-A OUTPUT -p udp -m udp --dport 6001 -m owner ! --gid-owner 4000
-A OUTPUT -p udp -m udp --dport 6001 -m owner --socket-exists -j ACCEPT
-A OUTPUT -p icmp -m owner ! --socket-exists
-A OUTPUT -p icmp -m owner --socket-exists ! --uid-owner 0
-A OUTPUT -p icmp -m owner --socket-exists
-A OUTPUT -p icmp -m owner ! --uid-owner 0
-A OUTPUT -p tcp -m owner ! --socket-exists
-A OUTPUT -p tcp -m owner --socket-exists
-A OUTPUT -p tcp -m owner ! --uid-owner 5
COMMIT
`;

/** Senders of the OUTPUT datagrams: setpriv options (uid, gid, groups). */
const SENDERS = [
  '--reuid=0 --regid=0 --clear-groups',
  '--reuid=1000 --regid=1000 --clear-groups',
  '--reuid=2500 --regid=2500 --clear-groups',
  '--reuid=1500 --regid=3000 --clear-groups',
  '--reuid=1600 --regid=1600 --groups=4000',
  '--reuid=1700 --regid=1700 --groups=10,4000,20',
  '--reuid=0 --regid=500 --clear-groups',
  '--reuid=65534 --regid=65534 --clear-groups',
];

function run(cmd: string[], input?: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

interface Outcome {
  delivered: string[];
  senders: number[];
  counters: string[];
}

/** DUT and peer namespaces joined by a veth pair with fixed MACs, `rules` restored in the DUT by impl. */
function topology(impl: Impl, tag: string, rules: string): { dut: string; peer: string } {
  const dut = `bpft-cnt-${tag}d-${process.pid}`;
  const peer = `bpft-cnt-${tag}p-${process.pid}`;
  for (const n of [dut, peer]) {
    netnsAdd(n);
    made.push(n);
  }
  const dv = `bpftc${tag}d`;
  const pv = `bpftc${tag}p`;
  run(['ip', 'link', 'add', dv, 'netns', dut, 'address', DUT_MAC, 'type', 'veth', 'peer', 'name', pv, 'netns', peer, 'address', PEER_MAC]);
  run(['ip', '-n', dut, 'addr', 'add', `${DUT}/24`, 'dev', dv]);
  run(['ip', '-n', peer, 'addr', 'add', `${PEER}/24`, 'dev', pv]);
  run(['ip', '-n', dut, 'link', 'set', dv, 'up']);
  run(['ip', '-n', peer, 'link', 'set', pv, 'up']);
  const restore = impl === 'nft' ? ['iptables-nft-restore'] : [join(DIST_BIN, 'iptables-restore')];
  run(['ip', 'netns', 'exec', dut, ...restore], rules);
  // Neighbours known beforehand: no ARP-induced delay or loss in what is counted.
  sh(peer, `ip neigh replace ${DUT} lladdr ${DUT_MAC} dev ${pv} nud permanent`, { check: true });
  sh(dut, `ip neigh replace ${PEER} lladdr ${PEER_MAC} dev ${dv} nud permanent`, { check: true });
  return { dut, peer };
}

function ruleCounters(impl: Impl, dut: string): string[] {
  const save = impl === 'nft' ? ['iptables-nft-save', '-c'] : [join(DIST_BIN, 'iptables-save'), '-c'];
  return run(['ip', 'netns', 'exec', dut, ...save]).split('\n').filter((l) => l.startsWith('['));
}

async function exercise(impl: Impl, tag: string): Promise<Outcome> {
  const { dut, peer } = topology(impl, tag, RULES);

  // INPUT: a receiver in the DUT, datagrams from the peer (veth: Ethernet) and from lo.
  const server = spawn('ip', ['netns', 'exec', dut, 'node', TRAFFIC, 'serve', '{"udp":[5001,5002,5003]}'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let served = '';
  server.stdout.on('data', (b: Buffer) => (served += b.toString()));
  const ended = new Promise<void>((res) => server.on('exit', () => res()));
  for (let i = 0; i < 100 && !served.includes('ready'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(served).toContain('ready');
  const probes = (src: string, dst: string, base: number) =>
    JSON.stringify(
      [5001, 5001, 5002, 5002, 5002, 5003].map((dport, i) => ({ id: base + i, kind: 'udp', src, dst, sport: 41000 + base + i, dport })),
    );
  sh(peer, `node ${TRAFFIC} send '${probes(PEER, DUT, 100)}'`, { check: true });
  sh(dut, `node ${TRAFFIC} send '${probes('127.0.0.1', '127.0.0.1', 200)}'`, { check: true });

  // OUTPUT: one datagram per sender (exit status 1 when OUTPUT dropped it: EPERM).
  const senders = SENDERS.map((opts) => sh(dut, `setpriv ${opts} bash -c 'echo x > /dev/udp/${PEER}/6001'`).code);
  // Kernel-sent packets: echo replies, and the RST for a closed port.
  sh(peer, `ping -c 2 -i 0.2 -W 1 ${DUT}`);
  sh(peer, `bash -c 'exec 3<>/dev/tcp/${DUT}/7' 2>/dev/null`);
  // The DUT's own ping (a socket owned by root).
  sh(dut, `ping -c 1 -W 1 ${PEER}`);

  // The receiver prints what it got on SIGTERM.
  await new Promise((r) => setTimeout(r, 300));
  server.kill('SIGTERM');
  await ended;
  const delivered = served.split('\n').filter((l) => l.startsWith('udp ')).sort();
  return { delivered, senders, counters: ruleCounters(impl, dut) };
}

afterAll(() => {
  for (const n of made) {
    spawnSync('ip', ['netns', 'exec', n, join(DIST_BIN, 'bpftables'), '--bpftables-teardown'], { encoding: 'utf8' });
    netnsDel(n);
  }
});

// conntrack's tuple options (--ctproto, --ctorig*/--ctrepl* addresses and ports, --ctdir) over
// this datapath's connection tracker: a TCP connection and UDP datagrams from the peer, pings,
// an ICMP error about a DUT datagram (RELATED), a RST for a closed port; non-terminating rules,
// so each packet is counted by every rule it matches.
const CT_RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctproto tcp --ctorigdstport 7001
-A INPUT -m conntrack --ctproto tcp --ctdir ORIGINAL --ctorigsrc ${PEER}
-A INPUT -m conntrack --ctdir REPLY
-A INPUT -m conntrack --ctdir REPLY --ctreplsrc ${PEER} --ctrepldstport 6001
-A INPUT -m conntrack --ctstate RELATED --ctproto udp --ctorigdstport 6001
-A INPUT -m conntrack --ctstate INVALID,RELATED --ctorigsrc ${DUT}
-A INPUT -m conntrack ! --ctorigsrc 10.199.7.0/24
-A INPUT -m conntrack --ctproto icmp --ctorigsrcport 0:65535
-A INPUT -m conntrack --ctproto icmp --ctorigdstport 2048
-A INPUT -m conntrack --ctproto icmp --ctrepldstport 0
-A INPUT -m conntrack --ctstate INVALID --ctproto tcp
-A INPUT -m conntrack --ctrepldst ${PEER} ! --ctreplsrcport 7001
-A INPUT -m conntrack --ctorigdst ${DUT}/32 --ctorigdstport 7001:7002 --ctreplsrcport 7001
-A OUTPUT -m conntrack --ctdir REPLY --ctproto tcp --ctreplsrcport 7001
-A OUTPUT -m conntrack --ctdir ORIGINAL --ctorigdst ${PEER} --ctorigdstport 6001
-A OUTPUT -m conntrack --ctdir REPLY --ctproto icmp
-A OUTPUT -m conntrack --ctstate NEW --ctdir ORIGINAL
-A OUTPUT -m conntrack ! --ctproto tcp
-A OUTPUT -m conntrack --ctproto tcp ! --ctorigsrcport 7001 --ctdir REPLY
COMMIT
`;

async function exerciseCt(impl: Impl, tag: string): Promise<string[]> {
  const { dut, peer } = topology(impl, tag, CT_RULES);
  const server = spawn('ip', ['netns', 'exec', dut, 'node', TRAFFIC, 'serve', '{"tcp":[7001],"udp":[5001]}'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let served = '';
  server.stdout.on('data', (b: Buffer) => (served += b.toString()));
  const ended = new Promise<void>((res) => server.on('exit', () => res()));
  for (let i = 0; i < 100 && !served.includes('ready'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(served).toContain('ready');
  const probes = JSON.stringify([
    { id: 1, kind: 'tcp', src: PEER, dst: DUT, sport: 42001, dport: 7001 },
    { id: 2, kind: 'udp', src: PEER, dst: DUT, sport: 42002, dport: 5001 },
    { id: 3, kind: 'tcp', src: PEER, dst: DUT, sport: 42003, dport: 7002 },
  ]);
  sh(peer, `node ${TRAFFIC} send '${probes}'`, { check: true });
  sh(peer, `ping -c 2 -i 0.2 -W 1 ${DUT}`);
  sh(dut, `ping -c 1 -W 1 ${PEER}`);
  // No listener on the peer: its port unreachable error is RELATED to this flow in the DUT.
  sh(dut, `bash -c 'echo x > /dev/udp/${PEER}/6001'`);
  await new Promise((r) => setTimeout(r, 300));
  server.kill('SIGTERM');
  await ended;
  return ruleCounters(impl, dut);
}

describe('conntrack tuple options with real packets', () => {
  it('every rule counter as iptables-nft', async () => {
    const want = await exerciseCt('nft', 'm');
    const got = await exerciseCt('bpftables', 'c');
    console.log(got.join('\n'));
    expect(got).toEqual(want);
    // The ruleset was exercised: most rules counted something.
    expect(want.filter((l) => !l.startsWith('[0:0]')).length).toBeGreaterThan(12);
  }, 300_000);
});

describe('mac and owner matches with real packets', () => {
  it('verdicts and every rule counter as iptables-nft', async () => {
    const want = await exercise('nft', 'n');
    const got = await exercise('bpftables', 'b');
    console.log(`${got.delivered.join(' ')}\nsenders ${got.senders.join(' ')}\n${got.counters.join('\n')}`);
    // The peer's datagrams to 5001 (its MAC) and 5003 (not another MAC) arrive; on lo no mac
    // rule matches, so only 5003 gets through the DROP rules there.
    expect(want.delivered).toEqual(['udp 00000100', 'udp 00000101', 'udp 00000105', 'udp 00000205']);
    expect(got.delivered).toEqual(want.delivered);
    expect(got.senders).toEqual(want.senders);
    expect(got.counters).toEqual(want.counters);
  }, 300_000);
});
