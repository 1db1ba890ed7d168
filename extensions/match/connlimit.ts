// connlimit match, revision 1 (libxt_connlimit.c).
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { maskLength, parseIPv4, strtouiFull, x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface ConnlimitData {
  limit: number;
  above: boolean;
  mask: number;
  daddr?: boolean;
  seen?: string[];
}

export const connlimit: MatchModule<ConnlimitData> = {
  name: 'connlimit',
  options: [
    { name: 'connlimit-upto', args: 1, invertible: true },
    { name: 'connlimit-above', args: 1, invertible: true },
    { name: 'connlimit-mask', args: 1, invertible: true },
    { name: 'connlimit-saddr', args: 0, invertible: true },
    { name: 'connlimit-daddr', args: 0, invertible: true },
  ],
  init: () => ({ limit: 0, above: true, mask: 32 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'connlimit', o, inv, o === 'connlimit-upto' || o === 'connlimit-above');
    switch (o) {
      case 'connlimit-upto':
      case 'connlimit-above':
        d.limit = x6Uint('connlimit', o, a[0]!, 0, 0xffffffff);
        d.above = (o === 'connlimit-above') !== inv;
        break;
      case 'connlimit-mask': {
        // XTTYPE_PLENMASK: a prefix length or a contiguous dotted netmask.
        const bad = () => parameterProblem(`connlimit: bad value for option "--connlimit-mask", neither a valid network mask nor valid CIDR (0-32).\n`);
        const dotted = a[0]!.includes('.') ? parseIPv4(a[0]!) : undefined;
        const m = dotted !== undefined ? maskLength(dotted) : strtouiFull(a[0]!, 0, 0xffffffff, 10);
        if (m === undefined || m < 0) throw bad();
        // iptables-nft keeps at most a /32 prefix.
        d.mask = Math.min(m, 32);
        break;
      }
      case 'connlimit-saddr':
        d.daddr = undefined;
        break;
      case 'connlimit-daddr':
        d.daddr = true;
        break;
    }
    return d;
  },
  finalCheck(d) {
    const seen = d.seen ?? [];
    if (!seen.includes('connlimit-upto') && !seen.includes('connlimit-above')) throw parameterProblem('You must specify "--connlimit-above" or "--connlimit-upto".');
    x6Fcheck(
      'connlimit',
      [
        { name: 'connlimit-upto', excl: ['connlimit-above'] },
        { name: 'connlimit-above', excl: ['connlimit-upto'] },
        { name: 'connlimit-mask' },
        { name: 'connlimit-saddr', excl: ['connlimit-daddr'] },
        { name: 'connlimit-daddr', excl: ['connlimit-saddr'] },
      ],
      seen,
    );
  },
  print: (d) => `#conn ${d.daddr ? 'dst' : 'src'}/${d.mask} ${d.above ? '>' : '<='} ${d.limit}`,
  save: (d) => `--connlimit-${d.above ? 'above' : 'upto'} ${d.limit} --connlimit-mask ${d.mask} --connlimit-${d.daddr ? 'daddr' : 'saddr'}`,
  equal: (a, b) => connlimit.save(a) === connlimit.save(b),
  compile: (d) => ({ residual: [{ kind: 'connlimit', limit: d.limit, mask: d.mask ? (0xffffffff << (32 - d.mask)) >>> 0 : 0, daddr: !!d.daddr, invert: !d.above }] }),
};
