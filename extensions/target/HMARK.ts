// HMARK target (libxt_HMARK.c): sets the mark from a hash of the packet's tuple. Parsed, listed
// and saved like iptables; BPF netfilter programs cannot write skb->mark, so it is refused.
import { parameterProblem } from '../../parser/errors.ts';
import type { TargetModule } from '../types.ts';
import { kernelInvalid, maskLength, parseIPv4, strtouiFull, x6Seen, x6Uint } from '../lib.ts';

export interface HmarkData {
  /** Set options and --hmark-tuple types, by option name without "hmark-" (plus 'ct'). */
  flags: string[];
  srcPrefix?: number;
  dstPrefix?: number;
  sportMask?: number;
  dportMask?: number;
  spiMask?: number;
  sport?: number;
  dport?: number;
  spi?: number;
  protoMask?: number;
  rnd?: number;
  mod?: number;
  offset?: number;
  seen?: string[];
}

/** --hmark-tuple types in hmark_parse's order, with what each sets. */
const TUPLE: ReadonlyArray<[string, (d: HmarkData) => void]> = [
  ['ct', () => {}],
  ['src', (d) => (d.srcPrefix = 32)],
  ['dst', (d) => (d.dstPrefix = 32)],
  ['sport', (d) => (d.sportMask = 0xffff)],
  ['dport', (d) => (d.dportMask = 0xffff)],
  ['proto', (d) => (d.protoMask = 0xffff)],
  ['spi', (d) => (d.spiMask = 0xffffffff)],
];
const TUPLE_FLAG: Readonly<Record<string, string>> = { ct: 'ct', src: 'src-prefix', dst: 'dst-prefix', sport: 'sport-mask', dport: 'dport-mask', proto: 'proto-mask', spi: 'spi-mask' };
const PKT_MASK = ['src-prefix', 'dst-prefix', 'spi-mask', 'sport-mask', 'dport-mask', 'proto-mask'];

/**
 * XTTYPE_PLENMASK: a prefix length 0-32; anything else is tried as an address-form mask
 * (getaddrinfo, so "33" is 0.0.0.33): a contiguous one gives its length, any other ends as
 * all ones (an unsigned -1 length shifts nothing), i.e. 32.
 */
function parsePlen(option: string, v: string): number {
  const n = strtouiFull(v, 0, 32);
  if (n !== undefined) return n;
  const whole = /^\d+$/.test(v) && Number(v) <= 0xffffffff ? Number(v) : undefined;
  const m = whole ?? (v.split('.').length === 4 ? parseIPv4(v) : undefined);
  if (m === undefined) throw parameterProblem(`HMARK: bad value for option "--${option}", neither a valid network mask nor valid CIDR (0-32).\n`);
  const len = maskLength(m);
  return len < 0 ? 32 : len;
}

const hex = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;

