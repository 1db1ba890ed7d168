// time match (libxt_time.c): times of day, weekdays, monthdays and dates (UTC unless
// --kerneltz), checked per packet against the real time as xt_time (classifier/headers.ts,
// bpf/headers.h).
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { x6Seen } from '../lib.ts';

const MAX_DAYTIME = 24 * 3600 - 1;
const DATE_MAX = 2147483647; // INT_MAX: 2038-01-19T03:14:07
const ALL_WEEKDAYS = 0xfe;
const ALL_MONTHDAYS = 0xfffffffe;
const WEEKDAYS = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export interface TimeData {
  dateStart: number;
  dateStop: number;
  dayStart: number;
  dayStop: number;
  weekdays: number;
  monthdays: number;
  kerneltz?: boolean;
  contiguous?: boolean;
  seen?: string[];
}

function parseDaytime(s: string): number {
  const m = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/.exec(s);
  const bad = () => parameterProblem(`invalid time "${s}" specified, should be hh:mm[:ss] format and within the boundaries`);
  if (!m) throw bad();
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const se = Number(m[3] ?? 0);
  if (h > 23 || mi > 59 || se > 59) throw bad();
  return h * 3600 + mi * 60 + se;
}

function parseDate(s: string): number {
  const m = /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?)?)?)?$/.exec(s);
  if (!m) throw parameterProblem(`Invalid date "${s}" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`);
  const [y, mo, d, h, mi, se] = [m[1], m[2] ?? '1', m[3] ?? '1', m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as number[];
  if (y! < 1970 || mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || se! > 59) {
    throw parameterProblem(`Invalid date "${s}" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`);
  }
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, se!) / 1000;
  return Math.min(t, DATE_MAX);
}

function parseWeekdays(s: string): number {
  let mask = 0;
  for (const w of s.split(',')) {
    if (w === '0') throw parameterProblem('No, the week does NOT begin with Sunday.');
    const n = /^[1-7]$/.test(w) ? Number(w) : WEEKDAYS.findIndex((d) => d !== '' && d.toLowerCase() === w.toLowerCase());
    if (n < 1) throw parameterProblem(`${w} is not a valid day specifier`);
    mask |= 1 << n;
  }
  return mask;
}

function parseMonthdays(s: string): number {
  let mask = 0;
  for (const w of s.split(',')) {
    const n = /^\d+$/.test(w) ? Number(w) : -1;
    // Day 0 is accepted (and lists as nothing), as iptables does.
    if (n < 0 || n > 31) throw parameterProblem(`${w} is not a valid day for --monthdays`);
    mask = (mask | (1 << n)) >>> 0;
  }
  return mask;
}

const two = (n: number) => String(n).padStart(2, '0');
const daytime = (t: number) => `${two(Math.floor(t / 3600))}:${two(Math.floor(t / 60) % 60)}:${two(t % 60)}`;
function date(t: number, sep: string): string {
  const d = new Date(t * 1000);
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}${sep}${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}
function ordinal(n: number): string {
  const suffix = n % 10 === 1 && n !== 11 ? 'st' : n % 10 === 2 && n !== 12 ? 'nd' : n % 10 === 3 && n !== 13 ? 'rd' : 'th';
  return `${n}${suffix}`;
}
const weekdayList = (m: number) => WEEKDAYS.filter((_, i) => i > 0 && m & (1 << i)).join(',');
const monthdayList = (m: number, human: boolean) =>
  Array.from({ length: 31 }, (_, i) => i + 1)
    .filter((n) => (m >>> n) & 1)
    .map((n) => (human ? ordinal(n) : String(n)))
    .join(',');

