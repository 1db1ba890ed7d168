// Test helpers shared by classifier/*.test.ts and the timing script: stub match/target modules
// (so the classifier is testable without extensions/), table builders and packet helpers.
// Not used by the product code.
import type { DatapathAction, MatchModule, TargetModule } from '../extensions/types.ts';
import { emptyTable, zeroCounters, type Rule, type Table } from '../ruleset/types.ts';
import type { ModuleLookup } from './compile.ts';
import { NO_L4, NO_TCPFLAGS, type CompiledMatch, type PacketKey } from './fields.ts';

function stubMatch<D>(name: string, compile: (d: D) => CompiledMatch): MatchModule<D> {
  return {
    name,
    options: [],
    init: () => ({}) as D,
    parse: (d) => d,
    print: () => '',
    save: () => '',
    compile: (d) => compile(d),
  };
}

function stubTarget<D>(name: string, compile: (d: D) => DatapathAction): TargetModule<D> {
  return { name, options: [], init: () => ({}) as D, parse: (d) => d, print: () => '', save: () => '', compile: (d) => compile(d) };
}

/** `! --dport lo:hi` as iptables' tcp match means it: any port outside, never NO_L4. */
export function portRanges(lo: number, hi: number, invert: boolean): Array<[number, number]> {
  if (!invert) return [[lo, hi]];
  const out: Array<[number, number]> = [];
  if (lo > 0) out.push([0, lo - 1]);
  if (hi < 65535) out.push([hi + 1, 65535]);
  return out;
}

export interface TcpStub {
  proto?: number; // default 6
  sport?: [number, number, boolean];
  dport?: [number, number, boolean];
  flags?: { mask: number; comp: number; invert: boolean };
}

export const STUB_MATCHES: Record<string, MatchModule<any>> = {
  // tcp/udp-like: first fragments of `proto` only (the kernel's tcp match drops fragoff != 0).
  tcp: stubMatch<TcpStub>('tcp', (d) => {
    const fields: CompiledMatch['fields'] = { proto: { kind: 'ranges', ranges: [[d.proto ?? 6, d.proto ?? 6]], invert: false } };
    if (d.sport) fields.sport = { kind: 'ranges', ranges: portRanges(d.sport[0], d.sport[1], d.sport[2]), invert: false };
    if (d.dport) fields.dport = { kind: 'ranges', ranges: portRanges(d.dport[0], d.dport[1], d.dport[2]), invert: false };
    if (d.flags) {
      const ranges: Array<[number, number]> = [];
      for (let f = 0; f < 256; f++) if (((f & d.flags.mask) === d.flags.comp) !== d.flags.invert) ranges.push([f, f]);
      fields.tcpflags = { kind: 'ranges', ranges, invert: false };
    }
    return { fields };
  }),
  // multiport-like: --ports as a residual either-check, --dports as several dport ranges.
  multiport: stubMatch<{ ports?: Array<[number, number]>; dports?: Array<[number, number]>; invert: boolean }>('multiport', (d) => {
    if (d.ports) return { fields: { proto: { kind: 'ranges', ranges: [[6, 6], [17, 17]], invert: false } }, residual: [{ kind: 'either', ranges: d.ports, invert: d.invert }] };
    return { fields: { proto: { kind: 'ranges', ranges: [[6, 6], [17, 17]], invert: false }, dport: { kind: 'ranges', ranges: d.dports ?? [], invert: d.invert } } };
  }),
  conntrack: stubMatch<{ states: number[]; invert: boolean }>('conntrack', (d) => ({
    fields: { ctstate: { kind: 'ranges', ranges: d.states.map((s) => [s, s] as [number, number]), invert: d.invert } },
  })),
  // A second, inverted-or-not prefix set on src/dst (intersected with -s/-d).
  pfx: stubMatch<{ field: 'src' | 'dst'; prefixes: Array<{ addr: number; len: number }>; invert: boolean }>('pfx', (d) => ({
    fields: { [d.field]: { kind: 'prefixes', prefixes: d.prefixes, invert: d.invert } },
  })),
  // iprange-like: residual cmp on an address.
  iprange: stubMatch<{ field: 'saddr' | 'daddr'; lo: number; hi: number; invert: boolean }>('iprange', (d) => ({
    residual: [{ kind: 'cmp', field: d.field, mask: 0xffffffff, ranges: [[d.lo, d.hi]], invert: d.invert }],
  })),
  ttl: stubMatch<{ lo: number; hi: number; invert: boolean }>('ttl', (d) => ({
    residual: [{ kind: 'cmp', field: 'ttl', mask: 0xff, ranges: [[d.lo, d.hi]], invert: d.invert }],
  })),
  mark: stubMatch<{ value: number; invert: boolean }>('mark', (d) => ({
    residual: [{ kind: 'cmp', field: 'mark', mask: 0xffffffff, ranges: [[d.value, d.value]], invert: d.invert }],
  })),
  limit: stubMatch<{ invert: boolean }>('limit', (d) => ({ residual: [{ kind: 'limit', ratePerSec: 3, burst: 5, invert: d.invert }] })),
  statistic: stubMatch<{ p: number; invert: boolean }>('statistic', (d) => ({ residual: [{ kind: 'random', probability: d.p, invert: d.invert }] })),
  iface2: stubMatch<{ field: 'iif' | 'oif'; pattern: string; invert: boolean }>('iface2', (d) => ({
    fields: { [d.field]: { kind: 'iface', pattern: d.pattern, invert: d.invert } },
  })),
  unsup: stubMatch<{ why: string }>('unsup', (d) => ({ unsupported: d.why })),
  comment: stubMatch<unknown>('comment', () => ({})),
  addrtype: stubMatch<{ addr: 'src' | 'dst'; types: number; dev: 'any' | 'in' | 'out'; invert: boolean }>('addrtype', (d) => ({ residual: [{ kind: 'addrtype', ...d }] })),
};

