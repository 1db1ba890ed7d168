// Random filter tables, rules and packets for the classifier's property tests (differential
// against the reference matcher, incremental against full compiles): values come from small
// shared pools, so overlaps, nesting and exact hits are the common case. Rules use the stub
// modules of testing.ts (STUB_LOOKUP).
import fc from 'fast-check';
import { zeroCounters, type Chain, type Rule, type Table, type TargetInstance } from '../ruleset/types.ts';
import { prefixMask } from './base.ts';
import { CT_INVALID, CT_UNTRACKED, NO_L4, NO_TCPFLAGS, type PacketKey, type ResidualCheck } from './fields.ts';
import type { Hook } from './lookup.ts';
import type { TcpStub } from './testing.ts';

export const ADDRS = [0x0a000000, 0x0a010000, 0x0a010200, 0x0a010203, 0x0a0102ff, 0xc0a80000, 0xc0a80101, 0];
export const LENS = [0, 1, 8, 12, 16, 24, 31, 32];
export const PORTS = [0, 1, 22, 53, 80, 443, 1024, 8080, 65534, 65535];
export const PATTERNS = ['eth0', 'eth1', 'eth+', 'eth1+', '+', 'lo', 'veth+', 'wlan0'];
export const NAMES = ['eth0', 'eth1', 'eth10', 'eth', 'lo', 'veth0', 'wlan0', 'ppp0'];
export const PROTOS = [1, 6, 17, 47, 132];

const addrMatchArb = fc
  .record({
    a: fc.constantFrom(...ADDRS),
    mask: fc.oneof(
      fc.constantFrom(...LENS).map(prefixMask),
      fc.constantFrom(0xff00ff00, 0xffff00ff, 0x000000ff), // non-contiguous masks
    ),
    invert: fc.boolean(),
  })
  .map(({ a, mask, invert }) => ({ addr: (a & mask) >>> 0, mask, invert }));

const portRangeArb = fc
  .tuple(fc.constantFrom(...PORTS), fc.constantFrom(...PORTS), fc.boolean())
  .map(([a, b, inv]) => [Math.min(a, b), Math.max(a, b), inv] as [number, number, boolean]);

const prefixArb = fc.record({ a: fc.constantFrom(...ADDRS), len: fc.constantFrom(...LENS) }).map(({ a, len }) => ({ addr: (a & prefixMask(len)) >>> 0, len }));

const matchArb = fc.oneof(
  fc
    .record({
      proto: fc.constantFrom(6, 17),
      sport: fc.option(portRangeArb, { nil: undefined }),
      dport: fc.option(portRangeArb, { nil: undefined }),
      flags: fc.option(
        fc.record({ mask: fc.constantFrom(0x17, 0x02, 0x12, 0x3f), comp: fc.constantFrom(0x02, 0x10, 0x12, 0), invert: fc.boolean() }),
        { nil: undefined },
      ),
    })
    .map((d) => ({ name: 'tcp', data: (d.proto === 6 ? d : { ...d, flags: undefined }) as TcpStub })),
  fc.record({ ports: fc.array(fc.tuple(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 30 })).map(([p, w]) => [p, Math.min(65535, p + w)] as [number, number]), { minLength: 1, maxLength: 3 }), invert: fc.boolean() }).map((d) => ({ name: 'multiport', data: d })),
  fc.record({ dports: fc.array(fc.tuple(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 30 })).map(([p, w]) => [p, Math.min(65535, p + w)] as [number, number]), { minLength: 1, maxLength: 3 }), invert: fc.boolean() }).map((d) => ({ name: 'multiport', data: d })),
  fc.record({ states: fc.subarray([0, 1, 2, 3, 4], { minLength: 1 }), invert: fc.boolean() }).map((d) => ({ name: 'conntrack', data: d })),
  fc.record({ field: fc.constantFrom('src', 'dst'), prefixes: fc.array(prefixArb, { minLength: 1, maxLength: 3 }), invert: fc.boolean() }).map((d) => ({ name: 'pfx', data: d })),
  fc.record({ field: fc.constantFrom('saddr', 'daddr'), lo: fc.constantFrom(...ADDRS), w: fc.integer({ min: 0, max: 300 }), invert: fc.boolean() }).map((d) => ({ name: 'iprange', data: { ...d, hi: d.lo + d.w } })),
  fc.record({ lo: fc.constantFrom(1, 64, 100), hi: fc.constantFrom(64, 128, 255), invert: fc.boolean() }).map((d) => ({ name: 'ttl', data: d })),
  fc.record({ invert: fc.boolean() }).map((d) => ({ name: 'limit', data: d })),
  fc.record({ value: fc.integer({ min: 0, max: 2 }), invert: fc.boolean() }).map((d) => ({ name: 'mark', data: d })),
  fc.record({ p: fc.constantFrom(0, 0.5, 1), invert: fc.boolean() }).map((d) => ({ name: 'statistic', data: d })),
  fc.record({ field: fc.constantFrom('iif', 'oif'), pattern: fc.constantFrom(...PATTERNS), invert: fc.boolean() }).map((d) => ({ name: 'iface2', data: d })),
  fc.constant({ name: 'comment', data: {} }),
  fc
    .record({ addr: fc.constantFrom('src', 'dst'), types: fc.constantFrom(0b100, 0b101000, 0b110, 0b10), dev: fc.constantFrom('any', 'in', 'out'), invert: fc.boolean() })
    .map((d) => ({ name: 'addrtype', data: d })),
);

