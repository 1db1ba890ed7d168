// mac match (libxt_mac.c): source MAC of the Ethernet header.
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { x6Seen } from '../lib.ts';

export interface MacData {
  mac: string;
  invert?: boolean;
  seen?: string[];
}

/** xtables_parse_mac: six ':'-separated hex bytes of one or two digits. */
function parseMac(s: string): string {
  const parts = s.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw parameterProblem('Invalid MAC address specified.');
  }
  return parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':');
}

export const mac: MatchModule<MacData> = {
  name: 'mac',
  options: [{ name: 'mac-source', args: 1, invertible: true }],
  init: () => ({ mac: '' }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'mac', option, invert, true);
    d.mac = parseMac(args[0]!);
    if (invert) d.invert = true;
    return d;
  },
  finalCheck(d) {
    if (!d.seen?.includes('mac-source')) throw parameterProblem('mac: option "--mac-source" must be specified\n');
  },
  print: (d) => `MAC ${d.invert ? '! ' : ''}${d.mac}`,
  save: (d) => `${d.invert ? '! ' : ''}--mac-source ${d.mac}`,
  equal: (a, b) => a.mac === b.mac && !!a.invert === !!b.invert,
  compile: () => ({ unsupported: 'mac --mac-source: the datapath does not read the Ethernet header' }),
};
