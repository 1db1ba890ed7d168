// dscp match (libxt_dscp.c): the upper six bits of the TOS byte.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export const DSCP_CLASSES: ReadonlyArray<[string, number]> = [
  ['CS0', 0x00], ['CS1', 0x08], ['CS2', 0x10], ['CS3', 0x18], ['CS4', 0x20], ['CS5', 0x28], ['CS6', 0x30], ['CS7', 0x38], ['BE', 0x00],
  ['AF11', 0x0a], ['AF12', 0x0c], ['AF13', 0x0e], ['AF21', 0x12], ['AF22', 0x14], ['AF23', 0x16], ['AF31', 0x1a], ['AF32', 0x1c], ['AF33', 0x1e],
  ['AF41', 0x22], ['AF42', 0x24], ['AF43', 0x26], ['EF', 0x2e],
];

export function dscpClass(s: string): number {
  const e = DSCP_CLASSES.find(([n]) => n.toLowerCase() === s.toLowerCase());
  if (!e) throw parameterProblem(`Invalid DSCP value \`${s}'`);
  return e[1];
}

export function hex2(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

export interface DscpData {
  dscp: number;
  invert?: boolean;
  seen?: string[];
}

export const dscp: MatchModule<DscpData> = {
  name: 'dscp',
  options: [
    { name: 'dscp', args: 1, invertible: true },
    { name: 'dscp-class', args: 1, invertible: true },
  ],
  init: () => ({ dscp: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'dscp', option, invert, true);
    d.dscp = option === 'dscp' ? x6Uint('dscp', 'dscp', args[0]!, 0, 63) : dscpClass(args[0]!);
    if (invert) d.invert = true;
    return d;
  },
  finalCheck(d) {
    if (!d.seen?.length) throw parameterProblem('DSCP match: Parameter --dscp is required');
    x6Fcheck('dscp', [{ name: 'dscp', excl: ['dscp-class'] }, { name: 'dscp-class', excl: ['dscp'] }], d.seen);
  },
  print: (d) => `DSCP match ${d.invert ? '!' : ''}${hex2(d.dscp)}`,
  save: (d) => `${d.invert ? '! ' : ''}--dscp ${hex2(d.dscp)}`,
  equal: (a, b) => a.dscp === b.dscp && !!a.invert === !!b.invert,
  compile: (d): CompiledMatch => ({ residual: [{ kind: 'cmp', field: 'tos', mask: 0xfc, ranges: [[d.dscp << 2, d.dscp << 2]], invert: !!d.invert }] }),
};
