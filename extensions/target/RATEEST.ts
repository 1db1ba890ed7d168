// RATEEST target (libxt_RATEEST.c): feeds a named rate estimator. Parsed, listed and saved like
// iptables (times kept as the kernel keeps them: interval as a power-of-two exponent, ewma_log
// as a shift); the datapath has no rate estimators, so rules using it are refused.
import { parameterProblem } from '../../parser/errors.ts';
import type { TargetModule } from '../types.ts';
import { x6Fcheck, x6Seen } from '../lib.ts';

const UNITS_PER_SEC = 1000000;

export interface RateestData {
  name: string;
  /** As typed, in microseconds (udata); the kernel's form is computed by finalCheck. */
  intervalUs?: number;
  ewmaUs?: number;
  /** xt_rateest_target_info.interval (-2..3) and ewma_log. */
  interval?: number;
  ewmaLog?: number;
  seen?: string[];
}

/** RATEEST_get_time (from iproute): strtod, then an optional s / ms / us unit. */
function getTime(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(s);
  if (!m) return undefined;
  let t = Number(m[0]);
  const unit = s.slice(m[0].length).toLowerCase();
  if (unit !== '') {
    if (['s', 'sec', 'secs'].includes(unit)) t *= UNITS_PER_SEC;
    else if (['ms', 'msec', 'msecs'].includes(unit)) t *= UNITS_PER_SEC / 1000;
    else if (['us', 'usec', 'usecs'].includes(unit)) t *= 1;
    else return undefined;
  }
  // Stored in an unsigned int.
  return Math.trunc(t) >>> 0;
}

function timeText(t: number): string {
  if (t >= UNITS_PER_SEC) return `${(t / UNITS_PER_SEC).toFixed(1)}s`;
  if (t >= UNITS_PER_SEC / 1000) return `${(t / (UNITS_PER_SEC / 1000)).toFixed(1)}ms`;
  return `${t}us`;
}

function text(d: RateestData, prefix: string): string {
  const interval = Math.floor((UNITS_PER_SEC * 2 ** (d.interval! + 2)) / 4) >>> 0;
  const ewma = (interval * 2 ** d.ewmaLog!) >>> 0;
  return `${prefix}name ${d.name} ${prefix}interval ${timeText(interval)} ${prefix}ewmalog ${timeText(ewma)}`;
}

export const RATEEST: TargetModule<RateestData> = {
  name: 'RATEEST',
  options: [
    { name: 'rateest-name', args: 1, invertible: true },
    { name: 'rateest-interval', args: 1, invertible: true },
    { name: 'rateest-ewmalog', args: 1, invertible: true },
  ],
  init: () => ({ name: '' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'RATEEST', o, inv, false);
    const v = a[0]!;
    if (o === 'rateest-name') d.name = v.slice(0, 15); // XTOPT_PUT into name[IFNAMSIZ]
    else if (o === 'rateest-interval') {
      d.intervalUs = getTime(v);
      if (d.intervalUs === undefined) throw parameterProblem(`RATEEST: bad interval value "${v}"`);
    } else {
      d.ewmaUs = getTime(v);
      if (d.ewmaUs === undefined) throw parameterProblem(`RATEEST: bad ewmalog value "${v}"`);
    }
    return d;
  },
  finalCheck(d) {
    // RATEEST_final_check runs before the x6 mandatory checks, on whatever was given (0 if not).
    const iv = d.intervalUs ?? 0;
    let interval = 0;
    for (; interval <= 5; interval++) if (iv <= 2 ** interval * (UNITS_PER_SEC / 4)) break;
    if (interval > 5) throw parameterProblem('RATEEST: interval value is too large');
    let ewma = 1;
    for (; ewma < 32; ewma++) {
      const w = 1.0 - 1.0 / 2 ** ewma;
      if (iv / -Math.log(w) > (d.ewmaUs ?? 0)) break;
    }
    ewma--;
    if (ewma === 0 || ewma >= 31) throw parameterProblem('RATEEST: ewmalog value is out of range');
    x6Fcheck('RATEEST', [{ name: 'rateest-name', mand: true }, { name: 'rateest-interval', mand: true }, { name: 'rateest-ewmalog', mand: true }], d.seen);
    d.interval = interval - 2;
    d.ewmaLog = ewma;
    delete d.intervalUs;
    delete d.ewmaUs;
  },
  print: (d) => text(d, ''),
  save: (d) => text(d, '--rateest-'),
  compile: () => ({ kind: 'unsupported', reason: 'RATEEST: the datapath has no rate estimators' }),
};
