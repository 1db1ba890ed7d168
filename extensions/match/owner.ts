// owner match, revision 1 (libxt_owner.c): socket owner of locally generated packets.
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch, OwnerCheck } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, strtouiFull, x6Seen } from '../lib.ts';
import { groupId, groupName, userId, userName } from '../users.ts';

/** The options as the datapath checks them (classifier/fields.ts), plus parse state. */
export interface OwnerData extends OwnerCheck {
  seen?: string[];
}

function parseIds(option: string, s: string, lookup: (n: string) => number | undefined): [number, number] {
  const bad = () => parameterProblem(`owner: Bad value for "--${option}" option: "${s}"`);
  const named = lookup(s);
  if (named !== undefined) return [named, named];
  const dash = s.indexOf('-');
  const lo = strtouiFull(dash < 0 ? s : s.slice(0, dash), 0, 0xfffffffe);
  const hi = dash < 0 ? lo : strtouiFull(s.slice(dash + 1), 0, 0xfffffffe);
  if (lo === undefined || hi === undefined) throw bad();
  return [lo, hi];
}

function idText(r: [number, number], numeric: boolean, name: (id: number) => string | undefined): string {
  if (r[0] !== r[1]) return `${r[0]}-${r[1]}`;
  return (!numeric && name(r[0])) || String(r[0]);
}

export const owner: MatchModule<OwnerData> = {
  name: 'owner',
  options: [
    { name: 'uid-owner', args: 1, invertible: true },
    { name: 'gid-owner', args: 1, invertible: true },
    { name: 'socket-exists', args: 0, invertible: true },
    { name: 'suppl-groups', args: 0, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'owner', option, invert, option !== 'suppl-groups');
    switch (option) {
      case 'uid-owner':
        d.uid = parseIds(option, args[0]!, userId);
        if (invert) d.uidInv = true;
        break;
      case 'gid-owner':
        d.gid = parseIds(option, args[0]!, groupId);
        if (invert) d.gidInv = true;
        break;
      case 'socket-exists':
        d.socket = true;
        if (invert) d.socketInv = true;
        break;
      case 'suppl-groups':
        if (!d.gid) throw parameterProblem('owner: Bad value for "--suppl-groups" option: "you need to use --gid-owner first"');
        d.suppl = true;
        break;
    }
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.uid && !d.gid && !d.socket) throw parameterProblem('owner: At least one of --uid-owner, --gid-owner or --socket-exists is required');
    if ((d.uid && d.uid[0] > d.uid[1]) || (d.gid && d.gid[0] > d.gid[1])) throw kernelInvalid(ctx.chain);
    // Kernel: only LOCAL_OUT and POST_ROUTING see the owning socket.
    if (['INPUT', 'FORWARD', 'PREROUTING'].includes(ctx.chain)) throw kernelInvalid(ctx.chain);
  },
  print(d, opts) {
    const parts: string[] = [];
    if (d.socket) parts.push(`${d.socketInv ? '! ' : ''}owner socket exists`);
    if (d.uid) parts.push(`${d.uidInv ? '! ' : ''}owner UID match ${idText(d.uid, opts.numeric, userName)}`);
    if (d.gid) parts.push(`${d.gidInv ? '! ' : ''}owner GID match ${idText(d.gid, opts.numeric, groupName)}`);
    if (d.suppl) parts.push('incl. suppl. groups');
    return parts.join(' ');
  },
  save(d) {
    const parts: string[] = [];
    if (d.socket) parts.push(`${d.socketInv ? '! ' : ''}--socket-exists`);
    if (d.uid) parts.push(`${d.uidInv ? '! ' : ''}--uid-owner ${idText(d.uid, true, userName)}`);
    if (d.gid) parts.push(`${d.gidInv ? '! ' : ''}--gid-owner ${idText(d.gid, true, groupName)}`);
    if (d.suppl) parts.push('--suppl-groups');
    return parts.join(' ');
  },
  equal: (a, b) => owner.save(a) === owner.save(b),
  compile: (d): CompiledMatch => ({
    residual: [
      {
        kind: 'owner',
        owner: { uid: d.uid, uidInv: d.uidInv, gid: d.gid, gidInv: d.gidInv, socket: d.socket, socketInv: d.socketInv, suppl: d.suppl },
        invert: false,
      },
    ],
  }),
};
