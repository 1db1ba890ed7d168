// Header matches in the eBPF datapath (bpf/headers.h): sctp --chunk-types, esp / ah / ipcomp SPIs,
// tcp --tcp-option, tcpmss, cpu.
// 1. BPF_PROG_TEST_RUN on crafted packets (random chunk lists with zero / short lengths, TCP option
//    bytes with bad doff and truncated options, short IPsec headers, fragments): the kernel's
//    verdict and every rule counter must equal both classifySpec (the program's model) and the
//    reference matcher (the kernel's semantics over the bytes, classifier/headers.ts), hotdrop
//    included (DROP at once, the rule uncounted).
// 2. Real packets over veth (raw IPv4 from a peer namespace, python3): the same ruleset restored
//    by iptables-nft and by bpftables, the same packets, every rule counter compared.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatapath, type Datapath } from '../bpf/loader/api.ts';
import { clockFacts } from '../bpf/loader/libbpf.ts';
import { compileTable } from '../classifier/compile.ts';
import { NO_L4, NO_TCPFLAGS, CT_UNTRACKED, type PacketKey } from '../classifier/fields.ts';
import { classifySpec } from '../classifier/lookup.ts';
import { referenceClassify } from '../classifier/reference.ts';
import { findMatch, findTarget } from '../extensions/index.ts';
import { parseCommandLine } from '../parser/command.ts';
import { apply } from '../ruleset/apply.ts';
import type { Ruleset, Table } from '../ruleset/types.ts';
import { netnsAdd, netnsDel, rng, sh, withNetns } from './datapath-helpers.ts';
import { DIST_BIN } from './lib/netns.ts';

const LOOKUP = { findMatch, findTarget };

/** time rules around the current time (margins of `m` seconds), or [] within 2m of midnight UTC. */
function timeRules(m: number): string[] {
  const now = Math.floor(Date.now() / 1000);
  const tod = now % 86400;
  if (tod < 2 * m || tod > 86400 - 2 * m) return [];
  const two = (n: number) => String(n).padStart(2, '0');
  const hms = (t: number) => `${two(Math.floor(t / 3600))}:${two(Math.floor(t / 60) % 60)}:${two(t % 60)}`;
  const date = (t: number) => new Date(t * 1000).toISOString().slice(0, 19);
  const d = new Date(now * 1000);
  const wd = ((d.getUTCDay() + 6) % 7) + 1;
  const md = d.getUTCDate();
  return [
    `-m time --timestart ${hms(tod - m)} --timestop ${hms(tod + m)}`,
    `-m time --timestart ${hms(tod + m)} --timestop ${hms(tod + 2 * m)}`,
    `-m time --timestart ${hms(tod + m)} --timestop ${hms(tod - m)}`,
    `-m time --timestart ${hms(tod + m)} --timestop ${hms(tod - m)} --contiguous --weekdays ${wd}`,
    `-m time --timestart ${hms(tod + 2 * m)} --timestop ${hms(tod + m)} --weekdays ${wd}`,
    `-m time --weekdays ${wd}`,
    `-m time --weekdays ${(wd % 7) + 1}`,
    `-m time ! --weekdays ${wd}`,
    `-m time --monthdays ${md}`,
    `-m time --monthdays ${(md % 28) + 1}`,
    `-m time --datestart ${date(now - m)} --datestop ${date(now + m)}`,
    `-m time --datestop ${date(now - m)}`,
    `-m time --kerneltz --timestart ${hms(tod - m)} --timestop ${hms(tod + m)} --monthdays ${md}`,
  ];
}