export const HMARK: TargetModule<HmarkData> = {
  name: 'HMARK',
  options: ['hmark-tuple', 'hmark-src-prefix', 'hmark-dst-prefix', 'hmark-sport-mask', 'hmark-dport-mask', 'hmark-spi-mask', 'hmark-sport', 'hmark-dport', 'hmark-spi', 'hmark-proto-mask', 'hmark-rnd', 'hmark-mod', 'hmark-offset'].map((name) => ({
    name,
    args: 1 as const,
    invertible: true,
  })),
  init: () => ({ flags: [] }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'HMARK', o, inv, false);
    const v = a[0]!;
    const key = o.slice('hmark-'.length);
    const u16 = (): number => x6Uint('HMARK', o, v, 0, 0xffff);
    const u32 = (): number => x6Uint('HMARK', o, v, 0, 0xffffffff);
    switch (key) {
      case 'tuple': {
        const words = v.split(',');
        const last = words.pop()!;
        const one = (w: string, whole: string): void => {
          const t = w === '' ? undefined : TUPLE.find(([name]) => name.startsWith(w.toLowerCase()));
          if (!t) throw parameterProblem(`Bad type "${whole}"`);
          t[1](d);
          if (!d.flags.includes(TUPLE_FLAG[t[0]]!)) d.flags.push(TUPLE_FLAG[t[0]]!);
        };
        let rest = v;
        for (const w of words) {
          one(w, rest);
          rest = rest.slice(w.length + 1);
        }
        if (last === '') throw parameterProblem('"--hmark-tuple" requires a list of types with no spaces, e.g. src,dst,sport,dport,proto');
        one(last, last);
        return d;
      }
      case 'src-prefix':
        d.srcPrefix = parsePlen(o, v);
        break;
      case 'dst-prefix':
        d.dstPrefix = parsePlen(o, v);
        break;
      case 'sport-mask':
        d.sportMask = u16();
        break;
      case 'dport-mask':
        d.dportMask = u16();
        break;
      case 'spi-mask':
        d.spiMask = u32();
        break;
      case 'sport':
        d.sport = u16();
        break;
      case 'dport':
        d.dport = u16();
        break;
      case 'spi':
        d.spi = u32();
        break;
      case 'proto-mask':
        d.protoMask = u16();
        break;
      case 'rnd':
        d.rnd = u32();
        break;
      case 'mod':
        d.mod = x6Uint('HMARK', o, v, 1, 0xffffffff);
        break;
      case 'offset':
        d.offset = u32();
        break;
    }
    if (!d.flags.includes(key)) d.flags.push(key);
    return d;
  },
  finalCheck(d, ctx) {
    const has = (f: string): boolean => d.flags.includes(f);
    if (!has('mod')) throw parameterProblem('--hmark-mod is mandatory');
    if (!has('rnd')) throw parameterProblem('--hmark-rnd is mandatory');
    if (has('spi-mask') && (has('sport-mask') || has('dport-mask')))
      throw parameterProblem('you cannot use --hmark-spi-mask and --hmark-?port-mask,at the same time');
    if (!PKT_MASK.some(has) && !has('ct')) throw parameterProblem('you have to specify --hmark-tuple at least');
    // xt_HMARK: a fixed SPI excludes fixed ports.
    if (has('spi') && (has('sport') || has('dport'))) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    const has = (f: string): boolean => d.flags.includes(f);
    let s = 'HMARK ';
    if (has('mod')) s += `mod ${d.mod} `;
    if (has('offset')) s += `+ 0x${d.offset!.toString(16)} `;
    if (has('ct')) s += 'ct, ';
    if (has('src-prefix')) s += `src-prefix ${d.srcPrefix} `;
    if (has('dst-prefix')) s += `dst-prefix ${d.dstPrefix} `;
    if (has('sport-mask')) s += `sport-mask 0x${d.sportMask!.toString(16)} `;
    if (has('dport-mask')) s += `dport-mask 0x${d.dportMask!.toString(16)} `;
    if (has('spi-mask')) s += `spi-mask 0x${d.spiMask!.toString(16)} `;
    if (has('sport')) s += `sport 0x${d.sport!.toString(16)} `;
    if (has('dport')) s += `dport 0x${d.dport!.toString(16)} `;
    if (has('spi')) s += `spi 0x${d.spi!.toString(16)} `;
    if (has('proto-mask')) s += `proto-mask 0x${d.protoMask!.toString(16)} `;
    if (has('rnd')) s += `rnd 0x${d.rnd!.toString(16)} `;
    return s.trimEnd();
  },
  save(d) {
    const has = (f: string): boolean => d.flags.includes(f);
    let s = '';
    if (has('src-prefix')) s += ` --hmark-src-prefix ${d.srcPrefix}`;
    if (has('dst-prefix')) s += ` --hmark-dst-prefix ${d.dstPrefix}`;
    if (has('sport-mask')) s += ` --hmark-sport-mask ${hex(d.sportMask!, 4)}`;
    if (has('dport-mask')) s += ` --hmark-dport-mask ${hex(d.dportMask!, 4)}`;
    if (has('spi-mask')) s += ` --hmark-spi-mask ${hex(d.spiMask!, 8)}`;
    if (has('sport')) s += ` --hmark-sport ${hex(d.sport!, 4)}`;
    if (has('dport')) s += ` --hmark-dport ${hex(d.dport!, 4)}`;
    if (has('spi')) s += ` --hmark-spi ${hex(d.spi!, 8)}`;
    if (has('proto-mask')) s += ` --hmark-proto-mask ${hex(d.protoMask!, 2)}`;
    if (has('rnd')) s += ` --hmark-rnd ${hex(d.rnd!, 8)}`;
    if (has('mod')) s += ` --hmark-mod ${d.mod}`;
    if (has('offset')) s += ` --hmark-offset ${d.offset}`;
    if (has('ct')) s += ' --hmark-tuple ct';
    return s.trim();
  },
  compile: () => ({ kind: 'unsupported', reason: 'HMARK: BPF netfilter programs cannot write skb->mark' }),
};