export const STUB_TARGETS: Record<string, TargetModule<any>> = {
  LOG: stubTarget('LOG', () => ({ kind: 'log', level: 4, prefix: '', flags: 0 })),
  REJECT: stubTarget('REJECT', () => ({ kind: 'reject', with: 'icmp-port-unreachable' })),
  MARK: stubTarget('MARK', () => ({ kind: 'mark', value: 1, mask: 0xffffffff })),
  UNSUP: stubTarget('UNSUP', () => ({ kind: 'unsupported', reason: 'UNSUP is not in the datapath' })),
};

export const STUB_LOOKUP: ModuleLookup = {
  findMatch: (n) => STUB_MATCHES[n],
  findTarget: (n) => STUB_TARGETS[n],
};

export function rule(partial: Partial<Rule>): Rule {
  return { matches: [], counters: zeroCounters(), ...partial };
}

/** n INPUT rules: -s 10.x.y.z/32 -p tcp --dport (distinct) -j ACCEPT/DROP. */
export function bigTable(n: number): Table {
  const t = emptyTable('filter');
  const rules = t.chains[0].rules;
  for (let i = 0; i < n; i++) {
    rules.push(
      rule({
        id: 16 + i,
        src: { addr: (0x0a000000 + i) >>> 0, mask: 0xffffffff, invert: false },
        proto: { proto: 6, invert: false },
        matches: [{ name: 'tcp', data: { dport: [i % 65536, i % 65536, false] } satisfies TcpStub }],
        target: { kind: 'standard', verdict: i % 2 ? 'ACCEPT' : 'DROP' },
      }),
    );
  }
  return t;
}

export function packet(p: Partial<PacketKey>): PacketKey {
  return {
    src: 0,
    dst: 0,
    proto: 6,
    nonFirstFragment: false,
    sport: 1234,
    dport: 80,
    tcpflags: 0x02,
    ctstate: 1,
    iif: 'eth0',
    oif: '',
    len: 60,
    ttl: 64,
    tos: 0,
    mark: 0,
    pkttype: 0,
    ipflags: 0,
    ...p,
  };
}

export { NO_L4, NO_TCPFLAGS };
