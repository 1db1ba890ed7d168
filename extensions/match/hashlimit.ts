// hashlimit match, revision 3 (libxt_hashlimit.c): per-flow token buckets. Packet rates are kept
// as iptables keeps them (period in 1/1000000 s) so print/save reproduce its rounding; byte
// rates ("1mb/s") are kept as typed. The datapath: bpf/hashlimit.h.
import type { HashlimitCfg } from '../../classifier/fields.ts';
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, strtoumax, x6Fcheck, x6Seen, x6Uint } from '../lib.ts';
import { atoi } from './limit.ts';

const SCALE = 1000000;
const RATES: ReadonlyArray<[string, number]> = [
  ['day', SCALE * 86400],
  ['hour', SCALE * 3600],
  ['min', SCALE * 60],
  ['sec', SCALE],
];

export interface HashlimitData {
  /** Period per packet (packet mode) or the byte-rate text as given. */
  period?: number;
  bytes?: string;
  above?: boolean;
  burst: number;
  mode: string[];
  name: string;
  size?: number;
  max?: number;
  gc: number;
  expire: number;
  srcmask: number;
  dstmask: number;
  /** Byte mode: the burst as given, in bytes (finalCheck turns it into whole rate quanta). */
  byteBurst?: bigint;
  rateMatch?: boolean;
  /** --hashlimit-rate-interval (seconds). */
  interval?: number;
  /** Packet mode: seconds per unit of the rate as typed (libxt's udata->mult; 1 when absent). */
  unit?: number;
  seen?: string[];
}

/** XT_HASHLIMIT_BURST_MAX */
const BURST_MAX = 1000000n;
const U64_MAX = 0xffffffffffffffffn;

/** parse_burst (revision 3): a number, optionally scaled by a 'k' or 'm' right after it. */
function parseBurst(s: string): bigint {
  const bad = () => parameterProblem(`bad value for option "--hashlimit-burst", or out of range (1-${BURST_MAX}).`);
  const r = strtoumax(s);
  if (!r || r.value < 1n || r.value > U64_MAX || (r.end === s.length && r.value > BURST_MAX)) throw bad();
  const c = s[r.end];
  const v = r.value * (c === 'm' ? 1048576n : c === 'k' ? 1024n : 1n);
  if (v > U64_MAX) throw parameterProblem(`bad value for option "--hashlimit-burst", value "${s}" too large (max ${U64_MAX / 1024n / 1024n}mb).`);
  return v;
}

/** Byte rates are kept by the kernel as a cost (XT_HASHLIMIT_BYTE_SHIFT 4). */
function bytesToCost(bytes: bigint): bigint {
  return 0xffffffffn / (((bytes >> 4n) & 0xffffffffn) + 1n);
}
function costToBytes(cost: bigint): bigint {
  return ((cost ? 0xffffffffn / cost : 0xffffffffn) - 1n) << 4n;
}
/** parse_bytes: atoll of the text and the k / m just before "b/s". */
function byteRateCost(rate: string): bigint {
  const at = rate.indexOf('b/s');
  const n = BigInt(/^\s*\+?(\d+)/.exec(rate)?.[1] ?? '0');
  const c = rate[at - 1];
  return bytesToCost(n * (c === 'm' ? 1048576n : c === 'k' ? 1024n : 1n));
}
/** print_bytes' burst part: the burst in whole quanta, in the largest unit it reaches. */
function byteBurstText(rate: string, quanta: bigint): string {
  const r = costToBytes(byteRateCost(rate)) * quanta;
  const [name, thresh] = r >= 1048576n ? ['m', 1048576n] : r >= 1024n ? ['k', 1024n] : ['', 1n];
  return `${r / thresh}${name}b`;
}

function parseRate(s: string, unit?: { mult: number }): number | undefined {
  let mult = 1;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const unit = s.slice(slash + 1).toLowerCase();
    if (unit === '') return undefined;
    if ('second'.startsWith(unit)) mult = 1;
    else if ('minute'.startsWith(unit)) mult = 60;
    else if ('hour'.startsWith(unit)) mult = 3600;
    else if ('day'.startsWith(unit)) mult = 86400;
    else return undefined;
  }
  const r = atoi(s);
  if (r <= 0) return undefined;
  const v = Math.floor((SCALE * mult) / r);
  if (v === 0) throw parameterProblem(`Rate too fast "${s}"`);
  if (unit) unit.mult = mult;
  return v;
}

/** print_rate: the text and its unit in ms (what print_rate returns: the default expiry). */
function rateUnit(period: number): [string, number] {
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return [`${Math.floor(mult / period)}/${name}`, (mult / SCALE) * 1000];
}
function rateText(period: number): string {
  return rateUnit(period)[0];
}

