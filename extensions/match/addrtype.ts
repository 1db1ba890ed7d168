// addrtype match, revision 1 (libxt_addrtype.c). Compiles to residual checks that the
// datapath answers per packet from the namespace's local routing table (bpf/addrtype.h).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch, ResidualCheck } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, x6Fcheck, x6Seen } from '../lib.ts';

const RTN = ['UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE'];

export interface AddrtypeData {
  src?: number;
  srcInv?: boolean;
  dst?: number;
  dstInv?: boolean;
  limitIn?: boolean;
  limitOut?: boolean;
  seen?: string[];
}

function parseType(s: string): number {
  const i = RTN.findIndex((n) => s.length > 0 && n.toLowerCase().startsWith(s.toLowerCase()));
  return i < 0 ? -1 : 1 << i;
}

function parseTypes(arg: string): number {
  let mask = 0;
  let rest = arg;
  let comma: number;
  while ((comma = rest.indexOf(',')) >= 0) {
    const t = comma === 0 ? -1 : parseType(rest.slice(0, comma));
    if (t < 0) throw parameterProblem(`addrtype: bad type \`${rest}'`);
    mask |= t;
    rest = rest.slice(comma + 1);
  }
  const t = parseType(rest);
  if (t < 0) throw parameterProblem(`addrtype: bad type "${rest}"`);
  return mask | t;
}

function typesText(mask: number): string {
  return RTN.filter((_, i) => mask & (1 << i)).join(',');
}

export const addrtype: MatchModule<AddrtypeData> = {
  name: 'addrtype',
  options: [
    { name: 'src-type', args: 1, invertible: true },
    { name: 'dst-type', args: 1, invertible: true },
    { name: 'limit-iface-in', args: 0, invertible: true },
    { name: 'limit-iface-out', args: 0, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'addrtype', option, invert, option === 'src-type' || option === 'dst-type');
    if (option === 'src-type') {
      d.src = parseTypes(args[0]!);
      if (invert) d.srcInv = true;
    } else if (option === 'dst-type') {
      d.dst = parseTypes(args[0]!);
      if (invert) d.dstInv = true;
    } else if (option === 'limit-iface-in') d.limitIn = true;
    else d.limitOut = true;
    return d;
  },
  finalCheck(d, ctx) {
    if (d.src === undefined && d.dst === undefined) throw parameterProblem('addrtype: you must specify --src-type or --dst-type');
    x6Fcheck('addrtype', [{ name: 'src-type' }, { name: 'dst-type' }, { name: 'limit-iface-in', excl: ['limit-iface-out'] }, { name: 'limit-iface-out', excl: ['limit-iface-in'] }], d.seen);
    // Kernel hook checks: no input interface at LOCAL_OUT / POST_ROUTING, no output one before routing.
    if (d.limitIn && (ctx.chain === 'OUTPUT' || ctx.chain === 'POSTROUTING')) throw kernelInvalid(ctx.chain);
    if (d.limitOut && (ctx.chain === 'INPUT' || ctx.chain === 'PREROUTING')) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    let s = 'ADDRTYPE match';
    if (d.src !== undefined) s += ` src-type ${d.srcInv ? '!' : ''}${typesText(d.src)}`;
    if (d.dst !== undefined) s += ` dst-type ${d.dstInv ? '!' : ''}${typesText(d.dst)}`;
    if (d.limitIn) s += ' limit-in';
    if (d.limitOut) s += ' limit-out';
    return s;
  },
  save(d) {
    const parts: string[] = [];
    if (d.src !== undefined) parts.push(`${d.srcInv ? '! ' : ''}--src-type ${typesText(d.src)}`);
    if (d.dst !== undefined) parts.push(`${d.dstInv ? '! ' : ''}--dst-type ${typesText(d.dst)}`);
    if (d.limitIn) parts.push('--limit-iface-in');
    if (d.limitOut) parts.push('--limit-iface-out');
    return parts.join(' ');
  },
  equal: (a, b) => addrtype.save(a) === addrtype.save(b),
  compile(d): CompiledMatch {
    // xt_addrtype v1: the source test, then the destination test, each XOR its `!`; one device
    // (in or out) limits both.
    const dev = d.limitIn ? 'in' : d.limitOut ? 'out' : 'any';
    const residual: ResidualCheck[] = [];
    if (d.src !== undefined) residual.push({ kind: 'addrtype', addr: 'src', types: d.src, dev, invert: !!d.srcInv });
    if (d.dst !== undefined) residual.push({ kind: 'addrtype', addr: 'dst', types: d.dst, dev, invert: !!d.dstInv });
    return { residual };
  },
};
