// set match (libxt_set.c). iptables asks the kernel's ipset for the set at parse time; bpftables
// has no ipset, so every set is absent and the rule is refused exactly as iptables refuses a
// rule naming a set that does not exist.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';

export interface SetData {
  name?: string;
  flags?: string;
  invert?: boolean;
}

export const set: MatchModule<SetData> = {
  name: 'set',
  options: [
    { name: 'match-set', aliases: ['set'], args: 2, invertible: true },
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
  parse(d, option, args) {
    if (option === 'match-set') {
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
