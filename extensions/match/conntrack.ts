// conntrack match, revision 3 (libxt_conntrack.c), and the state match, which iptables 1.8.9
// implements as an alias of it (same print/save routine with the "state" spelling).
// Only --ctstate / --state (without SNAT/DNAT) reaches the datapath, as the ctstate field.
import { parameterProblem } from '../../parser/errors.ts';
import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED, CT_UNTRACKED } from '../../classifier/fields.ts';
import type { CompiledMatch, CtField, ResidualCheck } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import type { Rule } from '../../ruleset/types.ts';
import { complementRanges, formatIPv4, maskLength, parseIPv4, x6PortRange, prefixMask, strtoumax, resolveFailure, x6Mint, x6Seen } from '../lib.ts';
import { PROTO_NAMES } from '../protocols.ts';

/** State bits in print order (xt_conntrack's XT_CONNTRACK_STATE_* order as print_state walks it). */
const STATES: ReadonlyArray<[string, number]> = [
  ['INVALID', 1 << 0],
  ['NEW', 1 << 1],
  ['RELATED', 1 << 2],
  ['ESTABLISHED', 1 << 3],
  ['UNTRACKED', 1 << 4],
  ['SNAT', 1 << 5],
  ['DNAT', 1 << 6],
];
const STATE_CT: Record<string, number> = { INVALID: CT_INVALID, NEW: CT_NEW, RELATED: CT_RELATED, ESTABLISHED: CT_ESTABLISHED, UNTRACKED: CT_UNTRACKED };

const STATUSES: ReadonlyArray<[string, number]> = [
  ['EXPECTED', 1 << 0],
  ['SEEN_REPLY', 1 << 1],
  ['ASSURED', 1 << 2],
  ['CONFIRMED', 1 << 3],
];

export interface HostMask {
  addr: number;
  mask: number;
}

export interface ConntrackData {
  /** Options in canonical print order, each with its inversion. */
  state?: number;
  stateInv?: boolean;
  proto?: number;
  protoInv?: boolean;
  origsrc?: HostMask;
  origsrcInv?: boolean;
  origdst?: HostMask;
  origdstInv?: boolean;
  replsrc?: HostMask;
  replsrcInv?: boolean;
  repldst?: HostMask;
  repldstInv?: boolean;
  origsrcport?: [number, number];
  origsrcportInv?: boolean;
  origdstport?: [number, number];
  origdstportInv?: boolean;
  replsrcport?: [number, number];
  replsrcportInv?: boolean;
  repldstport?: [number, number];
  repldstportInv?: boolean;
  status?: number;
  statusInv?: boolean;
  expires?: [number, number];
  expiresInv?: boolean;
  dir?: 'ORIGINAL' | 'REPLY';
  seen?: string[];
}

function parseList(list: ReadonlyArray<[string, number]>, s: string, what: string, allowNone: boolean): number {
  let mask = 0;
  for (const w of s.split(',')) {
    if (allowNone && w.toUpperCase() === 'NONE') continue;
    const e = list.find(([n]) => n === w.toUpperCase());
    if (!e || w === '') throw parameterProblem(`Bad ${what} "${s.slice(s.indexOf(w))}"`);
    mask |= e[1];
  }
  return mask;
}

/** iptables reports the rest of the list from the bad word on; reproduce with the word's offset. */
function parseStates(s: string, what: 'ctstate' | 'state'): number {
  let mask = 0;
  let offset = 0;
  for (const w of s.split(',')) {
    const e = STATES.find(([n]) => n === w.toUpperCase());
    if (!e || (what === 'state' && e[1] >= 1 << 5)) throw parameterProblem(`Bad ${what} "${s.slice(offset)}"`);
    mask |= e[1];
    offset += w.length + 1;
  }
  return mask;
}

function listText(list: ReadonlyArray<[string, number]>, mask: number): string {
  if (mask === 0) return 'NONE';
  return list.filter(([, b]) => mask & b).map(([n]) => n).join(',');
}

export function parseHostMask(s: string): HostMask {
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  const addr = parseIPv4(host);
  if (addr === undefined) throw parameterProblem(resolveFailure(host));
  let len = 32;
  if (slash >= 0) {
    const m = s.slice(slash + 1);
    const n = /^\d+$/.test(m) ? Number(m) : NaN;
    // What iptables-nft stores for a dotted or out-of-range mask lists as a host (/32).
    len = n >= 0 && n <= 32 ? n : 32;
  }
  return { addr, mask: prefixMask(len) };
}

