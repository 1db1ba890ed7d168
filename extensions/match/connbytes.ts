// connbytes match (libxt_connbytes.c).
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Mint, x6Seen } from '../lib.ts';

export interface ConnbytesData {
  from: string;
  to: string;
  invert?: boolean;
  mode?: string;
  dir?: string;
  seen?: string[];
}

const U64MAX = '18446744073709551615';

export const connbytes: MatchModule<ConnbytesData> = {
  name: 'connbytes',
  options: [
    { name: 'connbytes', args: 1, invertible: true },
    { name: 'connbytes-dir', args: 1, invertible: true },
    { name: 'connbytes-mode', args: 1, invertible: true },
  ],
  init: () => ({ from: '0', to: U64MAX }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'connbytes', o, inv, o === 'connbytes');
    const v = a[0]!;
    if (o === 'connbytes') {
      const r = x6Mint('connbytes', 'connbytes', v, BigInt(U64MAX));
      d.from = r[0]!.toString();
      d.to = r.length > 1 ? r[1]!.toString() : U64MAX;
      if (inv) d.invert = true;
    } else if (o === 'connbytes-dir') {
      if (!['original', 'reply', 'both'].includes(v)) throw parameterProblem(`Unknown --connbytes-dir \`${v}'`);
      d.dir = v;
    } else {
      if (!['packets', 'bytes', 'avgpkt'].includes(v)) throw parameterProblem(`Unknown --connbytes-mode \`${v}'`);
      d.mode = v;
    }
    return d;
  },
  finalCheck: (d) =>
    x6Fcheck('connbytes', [{ name: 'connbytes', mand: true }, { name: 'connbytes-dir', mand: true }, { name: 'connbytes-mode', mand: true }], d.seen),
  print: (d) => `${d.invert ? '! ' : ''}connbytes ${range(d)} connbytes mode ${d.mode} connbytes direction ${d.dir}`,
  save: (d) => `${d.invert ? '! ' : ''}--connbytes ${range(d)} --connbytes-mode ${d.mode} --connbytes-dir ${d.dir}`,
  equal: (a, b) => connbytes.save(a) === connbytes.save(b),
  compile: () => ({ unsupported: 'connbytes: the datapath keeps no per-connection byte counts' }),
};

function range(d: ConnbytesData): string {
  return d.to === U64MAX ? d.from : `${d.from}:${d.to}`;
}
