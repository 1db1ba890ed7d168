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
  print: (d) => `${shownInverted(d) ? '! ' : ''}connbytes ${range(d)} connbytes mode ${d.mode} connbytes direction ${d.dir}`,
  save: (d) => `${shownInverted(d) ? '! ' : ''}--connbytes ${range(d)} --connbytes-mode ${d.mode} --connbytes-dir ${d.dir}`,
  equal: (a, b) => connbytes.save(a) === connbytes.save(b),
  compile: (d) => {
    // libxt_connbytes swaps from and to for `!`; the kernel then tests outside the range.
    const [from, to] = d.invert ? [d.to, d.from] : [d.from, d.to];
    const what = (d.mode ?? 'packets') as 'packets' | 'bytes' | 'avgpkt';
    const dir = (d.dir ?? 'original') as 'original' | 'reply' | 'both';
    return { residual: [{ kind: 'connbytes', what, dir, from, to, invert: false }] };
  },
};

/** The kernel's count.from / count.to: libxt_connbytes swaps them for `!`. */
function kernelRange(d: ConnbytesData): [bigint, bigint] {
  return d.invert ? [BigInt(d.to), BigInt(d.from)] : [BigInt(d.from), BigInt(d.to)];
}
/** iptables shows `!` when from > to in the kernel's data (so `! --connbytes 2:2` loses it). */
function shownInverted(d: ConnbytesData): boolean {
  const [from, to] = kernelRange(d);
  return from > to;
}
function range(d: ConnbytesData): string {
  const [a, b] = kernelRange(d);
  const [lo, hi] = a > b ? [b, a] : [a, b];
  return hi === BigInt(U64MAX) ? `${lo}` : `${lo}:${hi}`;
}
