// SYNPROXY target (libxt_SYNPROXY.c): parsed, listed and saved like iptables; the datapath
// does not answer SYNs on a server's behalf, so rules using it are refused.
import type { TargetModule } from '../types.ts';
import { kernelInvalid, x6Seen, x6Uint } from '../lib.ts';

export interface SynproxyData {
  sackPerm?: boolean;
  timestamp?: boolean;
  /** xt_synproxy_info keeps wscale in 8 bits and mss in 16: larger values wrap as stored. */
  wscale?: number;
  mss?: number;
  ecn?: boolean;
  seen?: string[];
}

export const SYNPROXY: TargetModule<SynproxyData> = {
  name: 'SYNPROXY',
  options: [
    { name: 'sack-perm', args: 0, invertible: true },
    { name: 'timestamp', args: 0, invertible: true },
    { name: 'wscale', args: 1, invertible: true },
    { name: 'mss', args: 1, invertible: true },
    { name: 'ecn', args: 0, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'SYNPROXY', o, inv, false);
    if (o === 'sack-perm') d.sackPerm = true;
    else if (o === 'timestamp') d.timestamp = true;
    else if (o === 'wscale') d.wscale = x6Uint('SYNPROXY', o, a[0]!, 0, 0xffffffff) & 0xff;
    else if (o === 'mss') d.mss = x6Uint('SYNPROXY', o, a[0]!, 0, 0xffffffff) & 0xffff;
    else d.ecn = true;
    return d;
  },
  finalCheck(_d, ctx) {
    // xt_SYNPROXY: tcp (not inverted), at LOCAL_IN / FORWARD only.
    if (ctx.proto?.proto !== 6 || ctx.proto.invert || ['OUTPUT', 'PREROUTING', 'POSTROUTING'].includes(ctx.chain)) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    let s = 'SYNPROXY ';
    if (d.sackPerm) s += 'sack-perm ';
    if (d.timestamp) s += 'timestamp ';
    if (d.wscale !== undefined) s += `wscale ${d.wscale} `;
    if (d.mss !== undefined) s += `mss ${d.mss} `;
    if (d.ecn) s += 'ecn ';
    return s.trimEnd();
  },
  save(d) {
    let s = '';
    if (d.sackPerm) s += ' --sack-perm';
    if (d.timestamp) s += ' --timestamp';
    if (d.wscale !== undefined) s += ` --wscale ${d.wscale}`;
    if (d.mss !== undefined) s += ` --mss ${d.mss}`;
    if (d.ecn) s += ' --ecn';
    return s.trim();
  },
  compile: () => ({ kind: 'unsupported', reason: 'SYNPROXY: the datapath does not proxy TCP handshakes' }),
};
