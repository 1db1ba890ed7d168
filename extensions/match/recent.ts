// recent match, revision 1 (libxt_recent.c): per-address time stamp lists, enforced by the
// datapath's recent lists (bpf/recent.h; model: classifier/recent.ts).
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { formatIPv4, inetAton, kernelInvalid, resolveFailure, x6Fcheck, x6Seen, x6Uint } from '../lib.ts';

export interface RecentData {
  cmd?: 'SET' | 'CHECK' | 'UPDATE' | 'REMOVE';
  invert?: boolean;
  seconds: number;
  reap?: boolean;
  hitcount: number;
  rttl?: boolean;
  name: string;
  side: 'source' | 'dest';
  mask: number;
  seen?: string[];
}

const CMDS: Record<string, RecentData['cmd']> = { set: 'SET', rcheck: 'CHECK', update: 'UPDATE', remove: 'REMOVE' };
const CMD_OF = { SET: 'set', CHECK: 'check', UPDATE: 'update', REMOVE: 'remove' } as const;
/** Time stamps the datapath keeps per address (bpf/recent.h RECENT_NSTAMPS). */
export const RECENT_MAX_HITCOUNT = 32;
const SAVE_CMD: Record<string, string> = { SET: '--set', CHECK: '--rcheck', UPDATE: '--update', REMOVE: '--remove' };

export const recent: MatchModule<RecentData> = {
  name: 'recent',
  options: [
    { name: 'set', args: 0, invertible: true },
    { name: 'rcheck', args: 0, invertible: true },
    { name: 'update', args: 0, invertible: true },
    { name: 'remove', args: 0, invertible: true },
    { name: 'seconds', args: 1, invertible: true },
    { name: 'reap', args: 0, invertible: true },
    { name: 'hitcount', args: 1, invertible: true },
    { name: 'rttl', args: 0, invertible: true },
    { name: 'name', args: 1, invertible: true },
    { name: 'rsource', args: 0, invertible: true },
    { name: 'rdest', args: 0, invertible: true },
    { name: 'mask', args: 1, invertible: true },
  ],
  init: () => ({ seconds: 0, hitcount: 0, name: 'DEFAULT', side: 'source', mask: 0xffffffff }),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'recent', option, invert, option in CMDS);
    const a = args[0] ?? '';
    switch (option) {
      case 'set':
      case 'rcheck':
      case 'update':
      case 'remove':
        d.cmd = CMDS[option];
        if (invert) d.invert = true;
        break;
      case 'seconds':
        d.seconds = x6Uint('recent', 'seconds', a, 1, 0xffffffff);
        break;
      case 'reap':
        d.reap = true;
        break;
      case 'hitcount':
        d.hitcount = x6Uint('recent', 'hitcount', a, 0, 0xffffffff);
        break;
      case 'rttl':
        d.rttl = true;
        break;
      case 'name':
        // XT_RECENT_NAME_LEN is 200 bytes including the terminator.
        d.name = a.slice(0, 199);
        break;
      case 'rsource':
        d.side = 'source';
        break;
      case 'rdest':
        d.side = 'dest';
        break;
      case 'mask': {
        // A numeric host as inet_aton reads it ("80" is 0.0.0.80), else a name lookup.
        const m = inetAton(a);
        if (m === undefined) throw parameterProblem(resolveFailure(a));
        d.mask = m;
        break;
      }
    }
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.cmd) throw parameterProblem("recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'");
    const cmds = ['set', 'rcheck', 'update', 'remove'];
    x6Fcheck(
      'recent',
      [
        { name: 'set', excl: cmds },
        { name: 'rcheck', excl: cmds },
        { name: 'update', excl: cmds },
        { name: 'remove', excl: cmds },
        { name: 'seconds' },
        { name: 'reap', also: ['seconds'] },
        { name: 'hitcount' },
        { name: 'rttl', excl: ['set', 'remove'] },
        { name: 'name' },
        { name: 'rsource' },
        { name: 'rdest' },
        { name: 'mask' },
      ],
      d.seen,
    );
    // Kernel checkentry: hit counts below 65536, names non-empty without '/', and --set /
    // --remove without --seconds, --hitcount, --reap or --rttl.
    if (d.hitcount >= 65536 || d.name === '' || d.name.includes('/')) throw kernelInvalid(ctx.chain);
    if ((d.cmd === 'SET' || d.cmd === 'REMOVE') && (d.seconds || d.hitcount || d.reap || d.rttl)) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    let s = `${d.invert ? '! ' : ''}recent: ${d.cmd}`;
    if (d.seconds) s += ` seconds: ${d.seconds}`;
    if (d.reap) s += ' reap';
    if (d.hitcount) s += ` hit_count: ${d.hitcount}`;
    if (d.rttl) s += ' TTL-Match';
    s += ` name: ${d.name} side: ${d.side} mask: ${formatIPv4(d.mask)}`;
    return s;
  },
  save(d) {
    let s = `${d.invert ? '! ' : ''}${SAVE_CMD[d.cmd ?? 'SET']}`;
    if (d.seconds) s += ` --seconds ${d.seconds}`;
    if (d.reap) s += ' --reap';
    if (d.hitcount) s += ` --hitcount ${d.hitcount}`;
    if (d.rttl) s += ' --rttl';
    s += ` --name ${d.name} --mask ${formatIPv4(d.mask)} ${d.side === 'source' ? '--rsource' : '--rdest'}`;
    return s;
  },
  equal: (a, b) => recent.save(a) === recent.save(b),
  compile: (d): CompiledMatch => {
    // The kernel keeps roundup_pow_of_two(max(ip_pkt_list_tot = 20, hitcount)) stamps per
    // address; the datapath keeps 32 (exact for every hit count up to 32).
    if (d.hitcount > RECENT_MAX_HITCOUNT) {
      return { unsupported: `recent: --hitcount ${d.hitcount} is above ${RECENT_MAX_HITCOUNT} (the datapath keeps ${RECENT_MAX_HITCOUNT} time stamps per address)` };
    }
    return {
      residual: [
        {
          kind: 'recent',
          cmd: CMD_OF[d.cmd ?? 'SET'],
          name: d.name,
          side: d.side,
          mask: d.mask >>> 0,
          seconds: d.seconds,
          hitcount: d.hitcount,
          reap: d.reap === true,
          rttl: d.rttl === true,
          invert: d.invert === true,
        },
      ],
    };
  },
};
