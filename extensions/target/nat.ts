// nat targets DNAT, SNAT (libxt_NAT.c), MASQUERADE, REDIRECT: parsed, listed and saved like
// iptables; the datapath does not enforce nat, so compile() says so.
import { KernelRejects, parameterProblem, XtablesError } from '../../parser/errors.ts';
import type { DatapathAction, ParseContext, TargetModule } from '../types.ts';
import { formatIPv4, inetPton, strtouiFull, strtouiPrefix, x6Seen } from '../lib.ts';
import { servicePort } from '../services.ts';

export interface NatRange {
  ips?: [number, number];
  ports?: [number, number];
  /** --to-destination a:p-q/base (NF_NAT_RANGE_PROTO_OFFSET). */
  base?: number;
}

export interface NatData {
  range?: NatRange;
  random?: boolean;
  randomFully?: boolean;
  persistent?: boolean;
  seen?: string[];
}

const PORT_PROTOS = new Set([6, 17, 33, 132, 136]);

function portOk(ctx: ParseContext): boolean {
  return !!ctx.proto && !ctx.proto.invert && PORT_PROTOS.has(ctx.proto.proto);
}

/**
 * A port of --to-ports / --to-*:ports as iptables-nft 1.8.9 reads it: a number (base 0) as a
 * prefix, else the whole word as a service name. Returns the value and where parsing stopped.
 */
function portPrefix(s: string, names: boolean, min = 0): { value: number; end: number } {
  const n = strtouiPrefix(s, min, 65535);
  if (n) return n;
  const v = names ? servicePort(s) : undefined;
  if (v === undefined) throw parameterProblem(`Port \`${s}' not valid`);
  return { value: v, end: s.length };
}

/** "p", "p-q", "p-q/base" (the text after ':' of --to-*, or --to-ports). */
function parsePorts(s: string, r: NatRange, allowBase: boolean): void {
  const lo = portPrefix(s, true);
  let rest = s.slice(lo.end);
  if (rest === '') {
    r.ports = [lo.value, lo.value];
    return;
  }
  if (rest[0] === ':') throw parameterProblem('Invalid port:port syntax - use dash');
  if (rest[0] !== '-') throw parameterProblem(`Garbage after port value: \`${rest}'`);
  const arg = rest.slice(1);
  const hi = portPrefix(arg, false);
  if (hi.value < lo.value) throw parameterProblem(`Port range \`${arg}' funky`);
  r.ports = [lo.value, hi.value];
  rest = arg.slice(hi.end);
  if (rest === '') return;
  if (!allowBase || rest[0] !== '/') throw parameterProblem(`Garbage after port range: \`${rest}'`);
  // iptables-nft 1.8.9 ignores what follows the base port.
  r.base = portPrefix(rest.slice(1), false, 1).value;
}

function parseTo(s: string, ctx: ParseContext): NatRange {
  const r: NatRange = {};
  const colons = s.split(':').length - 1;
  if (colons > 1) throw parameterProblem(`Bad IP address "${s}"`);
  let ipPart = s;
  if (colons === 1) {
    if (!portOk(ctx)) throw parameterProblem('Need TCP, UDP, SCTP or DCCP with port specification');
    const c = s.indexOf(':');
    parsePorts(s.slice(c + 1), r, true);
    if (c === 0) return r;
    ipPart = s.slice(0, c);
  }
  const dash = ipPart.indexOf('-');
  const a = dash < 0 ? ipPart : ipPart.slice(0, dash);
  // libxt_NAT reads addresses with inet_pton: "1" or "01.2.3.4" are bad.
  const lo = inetPton(a);
  if (lo === undefined) throw parameterProblem(`Bad IP address "${a}"`);
  let hi = lo;
  if (dash >= 0) {
    const b = ipPart.slice(dash + 1);
    const v = inetPton(b);
    if (v === undefined) throw parameterProblem(`Bad IP address "${b}"`);
    hi = v;
  }
  r.ips = [lo, hi];
  return r;
}

function rangeText(r: NatRange): string {
  let s = '';
  if (r.ips) s += formatIPv4(r.ips[0]) + (r.ips[0] !== r.ips[1] ? `-${formatIPv4(r.ips[1])}` : '');
  if (r.ports) {
    s += `:${r.ports[0]}${r.ports[0] !== r.ports[1] ? `-${r.ports[1]}` : ''}`;
    if (r.base !== undefined) s += `/${r.base}`;
  }
  return s;
}