export interface RuleShape {
  src?: { addr: number; mask: number; invert: boolean };
  dst?: { addr: number; mask: number; invert: boolean };
  inIface?: { name: string; invert: boolean };
  outIface?: { name: string; invert: boolean };
  proto?: { proto: number; invert: boolean };
  fragment?: { invert: boolean };
  matches: Array<{ name: string; data: unknown }>;
  /** 0 none, 1 ACCEPT, 2 DROP, 3 RETURN, 4 jump, 5 goto, 6 LOG, 7 REJECT, 8 MARK */
  t: number;
  /** Picks the jump/goto target among the allowed chains. */
  pick: number;
}

const ifaceArb = fc.record({ name: fc.constantFrom(...PATTERNS), invert: fc.boolean() });
const opt = <T,>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
export const ruleShapeArb: fc.Arbitrary<RuleShape> = fc.record({
  src: opt(addrMatchArb),
  dst: opt(addrMatchArb),
  inIface: opt(ifaceArb),
  outIface: opt(ifaceArb),
  proto: opt(fc.record({ proto: fc.constantFrom(0, ...PROTOS), invert: fc.boolean() })),
  fragment: opt(fc.record({ invert: fc.boolean() })),
  // Interface constraints have no residual form, so one after a stateful match (limit) is
  // refused (compile.ts); such rules take the interface match first here.
  matches: fc.array(matchArb, { maxLength: 2 }).map((ms) => [...ms].sort((a, b) => Number(b.name === 'iface2') - Number(a.name === 'iface2'))),
  t: fc.integer({ min: 0, max: 8 }),
  pick: fc.nat(),
});

export const tableArb: fc.Arbitrary<Table> = fc
  .record({
    policies: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
    chains: fc.array(fc.array(ruleShapeArb, { maxLength: 7 }), { minLength: 3, maxLength: 7 }),
  })
  .map(({ policies, chains }) => {
    const names = chains.map((_, i) => (i < 3 ? ['INPUT', 'FORWARD', 'OUTPUT'][i] : `U${i - 3}`));
    let id = 16;
    const out: Chain[] = chains.map((shapes, ci) => {
      // Jumps only go to user chains created later: the graph has no loops.
      const targets = names.slice(Math.max(3, ci + 1));
      const rules: Rule[] = shapes.map((s) => shapeToRule(s, id++, targets));
      const c: Chain = { name: names[ci], counters: zeroCounters(), rules };
      if (ci < 3) c.policy = policies[ci] ? 'DROP' : 'ACCEPT';
      return c;
    });
    return { name: 'filter', chains: out } as Table;
  });

