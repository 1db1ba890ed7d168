// statistic match (libxt_statistic.c): random (probability kept as iptables' 31-bit integer)
// and nth (every is stored minus one, as the kernel holds it).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Bad, x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface StatisticData {
  mode: 'random' | 'nth';
  invert?: boolean;
  /** lround(2^31 * p). */
  probability: number;
  /** every - 1. */
  every: number;
  packet: number;
  seen?: string[];
}

export const statistic: MatchModule<StatisticData> = {
  name: 'statistic',
  options: [
    { name: 'mode', args: 1, invertible: true },
    { name: 'probability', args: 1, invertible: true },
    { name: 'every', args: 1, invertible: true },
    { name: 'packet', args: 1, invertible: true },
  ],
  init: () => ({ mode: 'random', probability: 0, every: 0, packet: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'statistic', option, invert, option === 'probability' || option === 'every');
    const a = args[0]!;
    switch (option) {
      case 'mode':
        if (a === 'random') d.mode = 'random';
        else if (a === 'nth') d.mode = 'nth';
        else throw parameterProblem(`Bad mode "${a}"`);
        break;
      case 'probability': {
        // XTTYPE_DOUBLE: strtod, whole string, within [0, 1].
        const v = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(a) ? Number(a) : NaN;
        if (!(v >= 0 && v <= 1)) throw x6Bad('statistic', 'probability', 0, 1);
        d.probability = Math.round(0x80000000 * v);
        if (invert) d.invert = true;
        break;
      }
      case 'every':
        d.every = x6Uint('statistic', 'every', a, 1, 0xffffffff) - 1;
        if (invert) d.invert = true;
        break;
      case 'packet':
        d.packet = x6Uint('statistic', 'packet', a, 0, 0xffffffff);
        break;
    }
    return d;
  },
  finalCheck(d) {
    const seen = d.seen ?? [];
    if (d.mode === 'random' && !seen.includes('probability')) throw parameterProblem('--probability must be specified when using random mode');
    if (d.mode === 'nth' && !seen.includes('every') && !seen.includes('packet')) throw parameterProblem('--every and --packet must be specified when using nth mode');
    if (d.packet > d.every) throw parameterProblem('the --packet p must be 0 <= p <= n-1');
    x6Fcheck(
      'statistic',
      [
        { name: 'mode', mand: true },
        { name: 'probability', excl: ['every', 'packet'] },
        { name: 'every', excl: ['probability'], also: ['packet'] },
        { name: 'packet', excl: ['probability'], also: ['every'] },
      ],
      seen,
    );
  },
  print: (d) => `statistic ${text(d, '')}`,
  save: (d) => text(d, '--'),
  equal: (a, b) => statistic.save(a) === statistic.save(b),
  compile(d): CompiledMatch {
    if (d.mode === 'random') return { residual: [{ kind: 'random', probability: d.probability / 0x80000000, invert: !!d.invert }] };
    return { residual: [{ kind: 'nth', every: d.every + 1, packet: d.packet, invert: !!d.invert }] };
  },
};

function text(d: StatisticData, prefix: string): string {
  const inv = d.invert ? ' !' : '';
  if (d.mode === 'random') return `${prefix}mode random${inv} ${prefix}probability ${(d.probability / 0x80000000).toFixed(11)}`;
  let s = `${prefix}mode nth${inv} ${prefix}every ${d.every + 1}`;
  if (d.packet || prefix) s += ` ${prefix}packet ${d.packet}`;
  return s;
}
