// Targets the datapath cannot perform, parsed / listed / saved as iptables 1.8.9 does:
// NFLOG, NFQUEUE, CONNMARK, AUDIT, CLASSIFY, TRACE, NOTRACK, CT, TCPMSS, TOS, DSCP, CHECKSUM,
// TTL, ECN, IDLETIMER, TEE, NETMAP, SET. Table / hook restrictions that the kernel enforces in
// checkentry are reproduced as its EINVAL (exit 4).
import { KernelRejects, parameterProblem, XtablesError } from '../../parser/errors.ts';
import type { TableName } from '../../ruleset/types.ts';
import type { DatapathAction, ParseContext, TargetModule } from '../types.ts';
import { formatIPv4, kernelInvalid, parseIPv4, resolveFailure, saveString, strtouiFull, x6Bad, x6Fcheck, x6Mint, x6Seen, x6Uint } from '../lib.ts';
import { dscpClass, hex2 } from '../match/dscp.ts';
import { parseTos, tosName } from '../match/tos.ts';
import { parseMarkMask } from './MARK.ts';
import { truncateBytes } from './LOG.ts';

const no = (name: string, why: string) => (): DatapathAction => ({ kind: 'unsupported', reason: `${name}: ${why}` });

function onlyTables(ctx: ParseContext, tables: readonly TableName[]): void {
  if (!tables.includes(ctx.table)) throw kernelInvalid(ctx.chain);
}