/** Rules the random tables draw from (no target: each counts and the walk goes on). */
const POOL = [
  '-p sctp -m sctp --chunk-types any DATA,INIT',
  '-p sctp -m sctp ! --chunk-types all INIT,SACK',
  '-p sctp -m sctp --chunk-types only DATA:Be,SACK,ABORT:T',
  '-p sctp -m sctp --chunk-types any DATA:I',
  '-p sctp -m sctp --chunk-types all DATA:e,INIT',
  '-p sctp -m sctp --chunk-types only ALL',
  '-p sctp -m sctp ! --chunk-types any NONE',
  '-p sctp -m sctp --chunk-types all NONE',
  '-p sctp -m sctp --dport 7:9 --chunk-types any ABORT:t,SHUTDOWN_COMPLETE:T',
  '-p sctp -m sctp ! --chunk-types only I_DATA,HEARTBEAT',
  '-p sctp -m sctp --chunk-types all ASCONF,ASCONF_ACK,FORWARD_TSN',
  '-p sctp -m sctp --chunk-types any DATA:-',
  '-p esp -m esp --espspi 100:200',
  '-p esp -m esp ! --espspi 150',
  '-p esp -m esp',
  '-p ah -m ah --ahspi 7',
  '-p ah -m ah ! --ahspi 7:9',
  '-p ipcomp -m ipcomp ! --ipcompspi 300:400',
  '-p ipcomp -m ipcomp --ipcompspi 18',
  '-p tcp -m tcp --tcp-option 2',
  '-p tcp -m tcp ! --tcp-option 8',
  '-p tcp -m tcp --dport 80 --tcp-option 3',
  '-p tcp -m tcpmss --mss 1000:1460',
  '-p tcp -m tcpmss ! --mss 536',
  '-p tcp -m tcp --tcp-option 4 -m multiport --dports 80,81',
  '-p sctp -m sctp --chunk-types any DATA -m sctp --sport 5',
  '-p dccp -m dccp --dccp-types REQUEST,DATA,INVALID',
  '-p dccp -m dccp ! --dccp-types ACK',
  '-p dccp -m dccp --dccp-option 5',
  '-p dccp -m dccp ! --dccp-option 32',
  '-p dccp -m dccp --dccp-types DATA,ACK,RESET ! --dccp-option 2',
  '-p dccp -m dccp --dport 7 --dccp-option 1',
  '-m string --string ab --algo kmp',
  '-m string ! --hex-string |0a0b| --algo bm --from 30',
  '-m string --string aAb --algo bm --icase --to 40',
  '-m string --hex-string |e0e0| --algo kmp --icase',
  '-p udp -m string --string bbb --algo kmp --from 28 --to 36',
  '-m u32 --u32 0>>22&0x3C@0>>16=7,8',
  '-m u32 ! --u32 0x8&0xff0000>>16=6',
  '-m u32 --u32 0>>22&0x3C@12>>26&0x3C@0=0:0x7fffffff',
  '-m u32 --u32 28&0xffff=0x6162:0x6262&&0>>24=0x45',
  '-m u32 --u32 6&0x1fff=0&&0>>22&0x3C@4=0x10000:0xffffffff',
  '-m length --length 0:60',
];

function buildTable(lines: string[], policy: 'ACCEPT' | 'DROP'): Table {
  let rs: Ruleset = { tables: {} };
  for (const line of [`-P INPUT ${policy}`, ...lines.map((l) => `-A INPUT ${l}`)]) {
    const r = parseCommandLine(line.match(/\S+/g)!);
    if (r.kind !== 'command') throw new Error(line);
    rs = apply(rs, r.command);
  }
  const t = structuredClone(rs.tables.filter!);
  let id = 16;
  for (const c of t.chains) for (const r of c.rules) r.id = id++;
  return t;
}