/** cfg.expire as libxt_hashlimit's final check sets it when --hashlimit-htable-expire is absent. */
function effectiveExpire(d: HashlimitData): number {
  if (d.seen?.includes('hashlimit-htable-expire')) return d.expire;
  if (d.bytes !== undefined) return d.burst > 0 ? 60000 : 15000;
  return (d.unit ?? 1) * 1000;
}

/** The kernel's hashlimit_cfg3 of the rule (revision 3, as iptables 1.8.9 fills it). */
export function hashlimitCfg(d: HashlimitData): HashlimitCfg {
  const bytes = d.bytes !== undefined;
  const mode =
    (d.mode.includes('dstip') ? 1 : 0) |
    (d.mode.includes('dstport') ? 2 : 0) |
    (d.mode.includes('srcip') ? 4 : 0) |
    (d.mode.includes('srcport') ? 8 : 0) |
    (d.above ? 16 : 0) |
    (bytes ? 32 : 0) |
    (d.rateMatch ? 64 : 0);
  const unit = d.unit ?? 1;
  let avg = bytes ? Number(byteRateCost(d.bytes!)) : (d.period ?? SCALE);
  let interval = d.interval ?? 0;
  if (d.rateMatch) {
    // hashlimit_mt_check: a packet rate per second of the interval; the interval defaults to the unit.
    if (!bytes) avg = Math.floor(avg / unit);
    if (interval === 0) interval = bytes ? 1 : unit;
  }
  return {
    mode,
    avg,
    burst: d.burst,
    size: d.size ?? 0,
    max: d.max ?? 0,
    gcInterval: d.gc,
    expire: effectiveExpire(d),
    srcmask: d.srcmask,
    dstmask: d.dstmask,
    interval,
  };
}

const MODES = ['srcip', 'srcport', 'dstip', 'dstport'];

function text(d: HashlimitData, p: '' | '--'): string {
  const parts: string[] = [];
  // -L shows a packet rate scaled by --hashlimit-rate-interval (hashlimit_mt_print's quirk); -S does not.
  const [rate, quantum] = d.bytes !== undefined ? [d.bytes, d.burst > 0 ? 60000 : 15000] : rateUnit((d.period ?? SCALE) * (!p && d.interval !== undefined ? d.interval : 1));
  if (p) parts.push(`--hashlimit-${d.above ? 'above' : 'upto'} ${rate}`);
  else parts.push(`limit: ${d.above ? 'above' : 'up to'} ${rate}`);
  if (d.bytes === undefined) parts.push(`${p}${p ? 'hashlimit-' : ''}burst ${d.burst}`);
  else if (d.burst > 0) parts.push(`${p}${p ? 'hashlimit-' : ''}burst ${byteBurstText(d.bytes, BigInt(d.burst))}`);
  const modes = MODES.filter((m) => d.mode.includes(m));
  if (modes.length) parts.push(`${p}${p ? 'hashlimit-' : ''}mode ${modes.join(p ? ',' : '-')}`);
  if (p) parts.push(`--hashlimit-name ${d.name}`);
  const hp = p ? '--hashlimit-' : '';
  if (d.size !== undefined) parts.push(`${hp}htable-size ${d.size}`);
  if (d.max !== undefined) parts.push(`${hp}htable-max ${d.max}`);
  if (d.gc !== 1000) parts.push(`${hp}htable-gcinterval ${d.gc}`);
  const expire = effectiveExpire(d);
  if (expire !== quantum) parts.push(`${hp}htable-expire ${expire}`);
  if (d.srcmask !== 32) parts.push(`${hp}srcmask ${d.srcmask}`);
  if (d.dstmask !== 32) parts.push(`${hp}dstmask ${d.dstmask}`);
  if (d.rateMatch) parts.push(`${hp}rate-match`);
  if (d.rateMatch && (d.interval ?? 1) !== 1) parts.push(`${hp}rate-interval ${d.interval}`);
  return parts.join(' ');
}

const OPTS = [
  'hashlimit',
  'hashlimit-upto',
  'hashlimit-above',
  'hashlimit-burst',
  'hashlimit-mode',
  'hashlimit-name',
  'hashlimit-htable-size',
  'hashlimit-htable-max',
  'hashlimit-htable-gcinterval',
  'hashlimit-htable-expire',
  'hashlimit-srcmask',
  'hashlimit-dstmask',
  'hashlimit-rate-match',
  'hashlimit-rate-interval',
];

