// mark match, revision 1 (libxt_mark.c): (skb->mark & mask) == mark.
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen } from '../lib.ts';
import { parseMarkMask } from '../target/MARK.ts';

export interface MarkData {
  mark: number;
  mask: number;
  invert?: boolean;
  seen?: string[];
}

export function markMaskText(mark: number, mask: number): string {
  return `0x${mark.toString(16)}${mask !== 0xffffffff ? `/0x${mask.toString(16)}` : ''}`;
}

export const mark: MatchModule<MarkData> = {
  name: 'mark',
  options: [{ name: 'mark', args: 1, invertible: true }],
  init: () => ({ mark: 0, mask: 0xffffffff }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'mark', option, invert, true);
    const m = parseMarkMask('mark', 'mark', args[0]!);
    d.mark = m.value;
    d.mask = m.mask;
    if (invert) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('mark', [{ name: 'mark', mand: true }], d.seen),
  print: (d) => `mark match ${d.invert ? '! ' : ''}${markMaskText(d.mark, d.mask)}`,
  save: (d) => `${d.invert ? '! ' : ''}--mark ${markMaskText(d.mark, d.mask)}`,
  equal: (a, b) => a.mark === b.mark && a.mask === b.mask && !!a.invert === !!b.invert,
  compile(d): CompiledMatch {
    // The kernel compares (mark & mask) == mark; a mark with bits outside mask never matches.
    const v = (d.mark & d.mask) >>> 0;
    const ranges: Array<[number, number]> = v === d.mark ? [[v, v]] : [];
    return { residual: [{ kind: 'cmp', field: 'mark', mask: d.mask, ranges, invert: !!d.invert }] };
  },
};