/** An IPv4 packet with `l4` after a 20-byte header (fragment offset in 8-byte units). */
function ipv4(proto: number, l4: Uint8Array, fragOffset = 0): Buffer {
  const b = Buffer.alloc(20 + l4.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(0x77, 4);
  b.writeUInt16BE(fragOffset & 0x1fff, 6);
  b[8] = 64;
  b[9] = proto;
  b.writeUInt32BE(0x0a000001, 12);
  b.writeUInt32BE(0x0a000002, 16);
  Buffer.from(l4).copy(b, 20);
  return b;
}

/** What the program keys from ipv4(...) (classifier/fields.ts conventions). */
function keyOfBytes(b: Buffer): PacketKey {
  const proto = b[9]!;
  const frag = (b.readUInt16BE(6) & 0x1fff) !== 0;
  const l4 = new Uint8Array(b.subarray(20));
  const need = proto === 6 ? 20 : proto === 132 || proto === 33 ? 12 : Infinity;
  const ports = !frag && l4.length >= need;
  return {
    src: 0x0a000001,
    dst: 0x0a000002,
    proto,
    nonFirstFragment: frag,
    sport: ports ? (l4[0]! << 8) | l4[1]! : NO_L4,
    dport: ports ? (l4[2]! << 8) | l4[3]! : NO_L4,
    tcpflags: ports && proto === 6 ? l4[13]! : NO_TCPFLAGS,
    ctstate: CT_UNTRACKED,
    iif: '',
    oif: 'lo',
    len: b.length,
    ttl: 64,
    tos: 0,
    mark: 0,
    pkttype: 0,
    ipflags: b.readUInt16BE(6),
    l4,
    pkt: new Uint8Array(b),
  };
}

const CHUNK_TYPES = [0, 0, 1, 3, 4, 6, 6, 14, 15, 64, 128, 192, 193, 200];

function randomSctp(rand: () => number): Uint8Array {
  const out: number[] = [];
  const sp = rand() < 0.3 ? 5 : Math.floor(rand() * 12);
  out.push(0, sp, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0);
  const n = Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const type = CHUNK_TYPES[Math.floor(rand() * CHUNK_TYPES.length)]!;
    const flags = rand() < 0.5 ? Math.floor(rand() * 16) : Math.floor(rand() * 256);
    const r = rand();
    const len = r < 0.06 ? 0 : r < 0.12 ? 1 + Math.floor(rand() * 3) : 4 + Math.floor(rand() * 9);
    out.push(type, flags, len >> 8, len & 0xff);
    const body = Math.max(0, ((len + 3) & ~3) - 4);
    for (let j = 0; j < body; j++) out.push(Math.floor(rand() * 256));
  }
  let b = Uint8Array.from(out);
  // Truncations: inside the common header, or inside a chunk.
  if (rand() < 0.15) b = b.subarray(0, Math.floor(rand() * b.length));
  return b;
}

function randomTcp(rand: () => number): Uint8Array {
  const doff = rand() < 0.1 ? Math.floor(rand() * 5) : 5 + Math.floor(rand() * 11);
  const optlen = Math.max(0, doff * 4 - 20);
  const h = new Uint8Array(20 + optlen + Math.floor(rand() * 8));
  h[2] = 0;
  h[3] = rand() < 0.5 ? 80 : 81;
  h[12] = doff << 4;
  h[13] = 0x02;
  const opts: number[] = [];
  while (opts.length < optlen) {
    const r = rand();
    if (r < 0.15) opts.push(1);
    else if (r < 0.2) opts.push(0);
    else if (r < 0.45) {
      const mss = [536, 1000, 1460, 1461, 9000][Math.floor(rand() * 5)]!;
      opts.push(2, rand() < 0.85 ? 4 : 3, mss >> 8, mss & 0xff);
    } else {
      const kind = [3, 4, 5, 8, 30][Math.floor(rand() * 5)]!;
      const len = rand() < 0.1 ? 0 : 2 + Math.floor(rand() * 6);
      opts.push(kind, len);
      for (let j = 2; j < len; j++) opts.push(Math.floor(rand() * 256));
    }
  }
  h.set(opts.slice(0, optlen), 20);
  return rand() < 0.12 ? h.subarray(0, Math.floor(rand() * h.length)) : h;
}

function randomDccp(rand: () => number): Uint8Array {
  const type = Math.floor(rand() * 16);
  const x = rand() < 0.5 ? 1 : 0;
  const base = 12 + (x ? 4 : 0) + (type === 2 ? 0 : (type >= 3 && type <= 6) || type === 8 || type === 9 ? 8 : type === 0 ? 4 : 12);
  const opts: number[] = [];
  const want = rand() < 0.3 ? 0 : Math.floor(rand() * 24);
  while (opts.length < want) {
    const r = rand();
    if (r < 0.3) opts.push([0, 1][Math.floor(rand() * 2)]!);
    else {
      const kind = [2, 5, 32, 40, 200][Math.floor(rand() * 5)]!;
      const len = rand() < 0.1 ? 0 : 2 + Math.floor(rand() * 5);
      opts.push(kind, len);
      for (let j = 2; j < len; j++) opts.push(Math.floor(rand() * 256));
    }
  }
  const optlen = (opts.length + 3) & ~3;
  let doff = (base + optlen) / 4;
  if (rand() < 0.1) doff = Math.floor(rand() * doff);
  const b = new Uint8Array(base + optlen + Math.floor(rand() * 8));
  b[2] = 0;
  b[3] = rand() < 0.5 ? 7 : 8;
  b[4] = doff;
  b[8] = (type << 1) | x;
  b.set(opts, base);
  return rand() < 0.12 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
}