export const time: MatchModule<TimeData> = {
  name: 'time',
  options: ['datestart', 'datestop', 'timestart', 'timestop', 'weekdays', 'monthdays', 'localtz', 'utc', 'kerneltz', 'contiguous'].map((name) => ({
    name,
    args: ['localtz', 'utc', 'kerneltz', 'contiguous'].includes(name) ? (0 as const) : (1 as const),
    invertible: true,
  })),
  init: () => ({ dateStart: 0, dateStop: DATE_MAX, dayStart: 0, dayStop: MAX_DAYTIME, weekdays: ALL_WEEKDAYS, monthdays: ALL_MONTHDAYS }),
  parse(d, o, a, inv, ctx) {
    x6Seen((d.seen ??= []), 'time', o, inv, o === 'weekdays' || o === 'monthdays');
    const v = a[0] ?? '';
    switch (o) {
      case 'datestart':
        d.dateStart = parseDate(v);
        break;
      case 'datestop':
        d.dateStop = parseDate(v);
        break;
      case 'timestart':
        d.dayStart = parseDaytime(v);
        break;
      case 'timestop':
        d.dayStop = parseDaytime(v);
        break;
      case 'weekdays':
        d.weekdays = parseWeekdays(v);
        if (inv) d.weekdays = ~d.weekdays & ALL_WEEKDAYS;
        break;
      case 'monthdays':
        d.monthdays = parseMonthdays(v);
        if (inv) d.monthdays = (~d.monthdays & ALL_MONTHDAYS) >>> 0;
        break;
      case 'localtz':
        ctx.warn?.('WARNING: --localtz is being replaced by --kerneltz, since "local" is ambiguous. Note the kernel timezone has caveats - see manpage for details.');
        d.kerneltz = true;
        break;
      case 'kerneltz':
        d.kerneltz = true;
        break;
      case 'utc':
        d.kerneltz = undefined;
        break;
      case 'contiguous':
        d.contiguous = true;
        break;
    }
    return d;
  },
  finalCheck(d) {
    if (d.contiguous && d.dayStop >= d.dayStart) throw parameterProblem('time: --contiguous only makes sense when stoptime is smaller than starttime');
  },
  print(d) {
    let s = 'TIME';
    if (d.dayStart !== 0 || d.dayStop !== MAX_DAYTIME) s += ` from ${daytime(d.dayStart)} to ${daytime(d.dayStop)}`;
    if (d.weekdays !== ALL_WEEKDAYS) s += ` on ${weekdayList(d.weekdays)}`;
    if (d.monthdays !== ALL_MONTHDAYS) s += ` on ${monthdayList(d.monthdays, true)}`;
    if (d.dateStart !== 0) s += ` starting from ${date(d.dateStart, ' ')}`;
    if (d.dateStop !== DATE_MAX) s += ` until date ${date(d.dateStop, ' ')}`;
    if (!d.kerneltz) s += ' UTC';
    if (d.contiguous) s += ' contiguous';
    return s;
  },
  save(d) {
    const p: string[] = [];
    if (d.dayStart !== 0 || d.dayStop !== MAX_DAYTIME) p.push(`--timestart ${daytime(d.dayStart)} --timestop ${daytime(d.dayStop)}`);
    // time_save(): monthdays before weekdays (print() has them the other way round).
    if (d.monthdays !== ALL_MONTHDAYS) p.push(`--monthdays ${monthdayList(d.monthdays, false)}`);
    if (d.weekdays !== ALL_WEEKDAYS) p.push(`--weekdays ${weekdayList(d.weekdays)}`);
    if (d.dateStart !== 0) p.push(`--datestart ${date(d.dateStart, 'T')}`);
    p.push(`--datestop ${date(d.dateStop, 'T')}`);
    if (d.kerneltz) p.push('--kerneltz');
    if (d.contiguous) p.push('--contiguous');
    return p.join(' ');
  },
  compile: (d) => ({
    residual: [
      {
        kind: 'time',
        dateStart: d.dateStart,
        dateStop: d.dateStop,
        dayStart: d.dayStart,
        dayStop: d.dayStop,
        weekdays: d.weekdays,
        monthdays: d.monthdays >>> 0,
        kerneltz: !!d.kerneltz,
        contiguous: !!d.contiguous,
        invert: false,
      },
    ],
  }),
};
