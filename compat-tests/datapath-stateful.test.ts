// Stateful matches on real traffic (hashlimit, quota, connbytes, connlimit, connlabel, conntrack
// --ctstatus / --ctexpire): the same rulesets loaded into real
// iptables (iptables-nft) in one pair of namespaces and into bpftables (the CLI in dist/) in
// another (veth between client and server, traffic only between them). The client sends UDP
// datagrams (a listener takes every port used, so no ICMP errors are sent) and pings; every
// rule and policy counter (iptables-save -c) must equal real iptables'.
//
// Timing: bursts of datagrams are sent in well under the refill time of the rates used, and
// the waits are outside the kernel's expiry / garbage collection windows, so the outcome does
// not depend on the machine's speed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, ROOT, run, type Impl } from './lib/netns.ts';
import { destroyPair, listenTraffic, vethPair, type Pair } from './lib/pair.ts';

const CLIENT = '10.216.0.1';
const SERVER = '10.216.0.2';
const TRAFFIC = join(ROOT, 'compat-tests', 'lib', 'traffic.mjs');
const TCP_PORTS = [7050, 7051];
const UDP_PORTS = Array.from({ length: 30 }, (_, i) => 9001 + i);

function pair(tag: string): Pair {
  return vethPair(`st-${tag}`, CLIENT, SERVER);
}

function listen(p: Pair): Promise<void> {
  return listenTraffic(p, { udp: UDP_PORTS, tcp: TCP_PORTS });
}

/** UDP datagrams from the client, one after another: [source port, destination port]. */
function send(p: Pair, flows: Array<[number, number]>): void {
  const probes = flows.map(([sport, dport], id) => ({ id, kind: 'udp', src: CLIENT, dst: SERVER, sport, dport }));
  const r = p.client.exec([process.execPath, TRAFFIC, 'send', JSON.stringify(probes)]);
  if (r.code !== 0) throw new Error(`traffic.mjs send failed: ${r.stderr}`);
}

const times = (n: number, f: [number, number]): Array<[number, number]> => Array.from({ length: n }, () => f);

function ping(p: Pair): void {
  p.client.exec(['ping', '-c', '1', '-W', '1', SERVER]);
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

const sleep = (s: number) => spawnSync('sleep', [String(s)]);

const HASHLIMIT = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 9001 -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 3 --hashlimit-name a -j ACCEPT
-A INPUT -p udp -m udp --dport 9001 -j DROP
-A INPUT -p udp -m udp --dport 9002 -m hashlimit --hashlimit-above 1/min --hashlimit-burst 2 --hashlimit-mode srcport --hashlimit-name b -j DROP
-A INPUT -p udp -m udp --dport 9003 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 2 --hashlimit-name c
-A INPUT -p udp -m udp --dport 9004 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 10 --hashlimit-name c
-A INPUT -p udp -m udp --dport 9005 -m hashlimit --hashlimit-upto 16b/s --hashlimit-name d
-A INPUT -p udp -m udp --dport 9006 -m hashlimit --hashlimit-upto 16b/s --hashlimit-burst 48b --hashlimit-name d2
-A INPUT -p udp -m udp --dport 9007 -m hashlimit --hashlimit-upto 2/sec --hashlimit-burst 1 --hashlimit-name e --hashlimit-rate-match
-A INPUT -p udp -m udp --dport 9008 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 5 --hashlimit-mode srcport --hashlimit-name f --hashlimit-htable-size 1 --hashlimit-htable-max 2 -j ACCEPT
-A INPUT -p udp -m udp --dport 9009 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip,dstport --hashlimit-name g --hashlimit-htable-expire 500 --hashlimit-htable-gcinterval 100
-A INPUT -p udp -m udp --dport 9010 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-srcmask 16 --hashlimit-name h
-A INPUT -p icmp -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcport,dstport --hashlimit-name i
COMMIT
`;

function hashlimitScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, HASHLIMIT);
  const saves: string[] = [];
  send(p, [
    ...times(6, [41001, 9001]),
    ...times(4, [41002, 9002]),
    ...times(4, [41003, 9002]),
    ...times(2, [41004, 9003]),
    ...times(3, [41005, 9004]),
    ...times(3, [41006, 9005]),
    ...times(6, [41007, 9006]),
    ...times(5, [41008, 9007]),
    [41009, 9008],
    [41010, 9008],
    [41011, 9008], // a third entry in a table of at most 2: dropped uncounted (hotdrop)
    [41010, 9008],
    ...times(2, [41012, 9009]),
    ...times(3, [41013, 9010]),
  ]);
  ping(p);
  ping(p);
  saves.push(save(p, impl));
  // A swap that still names the tables keeps their buckets; the entry of g expired (500 ms,
  // collected within the 100 ms GC interval): a new bucket.
  iptables(p, impl, '-A', 'INPUT', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT');
  sleep(1.2);
  send(p, [[41001, 9001], [41014, 9003], [41012, 9009], [41012, 9009]]);
  saves.push(save(p, impl));
  // Flushing the rules frees the tables: reloading starts with new buckets.
  iptables(p, impl, '-F', 'INPUT');
  load(p, impl, HASHLIMIT);
  send(p, [...times(4, [41001, 9001]), [41014, 9003]]);
  saves.push(save(p, impl));
  return saves;
}

const QUOTA = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 9011 -m quota --quota 100 -j ACCEPT
-A INPUT -p udp -m udp --dport 9011 -j DROP
-A INPUT -p udp -m udp --dport 9012 -m quota ! --quota 80
-A INPUT -p udp -m udp --dport 9013 -m quota --quota 0
COMMIT
`;

function quotaScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, QUOTA);
  const saves: string[] = [];
  // 36-byte datagrams: 100 bytes hold two; the third empties the budget, a fourth fails too.
  send(p, [...times(4, [41020, 9011]), ...times(4, [41021, 9012]), [41022, 9013]]);
  saves.push(save(p, impl));
  // A swap keeps the budgets; a rule added again starts a new one.
  iptables(p, impl, '-A', 'INPUT', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT');
  send(p, [[41020, 9011]]);
  iptables(p, impl, '-D', 'INPUT', '-p', 'udp', '-m', 'udp', '--dport', '9012', '-m', 'quota', '!', '--quota', '80');
  iptables(p, impl, '-A', 'INPUT', '-p', 'udp', '-m', 'udp', '--dport', '9012', '-m', 'quota', '!', '--quota', '80');
  send(p, [...times(3, [41021, 9012])]);
  saves.push(save(p, impl));
  return saves;
}

