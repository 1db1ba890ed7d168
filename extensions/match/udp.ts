// udp match (libxt_udp.c, x6 parser: generic repeat wording naming the long option).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { portText, x6PortRange, x6Seen } from '../lib.ts';
import { portFields } from './tcp.ts';

export interface UdpData {
  spts?: [number, number];
  spInv?: boolean;
  dpts?: [number, number];
  dpInv?: boolean;
  seen?: string[];
}

function portsPrint(name: string, r: [number, number] | undefined, inv: boolean | undefined, numeric: boolean): string {
  if (!r) return '';
  const i = inv ? '!' : '';
  if (r[0] === r[1]) return ` ${name}:${i}${portText(r[0], 'udp', numeric)}`;
  return ` ${name}s:${i}${portText(r[0], 'udp', numeric)}:${portText(r[1], 'udp', numeric)}`;
}

function portsSave(name: string, r: [number, number] | undefined, inv: boolean | undefined): string {
  if (!r) return '';
  return `${inv ? ' !' : ''} --${name} ${r[0] === r[1] ? r[0] : `${r[0]}:${r[1]}`}`;
}

export const udp: MatchModule<UdpData> = {
  name: 'udp',
  options: [
    { name: 'sport', aliases: ['source-port'], args: 1, invertible: true },
    { name: 'dport', aliases: ['destination-port'], args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    const seen = (d.seen ??= []);
    const long = option === 'sport' ? 'source-port' : 'destination-port';
    x6Seen(seen, 'udp', long, invert, true);
    let r: [number, number] | undefined = x6PortRange(args[0]!);
    if (r[0] === 0 && r[1] === 65535) r = undefined;
    if (option === 'sport') {
      d.spts = r;
      if (r && invert) d.spInv = true;
    } else {
      d.dpts = r;
      if (r && invert) d.dpInv = true;
    }
    return d;
  },
  finalCheck(_d, ctx) {
    if (ctx.proto?.proto !== 17) throw parameterProblem("UDP match requires '-p udp'");
  },
  print(d, opts) {
    return 'udp' + portsPrint('spt', d.spts, d.spInv, opts.numeric) + portsPrint('dpt', d.dpts, d.dpInv, opts.numeric);
  },
  save(d) {
    return (portsSave('sport', d.spts, d.spInv) + portsSave('dport', d.dpts, d.dpInv)).trim();
  },
  equal: (a, b) => udp.save(a) === udp.save(b),
  compile(d): CompiledMatch {
    return { fields: { proto: { kind: 'ranges', ranges: [[17, 17]], invert: false }, ...portFields(d.spts, d.spInv, d.dpts, d.dpInv) } };
  },
};
