// tcp match (libxt_tcp.c, an old-style parser: its own repeat wording, `!` read per option).
// Ports and flags are LBVS fields; --tcp-option needs the options walk the datapath lacks.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch, FieldConstraint } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { parsePortRange, portRanges, portText, rangesWhere, strtouiFull } from '../lib.ts';

export interface TcpData {
  spts?: [number, number];
  spInv?: boolean;
  dpts?: [number, number];
  dpInv?: boolean;
  option?: number;
  optInv?: boolean;
  /** --tcp-flags mask comp (or --syn). */
  flags?: { mask: number; cmp: number };
  flInv?: boolean;
  /** Options seen (repeat detection only; not part of the rule's identity). */
  seen?: string[];
}

const TCP_FLAG_NAMES: ReadonlyArray<[string, number]> = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ALL', 0x3f],
  ['NONE', 0],
];

function parseTcpFlags(s: string): number {
  let out = 0;
  for (const word of s.split(',')) {
    const f = TCP_FLAG_NAMES.find(([n]) => n.toLowerCase() === word.toLowerCase());
    if (!f) throw parameterProblem(`Unknown TCP flag \`${word}'`);
    out |= f[1];
  }
  return out;
}

/** print_tcpf: names in FIN..URG order, NONE for 0. */
export function tcpFlagsText(flags: number): string {
  if (flags === 0) return 'NONE';
  const names: string[] = [];
  for (const [n, bit] of TCP_FLAG_NAMES.slice(0, 6)) if (flags & bit) names.push(n);
  return names.join(',');
}

function portsPrint(name: string, r: [number, number] | undefined, inv: boolean | undefined, numeric: boolean, proto: string): string {
  if (!r) return '';
  const i = inv ? '!' : '';
  if (r[0] === r[1]) return ` ${name}:${i}${portText(r[0], proto, numeric)}`;
  return ` ${name}s:${i}${portText(r[0], proto, numeric)}:${portText(r[1], proto, numeric)}`;
}

function portsSave(name: string, r: [number, number] | undefined, inv: boolean | undefined): string {
  if (!r) return '';
  const v = r[0] === r[1] ? `${r[0]}` : `${r[0]}:${r[1]}`;
  return `${inv ? ' !' : ''} --${name} ${v}`;
}

/** Full ranges carry no condition (iptables-nft drops them, inverted or not). */
function normRange(r: [number, number]): [number, number] | undefined {
  return r[0] === 0 && r[1] === 65535 ? undefined : r;
}

export function portFields(spts: [number, number] | undefined, spInv: boolean | undefined, dpts: [number, number] | undefined, dpInv: boolean | undefined): Partial<Record<'sport' | 'dport', FieldConstraint>> {
  const f: Partial<Record<'sport' | 'dport', FieldConstraint>> = {};
  if (spts) f.sport = { kind: 'ranges', ranges: portRanges(spts[0], spts[1], !!spInv), invert: false };
  if (dpts) f.dport = { kind: 'ranges', ranges: portRanges(dpts[0], dpts[1], !!dpInv), invert: false };
  return f;
}

export const tcp: MatchModule<TcpData> = {
  name: 'tcp',
  options: [
    { name: 'sport', aliases: ['source-port'], args: 1, invertible: true },
    { name: 'dport', aliases: ['destination-port'], args: 1, invertible: true },
    { name: 'syn', args: 0, invertible: true },
    { name: 'tcp-flags', args: 2, invertible: true },
    { name: 'tcp-option', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    const seen = (d.seen ??= []);
    switch (option) {
      case 'sport':
        if (seen.includes('sport')) throw parameterProblem("Only one `--source-port' allowed");
        seen.push('sport');
        d.spts = normRange(parsePortRange(args[0]!, 'tcp'));
        if (d.spts && invert) d.spInv = true;
        break;
      case 'dport':
        if (seen.includes('dport')) throw parameterProblem("Only one `--destination-port' allowed");
        seen.push('dport');
        d.dpts = normRange(parsePortRange(args[0]!, 'tcp'));
        if (d.dpts && invert) d.dpInv = true;
        break;
      case 'syn':
      case 'tcp-flags':
        if (seen.includes('flags')) throw parameterProblem("Only one of `--syn' or `--tcp-flags'  allowed");
        seen.push('flags');
        d.flags = option === 'syn' ? { mask: 0x17, cmp: 0x02 } : { mask: parseTcpFlags(args[0]!), cmp: parseTcpFlags(args[1]!) };
        if (invert) d.flInv = true;
        break;
      case 'tcp-option': {
        if (seen.includes('option')) throw parameterProblem("Only one `--tcp-option' allowed");
        seen.push('option');
        const n = strtouiFull(args[0]!, 1, 255);
        if (n === undefined) throw parameterProblem(`Bad TCP option "${args[0]}"`);
        d.option = n;
        if (invert) d.optInv = true;
        break;
      }
    }
    return d;
  },
  finalCheck(_d, ctx) {
    if (ctx.proto?.proto !== 6) throw parameterProblem("TCP match requires '-p tcp'");
  },
  print(d, opts) {
    let s = 'tcp';
    s += portsPrint('spt', d.spts, d.spInv, opts.numeric, 'tcp');
    s += portsPrint('dpt', d.dpts, d.dpInv, opts.numeric, 'tcp');
    if (d.option !== undefined) s += ` option=${d.optInv ? '!' : ''}${d.option}`;
    if (d.flags) {
      s += ` flags:${d.flInv ? '!' : ''}`;
      s += opts.numeric ? `0x${hex2(d.flags.mask)}/0x${hex2(d.flags.cmp)}` : `${tcpFlagsText(d.flags.mask)}/${tcpFlagsText(d.flags.cmp)}`;
    }
    return s;
  },
  save(d) {
    let s = portsSave('sport', d.spts, d.spInv) + portsSave('dport', d.dpts, d.dpInv);
    if (d.option !== undefined) s += `${d.optInv ? ' !' : ''} --tcp-option ${d.option}`;
    if (d.flags) s += `${d.flInv ? ' !' : ''} --tcp-flags ${tcpFlagsText(d.flags.mask)} ${tcpFlagsText(d.flags.cmp)}`;
    return s.trim();
  },
  equal: (a, b) => tcp.save(a) === tcp.save(b),
  compile(d): CompiledMatch {
    const fields: CompiledMatch['fields'] = { proto: { kind: 'ranges', ranges: [[6, 6]], invert: false }, ...portFields(d.spts, d.spInv, d.dpts, d.dpInv) };
    if (d.flags) {
      const { mask, cmp } = d.flags;
      const inv = !!d.flInv;
      fields.tcpflags = { kind: 'ranges', ranges: rangesWhere(255, (v) => ((v & mask) === cmp) !== inv), invert: false };
    }
    // tcp_mt() looks for the option after the ports and flags (tcp_find_option; a short header
    // or truncated options hotdrop).
    if (d.option !== undefined) return { fields, residual: [{ kind: 'tcpoption', option: d.option, invert: !!d.optInv }] };
    return { fields };
  },
};

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
