// string match, revision 1 (libxt_string.c).
import { KernelRejects, parameterProblem, XtablesError } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface StringData {
  /** Pattern bytes (0..255 each). */
  pattern: number[];
  algo: string;
  from: number;
  to: number;
  icase?: boolean;
  invert?: boolean;
  seen?: string[];
}

/** parse_hex_string: literal text with |hex bytes| sections (spaces inside ignored). */
function parseHex(s: string): number[] {
  const out: number[] = [];
  let hex = false;
  for (let i = 0; i < s.length; i++) {
    // XT_STRING_MAX_PATTERN_SIZE: any input left once 128 bytes are in is too much.
    if (out.length >= 128) throw parameterProblem(`STRING too long "${s}"`);
    const c = s[i]!;
    if (c === '|') {
      hex = !hex;
      continue;
    }
    if (!hex) {
      if (c === '\\' && i + 1 < s.length) out.push(s.charCodeAt(++i));
      else out.push(s.charCodeAt(i));
      continue;
    }
    if (c === ' ') continue;
    const pair = s.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) throw parameterProblem('Invalid hex char');
    out.push(parseInt(pair, 16));
    i++;
  }
  if (hex) throw parameterProblem('Invalid hex string');
  return out;
}

const isPrint = (b: number) => b >= 0x20 && b <= 0x7e;

function patternText(p: number[]): string {
  if (p.every(isPrint)) {
    let s = '"';
    for (const b of p) {
      const c = String.fromCharCode(b);
      if (c === '"' || c === '\\') s += '\\';
      s += c;
    }
    return s + '"';
  }
  return `"|${p.map((b) => b.toString(16).padStart(2, '0')).join('')}|"`;
}

export const string: MatchModule<StringData> = {
  name: 'string',
  options: ['from', 'to', 'algo', 'string', 'hex-string', 'icase'].map((name) => ({ name, args: name === 'icase' ? (0 as const) : (1 as const), invertible: true })),
  init: () => ({ pattern: [], algo: '', from: 0, to: 65535 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'string', o, inv, o === 'string' || o === 'hex-string');
    const v = a[0] ?? '';
    switch (o) {
      case 'from':
        d.from = x6Uint('string', o, v, 0, 65535);
        break;
      case 'to':
        d.to = x6Uint('string', o, v, 0, 65535);
        break;
      case 'algo':
        d.algo = v.slice(0, 15);
        break;
      case 'string':
        d.pattern = [...new TextEncoder().encode(v)];
        if (d.pattern.length > 128) throw parameterProblem(`STRING too long "${v}"`);
        if (inv) d.invert = true;
        break;
      case 'hex-string':
        d.pattern = parseHex(v);
        if (inv) d.invert = true;
        break;
      case 'icase':
        d.icase = true;
        break;
    }
    return d;
  },
  finalCheck(d, ctx) {
    const seen = d.seen ?? [];
    if (!seen.includes('string') && !seen.includes('hex-string')) throw parameterProblem("STRING match: You must specify `--string' or `--hex-string'");
    x6Fcheck('string', [{ name: 'from' }, { name: 'to' }, { name: 'algo', mand: true }, { name: 'string', excl: ['hex-string'] }, { name: 'hex-string', excl: ['string'] }, { name: 'icase' }], seen);
    // Only the kernel's text-search algorithms exist.
    if (!['bm', 'kmp', 'fsm'].includes(d.algo)) {
      throw new KernelRejects(ctx.chain, 'No such file or directory');
    }
  },
  print(d) {
    let s = `STRING match ${d.invert ? '!' : ''} ${patternText(d.pattern)} ALGO name ${d.algo}`;
    if (d.from) s += ` FROM ${d.from}`;
    if (d.to !== 65535) s += ` TO ${d.to}`;
    if (d.icase) s += ' ICASE';
    return s;
  },
  save(d) {
    const hex = !d.pattern.every(isPrint);
    let s = `${d.invert ? '! ' : ''}--${hex ? 'hex-string' : 'string'} ${patternText(d.pattern)} --algo ${d.algo}`;
    if (d.from) s += ` --from ${d.from}`;
    if (d.to !== 65535) s += ` --to ${d.to}`;
    if (d.icase) s += ' --icase';
    return s;
  },
  equal: (a, b) => string.save(a) === string.save(b),
  // string_mt(): bm and kmp find the same occurrences in a linear skb (bpf/headers.h runs KMP);
  // fsm takes the pattern as state-machine tokens, which the datapath does not model.
  compile: (d) => {
    if (d.algo === 'fsm') return { unsupported: 'string --algo fsm: the datapath does not run the fsm text search' };
    if (d.pattern.length === 0) return { unsupported: 'string: an empty pattern' };
    return { residual: [{ kind: 'string', pattern: [...d.pattern], from: d.from, to: d.to, icase: !!d.icase, invert: !!d.invert }] };
  },
};