// ---------------------------------------------------------------------------------------------
export interface NflogData {
  group: number;
  prefix: string;
  size?: number;
  threshold: number;
  seen?: string[];
}
export const NFLOG: TargetModule<NflogData> = {
  name: 'NFLOG',
  options: ['nflog-group', 'nflog-prefix', 'nflog-range', 'nflog-size', 'nflog-threshold'].map((name) => ({ name, args: 1 as const, invertible: true })),
  init: () => ({ group: 0, prefix: '', threshold: 1 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'NFLOG', o, inv, false);
    const v = a[0]!;
    switch (o) {
      case 'nflog-group':
        d.group = x6Uint('NFLOG', o, v, 0, 65535);
        break;
      case 'nflog-prefix':
        if (v.length === 0) throw parameterProblem('Argument must have a minimum length of 1 characters\n');
        d.prefix = truncateBytes(v, 63);
        break;
      case 'nflog-range':
        // iptables-nft has no range (nft log has no such field): accepted, not kept.
        x6Uint('NFLOG', o, v, 0, 0xffffffff);
        break;
      case 'nflog-size':
        d.size = x6Uint('NFLOG', o, v, 0, 0xffffffff);
        break;
      case 'nflog-threshold':
        d.threshold = x6Uint('NFLOG', o, v, 0, 65535);
        break;
    }
    return d;
  },
  finalCheck: (d) => x6Fcheck('NFLOG', [{ name: 'nflog-group' }, { name: 'nflog-prefix' }, { name: 'nflog-range', excl: ['nflog-size'] }, { name: 'nflog-size', excl: ['nflog-range'] }, { name: 'nflog-threshold' }], d.seen),
  print: (d) => nflogText(d, ''),
  save: (d) => nflogText(d, '--'),
  compile: no('NFLOG', 'nfnetlink logging is not available to the datapath'),
};
function nflogText(d: NflogData, p: string): string {
  const parts: string[] = [];
  if (d.prefix) parts.push(`${p}nflog-prefix ${saveString(d.prefix)}`);
  if (d.group) parts.push(`${p}nflog-group ${d.group}`);
  if (d.size !== undefined) parts.push(`${p}nflog-size ${d.size}`);
  if (d.threshold !== 1) parts.push(`${p}nflog-threshold ${d.threshold}`);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
export interface NfqueueData {
  num: number;
  balance?: [number, number];
  bypass?: boolean;
  fanout?: boolean;
  seen?: string[];
}
export const NFQUEUE: TargetModule<NfqueueData> = {
  name: 'NFQUEUE',
  options: [
    { name: 'queue-num', args: 1, invertible: true },
    { name: 'queue-balance', args: 1, invertible: true },
    { name: 'queue-bypass', args: 0, invertible: true },
    { name: 'queue-cpu-fanout', args: 0, invertible: true },
  ],
  init: () => ({ num: 0 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'NFQUEUE', o, inv, false);
    if (o === 'queue-num') d.num = x6Uint('NFQUEUE', o, a[0]!, 0, 65535);
    else if (o === 'queue-balance') {
      const r = x6Mint('NFQUEUE', 'queue-balance', a[0]!, 65535n).map(Number);
      const lo = r[0]!;
      const hi = r.length > 1 ? r[1]! : lo;
      if (lo > hi) throw parameterProblem(`${lo} should be less than ${hi}`);
      d.balance = [lo, hi];
    } else if (o === 'queue-bypass') d.bypass = true;
    else d.fanout = true;
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('NFQUEUE', [{ name: 'queue-num', excl: ['queue-balance'] }, { name: 'queue-balance', excl: ['queue-num'] }, { name: 'queue-bypass' }, { name: 'queue-cpu-fanout' }], d.seen);
    // xt_NFQUEUE keeps queues_total in 16 bits: 65536 queues wrap to 0, which it refuses.
    if (d.balance && d.balance[1] - d.balance[0] + 1 > 0xffff) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    let s = d.balance ? `NFQUEUE balance ${d.balance[0]}:${d.balance[1]}` : `NFQUEUE num ${d.num}`;
    if (d.bypass) s += ' bypass';
    if (d.fanout) s += ' cpu-fanout';
    return s;
  },
  save(d) {
    let s = d.balance ? `--queue-balance ${d.balance[0]}:${d.balance[1]}` : `--queue-num ${d.num}`;
    if (d.bypass) s += ' --queue-bypass';
    if (d.fanout) s += ' --queue-cpu-fanout';
    return s;
  },
  compile: no('NFQUEUE', 'userspace queueing is not available to the datapath'),
};

// ---------------------------------------------------------------------------------------------
export interface ConnmarkTargetData {
  mode?: 'set' | 'save' | 'restore';
  ctmark: number;
  ctmask: number;
  nfmask: number;
  seen?: string[];
}
const CM_OPTS = ['set-xmark', 'save-mark', 'restore-mark', 'set-mark', 'and-mark', 'or-mark', 'xor-mark', 'mask', 'ctmask', 'nfmask'];
export const CONNMARK: TargetModule<ConnmarkTargetData> = {
  name: 'CONNMARK',
  options: CM_OPTS.map((name) => ({ name, args: (name.endsWith('-mark') && name !== 'save-mark' && name !== 'restore-mark') || name.endsWith('mask') || name === 'set-xmark' ? (1 as const) : (0 as const), invertible: true })),
  init: () => ({ ctmark: 0, ctmask: 0xffffffff, nfmask: 0xffffffff }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'CONNMARK', o, inv, false);
    const v = a[0] ?? '';
    const u32 = () => x6Uint('CONNMARK', o, v, 0, 0xffffffff);
    switch (o) {
      case 'set-xmark': {
        const m = parseMarkMask('CONNMARK', o, v);
        [d.mode, d.ctmark, d.ctmask] = ['set', m.value, m.mask];
        break;
      }
      case 'set-mark': {
        const m = parseMarkMask('CONNMARK', o, v);
        [d.mode, d.ctmark, d.ctmask] = ['set', m.value, (m.value | m.mask) >>> 0];
        break;
      }
      case 'and-mark':
        [d.mode, d.ctmark, d.ctmask] = ['set', 0, ~u32() >>> 0];
        break;
      case 'or-mark': {
        const x = u32();
        [d.mode, d.ctmark, d.ctmask] = ['set', x, x];
        break;
      }
      case 'xor-mark':
        [d.mode, d.ctmark, d.ctmask] = ['set', u32(), 0];
        break;
      case 'save-mark':
        d.mode = 'save';
        break;
      case 'restore-mark':
        d.mode = 'restore';
        break;
      case 'mask':
        d.ctmask = d.nfmask = u32();
        break;
      case 'ctmask':
        d.ctmask = u32();
        break;
      case 'nfmask':
        d.nfmask = u32();
        break;
    }
    return d;
  },
  finalCheck(d) {
    if (!d.mode) throw parameterProblem('CONNMARK target: No operation specified');
  },
  print(d) {
    const h = (n: number) => `0x${(n >>> 0).toString(16)}`;
    if (d.mode === 'set') {
      if (d.ctmark === 0) return `CONNMARK and ${h(~d.ctmask)}`;
      if (d.ctmark === d.ctmask) return `CONNMARK or ${h(d.ctmark)}`;
      if (d.ctmask === 0) return `CONNMARK xor ${h(d.ctmark)}`;
      if (d.ctmask === 0xffffffff) return `CONNMARK set ${h(d.ctmark)}`;
      return `CONNMARK xset ${h(d.ctmark)}/${h(d.ctmask)}`;
    }
    const m = d.mode!;
    if (d.nfmask === 0xffffffff && d.ctmask === 0xffffffff) return `CONNMARK ${m}`;
    if (d.nfmask === d.ctmask) return `CONNMARK ${m} mask ${h(d.nfmask)}`;
    return m === 'save' ? `CONNMARK save nfmask ${h(d.nfmask)} ctmask ~${h(d.ctmask)}` : `CONNMARK restore ctmask ${h(d.ctmask)} nfmask ~${h(d.nfmask)}`;
  },
  save(d) {
    const h = (n: number) => `0x${(n >>> 0).toString(16)}`;
    if (d.mode === 'set') return `--set-xmark ${h(d.ctmark)}/${h(d.ctmask)}`;
    return `--${d.mode}-mark --nfmask ${h(d.nfmask)} --ctmask ${h(d.ctmask)}`;
  },
  compile: no('CONNMARK', 'the datapath keeps no connection marks'),
};

