// mac match (libxt_mac.c): source MAC of the Ethernet header.
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, x6Seen } from '../lib.ts';

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

/** 'aa:bb:cc:dd:ee:ff' → the 48-bit integer 0xaabbccddeeff (exact in a double). */
export function macValue(s: string): number {
  return parseInt(s.replace(/:/g, ''), 16);
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
  finalCheck(d, ctx) {
    if (!d.seen?.includes('mac-source')) throw parameterProblem('mac: option "--mac-source" must be specified\n');
    // xt_mac's hooks: PRE_ROUTING, LOCAL_IN, FORWARD (the kernel refuses the rule elsewhere).
    if (ctx.chain === 'OUTPUT' || ctx.chain === 'POSTROUTING') throw kernelInvalid(ctx.chain);
  },
  print: (d) => `MAC ${d.invert ? '! ' : ''}${d.mac}`,
  save: (d) => `${d.invert ? '! ' : ''}--mac-source ${d.mac}`,
  equal: (a, b) => a.mac === b.mac && !!a.invert === !!b.invert,
  compile: (d) => ({ residual: [{ kind: 'mac', mac: macValue(d.mac), invert: !!d.invert }] }),
};