function portsText(r: NatRange): string {
  return r.ports ? `${r.ports[0]}${r.ports[0] !== r.ports[1] ? `-${r.ports[1]}` : ''}` : '';
}

function flagsText(d: NatData, save: boolean): string {
  const p = save ? ' --' : ' ';
  let s = '';
  if (d.random) s += `${p}random`;
  if (d.randomFully) s += `${p}random-fully`;
  if (d.persistent) s += `${p}persistent`;
  return s;
}

const NAT_UNSUPPORTED = (name: string): DatapathAction => ({ kind: 'unsupported', reason: `${name}: the nat table is not enforced by the datapath` });

/** Kernel hook checks (EINVAL) for the built-in chains of the nat table. */
function hookCheck(ctx: ParseContext, allowed: readonly string[]): void {
  const builtin = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'];
  if (ctx.table === 'nat' && builtin.includes(ctx.chain) && !allowed.includes(ctx.chain)) {
    throw new KernelRejects(ctx.chain);
  }
}

function natModule(name: 'DNAT' | 'SNAT', toOpt: string, flags: readonly string[], hooks: readonly string[]): TargetModule<NatData> {
  const mod: TargetModule<NatData> = {
    name,
    tables: ['nat'],
    options: [{ name: toOpt, args: 1, invertible: true }, ...flags.map((f) => ({ name: f, args: 0 as const, invertible: true }))],
    init: () => ({}),
    parse(d, option, args, invert, ctx) {
      x6Seen((d.seen ??= []), name, option, invert, false);
      if (option === toOpt) d.range = parseTo(args[0]!, ctx);
      else if (option === 'random') d.random = true;
      else if (option === 'random-fully') d.randomFully = true;
      else if (option === 'persistent') d.persistent = true;
      return d;
    },
    finalCheck(d, ctx) {
      if (!d.range) throw parameterProblem(`${name}: option "--${toOpt}" must be specified\n`);
      hookCheck(ctx, hooks);
    },
    print: (d) => `to:${rangeText(d.range ?? {})}${flagsText(d, false)}`,
    save: (d) => `--${toOpt} ${rangeText(d.range ?? {})}${flagsText(d, true)}`,
    equal: (a, b) => mod.save(a) === mod.save(b),
    compile: () => NAT_UNSUPPORTED(name),
  };
  return mod;
}

export const DNAT = natModule('DNAT', 'to-destination', ['random', 'persistent'], ['PREROUTING', 'OUTPUT']);
export const SNAT = natModule('SNAT', 'to-source', ['random', 'random-fully', 'persistent'], ['POSTROUTING', 'INPUT']);

function portsModule(name: 'MASQUERADE' | 'REDIRECT', flags: readonly string[], hooks: readonly string[], label: string): TargetModule<NatData> {
  const mod: TargetModule<NatData> = {
    name,
    tables: ['nat'],
    options: [{ name: 'to-ports', args: 1, invertible: true }, ...flags.map((f) => ({ name: f, args: 0 as const, invertible: true }))],
    init: () => ({}),
    parse(d, option, args, invert, ctx) {
      x6Seen((d.seen ??= []), name, option, invert, false);
      if (option === 'to-ports') {
        if (!portOk(ctx)) throw parameterProblem('Need TCP, UDP, SCTP or DCCP with port specification');
        const r: NatRange = {};
        parsePorts(args[0]!, r, false);
        d.range = r;
      } else if (option === 'random') d.random = true;
      else if (option === 'random-fully') d.randomFully = true;
      return d;
    },
    finalCheck(_d, ctx) {
      hookCheck(ctx, hooks);
    },
    print(d) {
      const parts: string[] = [];
      if (d.range?.ports) parts.push(`${label}${portsText(d.range)}`);
      if (d.random) parts.push('random');
      if (d.randomFully) parts.push('random-fully');
      return parts.join(' ');
    },
    save(d) {
      const parts: string[] = [];
      if (d.range?.ports) parts.push(`--to-ports ${portsText(d.range)}`);
      if (d.random) parts.push('--random');
      if (d.randomFully) parts.push('--random-fully');
      return parts.join(' ');
    },
    equal: (a, b) => mod.save(a) === mod.save(b),
    compile: () => NAT_UNSUPPORTED(name),
  };
  return mod;
}

export const MASQUERADE = portsModule('MASQUERADE', ['random', 'random-fully'], ['POSTROUTING'], 'masq ports: ');
export const REDIRECT = portsModule('REDIRECT', ['random'], ['PREROUTING', 'OUTPUT'], 'redir ports ');