// ---------------------------------------------------------------------------------------------
export interface AuditData {
  type?: string;
  seen?: string[];
}
export const AUDIT: TargetModule<AuditData> = {
  name: 'AUDIT',
  options: [{ name: 'type', args: 1, invertible: true }],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'AUDIT', o, inv, false);
    const t = a[0]!.toLowerCase();
    if (!['accept', 'drop', 'reject'].includes(t)) throw parameterProblem(`Bad action type value "${a[0]}"`);
    d.type = t;
    return d;
  },
  finalCheck: (d) => x6Fcheck('AUDIT', [{ name: 'type', mand: true }], d.seen),
  print: (d) => `AUDIT ${d.type}`,
  save: (d) => `--type ${d.type}`,
  compile: no('AUDIT', 'the datapath does not write audit records'),
};

// ---------------------------------------------------------------------------------------------
export interface ClassifyData {
  major: number;
  minor: number;
  seen?: string[];
}
export const CLASSIFY: TargetModule<ClassifyData> = {
  name: 'CLASSIFY',
  options: [{ name: 'set-class', args: 1, invertible: true }],
  init: () => ({ major: 0, minor: 0 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'CLASSIFY', o, inv, false);
    const m = /^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})$/.exec(a[0]!.replace(/0x/gi, ''));
    if (!m) throw parameterProblem(`Bad class value "${a[0]}"`);
    d.major = parseInt(m[1]!, 16);
    d.minor = parseInt(m[2]!, 16);
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('CLASSIFY', [{ name: 'set-class', mand: true }], d.seen);
    if (ctx.table !== 'mangle' || ['PREROUTING', 'INPUT'].includes(ctx.chain)) throw kernelInvalid(ctx.chain);
  },
  print: (d) => `CLASSIFY set ${d.major.toString(16)}:${d.minor.toString(16)}`,
  save: (d) => `--set-class ${d.major.toString(16).padStart(4, '0')}:${d.minor.toString(16).padStart(4, '0')}`,
  compile: no('CLASSIFY', 'the datapath does not set traffic classes'),
};