const CONNBYTES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 9014 -m connbytes --connbytes 3 --connbytes-mode packets --connbytes-dir original -j DROP
-A INPUT -p udp -m udp --dport 9015 -m connbytes --connbytes 0:80 --connbytes-mode bytes --connbytes-dir both
-A INPUT -p udp -m udp --dport 9016 -m connbytes ! --connbytes 2 --connbytes-mode packets --connbytes-dir original
-A INPUT -p udp -m udp --dport 9017 -m connbytes --connbytes 30:40 --connbytes-mode avgpkt --connbytes-dir both
-A INPUT -p udp -m udp --dport 9018 -m connbytes ! --connbytes 2:2 --connbytes-mode packets --connbytes-dir original
-A INPUT -p udp -m udp --dport 9019 -m connbytes --connbytes 1:1 --connbytes-mode packets --connbytes-dir reply
-A INPUT -p icmp -m connbytes --connbytes 1:1 --connbytes-mode packets --connbytes-dir reply
-A INPUT -p icmp -m connbytes --connbytes 0:100 --connbytes-mode avgpkt --connbytes-dir original
-A OUTPUT -p icmp -m connbytes --connbytes 2:3 --connbytes-mode packets --connbytes-dir reply
-A OUTPUT -p icmp -m connbytes --connbytes 200 --connbytes-mode bytes --connbytes-dir both
COMMIT
`;

function connbytesScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, CONNBYTES);
  send(p, [...times(5, [41030, 9014]), ...times(3, [41031, 9015]), ...times(3, [41032, 9016]), ...times(3, [41033, 9017]), ...times(3, [41034, 9018]), ...times(2, [41035, 9019])]);
  p.client.exec(['ping', '-c', '4', '-i', '0.2', '-W', '1', SERVER]);
  return [save(p, impl)];
}

const CTSTATUS = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7050 -m conntrack --ctstatus CONFIRMED
-A INPUT -p tcp -m tcp --dport 7050 -m conntrack --ctstatus ASSURED
-A INPUT -p tcp -m tcp --dport 7050 -m conntrack ! --ctstatus SEEN_REPLY
-A INPUT -p tcp -m tcp --dport 7050 -m conntrack --ctstatus NONE
-A INPUT -p tcp -m tcp --dport 7050 -m conntrack ! --ctstatus NONE
-A INPUT -p tcp -m tcp --dport 7051 -m conntrack --ctstatus EXPECTED -j DROP
-A OUTPUT -p tcp -m tcp --sport 7050 -m conntrack --ctstatus SEEN_REPLY
-A OUTPUT -p tcp -m tcp --sport 7050 -m conntrack --ctstatus ASSURED
-A INPUT -p icmp -m conntrack --ctstatus CONFIRMED
-A INPUT -p icmp -m conntrack ! --ctstatus SEEN_REPLY,ASSURED
-A OUTPUT -p icmp -m conntrack --ctstatus SEEN_REPLY
-A OUTPUT -p icmp -m conntrack --ctstatus ASSURED
-A INPUT -p udp -m udp --dport 9020 -m conntrack --ctstatus CONFIRMED
-A INPUT -p udp -m udp --dport 9020 -m conntrack --ctstate NEW --ctstatus SEEN_REPLY,ASSURED,CONFIRMED
COMMIT
`;

function ctstatusScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, CTSTATUS);
  const probes = [7050, 7050, 7051].map((dport, id) => ({ id, kind: 'tcp', src: CLIENT, dst: SERVER, sport: 41050 + id, dport }));
  p.client.exec([process.execPath, TRAFFIC, 'send', JSON.stringify(probes)]);
  p.client.exec(['ping', '-c', '3', '-i', '0.2', '-W', '1', SERVER]);
  send(p, times(3, [41060, 9020]));
  return [save(p, impl)];
}

const CONNLABEL = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7050 -m conntrack --ctstate NEW -m connlabel --label "5" --set
-A INPUT -p tcp -m tcp --dport 7050 -m connlabel --label "5"
-A INPUT -p tcp -m tcp --dport 7050 -m connlabel --label "100"
-A OUTPUT -p tcp -m tcp --sport 7050 -m connlabel --label "5"
-A OUTPUT -p tcp -m tcp --sport 7050 -m connlabel --label "100" --set
-A INPUT -p tcp -m tcp --dport 7050 -m connlabel --label "100"
-A INPUT -p icmp -m connlabel ! --label "7"
-A INPUT -p icmp -m connlabel --label "127" --set
-A OUTPUT -p icmp -m connlabel --label "127"
-A INPUT -p udp -m udp --dport 9021 -m connlabel ! --label "9" --set
-A INPUT -p udp -m udp --dport 9021 -m connlabel --label "9"
-A INPUT -p udp -m udp --dport 9022 -m connlabel --label "9"
COMMIT
`;

function connlabelScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, CONNLABEL);
  const probes = [7050, 7050].map((dport, id) => ({ id, kind: 'tcp', src: CLIENT, dst: SERVER, sport: 41070 + id, dport }));
  p.client.exec([process.execPath, TRAFFIC, 'send', JSON.stringify(probes)]);
  p.client.exec(['ping', '-c', '3', '-i', '0.2', '-W', '1', SERVER]);
  send(p, [...times(3, [41080, 9021]), ...times(2, [41081, 9022])]);
  return [save(p, impl)];
}

const CONNLIMIT = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7050 --tcp-flags FIN,SYN,RST,ACK SYN -m connlimit --connlimit-above 2 --connlimit-mask 32 --connlimit-saddr -j REJECT --reject-with tcp-reset
-A INPUT -p tcp -m tcp --dport 7051 --tcp-flags FIN,SYN,RST,ACK SYN -m connlimit --connlimit-upto 1 --connlimit-mask 24 --connlimit-saddr -j ACCEPT
-A INPUT -p tcp -m tcp --dport 7051 --tcp-flags FIN,SYN,RST,ACK SYN -j DROP
-A INPUT -p tcp -m tcp --dport 7050 -m connlimit --connlimit-above 3 --connlimit-mask 32 --connlimit-saddr
-A OUTPUT -p tcp -m tcp --sport 7050 -m connlimit --connlimit-above 1 --connlimit-mask 32 --connlimit-daddr
COMMIT
`;

/** TCP connections from the client, one after another, held open until all were tried, then reset. */
const HOLD = `
const net = require('node:net');
const [dst, ports, sport0] = JSON.parse(process.argv[1]);
(async () => {
  const out = [], socks = [];
  let sport = sport0;
  for (const port of ports) {
    out.push(await new Promise((res) => {
      const s = net.connect({ host: dst, port, localPort: sport++ });
      socks.push(s);
      const t = setTimeout(() => res('timeout'), 400);
      s.on('connect', () => { clearTimeout(t); res('open'); });
      s.on('error', (e) => { clearTimeout(t); res(e.code); });
    }));
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const s of socks) s.resetAndDestroy?.() ?? s.destroy();
  console.log(out.join(' '));
})();
`;

