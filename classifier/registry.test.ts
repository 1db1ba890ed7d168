// The compiler and the reference over rules parsed by the real front end and compiled by the
// real extension modules (extensions/index.ts), so the constraint shapes the modules produce
// (inverted port ranges, icmp type/code keys, tcp flags, ctstate lists, multiport, iprange,
// limit, statistic …) go through compileTable, not just the test stubs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../parser/command.ts';
import { apply } from '../ruleset/apply.ts';
import type { Ruleset, Table } from '../ruleset/types.ts';
import { compileTable } from './compile.ts';
import { NO_L4, NO_TCPFLAGS, type PacketKey, type ResidualCheck } from './fields.ts';
import { classifySpec, type Hook } from './lookup.ts';
import { referenceClassify } from './reference.ts';

const COMMANDS = [
  '-N web',
  '-N ssh',
  '-P FORWARD DROP',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -p tcp -m mac --mac-source 02:00:00:00:00:01 -j ACCEPT',
  '-A INPUT -p udp -m mac ! --mac-source 02:00:00:00:00:02 -j DROP',
  '-A FORWARD -m mac ! --mac-source 02:00:00:00:00:01 -p tcp -j LOG',
  '-A FORWARD -p tcp -m mac --mac-source 02:00:00:00:00:02 -j DROP',
  '-A OUTPUT -p tcp -m owner --uid-owner 1000-1999 -j ACCEPT',
  '-A OUTPUT -m conntrack --ctproto tcp --ctorigdst 10.1.0.0/16 ! --ctorigdstport 80 -j ACCEPT',
  '-A OUTPUT -m conntrack --ctstate INVALID,NEW --ctdir REPLY -j DROP',
  '-A OUTPUT -m conntrack ! --ctreplsrc 10.0.0.0/8 --ctrepldstport 1024:65535 -j LOG',
  '-A INPUT -m conntrack --ctdir ORIGINAL ! --ctproto udp --ctorigsrcport 53 -j DROP',
  '-A INPUT -m conntrack ! --ctstate ESTABLISHED --ctrepldst 10.1.2.3 --ctreplsrcport 22 -j ACCEPT',
  '-A INPUT -m conntrack --ctstatus ASSURED,SEEN_REPLY -j ACCEPT',
  '-A INPUT -m conntrack ! --ctstatus CONFIRMED -m quota --quota 100 -j DROP',
  '-A OUTPUT -m conntrack --ctstate NEW --ctstatus NONE -j LOG',
  '-A INPUT -p udp -m conntrack --ctexpire 20:40 -j ACCEPT',
  '-A INPUT -p tcp -m hashlimit --hashlimit-above 10/sec --hashlimit-mode srcip --hashlimit-name hl -m tcp --dport 80 -j DROP',
  '-A INPUT -m connbytes --connbytes 100: --connbytes-mode bytes --connbytes-dir both -m tcp -p tcp --sport 22 -j LOG',
  '-A FORWARD -m connlimit --connlimit-above 2 --connlimit-mask 24 -p tcp -m tcp --dport 22 -j REJECT',
  '-A OUTPUT -m connlabel --label 3 --set -m ttl --ttl-gt 10 -j ACCEPT',
  '-A OUTPUT -m owner ! --uid-owner 0 --gid-owner 100 --suppl-groups -j DROP',
  '-A OUTPUT -p udp -m owner ! --socket-exists -j ACCEPT',
  '-A OUTPUT -m owner ! --gid-owner 5-7 -j LOG',
  '-A OUTPUT -p icmp -m owner --socket-exists ! --uid-owner 1500 -j REJECT',
  '-A OUTPUT -p icmp -m owner ! --uid-owner 0 ! --gid-owner 0 -j DROP',
  '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  '-A INPUT -m conntrack --ctstate INVALID -j DROP',
  '-A INPUT -p tcp --dport 22 -j ssh',
  '-A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j web',
  '-A INPUT -p udp --dport 53 -s 10.0.0.0/8 -j ACCEPT',
  '-A INPUT -p icmp --icmp-type echo-request -j ACCEPT',
  '-A INPUT -p tcp --tcp-flags SYN,ACK SYN ! --dport 1:1023 -j LOG',
  '-A INPUT -f -j DROP',
  '-A INPUT ! -s 192.168.0.0/16 -p tcp ! --sport 1024:65535 -j REJECT --reject-with tcp-reset',
  '-A INPUT -m iprange --src-range 10.1.2.0-10.1.2.50 -j RETURN',
  '-A INPUT -s 10.0.255.0/255.0.255.0 -j DROP',
  '-A INPUT -p udp -m multiport ! --ports 53,123',
  '-A INPUT -m addrtype --dst-type BROADCAST,MULTICAST -j DROP',
  '-A INPUT -m addrtype --src-type LOCAL --limit-iface-in -j ACCEPT',
  '-A INPUT -p tcp -m addrtype ! --dst-type LOCAL -j RETURN',
  '-A ssh -s 10.1.0.0/16 -j ACCEPT',
  '-A ssh -m limit --limit 3/min -j LOG',
  '-A ssh -j DROP',
  '-A web -i eth+ ! -s 10.1.2.3 -j RETURN',
  '-A web -p tcp --sport 1024:65535 -j ACCEPT',
  '-A web -p tcp -m multiport --ports 8080 -g ssh',
  '-A FORWARD -i eth0 -o eth1 -j ACCEPT',
  '-A FORWARD ! -i eth+ -j DROP',
  '-A FORWARD -p udp -m udp --sport 67:68 -j ACCEPT',
  '-A FORWARD -p icmp ! --icmp-type 3/1 -j ACCEPT',
  '-A FORWARD -p tcp -j web',
  '-A FORWARD -m addrtype --dst-type BROADCAST --limit-iface-out -j DROP',
  '-A OUTPUT -o lo -j ACCEPT',
  '-A OUTPUT -m addrtype --src-type LOCAL ! --dst-type UNICAST -j ACCEPT',
  '-A OUTPUT -p tcp -m length --length 0:100 -j ACCEPT',
  '-A OUTPUT -m ttl --ttl-gt 100 -j DROP',
  '-A OUTPUT -m mark --mark 0x1/0xff -j ACCEPT',
  '-A OUTPUT -m statistic --mode random --probability 0.5 -j DROP',
  '-A OUTPUT -m pkttype --pkt-type broadcast -j DROP',
  '-A OUTPUT ! -p udp -d 10.1.2.0/24 -j REJECT',
];

