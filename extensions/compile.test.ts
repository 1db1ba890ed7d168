// compile(): what each module contributes to the classifier (field constraints, residual checks)
// or to the datapath (actions), and what it refuses with `unsupported`.
import { describe, expect, it } from 'vitest';
import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED, CT_UNTRACKED, NO_L4 } from '../classifier/fields.ts';
import type { TableName } from '../ruleset/types.ts';
import { compileRule, parseRuleForTest, saveRule, shellSplit } from './testing.ts';
import { rangeToPrefixes } from './lib.ts';

const compile = (rule: string, table: TableName = 'filter', chain = 'INPUT') => compileRule(parseRuleForTest(shellSplit(rule), table, chain));
const m0 = (rule: string) => compile(rule).matches[0]!;

describe('match compile', () => {
  it('tcp ports never match packets without ports (NO_L4), inverted or not', () => {
    expect(m0('-p tcp --dport 80').fields).toEqual({ proto: { kind: 'ranges', ranges: [[6, 6]], invert: false }, dport: { kind: 'ranges', ranges: [[80, 80]], invert: false } });
    const inv = m0('-p tcp ! --dport 80').fields!.dport!;
    expect(inv).toEqual({ kind: 'ranges', ranges: [[0, 79], [81, 65535]], invert: false });
    expect(JSON.stringify(inv)).not.toContain(String(NO_L4));
    expect(m0('-p tcp ! --sport 0:1023').fields!.sport).toEqual({ kind: 'ranges', ranges: [[1024, 65535]], invert: false });
  });
  it('tcp flags become the set of flag bytes satisfying (flags & mask) == comp', () => {
    const f = m0('-p tcp --syn').fields!.tcpflags!;
    expect(f.kind).toBe('ranges');
    const set = new Set<number>();
    if (f.kind === 'ranges') for (const [lo, hi] of f.ranges) for (let v = lo; v <= hi; v++) set.add(v);
    for (let v = 0; v < 256; v++) expect(set.has(v)).toBe((v & 0x17) === 0x02);
    expect(set.has(256)).toBe(false);
  });
  it('header matches compile to residual checks (classifier/headers.ts, bpf/headers.h)', () => {
    expect(m0('-p tcp ! --tcp-option 2').residual).toEqual([{ kind: 'tcpoption', option: 2, invert: true }]);
    expect(m0('-p tcp -m tcpmss ! --mss 100:200').residual).toEqual([{ kind: 'tcpmss', lo: 100, hi: 200, invert: true }]);
    expect(m0('-p esp -m esp ! --espspi 5:7')).toEqual({
      fields: { proto: { kind: 'ranges', ranges: [[50, 50]], invert: false } },
      residual: [{ kind: 'spi', proto: 'esp', lo: 5, hi: 7, invert: true }],
    });
    expect(m0('-p ah -m ah').residual).toEqual([{ kind: 'spi', proto: 'ah', lo: 0, hi: 0xffffffff, invert: false }]);
    expect(m0('-m cpu ! --cpu 1').residual).toEqual([{ kind: 'cpu', cpu: 1, invert: true }]);
    expect(m0('-p sctp ! --chunk-types only DATA:Be,ABORT').residual).toEqual([
      { kind: 'sctpchunks', type: 'only', map: [0, 6], flags: [{ chunktype: 0, flag: 0x02, mask: 0x03 }], invert: true },
    ]);
  });
  it('udp constrains proto 17 and ports', () => {
    expect(m0('-p udp --sport 53').fields).toEqual({ proto: { kind: 'ranges', ranges: [[17, 17]], invert: false }, sport: { kind: 'ranges', ranges: [[53, 53]], invert: false } });
  });
  it('icmp keys type << 8 | code on dport', () => {
    expect(m0('-p icmp --icmp-type echo-request').fields!.dport).toEqual({ kind: 'ranges', ranges: [[0x800, 0x8ff]], invert: false });
    expect(m0('-p icmp --icmp-type 3/3').fields!.dport).toEqual({ kind: 'ranges', ranges: [[0x303, 0x303]], invert: false });
    expect(m0('-p icmp --icmp-type any').fields!.dport).toEqual({ kind: 'ranges', ranges: [[0, 0xffff]], invert: false });
    expect(m0('-p icmp ! --icmp-type 8').fields!.dport).toEqual({ kind: 'ranges', ranges: [[0, 0x7ff], [0x900, 0xffff]], invert: false });
  });
  it('multiport: port sets on one field, either-port as a residual', () => {
    expect(m0('-p tcp -m multiport --dports 22,80:82').fields!.dport).toEqual({ kind: 'ranges', ranges: [[22, 22], [80, 82]], invert: false });
    expect(m0('-p tcp -m multiport ! --sports 22').fields!.sport).toEqual({ kind: 'ranges', ranges: [[0, 21], [23, 65535]], invert: false });
    const p = m0('-p udp -m multiport --ports 53');
    expect(p.residual).toEqual([{ kind: 'either', ranges: [[53, 53]], invert: false }]);
    expect(p.fields!.sport).toEqual({ kind: 'ranges', ranges: [[0, 65535]], invert: false });
  });
  it('iprange compiles to a minimal prefix union', () => {
    const f = m0('-m iprange --src-range 10.0.0.1-10.0.0.6').fields!.src!;
    expect(f).toEqual({ kind: 'prefixes', prefixes: rangeToPrefixes(0x0a000001, 0x0a000006), invert: false });
    expect(rangeToPrefixes(0x0a000001, 0x0a000006)).toEqual([
      { addr: 0x0a000001, len: 32 },
      { addr: 0x0a000002, len: 31 },
      { addr: 0x0a000004, len: 31 },
      { addr: 0x0a000006, len: 32 },
    ]);
    expect(rangeToPrefixes(0, 0xffffffff)).toEqual([{ addr: 0, len: 0 }]);
    expect(m0('-m iprange ! --dst-range 1.2.3.4').fields!.dst).toEqual({ kind: 'prefixes', prefixes: [{ addr: 0x01020304, len: 32 }], invert: true });
  });
  it('conntrack / state map onto the ctstate field', () => {
    expect(m0('-m conntrack --ctstate NEW,ESTABLISHED').fields!.ctstate).toEqual({ kind: 'ranges', ranges: [[CT_NEW, CT_NEW], [CT_ESTABLISHED, CT_ESTABLISHED]], invert: false });
    expect(m0('-m state ! --state INVALID').fields!.ctstate).toEqual({ kind: 'ranges', ranges: [[CT_INVALID + 1, 7]], invert: false });
    expect(m0('-m conntrack --ctstate RELATED,UNTRACKED').fields!.ctstate).toEqual({ kind: 'ranges', ranges: [[CT_RELATED, CT_RELATED], [CT_UNTRACKED, CT_UNTRACKED]], invert: false });
    expect(m0('-m conntrack --ctstate SNAT').unsupported).toMatch(/nat/);
    expect(m0('-m conntrack --ctstate NEW ! --ctstatus ASSURED,CONFIRMED').residual).toEqual([{ kind: 'ct', field: 'status', mask: 12, ranges: [[1, 0xffffffff]], invert: true, untracked: true }]);
    expect(m0('-m conntrack --ctexpire 5').unsupported).toMatch(/ctexpire/);
    expect(m0('-m conntrack --ctstate NEW --ctproto tcp ! --ctorigdst 10.0.0.0/8 --ctdir REPLY').residual).toEqual([
      { kind: 'ct', field: 'dir', mask: 1, ranges: [[1, 1]], invert: false, untracked: true },
      { kind: 'ct', field: 'origdst', mask: 0xff000000, ranges: [[0x0a000000, 0x0a000000]], invert: true, untracked: true },
      { kind: 'ct', field: 'proto', mask: 0xff, ranges: [[6, 6]], invert: false, untracked: true },
    ]);
    expect(m0('-m conntrack --ctreplsrcport 1000:2000').residual).toEqual([{ kind: 'ct', field: 'replsrcport', mask: 0xffff, ranges: [[1000, 2000]], invert: false, untracked: false }]);
  });
  it('residual checks: limit, statistic, length, ttl, mark, pkttype, tos, dscp', () => {
    expect(m0('-m limit --limit 10/sec --limit-burst 3').residual).toEqual([{ kind: 'limit', ratePerSec: 10, burst: 3, invert: false }]);
    expect(m0('-m statistic --mode random --probability 0.5').residual).toEqual([{ kind: 'random', probability: 0.5, invert: false }]);
    expect(m0('-m statistic --mode nth --every 3 --packet 1').residual).toEqual([{ kind: 'nth', every: 3, packet: 1, invert: false }]);
    expect(m0('-m length ! --length 100:200').residual).toEqual([{ kind: 'cmp', field: 'len', mask: 0xffff, ranges: [[100, 200]], invert: true }]);
    expect(m0('-m ttl --ttl-lt 5').residual).toEqual([{ kind: 'cmp', field: 'ttl', mask: 0xff, ranges: [[0, 4]], invert: false }]);
    expect(m0('-m ttl ! --ttl-eq 64').residual).toEqual([{ kind: 'cmp', field: 'ttl', mask: 0xff, ranges: [[64, 64]], invert: true }]);
    expect(m0('-m mark --mark 0x10/0xf0').residual).toEqual([{ kind: 'cmp', field: 'mark', mask: 0xf0, ranges: [[0x10, 0x10]], invert: false }]);
    expect(m0('-m pkttype --pkt-type broadcast').residual).toEqual([{ kind: 'cmp', field: 'pkttype', mask: 0xff, ranges: [[1, 1]], invert: false }]);
    expect(m0('-m dscp --dscp 0x2e').residual).toEqual([{ kind: 'cmp', field: 'tos', mask: 0xfc, ranges: [[0xb8, 0xb8]], invert: false }]);
    expect(m0('-m tos --tos 0x10/0x3f').residual).toEqual([{ kind: 'cmp', field: 'tos', mask: 0x3f, ranges: [[0x10, 0x10]], invert: false }]);
  });
  it('recent: one residual check with the list, side, mask and modifiers', () => {
    expect(m0('-m recent --set').residual).toEqual([
      { kind: 'recent', cmd: 'set', name: 'DEFAULT', side: 'source', mask: 0xffffffff, seconds: 0, hitcount: 0, reap: false, rttl: false, invert: false },
    ]);
    expect(m0('-m recent ! --update --seconds 60 --reap --hitcount 4 --rttl --name SSH --rdest --mask 255.255.255.0').residual).toEqual([
      { kind: 'recent', cmd: 'update', name: 'SSH', side: 'dest', mask: 0xffffff00, seconds: 60, hitcount: 4, reap: true, rttl: true, invert: true },
    ]);
    expect(m0('-m recent --rcheck --hitcount 32').residual![0]).toMatchObject({ cmd: 'check', hitcount: 32 });
  });
  it('addrtype: one residual check per address, the device limit on both', () => {
    expect(m0('-m addrtype --src-type LOCAL ! --dst-type BROADCAST,MULTICAST --limit-iface-in').residual).toEqual([
      { kind: 'addrtype', addr: 'src', types: 1 << 2, dev: 'in', invert: false },
      { kind: 'addrtype', addr: 'dst', types: (1 << 3) | (1 << 5), dev: 'in', invert: true },
    ]);
  });
  it('mac and owner: residual checks read by bpf/content.h', () => {
    expect(m0('-m mac ! --mac-source 0:1:2:a:B:c').residual).toEqual([{ kind: 'mac', mac: 0x0001020a0b0c, invert: true }]);
    expect(compile('-m owner --uid-owner 10-20 ! --gid-owner 5 --suppl-groups ! --socket-exists', 'filter', 'OUTPUT').matches[0]!.residual).toEqual([
      { kind: 'owner', owner: { uid: [10, 20], uidInv: undefined, gid: [5, 5], gidInv: true, socket: true, socketInv: true, suppl: true }, invert: false },
    ]);
  });
  it('comment compiles to nothing', () => {
    expect(m0('-m comment --comment x')).toEqual({});
  });
  it('matches the datapath cannot enforce say why', () => {
    for (const r of ['-m recent --rcheck --hitcount 33', '-m helper --helper ftp', '-m socket']) {
      expect(m0(r).unsupported, r).toMatch(/^[a-z]+( --[a-z-]+)?: .+/);
    }
  });
  it('quota, connbytes and hashlimit compile to their residual checks (the kernel values)', () => {
    expect(m0('-m quota ! --quota 5').residual).toEqual([{ kind: 'quota', bytes: '5', invert: true }]);
    expect(m0('-m connbytes ! --connbytes 10:20 --connbytes-mode bytes --connbytes-dir reply').residual).toEqual([
      { kind: 'connbytes', what: 'bytes', dir: 'reply', from: '20', to: '10', invert: false },
    ]);
    const hl = m0('-m hashlimit --hashlimit-above 40/min --hashlimit-mode srcip,dstport --hashlimit-name n --hashlimit-rate-match').residual?.[0];
    // 40/min: period 1500000 us per packet, per second of a 60 s interval; expiry the unit (60 s).
    expect(hl).toEqual({
      kind: 'hashlimit',
      name: 'n',
      cfg: { mode: 4 | 2 | 16 | 64, avg: 25000, burst: 5, size: 0, max: 0, gcInterval: 1000, expire: 60000, srcmask: 32, dstmask: 32, interval: 60 },
      invert: false,
    });
  });
});

