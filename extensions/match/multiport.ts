// multiport match, revision 1 (libxt_multiport.c): up to 15 ports, a range counting as two.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule, ParseContext } from '../types.ts';
import { complementRanges, parsePort, portText, x6Excl, x6Once } from '../lib.ts';

export interface MultiportData {
  /** Which ports: 'sports' | 'dports' | 'ports' (either). */
  kind?: 'sports' | 'dports' | 'ports';
  /** Entries: single port or [lo, hi] range. */
  ports: Array<number | [number, number]>;
  invert?: boolean;
  /** Protocol name used for service lookups and printing. */
  proto?: string;
  seen?: string[];
}

const L4_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 136: 'udplite', 132: 'sctp', 33: 'dccp' };

function checkProto(ctx: ParseContext): string {
  if (ctx.proto?.invert) throw parameterProblem('multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP');
  if (!ctx.proto || ctx.proto.proto === 0) throw parameterProblem("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
  const name = L4_NAMES[ctx.proto.proto];
  if (!name) throw parameterProblem('multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP');
  return name;
}

const LONG: Record<string, string> = { sports: 'source-ports', dports: 'destination-ports', ports: 'ports' };

export const multiport: MatchModule<MultiportData> = {
  name: 'multiport',
  options: [
    { name: 'sports', aliases: ['source-ports'], args: 1, invertible: true },
    { name: 'dports', aliases: ['destination-ports'], args: 1, invertible: true },
    { name: 'ports', args: 1, invertible: true },
  ],
  init: () => ({ ports: [] }),
  parse(d, option, args, invert, ctx) {
    const opt = option as 'sports' | 'dports' | 'ports';
    const seen = (d.seen ??= []);
    if (seen.includes(opt)) throw x6Once('multiport', LONG[opt]!);
    seen.push(opt);
    const proto = checkProto(ctx);
    const ports: Array<number | [number, number]> = [];
    let count = 0;
    for (const item of args[0]!.split(',')) {
      if (count >= 15) throw parameterProblem('too many ports specified');
      const c = item.indexOf(':');
      if (c >= 0) {
        if (count + 2 > 15) throw parameterProblem('too many ports specified');
        const lo = parsePort(item.slice(0, c), proto);
        const hi = parsePort(item.slice(c + 1), proto);
        if (lo >= hi) throw parameterProblem('invalid portrange specified');
        ports.push([lo, hi]);
        count += 2;
      } else {
        ports.push(parsePort(item, proto));
        count++;
      }
    }
    d.kind = opt;
    d.ports = ports;
    d.proto = proto;
    if (invert) d.invert = true;
    return d;
  },
  finalCheck(d) {
    if (!d.kind) throw parameterProblem('multiport expection an option');
    // xtables_options_fcheck: exclusions reported in option-table order.
    const set = (['sports', 'dports', 'ports'] as const).filter((k) => d.seen?.includes(k));
    if (set.length > 1) throw x6Excl('multiport', LONG[set[0]!]!, LONG[set[1]!]!);
  },
  print(d, opts) {
    const list = d.ports
      .map((p) => (typeof p === 'number' ? portText(p, d.proto ?? '', opts.numeric) : `${portText(p[0], d.proto ?? '', opts.numeric)}:${portText(p[1], d.proto ?? '', opts.numeric)}`))
      .join(',');
    return `multiport ${d.kind} ${d.invert ? ' !' : ''}${list}`;
  },
  save(d) {
    const list = d.ports.map((p) => (typeof p === 'number' ? `${p}` : `${p[0]}:${p[1]}`)).join(',');
    return `${d.invert ? '! ' : ''}--${d.kind} ${list}`;
  },
  equal: (a, b) => multiport.save(a) === multiport.save(b) && a.proto === b.proto,
  compile(d, rule): CompiledMatch {
    const pos: Array<[number, number]> = d.ports.map((p) => (typeof p === 'number' ? [p, p] : [p[0], p[1]]));
    const protoNum = rule.proto?.proto ?? 0;
    // Like the port matches, multiport never matches non-first fragments or packets
    // without ports (kernel: fragoff != 0 -> false; unreadable header -> hotdrop).
    const proto = { kind: 'ranges' as const, ranges: [[protoNum, protoNum]] as Array<[number, number]>, invert: false };
    if (d.kind === 'ports') {
      // Inverted either-port: neither port in the set; still requires ports (not NO_L4).
      const residual = [{ kind: 'either' as const, ranges: pos, invert: !!d.invert }];
      return { fields: { proto, sport: { kind: 'ranges', ranges: [[0, 65535]], invert: false } }, residual };
    }
    const ranges = d.invert ? complementRanges(pos, 65535) : pos;
    return { fields: { proto, [d.kind === 'sports' ? 'sport' : 'dport']: { kind: 'ranges', ranges, invert: false } } };
  },
};
