// ecn match (libxt_ecn.c): TCP ECE / CWR flags and the IP ECT codepoint.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, rangesWhere, x6Seen, x6Uint } from '../lib.ts';

export interface EcnData {
  ece?: boolean;
  eceInv?: boolean;
  cwr?: boolean;
  cwrInv?: boolean;
  ect?: number;
  ectInv?: boolean;
  seen?: string[];
}

export const ecn: MatchModule<EcnData> = {
  name: 'ecn',
  options: [
    { name: 'ecn-tcp-cwr', args: 0, invertible: true },
    { name: 'ecn-tcp-ece', args: 0, invertible: true },
    { name: 'ecn-ip-ect', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'ecn', option, invert, true);
    const inv = invert ? true : undefined;
    if (option === 'ecn-tcp-cwr') [d.cwr, d.cwrInv] = [true, inv];
    else if (option === 'ecn-tcp-ece') [d.ece, d.eceInv] = [true, inv];
    else [d.ect, d.ectInv] = [x6Uint('ecn', 'ecn-ip-ect', args[0]!, 0, 3), inv];
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.seen?.length) throw parameterProblem('ECN match: some option required');
    if ((d.ece || d.cwr) && (ctx.proto?.proto !== 6 || ctx.proto.invert)) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    let s = 'ECN match';
    if (d.ece) s += ` ${d.eceInv ? '!' : ''}ECE`;
    if (d.cwr) s += ` ${d.cwrInv ? '!' : ''}CWR`;
    if (d.ect !== undefined) s += ` ${d.ectInv ? '!' : ''}ECT=${d.ect}`;
    return s;
  },
  save(d) {
    const p: string[] = [];
    if (d.ece) p.push(`${d.eceInv ? '! ' : ''}--ecn-tcp-ece`);
    if (d.cwr) p.push(`${d.cwrInv ? '! ' : ''}--ecn-tcp-cwr`);
    if (d.ect !== undefined) p.push(`${d.ectInv ? '! ' : ''}--ecn-ip-ect ${d.ect}`);
    return p.join(' ');
  },
  equal: (a, b) => ecn.save(a) === ecn.save(b),
  compile(d): CompiledMatch {
    const out: CompiledMatch = {};
    if (d.ece || d.cwr) {
      const want = (v: number) => (!d.ece || !!(v & 0x40) !== !!d.eceInv) && (!d.cwr || !!(v & 0x80) !== !!d.cwrInv);
      out.fields = { tcpflags: { kind: 'ranges', ranges: rangesWhere(255, want), invert: false } };
    }
    if (d.ect !== undefined) out.residual = [{ kind: 'cmp', field: 'tos', mask: 0x03, ranges: [[d.ect, d.ect]], invert: !!d.ectInv }];
    return out;
  },
};