describe('target compile', () => {
  const t = (rule: string, table: TableName = 'filter', chain = 'INPUT') => compile(rule, table, chain).target;
  it('REJECT, LOG, MARK', () => {
    expect(t('-j REJECT')).toEqual({ kind: 'reject', with: 'icmp-port-unreachable' });
    expect(t('-p tcp -j REJECT --reject-with tcp-reset')).toEqual({ kind: 'reject', with: 'tcp-reset' });
    expect(t("-j LOG --log-prefix 'x: ' --log-level 6 --log-uid")).toEqual({ kind: 'log', level: 6, prefix: 'x: ', flags: 8 });
    expect(t('-j MARK --or-mark 0x4')).toEqual({ kind: 'mark', value: 4, mask: 4 });
    expect(t('-j MARK --set-mark 5')).toEqual({ kind: 'mark', value: 5, mask: 0xffffffff });
  });
  it('nat and other targets are refused with a reason', () => {
    expect(t('-p tcp -j DNAT --to-destination 1.2.3.4', 'nat', 'PREROUTING')).toEqual({ kind: 'unsupported', reason: 'DNAT: the nat table is not enforced by the datapath' });
    expect(t('-j MASQUERADE', 'nat', 'POSTROUTING')?.kind).toBe('unsupported');
    expect(t('-j NFQUEUE --queue-num 3')?.kind).toBe('unsupported');
    expect(t('-j CONNMARK --save-mark')?.kind).toBe('unsupported');
  });
});

