// MARK target, revision 2 (libxt_MARK.c): every form is kept as (mark, mask) with
// skb->mark = (skb->mark & ~mask) ^ mark, and saved as --set-xmark.
import { parameterProblem } from '../../parser/errors.ts';
import type { TargetModule } from '../types.ts';
import { strtouiFull, strtouiPrefix, x6Bad, x6Seen } from '../lib.ts';

export interface MarkTargetData {
  mark: number;
  mask: number;
  seen?: string[];
}

const OPTS = ['set-xmark', 'set-mark', 'and-mark', 'or-mark', 'xor-mark'] as const;

function parseU32(option: string, s: string): number {
  const v = strtouiFull(s, 0, 0xffffffff);
  if (v === undefined) throw x6Bad('MARK', option, 0, 4294967295);
  return v;
}

/**
 * XTTYPE_MARKMASK32 (xtables_parse_val_mask): value[/mask], mask defaulting to all ones. Each
 * number is read as a prefix (xtables_strtoui with an end pointer); what follows the value must
 * be '/' or nothing, what follows the mask nothing ("trailing garbage"). With a name map (realm,
 * devgroup: iproute2's rt_realms / group), a word that is not "number[/mask]" is a name; the
 * names themselves are not known here, so they fail as unmapped.
 */
export function parseMarkMask(ext: string, option: string, s: string, lmap = false): { value: number; mask: number } {
  const bad = () => parameterProblem(`${ext}: bad integer value for option "--${option}", or out of range.\n`);
  const unmapped = () => parameterProblem(`${ext}: could not map name ${s} to an integer value for option "--${option}".\n`);
  const v = strtouiPrefix(s, 0, 0xffffffff);
  if (!v) throw lmap ? unmapped() : bad();
  let end = v.end;
  let mask = 0xffffffff;
  if (end < s.length && s[end] !== '/' && lmap) throw unmapped();
  if (s[end] === '/') {
    const m = strtouiPrefix(s.slice(end + 1), 0, 0xffffffff);
    if (!m) throw bad();
    mask = m.value;
    end += 1 + m.end;
  }
  if (end !== s.length) throw parameterProblem(`${ext}: trailing garbage after value for option "--${option}".\n`);
  return { value: v.value, mask };
}

export const MARK: TargetModule<MarkTargetData> = {
  name: 'MARK',
  options: OPTS.map((name) => ({ name, args: 1 as const, invertible: true })),
  init: () => ({ mark: 0, mask: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'MARK', option, invert, false);
    const a = args[0]!;
    switch (option) {
      case 'set-xmark': {
        const m = parseMarkMask('MARK', option, a);
        d.mark = m.value;
        d.mask = m.mask;
        break;
      }
      case 'set-mark': {
        const m = parseMarkMask('MARK', option, a);
        d.mark = m.value;
        d.mask = (m.value | m.mask) >>> 0;
        break;
      }
      case 'and-mark':
        d.mark = 0;
        d.mask = ~parseU32(option, a) >>> 0;
        break;
      case 'or-mark':
        d.mark = parseU32(option, a);
        d.mask = d.mark;
        break;
      case 'xor-mark':
        d.mark = parseU32(option, a);
        d.mask = 0;
        break;
    }
    return d;
  },
  finalCheck(d) {
    const seen = d.seen ?? [];
    if (seen.length === 0) throw parameterProblem('MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required');
    // xtables_options_fcheck: first set option in table order vs the first other one.
    const set = OPTS.filter((o) => seen.includes(o));
    if (set.length > 1) throw parameterProblem(`MARK: option "--${set[0]}" cannot be used together with "--${set[1]}".\n`);
  },
  print(d) {
    const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
    if (d.mark === 0) return `MARK and ${hex(~d.mask)}`;
    if (d.mark === d.mask) return `MARK or ${hex(d.mark)}`;
    if (d.mask === 0) return `MARK xor ${hex(d.mark)}`;
    if (d.mask === 0xffffffff) return `MARK set ${hex(d.mark)}`;
    return `MARK xset ${hex(d.mark)}/${hex(d.mask)}`;
  },
  save: (d) => `--set-xmark 0x${d.mark.toString(16)}/0x${d.mask.toString(16)}`,
  equal: (a, b) => a.mark === b.mark && a.mask === b.mask,
  compile: (d) => ({ kind: 'mark', value: d.mark, mask: d.mask }),
};