function buildTable(): Table {
  let rs: Ruleset = { tables: {} };
  for (const line of COMMANDS) {
    const r = parseCommandLine(line.split(' '));
    if (r.kind !== 'command') throw new Error(line);
    rs = apply(rs, r.command);
  }
  const t = structuredClone(rs.tables.filter!);
  let id = 16;
  for (const c of t.chains) for (const r of c.rules) r.id = id++;
  return t;
}

const ADDRS = [0x0a000000, 0x0a010000, 0x0a010203, 0x0a0102ff, 0x0a01022a, 0x0a00ff00, 0xc0a80101, 0x08080808];
const PORTS = [22, 53, 67, 68, 80, 123, 443, 1023, 1024, 8000, 8080, 8081, 65535];

const packetArb = (hook: Hook): fc.Arbitrary<PacketKey> =>
  fc
    .record({
      src: fc.constantFrom(...ADDRS).chain((a) => fc.integer({ min: 0, max: 40 }).map((d) => (a + d) >>> 0)),
      dst: fc.constantFrom(...ADDRS).chain((a) => fc.integer({ min: 0, max: 40 }).map((d) => (a + d) >>> 0)),
      proto: fc.constantFrom(1, 6, 6, 17, 17, 47),
      frag: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
      sport: fc.constantFrom(...PORTS),
      dport: fc.constantFrom(...PORTS),
      icmp: fc.constantFrom(0x0800, 0x0301, 0x0303, 0x0000),
      tcpflags: fc.constantFrom(0x02, 0x12, 0x10, 0x11, 0x04),
      ctstate: fc.integer({ min: 0, max: 4 }),
      iif: fc.constantFrom('lo', 'eth0', 'eth1', 'wlan0'),
      oif: fc.constantFrom('lo', 'eth0', 'eth1', 'wlan0'),
      len: fc.constantFrom(40, 100, 101, 1500),
      ttl: fc.constantFrom(1, 64, 100, 101, 255),
      mark: fc.constantFrom(0, 1, 0x101, 2),
      pkttype: fc.integer({ min: 0, max: 2 }),
      // Route types RTN_UNICAST / LOCAL / BROADCAST / MULTICAST and the route's device.
      srcType: fc.constantFrom(1, 2, 3, 5),
      dstType: fc.constantFrom(1, 2, 2, 3, 5),
      srcDev: fc.option(fc.constantFrom('lo', 'eth0', 'eth1'), { nil: undefined }),
      dstDev: fc.option(fc.constantFrom('lo', 'eth0', 'eth1'), { nil: undefined }),
      mac: fc.option(fc.constantFrom(0x020000000001, 0x020000000002, 0x0a0b0c0d0e0f)),
      ct: fc.option(
        fc.record({
          proto: fc.constantFrom(1, 6, 17),
          origSrc: fc.constantFrom(...ADDRS),
          origDst: fc.constantFrom(...ADDRS),
          origSport: fc.constantFrom(...PORTS),
          origDport: fc.constantFrom(...PORTS),
          replSport: fc.constantFrom(...PORTS),
          replDport: fc.constantFrom(...PORTS),
          reply: fc.boolean(),
          status: fc.constantFrom(0, 8, 10, 14),
          expire: fc.constantFrom(0, 30, 120),
        }),
      ),
      sock: fc.option(
        fc.record({
          file: fc.boolean(),
          uid: fc.constantFrom(0, 1000, 1500, 2000),
          gid: fc.constantFrom(0, 5, 6, 100),
          groups: fc.subarray([100, 6, 3000]),
        }),
      ),
    })
    .map((p) => {
      const l4 = !p.frag && (p.proto === 6 || p.proto === 17);
      return {
        src: p.src,
        dst: p.dst,
        proto: p.proto,
        nonFirstFragment: p.frag,
        sport: l4 ? p.sport : NO_L4,
        dport: l4 ? p.dport : p.proto === 1 && !p.frag ? p.icmp : NO_L4,
        tcpflags: p.proto === 6 && !p.frag ? p.tcpflags : NO_TCPFLAGS,
        ctstate: p.ctstate,
        iif: hook === 'OUTPUT' ? '' : p.iif,
        oif: hook === 'INPUT' ? '' : p.oif,
        len: p.len,
        ttl: p.ttl,
        tos: 0,
        mark: p.mark,
        pkttype: p.pkttype,
        ipflags: p.frag ? 0x20 : 0,
        addrtype: { src: p.srcType, dst: p.dstType, srcDev: p.srcDev, dstDev: p.dstDev },
        mac: p.mac ?? undefined,
        sock: p.sock ?? undefined,
        ct: p.ct ?? undefined,
      };
    });

