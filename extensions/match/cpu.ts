// cpu match (libxt_cpu.c).
import type { MatchModule } from '../types.ts';
import { x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface CpuData {
  cpu: number;
  invert?: boolean;
  seen?: string[];
}

export const cpu: MatchModule<CpuData> = {
  name: 'cpu',
  options: [{ name: 'cpu', args: 1, invertible: true }],
  init: () => ({ cpu: 0 }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'cpu', option, invert, true);
    d.cpu = x6Uint('cpu', 'cpu', args[0]!, 0, 0xffffffff);
    if (invert) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('cpu', [{ name: 'cpu', mand: true }], d.seen),
  print: (d) => `cpu ${d.invert ? '! ' : ''}${d.cpu}`,
  save: (d) => `${d.invert ? '! ' : ''}--cpu ${d.cpu}`,
  equal: (a, b) => a.cpu === b.cpu && !!a.invert === !!b.invert,
  // xt_cpu: smp_processor_id() == cpu, XOR invert (bpf_get_smp_processor_id()).
  compile: (d) => ({ residual: [{ kind: 'cpu', cpu: d.cpu >>> 0, invert: !!d.invert }] }),
};
