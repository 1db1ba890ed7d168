// esp (libxt_esp.c), ah (libipt_ah.c) and ipcomp (libxt_ipcomp.c): SPI ranges of IPsec headers.
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, x6Seen, x6UintRange } from '../lib.ts';

export interface SpiData {
  spis?: [number, number];
  invert?: boolean;
  compres?: boolean;
  seen?: string[];
}

function spiModule(name: 'esp' | 'ah' | 'ipcomp', option: string, proto: number, label: string): MatchModule<SpiData> {
  const mod: MatchModule<SpiData> = {
    name,
    options: [{ name: option, args: 1, invertible: true }, ...(name === 'ipcomp' ? [{ name: 'compres', args: 0 as const, invertible: true }] : [])],
    init: () => ({}),
    parse(d, opt, args, invert) {
      x6Seen((d.seen ??= []), name, opt, invert, opt === option);
      if (opt === 'compres') d.compres = true;
      else {
        const r = x6UintRange(name, option, args[0]!, 0xffffffff);
        // The full range is no condition (iptables lists the bare match).
        d.spis = r[0] === 0 && r[1] === 0xffffffff && !invert ? undefined : r;
        if (invert) d.invert = true;
      }
      return d;
    },
    finalCheck(_d, ctx) {
      if (ctx.proto?.proto !== proto || ctx.proto.invert) throw kernelInvalid(ctx.chain);
    },
    print(d) {
      if (name === 'ipcomp' && !d.spis) d = { ...d, spis: [0, 0] };
      let s = name === 'ah' ? 'ah ' : label;
      if (d.spis) {
        const inv = d.invert ? '!' : '';
        const t = d.spis[0] === d.spis[1] ? `spi:${inv}${d.spis[0]}` : `spis:${inv}${d.spis[0]}:${d.spis[1]}`;
        s += name === 'ah' ? t : ` ${t}`;
      }
      if (d.compres) s += ' reserved';
      return s;
    },
    save(d) {
      // iptables-nft lists the ipcomp SPI even when none was given (0).
      if (name === 'ipcomp' && !d.spis) d = { ...d, spis: [0, 0] };
      const p: string[] = [];
      if (d.spis) p.push(`${d.invert ? '! ' : ''}--${option} ${d.spis[0] === d.spis[1] ? d.spis[0] : `${d.spis[0]}:${d.spis[1]}`}`);
      if (d.compres) p.push('--compres');
      return p.join(' ');
    },
    equal: (a, b) => mod.save(a) === mod.save(b),
    // The proto key of the unfragmented protocol: a non-first fragment never matches, inverted
    // or not (the kernel's `fragoff != 0 → false`); the SPI check hotdrops a short header.
    compile: (d): CompiledMatch => ({
      fields: { proto: { kind: 'ranges', ranges: [[proto, proto]], invert: false } },
      residual: [{ kind: 'spi', proto: name, lo: d.spis?.[0] ?? 0, hi: d.spis?.[1] ?? 0xffffffff, invert: !!d.invert }],
    }),
  };
  return mod;
}

export const esp = spiModule('esp', 'espspi', 50, 'esp');
export const ah = spiModule('ah', 'ahspi', 51, 'ah');
export const ipcomp = spiModule('ipcomp', 'ipcompspi', 108, 'comp');