/** UDP with payload bytes from a small alphabet (a, b, A, B, 0x0a, 0x0b, 0xe0, 0xc0) for the string rules. */
function randomText(rand: () => number): Uint8Array {
  const abc = [0x61, 0x62, 0x41, 0x42, 0x0a, 0x0b, 0xe0, 0xc0];
  const b = new Uint8Array(8 + Math.floor(rand() * 48));
  for (let i = 8; i < b.length; i++) b[i] = abc[Math.floor(rand() * abc.length)]!;
  return b;
}

function randomPacket(rand: () => number): Buffer {
  const r = rand();
  const frag = rand() < 0.08 ? 1 + Math.floor(rand() * 3) : 0;
  if (r < 0.15) return ipv4(17, randomText(rand), frag);
  if (r < 0.25) return ipv4(33, randomDccp(rand), frag);
  if (r < 0.45) return ipv4(132, randomSctp(rand), frag);
  if (r < 0.75) return ipv4(6, randomTcp(rand), frag);
  const proto = [50, 51, 108][Math.floor(rand() * 3)]!;
  const spis = [7, 8, 18, 100, 150, 199, 350, 0xffffffff];
  const l4 = Buffer.alloc(16);
  const spi = spis[Math.floor(rand() * spis.length)]!;
  if (proto === 50) l4.writeUInt32BE(spi, 0);
  else if (proto === 51) l4.writeUInt32BE(spi, 4);
  else l4.writeUInt16BE(spi & 0xffff, 2);
  return ipv4(proto, rand() < 0.25 ? l4.subarray(0, Math.floor(rand() * 13)) : l4, frag);
}

describe('header matches: BPF_PROG_TEST_RUN against the models', () => {
  const NS = `hb-dp-headers-${process.pid}`;
  let dp: Datapath;
  beforeAll(() => {
    netnsAdd(NS);
    dp = withNetns(NS, () => ensureDatapath());
  });
  afterAll(() => {
    if (dp) withNetns(NS, () => dp.teardown());
    netnsDel(NS);
  });

  it('verdicts and every rule counter agree on random tables and packets (hotdrop included)', () => {
    const rand = rng(0x5c7b0a11);
    let packets = 0;
    let hotdrops = 0;
    for (let round = 0; round < 30; round++) {
      const lines = POOL.filter(() => rand() < 0.4).sort(() => rand() - 0.5);
      if (rand() < 0.5) lines.push('-j ACCEPT');
      const table = buildTable(lines, rand() < 0.5 ? 'ACCEPT' : 'DROP');
      const spec = compileTable(table, LOOKUP);
      const ids = [0, 1, 2, ...spec.rules.flatMap((r) => (r ? [r.counterId] : []))];
      withNetns(NS, () => dp.commit(spec, ids.map((id) => ({ id, packets: 0n, bytes: 0n }))));
      let before = withNetns(NS, () => dp.readCounters(ids));
      for (let i = 0; i < 80; i++) {
        const pkt = randomPacket(rand);
        const key = keyOfBytes(pkt);
        const want = classifySpec(spec, 'INPUT', key);
        const ref = referenceClassify(table, 'INPUT', key, { lookup: LOOKUP });
        const wantIds = [...want.matched.map((idx) => spec.rules[idx]!.counterId), ...(want.policyCounted !== undefined ? [0] : [])].sort((a, b) => a - b);
        const refIds = [...ref.matched, ...(ref.policyCounted ? [0] : [])].sort((a, b) => a - b);
        const got = withNetns(NS, () => dp.testRun(pkt, 'INPUT').verdict);
        const after = withNetns(NS, () => dp.readCounters(ids));
        const counted = ids.filter((id) => after.get(id)!.packets !== before.get(id)!.packets).sort((a, b) => a - b);
        before = after;
        const ctx = `round ${round} packet ${pkt.toString('hex')}\nrules ${JSON.stringify(lines)}`;
        expect({ verdict: ref.verdict, counted: refIds, hotdrop: !!ref.hotdrop }, ctx).toEqual({ verdict: want.verdict, counted: wantIds, hotdrop: !!want.hotdrop });
        expect({ verdict: got, counted }, ctx).toEqual({ verdict: want.verdict, counted: wantIds });
        if (want.hotdrop) hotdrops++;
        packets++;
      }
    }
    expect(packets).toBe(2400);
    expect(hotdrops).toBeGreaterThan(50);
  }, 300_000);

  it('time: the real time (TAI minus the kernel offset), against time_mt at the same second', () => {
    const lines = timeRules(120);
    if (lines.length === 0) return; // within minutes of midnight UTC: the day fields would race
    const table = buildTable(lines, 'ACCEPT');
    const spec = compileTable(table, LOOKUP);
    const ids = [0, ...spec.rules.flatMap((r) => (r ? [r.counterId] : []))];
    withNetns(NS, () => dp.commit(spec, ids.map((id) => ({ id, packets: 0n, bytes: 0n }))));
    const pkt = ipv4(17, new Uint8Array(8));
    const key = { ...keyOfBytes(pkt), now: { sec: Math.floor(Date.now() / 1000), tzMinutesWest: clockFacts().tzMinutesWest } };
    const want = classifySpec(spec, 'INPUT', key);
    withNetns(NS, () => dp.testRun(pkt, 'INPUT'));
    const c = withNetns(NS, () => dp.readCounters(ids));
    const counted = ids.filter((id) => c.get(id)!.packets > 0n);
    expect(counted).toEqual([0, ...want.matched.map((i) => spec.rules[i]!.counterId)].sort((a, b) => a - b));
    // Sanity: some time rules match and some do not.
    expect(want.matched.length).toBeGreaterThan(3);
    expect(want.matched.length).toBeLessThan(lines.length);
  });

  it('cpu: the processing CPU, inverted or not', () => {
    const table = buildTable(['-m cpu --cpu 0', '-m cpu ! --cpu 0', '-m cpu --cpu 1', '-m cpu --cpu 4294967295'], 'ACCEPT');
    const spec = compileTable(table, LOOKUP);
    const ids = [16, 17, 18, 19];
    withNetns(NS, () => dp.commit(spec, [0, ...ids].map((id) => ({ id, packets: 0n, bytes: 0n }))));
    // test_run runs on the calling thread's CPU: pin it with taskset in a child process is not
    // possible here, so check the invariants: each packet counts in exactly one of --cpu 0 /
    // ! --cpu 0, never in --cpu 4294967295, and --cpu 1 only with ! --cpu 0.
    for (let i = 0; i < 50; i++) withNetns(NS, () => dp.testRun(ipv4(17, new Uint8Array(8)), 'INPUT'));
    const c = withNetns(NS, () => dp.readCounters(ids));
    expect(c.get(16)!.packets + c.get(17)!.packets).toBe(50n);
    expect(c.get(19)!.packets).toBe(0n);
    expect(c.get(18)!.packets).toBeLessThanOrEqual(c.get(17)!.packets);
  });
});