export const hashlimit: MatchModule<HashlimitData> = {
  name: 'hashlimit',
  options: OPTS.map((name) => ({ name, args: name === 'hashlimit-rate-match' ? (0 as const) : (1 as const), invertible: true })),
  init: () => ({ burst: 5, mode: [], name: '', gc: 1000, expire: 10000, srcmask: 32, dstmask: 32 }),
  parse(d, o, a, inv) {
    const key = o === 'hashlimit' ? 'hashlimit-upto' : o;
    x6Seen((d.seen ??= []), 'hashlimit', key, inv, key === 'hashlimit-upto' || key === 'hashlimit-above');
    const v = a[0]!;
    switch (key) {
      case 'hashlimit-upto':
      case 'hashlimit-above': {
        d.above = (key === 'hashlimit-above') !== inv;
        if (/^\d+[kmg]?b\//i.test(v)) d.bytes = v;
        else {
          const u = { mult: 1 };
          const p = parseRate(v, u);
          if (u.mult !== 1) d.unit = u.mult;
          if (p === undefined) throw parameterProblem(`hashlimit: Bad value for "--hashlimit-${key === 'hashlimit-above' ? 'above' : 'upto'}" option: "${v}"`);
          d.period = p;
        }
        break;
      }
      case 'hashlimit-burst':
        // Checked against the rate's mode in finalCheck (byte mode takes bytes).
        d.byteBurst = parseBurst(v);
        break;
      case 'hashlimit-rate-match':
        d.rateMatch = true;
        break;
      case 'hashlimit-rate-interval': {
        const n = Number(/^\s*[+-]?\d+/.exec(v)?.[0] ?? '0');
        if (!(n > 0) || n > 0x7fffffff) throw parameterProblem(`hashlimit: Bad value for "--hashlimit-rate-interval" option: "${v}"`);
        d.interval = n;
        break;
      }
      case 'hashlimit-mode':
        for (const m of v.split(',')) {
          if (!MODES.includes(m)) throw parameterProblem(`hashlimit: Bad value for "--hashlimit-mode" option: "${v}"`);
          if (!d.mode.includes(m)) d.mode.push(m);
        }
        break;
      case 'hashlimit-name':
        d.name = v.slice(0, 255);
        break;
      case 'hashlimit-htable-size':
        d.size = x6Uint('hashlimit', key, v, 0, 0xffffffff);
        break;
      case 'hashlimit-htable-max':
        d.max = x6Uint('hashlimit', key, v, 0, 0xffffffff);
        break;
      case 'hashlimit-htable-gcinterval':
        d.gc = x6Uint('hashlimit', key, v, 0, 0xffffffff);
        break;
      case 'hashlimit-htable-expire':
        d.expire = x6Uint('hashlimit', key, v, 0, 0xffffffff);
        break;
      case 'hashlimit-srcmask':
      case 'hashlimit-dstmask': {
        // XTTYPE_PLENMASK: a prefix length; the kernel refuses lengths above 32.
        if (!/^\d+$/.test(v) || Number(v) > 255) throw parameterProblem(`hashlimit: bad value for option "--${key}", neither a valid network mask nor valid CIDR (0-32).\n`);
        if (key === 'hashlimit-srcmask') d.srcmask = Number(v);
        else d.dstmask = Number(v);
        break;
      }
    }
    return d;
  },
  finalCheck(d, ctx) {
    const seen = d.seen ?? [];
    if (!seen.includes('hashlimit-upto') && !seen.includes('hashlimit-above')) throw parameterProblem('You have to specify --hashlimit');
    x6Fcheck(
      'hashlimit',
      OPTS.slice(1).map((name) => ({
        name,
        mand: name === 'hashlimit-name',
        excl: name === 'hashlimit-upto' ? ['hashlimit-above'] : name === 'hashlimit-above' ? ['hashlimit-upto'] : undefined,
      })),
      seen,
    );
    if (d.bytes !== undefined) {
      if (d.byteBurst !== undefined) {
        const quantum = costToBytes(byteRateCost(d.bytes));
        if (d.byteBurst < quantum) throw parameterProblem(`burst cannot be smaller than ${quantum}b`);
        d.burst = Number((d.byteBurst + quantum - 1n) / quantum);
      } else d.burst = 0;
    } else if (d.byteBurst !== undefined) {
      if (d.byteBurst > BURST_MAX) throw parameterProblem(`bad value for option "--hashlimit-burst", or out of range (1-${BURST_MAX}).`);
      d.burst = Number(d.byteBurst);
    }
    delete d.byteBurst;
    if (d.srcmask > 32 || d.dstmask > 32) throw kernelInvalid(ctx.chain);

  },
  print: (d) => text(d, ''),
  save: (d) => text(d, '--'),
  compile: (d) => ({ residual: [{ kind: 'hashlimit', name: d.name, cfg: hashlimitCfg(d), invert: false }] }),
};
