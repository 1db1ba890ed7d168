// icmp match (libipt_icmp.c). The classifier keys ICMP on dport = type << 8 | code.
import { KernelRejects, parameterProblem, XtablesError } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { complementRanges, strtouiFull, x6Seen } from '../lib.ts';

export interface IcmpData {
  type: number;
  code: [number, number];
  invert?: boolean;
  seen?: string[];
}

/** xtables' icmp_codes table, in its order (print picks the first exact type/code-range match). */
export const ICMP_CODES: ReadonlyArray<readonly [string, number, number, number]> = [
  ['any', 0xff, 0, 0xff],
  ['echo-reply', 0, 0, 0xff],
  ['pong', 0, 0, 0xff],
  ['destination-unreachable', 3, 0, 0xff],
  ['network-unreachable', 3, 0, 0],
  ['host-unreachable', 3, 1, 1],
  ['protocol-unreachable', 3, 2, 2],
  ['port-unreachable', 3, 3, 3],
  ['fragmentation-needed', 3, 4, 4],
  ['source-route-failed', 3, 5, 5],
  ['network-unknown', 3, 6, 6],
  ['host-unknown', 3, 7, 7],
  ['network-prohibited', 3, 9, 9],
  ['host-prohibited', 3, 10, 10],
  ['TOS-network-unreachable', 3, 11, 11],
  ['TOS-host-unreachable', 3, 12, 12],
  ['communication-prohibited', 3, 13, 13],
  ['host-precedence-violation', 3, 14, 14],
  ['precedence-cutoff', 3, 15, 15],
  ['source-quench', 4, 0, 0xff],
  ['redirect', 5, 0, 0xff],
  ['network-redirect', 5, 0, 0],
  ['host-redirect', 5, 1, 1],
  ['TOS-network-redirect', 5, 2, 2],
  ['TOS-host-redirect', 5, 3, 3],
  ['echo-request', 8, 0, 0xff],
  ['ping', 8, 0, 0xff],
  ['router-advertisement', 9, 0, 0xff],
  ['router-solicitation', 10, 0, 0xff],
  ['time-exceeded', 11, 0, 0xff],
  ['ttl-exceeded', 11, 0, 0xff],
  ['ttl-zero-during-transit', 11, 0, 0],
  ['ttl-zero-during-reassembly', 11, 1, 1],
  ['parameter-problem', 12, 0, 0xff],
  ['ip-header-bad', 12, 0, 0],
  ['required-option-missing', 12, 1, 1],
  ['timestamp-request', 13, 0, 0xff],
  ['timestamp-reply', 14, 0, 0xff],
  ['address-mask-request', 17, 0, 0xff],
  ['address-mask-reply', 18, 0, 0xff],
];

/** Case-insensitive prefix lookup with iptables' ambiguity error; else type[/code] numbers. */
function parseIcmpType(s: string): { type: number; code: [number, number] } {
  let match = -1;
  for (let i = 0; i < ICMP_CODES.length; i++) {
    const name = ICMP_CODES[i]![0];
    if (name.toLowerCase().startsWith(s.toLowerCase())) {
      if (match >= 0) throw parameterProblem(`Ambiguous ICMP type \`${s}': \`${ICMP_CODES[match]![0]}' or \`${name}'?`);
      match = i;
    }
  }
  if (match >= 0) {
    const [, type, lo, hi] = ICMP_CODES[match]!;
    return { type, code: [lo, hi] };
  }
  const slash = s.indexOf('/');
  const typeText = slash < 0 ? s : s.slice(0, slash);
  const type = strtouiFull(typeText, 0, 255);
  if (type === undefined) throw parameterProblem(`Unknown ICMP type \`${s}'`);
  if (slash < 0) return { type, code: [0, 255] };
  const codeText = s.slice(slash + 1);
  const colon = codeText.indexOf(':');
  const lo = strtouiFull(colon < 0 ? codeText : codeText.slice(0, colon), 0, 255);
  const hi = colon < 0 ? lo : strtouiFull(codeText.slice(colon + 1), 0, 255);
  if (lo === undefined || hi === undefined) throw parameterProblem(`Unknown ICMP code \`${s}'`);
  return { type, code: [lo, hi] };
}

export function icmpTypeText(type: number, code: [number, number], invert: boolean, numeric: boolean): string {
  if (!numeric) {
    const e = ICMP_CODES.find(([, t, lo, hi]) => t === type && lo === code[0] && hi === code[1]);
    if (e) return ` ${invert ? '!' : ''}${e[0]}`;
  }
  let s = `${invert ? ' !' : ''}type ${type}`;
  if (code[0] === code[1]) s += ` code ${code[0]}`;
  else if (code[0] !== 0 || code[1] !== 0xff) s += ` codes ${code[0]}-${code[1]}`;
  return s;
}

export const icmp: MatchModule<IcmpData> = {
  name: 'icmp',
  options: [{ name: 'icmp-type', args: 1, invertible: true }],
  init: () => ({ type: 0xff, code: [0, 0xff] }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'icmp', option, invert, true);
    const r = parseIcmpType(args[0]!);
    d.type = r.type;
    d.code = r.code;
    if (invert) d.invert = true;
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.seen?.includes('icmp-type')) throw parameterProblem('icmp: option "--icmp-type" must be specified\n');
    if (ctx.proto?.proto !== 1 || ctx.proto.invert) {
      // The kernel's checkentry refuses it (EINVAL); iptables-nft reports the failed append.
      throw new KernelRejects(ctx.chain);
    }
  },
  print(d, opts) {
    return 'icmp' + icmpTypeText(d.type, d.code, !!d.invert, opts.numeric);
  },
  save(d) {
    const inv = d.invert ? '! ' : '';
    if (d.type === 0xff) return `${inv}--icmp-type any`;
    let s = `${inv}--icmp-type ${d.type}`;
    if (d.code[0] !== 0 || d.code[1] !== 0xff) s += `/${d.code[0]}`;
    return s;
  },
  equal: (a, b) => a.type === b.type && a.code[0] === b.code[0] && a.code[1] === b.code[1] && !!a.invert === !!b.invert,
  compile(d): CompiledMatch {
    // Kernel icmp_type_code_match: type 0xff matches any type and code; only first fragments
    // with a readable ICMP header ever match (dport != NO_L4), inverted or not.
    const pos: Array<[number, number]> = d.type === 0xff ? [[0, 0xffff]] : [[(d.type << 8) | d.code[0], (d.type << 8) | d.code[1]]];
    const ranges = d.invert ? complementRanges(pos, 0xffff) : pos;
    return { fields: { proto: { kind: 'ranges', ranges: [[1, 1]], invert: false }, dport: { kind: 'ranges', ranges, invert: false } } };
  },
};