function oracle(counterId: number, check: ResidualCheck, pkt: PacketKey): boolean {
  return ((counterId * 31 + pkt.ttl + pkt.sport) & 1) === 1 || check.kind === 'nth';
}

describe('real extension modules through compileTable', () => {
  const table = buildTable();
  const spec = compileTable(table);
  // Every wide constraint demoted to a residual check: same verdicts.
  const demoted = compileTable(table, undefined, { classBudget: 0 });

  it('builds the ruleset', () => {
    expect(spec.chains.map((c) => c.name)).toEqual(['INPUT', 'FORWARD', 'OUTPUT', 'web', 'ssh']);
  });

  for (const hook of ['INPUT', 'FORWARD', 'OUTPUT'] as Hook[]) {
    it(`agrees with the reference (${hook})`, () => {
      const seen = new Set<string>();
      fc.assert(
        fc.property(packetArb(hook), (pkt) => {
          const got = classifySpec(spec, hook, pkt, oracle);
          const want = referenceClassify(table, hook, pkt, { residual: oracle });
          expect(classifySpec(demoted, hook, pkt, oracle)).toEqual(got);
          const mapped = {
            verdict: got.verdict,
            reject: got.reject,
            matched: got.matched.map((i) => spec.rules[i]!.counterId),
            policy: got.policyCounted === undefined ? undefined : spec.chains[got.policyCounted].name,
          };
          expect(mapped).toEqual({ verdict: want.verdict, reject: want.reject, matched: want.matched, policy: want.policyCounted });
          seen.add(mapped.matched.join(','));
        }),
        { numRuns: 3000 },
      );
      // The packets reach many different paths through the rules.
      expect(seen.size).toBeGreaterThan(5);
    });
  }
});
