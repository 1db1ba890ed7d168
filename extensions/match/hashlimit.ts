// hashlimit match, revision 3 (libxt_hashlimit.c): per-flow token buckets. Packet rates are kept
// as iptables keeps them (period in 1/1000000 s) so print/save reproduce its rounding; byte
// rates ("1mb/s") are kept as typed. The datapath has no per-flow buckets.
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
  seen?: string[];
}

function parseRate(s: string): number | undefined {
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
  return v;
}

function rateText(period: number): string {
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return `${Math.floor(mult / period)}/${name}`;
}

const MODES = ['srcip', 'srcport', 'dstip', 'dstport'];

function text(d: HashlimitData, p: '' | '--'): string {
  const parts: string[] = [];
  const rate = d.bytes ?? rateText(d.period ?? SCALE);
  if (p) parts.push(`--hashlimit-${d.above ? 'above' : 'upto'} ${rate}`);
  else parts.push(`limit: ${d.above ? 'above' : 'up to'} ${rate}`);
  if (d.bytes === undefined) parts.push(`${p}${p ? 'hashlimit-' : ''}burst ${d.burst}`);
  const modes = MODES.filter((m) => d.mode.includes(m));
  if (modes.length) parts.push(`${p}${p ? 'hashlimit-' : ''}mode ${modes.join(p ? ',' : '-')}`);
  if (p) parts.push(`--hashlimit-name ${d.name}`);
  const hp = p ? '--hashlimit-' : '';
  if (d.size !== undefined) parts.push(`${hp}htable-size ${d.size}`);
  if (d.max !== undefined) parts.push(`${hp}htable-max ${d.max}`);
  if (d.gc !== 1000) parts.push(`${hp}htable-gcinterval ${d.gc}`);
  if (d.expire !== 10000) parts.push(`${hp}htable-expire ${d.expire}`);
  if (d.srcmask !== 32) parts.push(`${hp}srcmask ${d.srcmask}`);
  if (d.dstmask !== 32) parts.push(`${hp}dstmask ${d.dstmask}`);
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
];

/** XT_HASHLIMIT_BURST_MAX */
const BURST_MAX = 1000000;

/**
 * parse_burst of libxt_hashlimit (iptables-nft 1.8.9): a number read as a prefix, times 1024 or
 * 1048576 when what follows starts with k / m (any other text is ignored), within 1..1000000.
 */
function parseBurst(s: string): number {
  const bad = () => parameterProblem(`bad value for option "--hashlimit-burst", or out of range (1-${BURST_MAX}).`);
  const r = strtoumax(s);
  if (!r || r.value === 0n) throw bad();
  const unit = s[r.end]?.toLowerCase();
  const v = r.value * (unit === 'k' ? 1024n : unit === 'm' ? 1048576n : 1n);
  if (v > BigInt(BURST_MAX)) throw bad();
  return Number(v);
}

export const hashlimit: MatchModule<HashlimitData> = {
  name: 'hashlimit',
  options: OPTS.map((name) => ({ name, args: 1 as const, invertible: true })),
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
          const p = parseRate(v);
          if (p === undefined) throw parameterProblem(`hashlimit: Bad value for "--hashlimit-${key === 'hashlimit-above' ? 'above' : 'upto'}" option: "${v}"`);
          d.period = p;
        }
        break;
      }
      case 'hashlimit-burst':
        d.burst = parseBurst(v);
        break;
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
    if (d.srcmask > 32 || d.dstmask > 32) throw kernelInvalid(ctx.chain);
  },
  print: (d) => text(d, ''),
  save: (d) => text(d, '--'),
  compile: () => ({ unsupported: 'hashlimit: the datapath has no per-flow rate buckets' }),
};
