// osf match (libxt_osf.c): passive OS fingerprinting. Parsed, listed and saved like iptables;
// the datapath keeps no fingerprints, so rules using it are refused.
import type { MatchModule } from '../types.ts';
import { kernelInvalid, unsupported, x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface OsfData {
  genre: string;
  invert?: boolean;
  ttl?: number;
  log?: number;
  seen?: string[];
}

export const osf: MatchModule<OsfData> = {
  name: 'osf',
  options: [
    { name: 'genre', args: 1, invertible: true },
    { name: 'ttl', args: 1, invertible: true },
    { name: 'log', args: 1, invertible: true },
  ],
  init: () => ({ genre: '' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'osf', o, inv, o === 'genre');
    if (o === 'genre') {
      // XTOPT_PUT into genre[MAXGENRELEN = 32]: longer text is cut.
      d.genre = a[0]!.slice(0, 31);
      if (inv) d.invert = true;
    } else if (o === 'ttl') d.ttl = x6Uint('osf', o, a[0]!, 0, 2);
    else d.log = x6Uint('osf', o, a[0]!, 0, 2);
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('osf', [{ name: 'genre', mand: true }, { name: 'ttl' }, { name: 'log' }], d.seen);
    // xt_osf: tcp only (not inverted), before routing, locally in or forwarded.
    if (ctx.proto?.proto !== 6 || ctx.proto.invert || ['OUTPUT', 'POSTROUTING'].includes(ctx.chain)) throw kernelInvalid(ctx.chain);
  },
  print: (d) => `OS fingerprint match ${d.invert ? '! ' : ''}${d.genre}`,
  save(d) {
    let s = `${d.invert ? '! ' : ''}--genre ${d.genre}`;
    if (d.ttl !== undefined) s += ` --ttl ${d.ttl}`;
    if (d.log !== undefined) s += ` --log ${d.log}`;
    return s;
  },
  compile: () => unsupported('osf: the datapath keeps no OS fingerprints'),
};
