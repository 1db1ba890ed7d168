// set match (libxt_set.c). iptables asks the kernel's ipset for the set at parse time; bpftables
// has no ipset, so every set is absent and the rule is refused exactly as iptables refuses a
// rule naming a set that does not exist.
import { parameterProblem } from '../../parser/errors.ts';
import { strtoumax } from '../lib.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';

export interface SetData {
  name?: string;
  flags?: string;
  invert?: boolean;
  /** --packets-* / --bytes-* given (libxt_set's info->packets.op / bytes.op). */
  packets?: boolean;
  bytes?: boolean;
}

/** libxt_set.c parse_counter(). */
function parseCounter(s: string): void {
  const r = strtoumax(s, 0);
  if (!r || r.end !== s.length || r.value > 0xffffffffffffffffn) throw parameterProblem(`Cannot parse ${s} as a counter value`);
}

export const set: MatchModule<SetData> = {
  name: 'set',
  options: [
    { name: 'match-set', args: 2, invertible: true },
    { name: 'set', args: 2, invertible: true, warn: '--set option deprecated, please use --match-set', missingSecond: '--match-set requires two args.' },
    { name: 'return-nomatch', args: 0, invertible: true },
    { name: 'update-counters', args: 0, invertible: true },
    { name: 'update-subcounters', args: 0, invertible: true },
    { name: 'packets-eq', args: 1, invertible: true },
    { name: 'packets-lt', args: 1, invertible: true },
    { name: 'packets-gt', args: 1, invertible: true },
    { name: 'bytes-eq', args: 1, invertible: true },
    { name: 'bytes-lt', args: 1, invertible: true },
    { name: 'bytes-gt', args: 1, invertible: true },
  ],
  init: () => ({}),
  // set_parse_v4's checks, in its order: each option's own errors come at once; a set name is
  // looked up as soon as it is given, and none exists here.
  parse(d, option, args, invert) {
    const counter = /^(packets|bytes)-(eq|lt|gt)$/.exec(option);
    if (counter) {
      const kind = counter[1] as 'packets' | 'bytes';
      if (d[kind]) throw parameterProblem(`only one of the --${kind}-[eq|lt|gt] is allowed`);
      if (invert && counter[2] !== 'eq') throw parameterProblem(`--${option} option cannot be inverted`);
      d[kind] = true;
      parseCounter(args[0]!);
      return d;
    }
    if (option === 'return-nomatch' && invert) throw parameterProblem('--return-nomatch flag cannot be inverted');
    if (option === 'match-set' || option === 'set') {
      const name = args[0]!;
      if (name.length > 31) throw parameterProblem(`setname \`${name}' too long, max 31 characters.`);
      throw parameterProblem(`Set ${name} doesn't exist.\n`);
    }
    return d;
  },
  finalCheck() {
    throw parameterProblem('You must specify `--match-set\' with proper arguments');
  },
  print: (d) => `match-set ${d.name ?? ''} ${d.flags ?? ''}`,
  save: (d) => `--match-set ${d.name ?? ''} ${d.flags ?? ''}`,
  compile: (): CompiledMatch => ({ unsupported: 'set: ipsets are not available to the datapath' }),
};
