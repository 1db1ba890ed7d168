// LOG target (libxt_LOG.c).
import { parameterProblem } from '../../parser/errors.ts';
import type { TargetModule } from '../types.ts';
import { saveString, strtouiFull, x6Seen } from '../lib.ts';

export interface LogData {
  level: number;
  prefix: string;
  /** XT_LOG_* bits: 1 tcp-sequence, 2 tcp-options, 4 ip-options, 8 uid, 0x20 macdecode. */
  flags: number;
  seen?: string[];
}

const LEVEL_NAMES_IN: ReadonlyArray<[string, number]> = [
  ['alert', 1],
  ['crit', 2],
  ['debug', 7],
  ['emerg', 0],
  ['error', 3],
  ['info', 6],
  ['notice', 5],
  ['panic', 0],
  ['warning', 4],
];
/** -L spelling by level (syslog's short names). */
const LEVEL_NAMES_OUT = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];

const FLAG_OPTS: ReadonlyArray<[string, number, string]> = [
  ['log-tcp-sequence', 0x01, 'tcp-sequence'],
  ['log-tcp-options', 0x02, 'tcp-options'],
  ['log-ip-options', 0x04, 'ip-options'],
  ['log-uid', 0x08, 'uid'],
  ['log-macdecode', 0x20, 'macdecode'],
];

export const LOG: TargetModule<LogData> = {
  name: 'LOG',
  options: [
    { name: 'log-level', args: 1, invertible: true },
    { name: 'log-prefix', args: 1, invertible: true },
    ...FLAG_OPTS.map(([name]) => ({ name, args: 0 as const, invertible: true })),
  ],
  init: () => ({ level: 4, prefix: '', flags: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'LOG', option, invert, false);
    if (option === 'log-level') {
      const a = args[0]!;
      const n = strtouiFull(a, 0, 7);
      const named = LEVEL_NAMES_IN.find(([name]) => name === a);
      if (n === undefined && !named) throw parameterProblem(`log level "${a}" unknown\n`);
      d.level = n ?? named![1];
    } else if (option === 'log-prefix') {
      const a = args[0]!;
      if (a.length === 0) throw parameterProblem('Argument must have a minimum length of 1 characters\n');
      if (a.includes('\n')) throw parameterProblem('Newlines not allowed in --log-prefix');
      // XT_LOG prefix is char[30]: at most 29 bytes are kept.
      d.prefix = truncateBytes(a, 29);
    } else {
      d.flags |= FLAG_OPTS.find(([n]) => n === option)![1];
    }
    return d;
  },
  print(d, opts) {
    let s = 'LOG';
    if (opts.numeric) s += ` flags ${d.flags} level ${d.level}`;
    else {
      s += ` level ${LEVEL_NAMES_OUT[d.level] ?? `UNKNOWN level ${d.level}`}`;
      for (const [, bit, word] of FLAG_OPTS) if (d.flags & bit) s += ` ${word}`;
    }
    if (d.prefix) s += ` prefix "${d.prefix}"`;
    return s;
  },
  save(d) {
    const parts: string[] = [];
    if (d.prefix) parts.push(`--log-prefix ${saveString(d.prefix)}`);
    if (d.level !== 4) parts.push(`--log-level ${d.level}`);
    for (const [name, bit] of FLAG_OPTS) if (d.flags & bit) parts.push(`--${name}`);
    return parts.join(' ');
  },
  equal: (a, b) => a.level === b.level && a.prefix === b.prefix && a.flags === b.flags,
  compile: (d) => ({ kind: 'log', level: d.level, prefix: d.prefix, flags: d.flags }),
};

export function truncateBytes(s: string, max: number): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length <= max) return s;
  return new TextDecoder().decode(bytes.slice(0, max));
}
