// REJECT target (libipt_REJECT.c): names and aliases matched by prefix in table order.
import { KernelRejects, parameterProblem, XtablesError } from '../../parser/errors.ts';
import type { RejectWith, TargetModule } from '../types.ts';
import { x6Seen } from '../lib.ts';

export interface RejectData {
  with: RejectWith;
  seen?: string[];
}

const REJECT_TABLE: ReadonlyArray<[RejectWith, string]> = [
  ['icmp-net-unreachable', 'net-unreach'],
  ['icmp-host-unreachable', 'host-unreach'],
  ['icmp-proto-unreachable', 'proto-unreach'],
  ['icmp-port-unreachable', 'port-unreach'],
  ['icmp-net-prohibited', 'net-prohib'],
  ['icmp-host-prohibited', 'host-prohib'],
  ['tcp-reset', 'tcp-rst'],
  ['icmp-admin-prohibited', 'admin-prohib'],
];

export const REJECT: TargetModule<RejectData> = {
  name: 'REJECT',
  options: [{ name: 'reject-with', args: 1, invertible: true }],
  init: () => ({ with: 'icmp-port-unreachable' }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'REJECT', option, invert, false);
    const a = args[0]!.toLowerCase();
    if ('echo-reply'.startsWith(a)) {
      // Still in iptables' table, refused with a warning printed before the error.
      if (REJECT_TABLE.every(([n, alias]) => !n.startsWith(a) && !alias.startsWith(a))) {
        throw new XtablesError(
          `--reject-with ${args[0]} no longer supported\niptables v1.8.9 (nf_tables): unknown reject type "${args[0]}"\nTry \`iptables -h' or 'iptables --help' for more information.`,
          2,
          { raw: true },
        );
      }
    }
    const e = REJECT_TABLE.find(([n, alias]) => n.startsWith(a) || alias.startsWith(a));
    if (!e) throw parameterProblem(`unknown reject type "${args[0]}"`);
    d.with = e[0];
    return d;
  },
  finalCheck(d, ctx) {
    // Kernel reject_tg_check: tcp-reset needs a positive `-p tcp` (EINVAL otherwise).
    if (d.with === 'tcp-reset' && (ctx.proto?.proto !== 6 || ctx.proto.invert)) {
      throw new KernelRejects(ctx.chain);
    }
  },
  print: (d) => `reject-with ${d.with}`,
  save: (d) => `--reject-with ${d.with}`,
  equal: (a, b) => a.with === b.with,
  compile: (d) => ({ kind: 'reject', with: d.with }),
};