/** A rule of the given shape; jumps and gotos pick among `targets` (ACCEPT when there are none). */
export function shapeToRule(s: RuleShape, id: number, targets: readonly string[]): Rule {
  let target: TargetInstance | undefined;
  let t = s.t;
  if ((t === 4 || t === 5) && targets.length === 0) t = 1;
  switch (t) {
    case 1:
      target = { kind: 'standard', verdict: 'ACCEPT' };
      break;
    case 2:
      target = { kind: 'standard', verdict: 'DROP' };
      break;
    case 3:
      target = { kind: 'standard', verdict: 'RETURN' };
      break;
    case 4:
      target = { kind: 'jump', chain: targets[s.pick % targets.length] };
      break;
    case 5:
      target = { kind: 'goto', chain: targets[s.pick % targets.length] };
      break;
    case 6:
      target = { kind: 'extension', name: 'LOG', data: {} };
      break;
    case 7:
      target = { kind: 'extension', name: 'REJECT', data: {} };
      break;
    case 8:
      target = { kind: 'extension', name: 'MARK', data: {} };
      break;
  }
  const r: Rule = { id, matches: s.matches, counters: zeroCounters(), target };
  for (const k of ['src', 'dst', 'inIface', 'outIface', 'proto', 'fragment'] as const) if (s[k]) (r as any)[k] = s[k];
  return r;

}

export const packetArb = (hook: Hook): fc.Arbitrary<PacketKey> =>
  fc
    .record({
      src: fc.oneof(fc.constantFrom(...ADDRS).chain((a) => fc.integer({ min: 0, max: 300 }).map((d) => (a + d) >>> 0)), fc.integer({ min: 0, max: 0xffffffff })),
      dst: fc.oneof(fc.constantFrom(...ADDRS).chain((a) => fc.integer({ min: 0, max: 300 }).map((d) => (a + d) >>> 0)), fc.integer({ min: 0, max: 0xffffffff })),
      proto: fc.constantFrom(...PROTOS, 6, 6, 17),
      frag: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
      sport: fc.oneof(fc.constantFrom(...PORTS), fc.constantFrom(...PORTS).map((p) => Math.min(65535, p + 1)), fc.integer({ min: 0, max: 65535 })),
      dport: fc.oneof(fc.constantFrom(...PORTS), fc.constantFrom(...PORTS).map((p) => Math.min(65535, p + 1)), fc.integer({ min: 0, max: 65535 })),
      tcpflags: fc.constantFrom(0x02, 0x12, 0x10, 0x11, 0x04, 0x3f, 0),
      ctstate: fc.integer({ min: CT_INVALID, max: CT_UNTRACKED }),
      iif: fc.constantFrom(...NAMES),
      oif: fc.constantFrom(...NAMES),
      ttl: fc.constantFrom(1, 64, 65, 128, 255),
      mark: fc.integer({ min: 0, max: 3 }),
      at: fc.record({ src: fc.constantFrom(1, 2, 3, 5), dst: fc.constantFrom(1, 2, 3, 5), srcDev: fc.option(fc.constantFrom(...NAMES), { nil: undefined }), dstDev: fc.option(fc.constantFrom(...NAMES), { nil: undefined }) }),
    })
    .map((p) => {
      const l4 = !p.frag && (p.proto === 6 || p.proto === 17 || p.proto === 132);
      return {
        src: p.src,
        dst: p.dst,
        proto: p.proto,
        nonFirstFragment: p.frag,
        sport: l4 ? p.sport : NO_L4,
        dport: l4 ? p.dport : p.proto === 1 && !p.frag ? (p.dport & 0xff) << 8 : NO_L4,
        tcpflags: p.proto === 6 && !p.frag ? p.tcpflags : NO_TCPFLAGS,
        ctstate: p.ctstate,
        iif: hook === 'OUTPUT' ? '' : p.iif,
        oif: hook === 'INPUT' ? '' : p.oif,
        len: 60,
        ttl: p.ttl,
        tos: 0,
        mark: p.mark,
        pkttype: 0,
        ipflags: p.frag ? 0x20 : 0,
        addrtype: p.at,
      };
    });

/** A pure oracle for limit/random: a hash of the rule and the packet. */
export function oracle(counterId: number, check: ResidualCheck, pkt: PacketKey): boolean {
  if (check.kind === 'random' && (check.probability === 0 || check.probability === 1)) return check.probability === 1;
  let h = Math.imul(counterId ^ 0x9e3779b9, 0x85ebca6b) ^ pkt.sport ^ Math.imul(pkt.ttl, 31) ^ pkt.src;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) & 1) === 1;
}

export const HOOKS: Hook[] = ['INPUT', 'FORWARD', 'OUTPUT'];
