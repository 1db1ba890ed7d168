// nfacct match (libxt_nfacct.c): counts in a named nfnetlink_acct object. Parsed, listed and
// saved like iptables; the kernel refuses a name with no such object (ENOENT), and this pure
// core cannot see any, so every such rule ends as the kernel's refusal of an unknown name.
import { KernelRejects, parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { saveString, unsupported, x6Fcheck, x6Seen } from '../lib.ts';

export interface NfacctData {
  name: string;
  seen?: string[];
}

export const nfacct: MatchModule<NfacctData> = {
  name: 'nfacct',
  options: [{ name: 'nfacct-name', args: 1, invertible: true }],
  init: () => ({ name: '' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'nfacct', o, inv, false);
    const v = a[0]!;
    if (v.length < 1) throw parameterProblem('Argument must have a minimum length of 1 characters\n');
    if (v.includes('\n')) throw parameterProblem('Newlines not allowed in --nfacct-name');
    // XTOPT_PUT into name[NFACCT_NAME_MAX = 32].
    d.name = v.slice(0, 31);
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('nfacct', [{ name: 'nfacct-name', mand: true }], d.seen);
    throw new KernelRejects(ctx.chain, 'No such file or directory');
  },
  // nfacct_print_name ends in a space and xtables_save_string starts with one: two spaces.
  print: (d) => `nfacct-name  ${saveString(d.name)}`,
  save: (d) => `--nfacct-name  ${saveString(d.name)}`,
  compile: () => unsupported('nfacct: the datapath keeps no nfacct objects'),
};
