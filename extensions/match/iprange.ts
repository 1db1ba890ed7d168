// iprange match, revision 1 (libxt_iprange.c); compiled to unions of prefixes.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch, FieldConstraint } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { formatIPv4, parseIPv4, rangeToPrefixes, x6Seen } from '../lib.ts';

export interface IprangeData {
  src?: [number, number];
  srcInv?: boolean;
  dst?: [number, number];
  dstInv?: boolean;
  seen?: string[];
}

function parseRange(option: string, s: string): [number, number] {
  const dash = s.indexOf('-');
  const first = dash < 0 ? s : s.slice(0, dash);
  const a = parseIPv4(first);
  if (a === undefined) throw parameterProblem(`iprange: Bad value for "--${option}" option: "${dash < 0 ? s : first}"`);
  if (dash < 0) return [a, a];
  const b = parseIPv4(s.slice(dash + 1));
  if (b === undefined) throw parameterProblem(`iprange: Bad value for "--${option}" option: "${s.slice(dash + 1)}"`);
  return [a, b];
}

function constraint(r: [number, number], invert: boolean): FieldConstraint {
  // A reversed range matches no address (kernel: addr >= min && addr <= max).
  return { kind: 'prefixes', prefixes: r[0] <= r[1] ? rangeToPrefixes(r[0], r[1]) : [], invert };
}

export const iprange: MatchModule<IprangeData> = {
  name: 'iprange',
  options: [
    { name: 'src-range', args: 1, invertible: true },
    { name: 'dst-range', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'iprange', option, invert, true);
    const r = parseRange(option, args[0]!);
    if (option === 'src-range') {
      d.src = r;
      if (invert) d.srcInv = true;
    } else {
      d.dst = r;
      if (invert) d.dstInv = true;
    }
    return d;
  },
  finalCheck(d) {
    if (!d.src && !d.dst) throw parameterProblem("iprange match: You must specify `--src-range' or `--dst-range'");
  },
  print(d) {
    const parts: string[] = [];
    if (d.src) parts.push(`source IP range ${d.srcInv ? '! ' : ''}${formatIPv4(d.src[0])}-${formatIPv4(d.src[1])}`);
    if (d.dst) parts.push(`destination IP range ${d.dstInv ? '! ' : ''}${formatIPv4(d.dst[0])}-${formatIPv4(d.dst[1])}`);
    return parts.join(' ');
  },
  save(d) {
    const parts: string[] = [];
    if (d.src) parts.push(`${d.srcInv ? '! ' : ''}--src-range ${formatIPv4(d.src[0])}-${formatIPv4(d.src[1])}`);
    if (d.dst) parts.push(`${d.dstInv ? '! ' : ''}--dst-range ${formatIPv4(d.dst[0])}-${formatIPv4(d.dst[1])}`);
    return parts.join(' ');
  },
  equal: (a, b) => iprange.save(a) === iprange.save(b),
  compile(d): CompiledMatch {
    const fields: CompiledMatch['fields'] = {};
    if (d.src) fields.src = constraint(d.src, !!d.srcInv);
    if (d.dst) fields.dst = constraint(d.dst, !!d.dstInv);
    return { fields };
  },
};