// ---------------------------------------------------------------------------------------------
function flagTarget(name: string, text: string, tables: readonly TableName[] | undefined, why: string): TargetModule<Record<string, never>> {
  return {
    name,
    options: [],
    init: () => ({}),
    parse: (d) => d,
    finalCheck(_d, ctx) {
      if (tables) onlyTables(ctx, tables);
    },
    print: () => text,
    save: () => '',
    compile: no(name, why),
  };
}
export const TRACE = flagTarget('TRACE', '', undefined, 'packet tracing is not available to the datapath');
export const NOTRACK = flagTarget('NOTRACK', 'NOTRACK', ['raw'], 'the raw table is not enforced by the datapath');

// ---------------------------------------------------------------------------------------------
export interface CtData {
  notrack?: boolean;
  zone?: number;
  zoneDir?: 'orig' | 'reply';
  helper?: string;
  timeout?: string;
  ctevents?: string;
  expevents?: string;
  seen?: string[];
}
const CT_EVENTS = ['new', 'related', 'destroy', 'reply', 'assured', 'protoinfo', 'helper', 'mark', 'natseqinfo', 'secmark'];
export const CT: TargetModule<CtData> = {
  name: 'CT',
  options: ['notrack', 'helper', 'timeout', 'ctevents', 'expevents', 'zone', 'zone-orig', 'zone-reply'].map((name) => ({ name, args: name === 'notrack' ? (0 as const) : (1 as const), invertible: true })),
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'CT', o, inv, false);
    const v = a[0] ?? '';
    switch (o) {
      case 'notrack':
        d.notrack = true;
        break;
      case 'zone':
      case 'zone-orig':
      case 'zone-reply': {
        const z = strtouiFull(v, 0, 65535);
        if (z === undefined) throw parameterProblem(`Cannot parse ${v} as a zone ID`);
        d.zone = z;
        d.zoneDir = o === 'zone' ? undefined : o === 'zone-orig' ? 'orig' : 'reply';
        break;
      }
      case 'ctevents':
      case 'expevents':
        for (const e of v.split(',')) if (!(o === 'expevents' ? ['new'] : CT_EVENTS).includes(e)) throw parameterProblem(`Unknown event type "${e}"`);
        d[o] = v;
        break;
      case 'helper':
        d.helper = v;
        break;
      case 'timeout':
        d.timeout = v;
        break;
    }
    return d;
  },
  finalCheck(d, ctx) {
    onlyTables(ctx, ['raw']);
    // Helpers and timeout policies must exist in the kernel; none are set up here.
    if (d.helper !== undefined) throw new KernelRejects(ctx.chain, 'No such file or directory');
    if (d.timeout !== undefined) throw kernelInvalid(ctx.chain);
  },
  print: (d) => ['CT', ...ctParts(d, '')].join(' '),
  save: (d) => ctParts(d, '--').join(' '),
  compile: no('CT', 'the raw table is not enforced by the datapath'),
};
function ctParts(d: CtData, p: string): string[] {
  const out: string[] = [];
  if (d.notrack) out.push(`${p}notrack`);
  if (d.helper) out.push(`${p}helper ${d.helper}`);
  if (d.ctevents) out.push(`${p}ctevents ${d.ctevents}`);
  if (d.expevents) out.push(`${p}expevents ${d.expevents}`);
  if (d.timeout) out.push(`${p}timeout ${d.timeout}`);
  if (d.zone !== undefined) out.push(`${p}zone${d.zoneDir ? `-${d.zoneDir}` : ''} ${d.zone}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
export interface TcpmssData {
  mss?: number;
  clamp?: boolean;
  seen?: string[];
}
export const TCPMSS: TargetModule<TcpmssData> = {
  name: 'TCPMSS',
  options: [
    { name: 'set-mss', args: 1, invertible: true },
    { name: 'clamp-mss-to-pmtu', args: 0, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'TCPMSS', o, inv, false);
    if (o === 'set-mss') d.mss = x6Uint('TCPMSS', o, a[0]!, 0, 65515);
    else d.clamp = true;
    return d;
  },
  finalCheck(d, ctx) {
    if (d.mss === undefined && !d.clamp) throw parameterProblem('TCPMSS target: At least one parameter is required');
    x6Fcheck('TCPMSS', [{ name: 'set-mss', excl: ['clamp-mss-to-pmtu'] }, { name: 'clamp-mss-to-pmtu', excl: ['set-mss'] }], d.seen);
    if (ctx.proto?.proto !== 6 || ctx.proto.invert) throw kernelInvalid(ctx.chain);
    // Path MTU clamping needs the route: only FORWARD, OUTPUT and POSTROUTING.
    if (d.clamp && ['INPUT', 'PREROUTING'].includes(ctx.chain)) throw kernelInvalid(ctx.chain);
  },
  print: (d) => (d.clamp ? 'TCPMSS clamp to PMTU' : `TCPMSS set ${d.mss}`),
  save: (d) => (d.clamp ? '--clamp-mss-to-pmtu' : `--set-mss ${d.mss}`),
  compile: no('TCPMSS', 'the datapath does not rewrite TCP options'),
};

// ---------------------------------------------------------------------------------------------
export interface TosTargetData {
  value: number;
  mask: number;
  seen?: string[];
}
export const TOS: TargetModule<TosTargetData> = {
  name: 'TOS',
  options: ['set-tos', 'and-tos', 'or-tos', 'xor-tos'].map((name) => ({ name, args: 1 as const, invertible: true })),
  init: () => ({ value: 0, mask: 0 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'TOS', o, inv, false);
    const u8 = () => x6Uint('TOS', o, a[0]!, 0, 255);
    if (o === 'set-tos') {
      const t = parseTos(a[0]!, 0xff);
      [d.value, d.mask] = [t.value, t.mask];
    } else if (o === 'and-tos') [d.value, d.mask] = [0, ~u8() & 0xff];
    else if (o === 'or-tos') {
      const x = u8();
      [d.value, d.mask] = [x, x];
    } else [d.value, d.mask] = [u8(), 0];
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.seen?.length) throw parameterProblem('TOS: An action is required');
    const all = ['set-tos', 'and-tos', 'or-tos', 'xor-tos'];
    x6Fcheck('TOS', all.map((name) => ({ name, excl: all })), d.seen);
    onlyTables(ctx, ['mangle']);
  },
  print(d, o) {
    if (o.numeric) return `TOS set ${hex2(d.value)}/${hex2(d.mask)}`;
    const n = tosName(d.value, d.mask);
    if (n) return ` TOS set${n}`;
    if (d.value === 0) return `TOS and ${hex2(~d.mask & 0xff)}`;
    if (d.value === d.mask) return `TOS or ${hex2(d.value)}`;
    if (d.mask === 0) return `TOS xor ${hex2(d.value)}`;
    return `TOS set ${hex2(d.value)}/${hex2(d.mask)}`;
  },
  save: (d) => `--set-tos ${hex2(d.value)}/${hex2(d.mask)}`,
  compile: no('TOS', 'the mangle table is not enforced by the datapath'),
};

// ---------------------------------------------------------------------------------------------
export interface DscpTargetData {
  dscp: number;
  seen?: string[];
}
export const DSCP: TargetModule<DscpTargetData> = {
  name: 'DSCP',
  options: [
    { name: 'set-dscp', args: 1, invertible: true },
    { name: 'set-dscp-class', args: 1, invertible: true },
  ],
  init: () => ({ dscp: 0 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'DSCP', o, inv, false);
    d.dscp = o === 'set-dscp' ? x6Uint('DSCP', o, a[0]!, 0, 63) : dscpClass(a[0]!);
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.seen?.length) throw parameterProblem('DSCP target: Parameter --set-dscp is required');
    x6Fcheck('DSCP', [{ name: 'set-dscp', excl: ['set-dscp-class'] }, { name: 'set-dscp-class', excl: ['set-dscp'] }], d.seen);
    onlyTables(ctx, ['mangle']);
  },
  print: (d) => `DSCP set ${hex2(d.dscp)}`,
  save: (d) => `--set-dscp ${hex2(d.dscp)}`,
  compile: no('DSCP', 'the mangle table is not enforced by the datapath'),
};

// ---------------------------------------------------------------------------------------------
export const CHECKSUM: TargetModule<{ fill?: boolean; seen?: string[] }> = {
  name: 'CHECKSUM',
  options: [{ name: 'checksum-fill', args: 0, invertible: true }],
  init: () => ({}),
  parse(d, o, _a, inv) {
    x6Seen((d.seen ??= []), 'CHECKSUM', o, inv, false);
    d.fill = true;
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.fill) throw parameterProblem('CHECKSUM: option "--checksum-fill" must be specified\n');
    onlyTables(ctx, ['mangle']);
  },
  print: () => 'CHECKSUM fill',
  save: () => '--checksum-fill',
  compile: no('CHECKSUM', 'the mangle table is not enforced by the datapath'),
};

// ---------------------------------------------------------------------------------------------
export interface TtlTargetData {
  mode?: 'set' | 'dec' | 'inc';
  value: number;
  seen?: string[];
}
export const TTL: TargetModule<TtlTargetData> = {
  name: 'TTL',
  options: ['ttl-set', 'ttl-dec', 'ttl-inc'].map((name) => ({ name, args: 1 as const, invertible: true })),
  init: () => ({ value: 0 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'TTL', o, inv, false);
    d.value = x6Uint('TTL', o, a[0]!, o === 'ttl-set' ? 0 : 1, 255);
    d.mode = o.slice(4) as TtlTargetData['mode'];
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.mode) throw parameterProblem('TTL: You must specify an action');
    const all = ['ttl-set', 'ttl-dec', 'ttl-inc'];
    x6Fcheck('TTL', all.map((name) => ({ name, excl: all })), d.seen);
    if (d.mode !== 'set' && d.value === 0) throw parameterProblem('TTL: increasing/decreasing by 0?');
    onlyTables(ctx, ['mangle']);
  },
  print: (d) => `TTL ${d.mode === 'set' ? 'set to' : d.mode === 'dec' ? 'decrement by' : 'increment by'} ${d.value}`,
  save: (d) => `--ttl-${d.mode} ${d.value}`,
  compile: no('TTL', 'the mangle table is not enforced by the datapath'),
};

// ---------------------------------------------------------------------------------------------
export interface EcnTargetData {
  remove?: boolean;
  seen?: string[];
}
export const ECN: TargetModule<EcnTargetData> = {
  name: 'ECN',
  options: [{ name: 'ecn-tcp-remove', args: 0, invertible: true }],
  init: () => ({}),
  parse(d, o, _a, inv) {
    x6Seen((d.seen ??= []), 'ECN', o, inv, false);
    d.remove = true;
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.remove) throw parameterProblem('ECN target: An operation is required');
    onlyTables(ctx, ['mangle']);
    if (d.remove && (ctx.proto?.proto !== 6 || ctx.proto.invert)) throw kernelInvalid(ctx.chain);
  },
  print: (d) => (d.remove ? 'ECN TCP remove' : 'ECN'),
  save: (d) => (d.remove ? '--ecn-tcp-remove' : ''),
  compile: no('ECN', 'the mangle table is not enforced by the datapath'),
};

// ---------------------------------------------------------------------------------------------
export interface IdletimerData {
  timeout: number;
  label: string;
  /** Revision 1's --alarm (timer_type XT_IDLETIMER_ALARM). */
  alarm?: boolean;
  seen?: string[];
}
export const IDLETIMER: TargetModule<IdletimerData> = {
  name: 'IDLETIMER',
  options: [
    { name: 'timeout', args: 1, invertible: true },
    { name: 'label', args: 1, invertible: true },
    { name: 'alarm', args: 0, invertible: true },
  ],
  init: () => ({ timeout: 0, label: '' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'IDLETIMER', o, inv, false);
    if (o === 'timeout') d.timeout = x6Uint('IDLETIMER', o, a[0]!, 0, 0xffffffff);
    else if (o === 'alarm') d.alarm = true;
    else d.label = a[0]!.slice(0, 27);
    return d;
  },
  finalCheck: (d) => x6Fcheck('IDLETIMER', [{ name: 'timeout', mand: true }, { name: 'label', mand: true }, { name: 'alarm' }], d.seen),
  print: (d) => `timeout:${d.timeout} label:${d.label}${d.alarm ? ' alarm' : ''}`,
  save: (d) => `--timeout ${d.timeout} --label ${d.label}${d.alarm ? ' --alarm' : ''}`,
  compile: no('IDLETIMER', 'the datapath has no idle timers'),
};

// ---------------------------------------------------------------------------------------------
export interface TeeData {
  gw?: number;
  oif?: string;
  seen?: string[];
}
export const TEE: TargetModule<TeeData> = {
  name: 'TEE',
  options: [
    { name: 'gateway', args: 1, invertible: true },
    { name: 'oif', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'TEE', o, inv, false);
    if (o === 'gateway') {
      const g = parseIPv4(a[0]!);
      if (g === undefined) throw parameterProblem(resolveFailure(a[0]!));
      d.gw = g;
    } else d.oif = a[0]!;
    return d;
  },
  finalCheck: (d) => x6Fcheck('TEE', [{ name: 'gateway', mand: true }, { name: 'oif' }], d.seen),
  print: (d) => `TEE gw:${formatIPv4(d.gw ?? 0)}${d.oif ? ` oif=${d.oif}` : ''}`,
  save: (d) => `--gateway ${formatIPv4(d.gw ?? 0)}${d.oif ? ` --oif ${d.oif}` : ''}`,
  compile: no('TEE', 'the datapath does not clone packets'),
};

// ---------------------------------------------------------------------------------------------
export interface NetmapData {
  addr: number;
  len: number;
  seen?: string[];
}
export const NETMAP: TargetModule<NetmapData> = {
  name: 'NETMAP',
  options: [{ name: 'to', args: 1, invertible: true }],
  init: () => ({ addr: 0, len: 32 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'NETMAP', o, inv, false);
    const [ip, len] = a[0]!.split('/');
    const v = parseIPv4(ip ?? '');
    const l = len === undefined ? 32 : strtouiFull(len, 0, 32, 10);
    if (v === undefined || l === undefined) throw parameterProblem('getaddrinfo: Temporary failure in name resolution\n');
    d.addr = v;
    d.len = l;
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('NETMAP', [{ name: 'to', mand: true }], d.seen);
    onlyTables(ctx, ['nat']);
  },
  print: (d) => `to:${formatIPv4(d.addr)}/${d.len}`,
  save: (d) => `--to ${formatIPv4(d.addr)}/${d.len}`,
  compile: no('NETMAP', 'the nat table is not enforced by the datapath'),
};

// ---------------------------------------------------------------------------------------------
export const SET: TargetModule<Record<string, never>> = {
  name: 'SET',
  options: [
    { name: 'add-set', args: 2, invertible: true },
    { name: 'del-set', args: 2, invertible: true },
    { name: 'map-set', args: 2, invertible: true },
    { name: 'timeout', args: 1, invertible: true },
    { name: 'exist', args: 0, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a) {
    if (o === 'add-set' || o === 'del-set' || o === 'map-set') throw parameterProblem(`Set ${a[0]} doesn't exist.\n`);
    if (o === 'timeout' && strtouiFull(a[0]!, 0, 0xfffffffe) === undefined)
      throw parameterProblem('Invalid value for option --timeout or out of range 0-4294967294');
    return d;
  },
  finalCheck() {
    throw parameterProblem("You must specify either `--add-set' or `--del-set' or `--map-set'");
  },
  print: () => '',
  save: () => '',
  compile: no('SET', 'ipsets are not available to the datapath'),
};