function hostMaskText(h: HostMask, numeric: boolean): string {
  if (!numeric && h.addr === 0) return 'anywhere';
  const len = maskLength(h.mask);
  return formatIPv4(h.addr) + (len === 32 ? '' : len >= 0 ? `/${len}` : `/${formatIPv4(h.mask)}`);
}

function parsePortRC(s: string): [number, number] {
  return x6PortRange(s);
}

const ADDR_OPTS = ['origsrc', 'origdst', 'replsrc', 'repldst'] as const;
const PORT_OPTS = ['origsrcport', 'origdstport', 'replsrcport', 'repldstport'] as const;

function dump(d: ConntrackData, prefix: string, numeric: boolean, stateName: 'ctstate' | 'state'): string {
  const out: string[] = [];
  const inv = (b: boolean | undefined) => (b ? '! ' : '');
  if (d.state !== undefined) out.push(`${inv(d.stateInv)}${prefix}${stateName} ${listText(STATES, d.state)}`);
  if (d.proto !== undefined) out.push(`${inv(d.protoInv)}${prefix}ctproto ${d.proto}`);
  for (const o of ADDR_OPTS) {
    const h = d[o];
    if (h) out.push(`${inv(d[`${o}Inv`])}${prefix}ct${o} ${hostMaskText(h, numeric || prefix !== '')}`);
  }
  for (const o of PORT_OPTS) {
    const p = d[o];
    if (p) out.push(`${inv(d[`${o}Inv`])}${prefix}ct${o} ${p[0] === p[1] ? p[0] : `${p[0]}:${p[1]}`}`);
  }
  if (d.status !== undefined) out.push(`${inv(d.statusInv)}${prefix}ctstatus ${listText(STATUSES, d.status)}`);
  if (d.expires) out.push(`${inv(d.expiresInv)}${prefix}ctexpire ${d.expires[0] === d.expires[1] ? d.expires[0] : `${d.expires[0]}:${d.expires[1]}`}`);
  if (d.dir) out.push(`${prefix}ctdir ${d.dir}`);
  return out.join(' ');
}

function parseProto(s: string): number {
  const n = strtoumax(s, 10);
  if (n && n.end === s.length && /^\d+$/.test(s)) {
    if (n.value <= 255n) return Number(n.value);
    throw parameterProblem(`unknown protocol "${s}" specified`);
  }
  if (s.toLowerCase() === 'all') return 0;
  const p = PROTO_NAMES.get(s.toLowerCase());
  if (p === undefined) throw parameterProblem(`unknown protocol "${s}" specified`);
  return p;
}

/** The tuple options, as 'ct' residual checks over the packet's connection (bpf/content.h R_CT). */
function compileTuple(d: ConntrackData): ResidualCheck[] {
  const untracked = d.state !== undefined;
  const out: ResidualCheck[] = [];
  const add = (field: CtField, mask: number, ranges: Array<[number, number]>, invert: boolean) => out.push({ kind: 'ct', field, mask: mask >>> 0, ranges, invert, untracked });
  if (d.dir) add('dir', 1, [[d.dir === 'REPLY' ? 1 : 0, d.dir === 'REPLY' ? 1 : 0]], false);
  for (const k of ADDR_OPTS) {
    const hm = d[k];
    if (hm) add(k, hm.mask, [[(hm.addr & hm.mask) >>> 0, (hm.addr & hm.mask) >>> 0]], !!d[`${k}Inv`]);
  }
  for (const k of PORT_OPTS) {
    const r = d[k];
    if (r) add(k, 0xffff, [[r[0], r[1]]], !!d[`${k}Inv`]);
  }
  if (d.proto !== undefined) add('proto', 0xff, [[d.proto, d.proto]], !!d.protoInv);
  // conntrack_mt(): any of the given IPS_* bits set (NONE: none given, never).
  if (d.status !== undefined) add('status', d.status, [[1, 0xffffffff]], !!d.statusInv);
  if (d.expires !== undefined) add('expire', 0xffffffff, [[d.expires[0], d.expires[1]]], !!d.expiresInv);
  return out;
}

/** Protocols whose conntrack timers the datapath's tracker keeps as the kernel (udp, udplite, icmp). */
const EXPIRE_EXACT = new Set([1, 17, 136]);

