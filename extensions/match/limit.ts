// limit match (libxt_limit.c): token bucket, rate kept as iptables keeps it (avg = period in
// 1/10000 s units per packet) so print/save reproduce its rounding.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Bad, x6Seen, strtouiFull } from '../lib.ts';

export const XT_LIMIT_SCALE = 10000;

export interface LimitData {
  /** Period between packets in 1/XT_LIMIT_SCALE seconds. */
  avg: number;
  burst: number;
  seen?: string[];
}

/** C atoi: optional whitespace and sign, then decimal digits; 0 when none. */
export function atoi(s: string): number {
  const m = /^\s*([+-]?)(\d+)/.exec(s);
  if (!m) return 0;
  const v = Number(BigInt.asIntN(32, BigInt(m[2]!.slice(-12))));
  return m[1] === '-' ? -v | 0 : v;
}

/** parse_rate: "N[/second|minute|hour|day]" with unit prefixes; returns the period or undefined. */
export function parseRate(rate: string): number | undefined {
  let mult = 1;
  const slash = rate.indexOf('/');
  if (slash >= 0) {
    const unit = rate.slice(slash + 1).toLowerCase();
    if (unit.length === 0) return undefined;
    if ('second'.startsWith(unit)) mult = 1;
    else if ('minute'.startsWith(unit)) mult = 60;
    else if ('hour'.startsWith(unit)) mult = 3600;
    else if ('day'.startsWith(unit)) mult = 86400;
    else return undefined;
  }
  const r = atoi(rate) >>> 0;
  if (r === 0) return undefined;
  const val = Math.floor((XT_LIMIT_SCALE * mult) / r) >>> 0;
  if (val === 0) throw parameterProblem(`Rate too fast "${rate}"`);
  return val;
}

const RATES: ReadonlyArray<[string, number]> = [
  ['day', XT_LIMIT_SCALE * 86400],
  ['hour', XT_LIMIT_SCALE * 3600],
  ['min', XT_LIMIT_SCALE * 60],
  ['sec', XT_LIMIT_SCALE],
];

/** print_rate. */
export function rateText(period: number): string {
  if (period === 0) return 'inf';
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return `${Math.floor(mult / period)}/${name}`;
}

export const limit: MatchModule<LimitData> = {
  name: 'limit',
  options: [
    { name: 'limit', args: 1, invertible: true },
    { name: 'limit-burst', args: 1, invertible: true },
  ],
  init: () => ({ avg: XT_LIMIT_SCALE * 3600 / 3, burst: 5 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'limit', option, invert, false);
    if (option === 'limit') {
      const p = parseRate(args[0]!);
      if (p === undefined) throw parameterProblem(`bad rate "${args[0]}"'`);
      d.avg = p;
    } else {
      const b = strtouiFull(args[0]!, 0, 10000);
      if (b === undefined) throw x6Bad('limit', 'limit-burst', 0, 10000);
      // iptables-nft lists a zero burst as the default.
      d.burst = b === 0 ? 5 : b;
    }
    return d;
  },
  print: (d) => `limit: avg ${rateText(d.avg)} burst ${d.burst}`,
  save: (d) => `--limit ${rateText(d.avg)}${d.burst !== 5 ? ` --limit-burst ${d.burst}` : ''}`,
  equal: (a, b) => a.avg === b.avg && a.burst === b.burst,
  compile(d): CompiledMatch {
    return { residual: [{ kind: 'limit', ratePerSec: XT_LIMIT_SCALE / d.avg, burst: d.burst, invert: false }] };
  },
};
