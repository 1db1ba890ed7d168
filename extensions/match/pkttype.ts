// pkttype match (libxt_pkttype.c).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen } from '../lib.ts';

export interface PkttypeData {
  type: number;
  invert?: boolean;
  seen?: string[];
}

/** Name table in iptables' order: print uses the first name of a value. */
const PKT_TYPES: ReadonlyArray<[string, number]> = [
  ['unicast', 0],
  ['broadcast', 1],
  ['multicast', 2],
  ['otherhost', 3],
  ['host', 0],
  ['outgoing', 4],
];

export const pkttype: MatchModule<PkttypeData> = {
  name: 'pkttype',
  options: [{ name: 'pkt-type', args: 1, invertible: true }],
  init: () => ({ type: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'pkttype', option, invert, true);
    const e = PKT_TYPES.find(([n]) => n === args[0]!.toLowerCase());
    if (!e) throw parameterProblem(`Bad packet type '${args[0]}'`);
    d.type = e[1];
    if (invert) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('pkttype', [{ name: 'pkt-type', mand: true }], d.seen),
  print: (d) => `PKTTYPE ${d.invert ? '!' : ''}= ${nameOf(d.type)}`,
  save: (d) => `${d.invert ? '! ' : ''}--pkt-type ${nameOf(d.type)}`,
  equal: (a, b) => a.type === b.type && !!a.invert === !!b.invert,
  compile(d): CompiledMatch {
    if (d.type > 3) return { unsupported: 'pkttype outgoing: the datapath has no such packet type' };
    return { residual: [{ kind: 'cmp', field: 'pkttype', mask: 0xff, ranges: [[d.type, d.type]], invert: !!d.invert }] };
  },
};

function nameOf(t: number): string {
  return PKT_TYPES.find(([, v]) => v === t)?.[0] ?? String(t);
}
