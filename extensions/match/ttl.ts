// ttl match (libipt_ttl.c).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface TtlData {
  mode?: 'eq' | 'ne' | 'lt' | 'gt';
  ttl: number;
  seen?: string[];
}

const SYM = { eq: '==', ne: '!=', lt: '<', gt: '>' } as const;

export const ttl: MatchModule<TtlData> = {
  name: 'ttl',
  options: [
    { name: 'ttl-eq', args: 1, invertible: true },
    { name: 'ttl-lt', args: 1, invertible: true },
    { name: 'ttl-gt', args: 1, invertible: true },
  ],
  init: () => ({ ttl: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'ttl', option, invert, option === 'ttl-eq');
    d.ttl = x6Uint('ttl', option, args[0]!, 0, 255);
    d.mode = option === 'ttl-eq' ? (invert ? 'ne' : 'eq') : option === 'ttl-lt' ? 'lt' : 'gt';
    return d;
  },
  finalCheck(d) {
    if (!d.mode) throw parameterProblem("TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt");
    const all = ['ttl-eq', 'ttl-lt', 'ttl-gt'];
    x6Fcheck('ttl', [{ name: 'ttl-eq' }, { name: 'ttl-lt', excl: all }, { name: 'ttl-gt', excl: all }], d.seen);
  },
  print: (d) => `TTL match TTL ${SYM[d.mode ?? 'eq']} ${d.ttl}`,
  save(d) {
    switch (d.mode) {
      case 'ne':
        return `! --ttl-eq ${d.ttl}`;
      case 'lt':
        return `--ttl-lt ${d.ttl}`;
      case 'gt':
        return `--ttl-gt ${d.ttl}`;
      default:
        return `--ttl-eq ${d.ttl}`;
    }
  },
  equal: (a, b) => a.mode === b.mode && a.ttl === b.ttl,
  compile(d): CompiledMatch {
    const t = d.ttl;
    const ranges: Array<[number, number]> =
      d.mode === 'lt' ? (t > 0 ? [[0, t - 1]] : []) : d.mode === 'gt' ? (t < 255 ? [[t + 1, 255]] : []) : [[t, t]];
    return { residual: [{ kind: 'cmp', field: 'ttl', mask: 0xff, ranges, invert: d.mode === 'ne' }] };
  },
};
