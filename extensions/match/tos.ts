// tos match, revision 1 (libxt_tos.c): (tos & mask) == value; symbolic names imply mask 0x3f.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { strtouiPrefix, x6Fcheck, x6Seen } from '../lib.ts';
import { hex2 } from './dscp.ts';

export const TOS_NAMES: ReadonlyArray<[string, number]> = [
  ['Minimize-Delay', 0x10],
  ['Maximize-Throughput', 0x08],
  ['Maximize-Reliability', 0x04],
  ['Minimize-Cost', 0x02],
  ['Normal-Service', 0x00],
];

/**
 * tos_parse_symbolic / tos_parse_numeric: a string that starts with a number in range is numeric
 * "value[/mask]" (mask default `maxMask`), anything after it but "/mask" is an illegal value;
 * otherwise a symbolic name, which implies mask 0x3f.
 */
export function parseTos(s: string, maxMask: number): { value: number; mask: number } {
  const v = strtouiPrefix(s, 0, 255);
  if (v) {
    let end = v.end;
    let mask = maxMask;
    if (s[end] === '/') {
      const m = strtouiPrefix(s.slice(end + 1), 0, 255);
      if (!m) throw parameterProblem(`Illegal value: "${s}"`);
      mask = m.value;
      end += 1 + m.end;
    }
    if (end !== s.length) throw parameterProblem(`Illegal value: "${s}"`);
    return { value: v.value, mask };
  }
  const e = TOS_NAMES.find(([n]) => n.toLowerCase() === s.toLowerCase());
  if (!e) throw parameterProblem(`Symbolic name "${s}" is unknown`);
  return { value: e[1], mask: 0x3f };
}

export function tosName(value: number, mask: number): string | undefined {
  if (mask !== 0x3f) return undefined;
  return TOS_NAMES.find(([, v]) => v === value)?.[0];
}

export interface TosData {
  value: number;
  mask: number;
  invert?: boolean;
  seen?: string[];
}

export const tos: MatchModule<TosData> = {
  name: 'tos',
  options: [{ name: 'tos', args: 1, invertible: true }],
  init: () => ({ value: 0, mask: 0xff }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'tos', option, invert, true);
    const t = parseTos(args[0]!, 0xff);
    d.value = t.value;
    d.mask = t.mask;
    if (invert) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('tos', [{ name: 'tos', mand: true }], d.seen),
  print(d, o) {
    const n = o.numeric ? undefined : tosName(d.value, d.mask);
    if (n) return `tos match${d.invert ? '!' : ''} ${n}`;
    return `tos match${d.invert ? '!' : ''}${hex2(d.value)}/${hex2(d.mask)}`;
  },
  save: (d) => `${d.invert ? '! ' : ''}--tos ${hex2(d.value)}/${hex2(d.mask)}`,
  equal: (a, b) => a.value === b.value && a.mask === b.mask && !!a.invert === !!b.invert,
  compile(d): CompiledMatch {
    const v = d.value & d.mask;
    return { residual: [{ kind: 'cmp', field: 'tos', mask: d.mask, ranges: [[v, v]], invert: !!d.invert }] };
  },
};
