// dccp match (libxt_dccp.c): ports reach the classifier (the datapath reads DCCP ports like
// tcp/udp ones); packet types and options are a residual check after them, as dccp_mt()
// (classifier/headers.ts, bpf/headers.h).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, strtouiFull, x6PortRange, x6Seen } from '../lib.ts';
import { portFields } from './tcp.ts';

const DCCP_TYPES = ['REQUEST', 'RESPONSE', 'DATA', 'ACK', 'DATAACK', 'CLOSEREQ', 'CLOSE', 'RESET', 'SYNC', 'SYNCACK', 'INVALID'];
const INVALID_BITS = 0xfc00;

export interface DccpData {
  spts?: [number, number];
  spInv?: boolean;
  dpts?: [number, number];
  dpInv?: boolean;
  types?: number;
  typesInv?: boolean;
  option?: number;
  optInv?: boolean;
  seen?: string[];
}

function parseTypes(s: string): number {
  let mask = 0;
  for (const w of s.split(',')) {
    const i = DCCP_TYPES.indexOf(w.toUpperCase());
    if (i < 0) throw parameterProblem(`Unknown DCCP type \`${w}'`);
    mask |= i === 10 ? INVALID_BITS : 1 << i;
  }
  return mask;
}

function typesText(mask: number, numeric: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < 16; i++) {
    if (!(mask & (1 << i))) continue;
    if (numeric) out.push(String(i));
    else if (i < 10) out.push(DCCP_TYPES[i]!);
    else if (!out.includes('INVALID')) out.push('INVALID');
  }
  return out.join(',');
}

function ports(name: string, r: [number, number] | undefined, inv: boolean | undefined): string {
  if (!r) return '';
  const i = inv ? '!' : '';
  return r[0] === r[1] ? ` ${name}:${i}${r[0]}` : ` ${name}s:${i}${r[0]}:${r[1]}`;
}

function savePorts(name: string, r: [number, number] | undefined, inv: boolean | undefined): string {
  if (!r) return '';
  return `${inv ? ' !' : ''} --${name} ${r[0] === r[1] ? r[0] : `${r[0]}:${r[1]}`}`;
}

export const dccp: MatchModule<DccpData> = {
  name: 'dccp',
  options: [
    { name: 'sport', aliases: ['source-port'], args: 1, invertible: true },
    { name: 'dport', aliases: ['destination-port'], args: 1, invertible: true },
    { name: 'dccp-types', args: 1, invertible: true },
    { name: 'dccp-option', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    const long = o === 'sport' ? 'source-port' : o === 'dport' ? 'destination-port' : o;
    x6Seen((d.seen ??= []), 'dccp', long, inv, true);
    const v = a[0]!;
    const i = inv ? true : undefined;
    if (o === 'sport') [d.spts, d.spInv] = [x6PortRange(v), i];
    else if (o === 'dport') [d.dpts, d.dpInv] = [x6PortRange(v), i];
    else if (o === 'dccp-types') [d.types, d.typesInv] = [parseTypes(v), i];
    else {
      const n = strtouiFull(v, 1, 255);
      if (n === undefined) throw parameterProblem(`dccp: bad value for option "--dccp-option", or out of range (1-255).\n`);
      [d.option, d.optInv] = [n, i];
    }
    return d;
  },
  finalCheck(_d, ctx) {
    if (ctx.proto?.proto !== 33 || ctx.proto.invert) throw kernelInvalid(ctx.chain);
  },
  print(d, o) {
    let s = 'dccp' + ports('spt', d.spts, d.spInv) + ports('dpt', d.dpts, d.dpInv);
    if (d.types !== undefined) s += `${d.typesInv ? ' !' : ''} ${typesText(d.types, o.numeric)}`;
    if (d.option !== undefined) s += ` option=${d.optInv ? '!' : ''}${d.option}`;
    return s;
  },
  save(d) {
    let s = savePorts('sport', d.spts, d.spInv) + savePorts('dport', d.dpts, d.dpInv);
    if (d.types !== undefined) s += `${d.typesInv ? ' !' : ''} --dccp-types ${typesText(d.types, false)}`;
    if (d.option !== undefined) s += `${d.optInv ? ' !' : ''} --dccp-option ${d.option}`;
    return s.trim();
  },
  equal: (a, b) => dccp.save(a) === dccp.save(b),
  compile(d): CompiledMatch {
    const fields: CompiledMatch['fields'] = { proto: { kind: 'ranges', ranges: [[33, 33]], invert: false }, ...portFields(d.spts, d.spInv, d.dpts, d.dpInv) };
    if (d.types === undefined && d.option === undefined) return { fields };
    return {
      fields,
      residual: [
        {
          kind: 'dccp',
          types: d.types !== undefined ? { mask: d.types & 0xffff, invert: !!d.typesInv } : undefined,
          option: d.option !== undefined ? { option: d.option, invert: !!d.optInv } : undefined,
          invert: false,
        },
      ],
    };
  },
};