describe('save(parse(x)) round-trips', () => {
  const rules = [
    '-p tcp -m tcp ! --sport 1:2 --dport 80 ! --tcp-flags FIN,SYN,RST,ACK SYN',
    '-p icmp -m icmp ! --icmp-type 3/4',
    '-p udp -m multiport ! --ports 53,1000:2000',
    '-m iprange --src-range 1.1.1.1-1.1.1.9 ! --dst-range 2.2.2.2-2.2.2.3',
    '-m conntrack ! --ctstate NEW,RELATED --ctproto 6 --ctorigsrc 10.0.0.0/8 --ctexpire 5:10 --ctdir REPLY',
    '-m comment --comment "a \\"test\\" b"',
    '-m limit --limit 7/min --limit-burst 3',
    '-m statistic --mode random ! --probability 0.25000000000',
    '-m recent ! --rcheck --seconds 10 --reap --hitcount 2 --rttl --name x --mask 255.255.0.0 --rdest',
    '-j LOG --log-prefix "a b" --log-level 1 --log-tcp-options',
    '-j MARK --set-xmark 0x10/0xff',
  ];
  for (const r of rules) {
    it(r, () => {
      const once = saveRule(parseRuleForTest(shellSplit(r)));
      expect(saveRule(parseRuleForTest(shellSplit(once)))).toBe(once);
    });
  }
});

