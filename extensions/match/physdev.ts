// physdev match (libxt_physdev.c): bridge ports, which the IPv4 hooks here never see.
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { x6Seen } from '../lib.ts';

export interface PhysdevData {
  in?: string;
  inInv?: boolean;
  out?: string;
  outInv?: boolean;
  isIn?: boolean;
  isInInv?: boolean;
  isOut?: boolean;
  isOutInv?: boolean;
  bridged?: boolean;
  bridgedInv?: boolean;
  seen?: string[];
}

function text(d: PhysdevData): string {
  const p: string[] = [];
  const i = (b?: boolean) => (b ? '! ' : '');
  if (d.isIn) p.push(`${i(d.isInInv)}--physdev-is-in`);
  if (d.in !== undefined) p.push(`${i(d.inInv)}--physdev-in ${d.in}`);
  if (d.isOut) p.push(`${i(d.isOutInv)}--physdev-is-out`);
  if (d.out !== undefined) p.push(`${i(d.outInv)}--physdev-out ${d.out}`);
  if (d.bridged) p.push(`${i(d.bridgedInv)}--physdev-is-bridged`);
  return p.join(' ');
}

export const physdev: MatchModule<PhysdevData> = {
  name: 'physdev',
  options: ['physdev-in', 'physdev-out', 'physdev-is-in', 'physdev-is-out', 'physdev-is-bridged'].map((name) => ({
    name,
    args: name === 'physdev-in' || name === 'physdev-out' ? (1 as const) : (0 as const),
    invertible: true,
  })),
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'physdev', o, inv, true);
    const v = inv ? true : undefined;
    if (o === 'physdev-in') [d.in, d.inInv] = [a[0]!.slice(0, 15), v];
    else if (o === 'physdev-out') [d.out, d.outInv] = [a[0]!.slice(0, 15), v];
    else if (o === 'physdev-is-in') [d.isIn, d.isInInv] = [true, v];
    else if (o === 'physdev-is-out') [d.isOut, d.isOutInv] = [true, v];
    else [d.bridged, d.bridgedInv] = [true, v];
    return d;
  },
  finalCheck(d) {
    if (!d.seen?.length) throw parameterProblem('PHYSDEV: no physdev option specified');
  },
  print: (d) => `PHYSDEV match ${text(d)}`,
  save: (d) => text(d),
  equal: (a, b) => text(a) === text(b),
  compile: () => ({ unsupported: 'physdev: the datapath does not see bridge ports' }),
};