// ---- real packets: iptables-nft vs bpftables ---------------------------------------------------

const PEER = '10.199.9.1';
const DUT = '10.199.9.2';

const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
${POOL.filter((l) => !l.startsWith('-m length')).map((l) => `-A INPUT -s ${PEER}/32 ${l}`).join('\n')}
${timeRules(600).map((l) => `-A INPUT -s ${PEER}/32 ${l}`).join('\n')}
-A INPUT -s ${PEER}/32 -m cpu --cpu 0
-A INPUT -s ${PEER}/32 -m cpu ! --cpu 0
-A INPUT -s ${PEER}/32
-A OUTPUT -d 10.199.20.0/22 -m realm --realm 5
-A OUTPUT -d 10.199.20.0/22 -m realm ! --realm 5
-A OUTPUT -d 10.199.20.0/22 -m realm --realm 0x30000/0xffff0000
-A OUTPUT -d 10.199.20.0/22 -m realm --realm 7
-A OUTPUT -d 10.199.20.0/22 -m realm --realm 6/0xe
COMMIT
`;

function run(cmd: string[], input?: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

/** Sends each hex-encoded IP packet (checksum and total length filled by the kernel) from ns. */
function sendRaw(ns: string, packets: Buffer[]): void {
  const py = `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW)
for h in sys.stdin.read().split():
    b=bytes.fromhex(h)
    s.sendto(b,('${DUT}',0))