function hold(p: Pair, ports: number[], sport: number): string {
  const r = p.client.exec([process.execPath, '-e', HOLD, JSON.stringify([SERVER, ports, sport])]);
  if (r.code !== 0) throw new Error(`hold failed: ${r.stderr}`);
  return r.stdout.trim();
}

function connlimitScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, CONNLIMIT);
  const out = [hold(p, [7050, 7050, 7050, 7050, 7051, 7051], 41100)];
  sleep(0.3);
  // The reset connections are closed: they no longer count.
  out.push(hold(p, [7050, 7050, 7050], 41110));
  out.push(save(p, impl));
  return out;
}

const CTEXPIRE = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 9023 -m conntrack --ctexpire 30
-A INPUT -p udp -m udp --dport 9023 -m conntrack --ctexpire 0
-A INPUT -p udp -m udp --dport 9023 -m conntrack ! --ctexpire 25:35
-A INPUT -p udp -m conntrack --ctproto 17 --ctexpire 29:31
-A INPUT -p icmp -m conntrack --ctexpire 30
-A INPUT -p icmp -m conntrack --ctexpire 0
-A OUTPUT -p icmp -m conntrack --ctexpire 30
COMMIT
`;

const UDPSTREAM = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 9031 -m conntrack --ctstatus ASSURED
-A INPUT -p udp -m udp --dport 9031 -m conntrack --ctstatus SEEN_REPLY
-A INPUT -p udp -m udp --dport 9031 -m conntrack --ctexpire 120
-A INPUT -p udp -m udp --dport 9031 -m conntrack --ctexpire 30
-A OUTPUT -p udp -m udp --sport 9031 -m conntrack --ctstatus SEEN_REPLY
-A OUTPUT -p udp -m udp --sport 9031 -m conntrack --ctexpire 30
COMMIT
`;

/** A UDP exchange: client → server, the server answers, the client again at once and after 2 s
 * (nf_conntrack_udp_packet: a stream, ASSURED and 120 s, only from then on). */
function udpStreamScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, UDPSTREAM);
  send(p, [[41200, 9031]]);
  const back = [{ id: 0, kind: 'udp', src: SERVER, dst: CLIENT, sport: 9031, dport: 41200 }];
  const r = p.server.exec([process.execPath, TRAFFIC, 'send', JSON.stringify(back)]);
  if (r.code !== 0) throw new Error(`traffic.mjs send (server) failed: ${r.stderr}`);
  send(p, [[41200, 9031]]);
  sleep(2.3);
  send(p, [[41200, 9031], [41200, 9031]]);
  return [save(p, impl)];
}

function ctexpireScenario(impl: Impl, p: Pair): string[] {
  load(p, impl, CTEXPIRE);
  send(p, times(3, [41090, 9023]));
  p.client.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', SERVER]);
  return [save(p, impl)];
}

describe('stateful matches on real traffic, like iptables', () => {
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

  it('hashlimit: per-flow buckets, modes, masks, byte mode, rate match, shared tables, max, expiry, swaps', () => {
    const a = hashlimitScenario('nft', real);
    const b = hashlimitScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('connbytes: packets / bytes / avgpkt per direction, this packet included, ranges, inversion', () => {
    const a = connbytesScenario('nft', real);
    const b = connbytesScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('conntrack --ctstatus: CONFIRMED, SEEN_REPLY, ASSURED, EXPECTED, NONE at INPUT and OUTPUT', () => {
    const a = ctstatusScenario('nft', real);
    const b = ctstatusScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('connlabel: labels of the connection, --set on a new flow and on an existing one, inversion', () => {
    const a = connlabelScenario('nft', real);
    const b = connlabelScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('connlimit: open connections per masked source / destination, REJECT over the limit, closed ones not counted', () => {
    const a = connlimitScenario('nft', real);
    const b = connlimitScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('conntrack --ctexpire (udp, icmp): the refreshed timer, a new flow unconfirmed', () => {
    const a = ctexpireScenario('nft', real);
    const b = ctexpireScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('udp streams: SEEN_REPLY at once, ASSURED and a 120 s timer 2 s after the first packet', () => {
    const a = udpStreamScenario('nft', real);
    const b = udpStreamScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });

  it('quota: byte budgets per rule, inversion, an exhausted budget stays empty, swaps keep it', () => {
    const a = quotaScenario('nft', real);
    const b = quotaScenario('bpftables', ours);
    if (process.env.SHOW) console.log(a.join('\n----\n'));
    expect(b).toEqual(a);
  });
});