function compileState(d: ConntrackData, rule: Readonly<Rule>): CompiledMatch {
  // TCP's timers depend on window tracking (unacknowledged data, retransmissions) the tracker
  // does not do, SCTP / DCCP / GRE have their own: --ctexpire only where the rule's connections
  // are udp / udplite / icmp ones (-p or --ctproto, not inverted).
  if (d.expires !== undefined) {
    const p = rule.proto && !rule.proto.invert ? rule.proto.proto : d.proto !== undefined && !d.protoInv ? d.proto : undefined;
    if (p === undefined || !EXPIRE_EXACT.has(p)) return { unsupported: "conntrack --ctexpire: only for -p udp / udplite / icmp (the datapath's TCP, SCTP and DCCP timers are not the kernel's)" };
  }
  const residual = compileTuple(d);
  const withTuple = (m: CompiledMatch): CompiledMatch => (residual.length ? { ...m, residual } : m);
  if (d.state === undefined) return withTuple({});
  if (d.state & ((1 << 5) | (1 << 6))) return { unsupported: 'conntrack --ctstate SNAT/DNAT: nat is not enforced by the datapath' };
  const ranges: Array<[number, number]> = STATES.filter(([n, b]) => d.state! & b && STATE_CT[n] !== undefined).map(([n]) => [STATE_CT[n]!, STATE_CT[n]!]);
  return withTuple({ fields: { ctstate: { kind: 'ranges', ranges: d.stateInv ? complementRanges(ranges, 7) : ranges, invert: false } } });
}

export const conntrack: MatchModule<ConntrackData> = {
  name: 'conntrack',
  options: [
    { name: 'ctstate', args: 1, invertible: true },
    { name: 'ctproto', args: 1, invertible: true },
    { name: 'ctorigsrc', args: 1, invertible: true },
    { name: 'ctorigdst', args: 1, invertible: true },
    { name: 'ctreplsrc', args: 1, invertible: true },
    { name: 'ctrepldst', args: 1, invertible: true },
    { name: 'ctstatus', args: 1, invertible: true },
    { name: 'ctexpire', args: 1, invertible: true },
    { name: 'ctorigsrcport', args: 1, invertible: true },
    { name: 'ctorigdstport', args: 1, invertible: true },
    { name: 'ctreplsrcport', args: 1, invertible: true },
    { name: 'ctrepldstport', args: 1, invertible: true },
    { name: 'ctdir', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'conntrack', option, invert, option !== 'ctdir');
    const a = args[0]!;
    const inv = invert ? true : undefined;
    switch (option) {
      case 'ctstate':
        d.state = parseStates(a, 'ctstate');
        d.stateInv = inv;
        break;
      case 'ctproto':
        d.proto = parseProto(a);
        d.protoInv = inv;
        break;
      case 'ctstatus':
        d.status = parseList(STATUSES, a, 'ctstatus', true);
        d.statusInv = inv;
        break;
      case 'ctexpire': {
        const r = x6Mint('conntrack', 'ctexpire', a, 0xffffffffn).map(Number);
        d.expires = [r[0]!, r.length > 1 ? r[1]! : r[0]!];
        d.expiresInv = inv;
        break;
      }
      case 'ctdir':
        if (a !== 'ORIGINAL' && a !== 'REPLY') throw parameterProblem(`conntrack: Bad value for "--ctdir" option: "${a}"`);
        d.dir = a;
        break;
      default: {
        const key = option.slice(2) as (typeof ADDR_OPTS)[number] | (typeof PORT_OPTS)[number];
        if ((PORT_OPTS as readonly string[]).includes(key)) {
          (d as Record<string, unknown>)[key] = parsePortRC(a);
        } else {
          (d as Record<string, unknown>)[key] = parseHostMask(a);
        }
        (d as Record<string, unknown>)[`${key}Inv`] = inv;
      }
    }
    return d;
  },
  finalCheck(d) {
    if (!d.seen?.length) throw parameterProblem('conntrack: At least one option is required');
  },
  print: (d, o) => dump(d, '', o.numeric, 'ctstate'),
  save: (d) => dump(d, '--', true, 'ctstate'),
  equal: (a, b) => conntrack.save(a) === conntrack.save(b),
  compile: (d, rule) => compileState(d, rule),
};

export interface StateData {
  state?: number;
  stateInv?: boolean;
  seen?: string[];
}

export const state: MatchModule<StateData> = {
  name: 'state',
  options: [{ name: 'state', args: 1, invertible: true }],
  init: () => ({}),
  parse(d, option, args, invert) {
    x6Seen((d.seen ??= []), 'state', option, invert, true);
    d.state = parseStates(args[0]!, 'state');
    if (invert) d.stateInv = true;
    return d;
  },
  finalCheck(d) {
    if (d.state === undefined) throw parameterProblem('state: option "--state" must be specified\n');
  },
  print: (d, o) => dump(d, '', o.numeric, 'state'),
  save: (d) => dump(d, '--', true, 'state'),
  equal: (a, b) => state.save(a) === state.save(b),
  compile: (d, rule) => compileState(d, rule),
};