describe('edge ranges', () => {
  it('a reversed udp port range matches no port, inverted every port (never NO_L4)', () => {
    expect(m0('-p udp --sport 4:3').fields!.sport).toEqual({ kind: 'ranges', ranges: [], invert: false });
    expect(m0('-p udp ! --sport 4:3').fields!.sport).toEqual({ kind: 'ranges', ranges: [[0, 65535]], invert: false });
  });
  it('dccp ports reach the classifier; types and option are a residual check after them', () => {
    expect(m0('-p dccp -m dccp --dport 5').fields!.dport).toEqual({ kind: 'ranges', ranges: [[5, 5]], invert: false });
    expect(m0('-p dccp -m dccp ! --dccp-types SYNC --dccp-option 3').residual).toEqual([
      { kind: 'dccp', types: { mask: 1 << 8, invert: true }, option: { option: 3, invert: false }, invert: false },
    ]);
  });
});

describe('rule identity (equal) ignores option order', () => {
  it('every module has equal, and order of options does not matter', async () => {
    const { MATCHES, TARGETS } = await import('./index.ts');
    for (const m of [...MATCHES.values(), ...TARGETS.values()]) expect(typeof m.equal, m.name).toBe('function');
    const a = parseRuleForTest(shellSplit('-p tcp -m tcp --sport 1 --dport 2'));
    const b = parseRuleForTest(shellSplit('-p tcp -m tcp --dport 2 --sport 1'));
    expect(a.matches[0]!.mod.equal!(a.matches[0]!.data, b.matches[0]!.data)).toBe(true);
    const c = parseRuleForTest(shellSplit('-m owner --gid-owner 0 --uid-owner 0'), 'filter', 'OUTPUT');
    const d = parseRuleForTest(shellSplit('-m owner --uid-owner 0 --gid-owner root'), 'filter', 'OUTPUT');
    expect(c.matches[0]!.mod.equal!(c.matches[0]!.data, d.matches[0]!.data)).toBe(true);
  });
});