`;
  const r = spawnSync('ip', ['netns', 'exec', ns, 'python3', '-c', py], { input: packets.map((p) => p.toString('hex')).join('\n'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`raw send: ${r.stderr}`);
}

function exercise(impl: 'nft' | 'bpftables', tag: string, packets: Buffer[]): string[] {
  const dut = `hb-hdr-${tag}d-${process.pid}`;
  const peer = `hb-hdr-${tag}p-${process.pid}`;
  for (const n of [dut, peer]) {
    netnsAdd(n);
    made.push(n);
  }
  run(['ip', 'link', 'add', `hbh${tag}d`, 'netns', dut, 'type', 'veth', 'peer', 'name', `hbh${tag}p`, 'netns', peer]);
  run(['ip', '-n', dut, 'addr', 'add', `${DUT}/24`, 'dev', `hbh${tag}d`]);
  run(['ip', '-n', peer, 'addr', 'add', `${PEER}/24`, 'dev', `hbh${tag}p`]);
  run(['ip', '-n', dut, 'link', 'set', `hbh${tag}d`, 'up']);
  run(['ip', '-n', peer, 'link', 'set', `hbh${tag}p`, 'up']);
  const mac = run(['ip', '-n', dut, '-br', 'link', 'show', `hbh${tag}d`]).split(/\s+/)[2]!;
  sh(peer, `ip neigh replace ${DUT} lladdr ${mac} dev hbh${tag}p nud permanent`, { check: true });
  const restore = impl === 'nft' ? ['iptables-nft-restore'] : [join(DIST_BIN, 'iptables-restore')];
  run(['ip', 'netns', 'exec', dut, ...restore], RULES);
  sendRaw(peer, packets);
  // OUTPUT through routes with realms (realm_mt reads the route's tclassid).
  sh(dut, `ip route add 10.199.20.0/24 dev hbh${tag}d realm 5`, { check: true });
  sh(dut, `ip route add 10.199.21.0/24 dev hbh${tag}d realms 3/5`, { check: true });
  sh(dut, `ip route add 10.199.22.0/24 dev hbh${tag}d realm 7`, { check: true });
  for (const d of ['10.199.20.9', '10.199.21.9', '10.199.21.8', '10.199.22.9', '10.199.23.9']) sh(dut, `bash -c 'echo x > /dev/udp/${d}/9'`);
  spawnSync('sleep', ['0.5']);
  const save = impl === 'nft' ? ['iptables-nft-save', '-c'] : [join(DIST_BIN, 'iptables-save'), '-c'];
  return run(['ip', 'netns', 'exec', dut, ...save]).split('\n').filter((l) => l.startsWith('['));
}

const made: string[] = [];
afterAll(() => {
  for (const n of made) {
    spawnSync('ip', ['netns', 'exec', n, join(DIST_BIN, 'iptables'), '--bpftables-teardown']);
    netnsDel(n);
  }
});

describe('header matches: real packets, iptables-nft vs bpftables', () => {
  it('every rule counter agrees (truncated headers hotdrop in both)', () => {
    const rand = rng(0x1badd00d);
    // Whole first fragments only: the stack reassembles fragments before INPUT.
    const packets: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const p = randomPacket(rand);
      p.writeUInt16BE(0, 6);
      p.writeUInt32BE(0x0ac70901, 12); // PEER
      p.writeUInt32BE(0x0ac70902, 16); // DUT
      packets.push(p);
    }
    const nft = exercise('nft', 'n', packets);
    const bpf = exercise('bpftables', 'b', packets);
    // The cpu rules' split depends on which CPU took each packet: compare their sum.
    const cpuSum = (c: string[]) => c.filter((l) => l.includes('-m cpu')).reduce((s, l) => s + Number(/^\[(\d+):/.exec(l)![1]), 0);
    expect(cpuSum(bpf)).toBe(cpuSum(nft));
    expect(bpf.filter((l) => !l.includes('-m cpu'))).toEqual(nft.filter((l) => !l.includes('-m cpu')));
    // The realm rules saw the OUTPUT datagrams (10.199.23.9 has no route: not sent).
    expect(nft.filter((l) => l.includes('-m realm')).map((l) => /^\[(\d+):/.exec(l)![1])).toEqual(['1', '3', '2', '1', '1']);
    // Sanity: the traffic reached the rules, and some packets were hotdropped (the last rule
    // counts fewer than the packets sent).
    const last = nft.find((l) => l.endsWith(`-A INPUT -s ${PEER}/32`))!;
    expect(Number(/^\[(\d+):/.exec(last)![1])).toBeGreaterThan(50);
    expect(Number(/^\[(\d+):/.exec(last)![1])).toBeLessThan(300);
  }, 300_000);
});
