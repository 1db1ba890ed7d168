// length match (libxt_length.c): IP total length.
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen, x6UintRange } from '../lib.ts';

export interface LengthData {
  min: number;
  max: number;
  invert?: boolean;
  seen?: string[];
}

export const length: MatchModule<LengthData> = {
  name: 'length',
  options: [{ name: 'length', args: 1, invertible: true }],
  init: () => ({ min: 0, max: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'length', option, invert, true);
    [d.min, d.max] = x6UintRange('length', 'length', args[0]!, 65535);
    if (invert) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('length', [{ name: 'length', mand: true }], d.seen),
  print: (d) => `length ${d.invert ? '!' : ''}${d.min === d.max ? d.min : `${d.min}:${d.max}`}`,
  save: (d) => `${d.invert ? '! ' : ''}--length ${d.min === d.max ? d.min : `${d.min}:${d.max}`}`,
  equal: (a, b) => a.min === b.min && a.max === b.max && !!a.invert === !!b.invert,
  compile(d): CompiledMatch {
    const ranges: Array<[number, number]> = d.min <= d.max ? [[d.min, d.max]] : [];
    return { residual: [{ kind: 'cmp', field: 'len', mask: 0xffff, ranges, invert: !!d.invert }] };
  },
};
