// Shared helpers for match and target modules: libxtables' number / port / address parsers
// with their exact error wording, x6-style ("guided option parser") usage errors, and the
// compile helpers that encode iptables semantics in the classifier vocabulary.
//
// Option-table convention used by every module here: `invertible: true` means "the front end
// passes `!` through to parse()" — the module itself throws iptables' wording when the option
// cannot be inverted, and repeats are detected in parse() (not with `once`) because the
// wording differs between old-style modules (tcp: "Only one `--source-port' allowed") and
// x6 modules (udp: `udp: option "--source-port" can only be used once.`).

import { KernelRejects, parameterProblem, XtablesError } from '../parser/errors.ts';
import { NO_L4 } from '../classifier/fields.ts';
import type { CompiledMatch, Prefix } from '../classifier/fields.ts';
import { serviceName, servicePort } from './services.ts';
import type { ServiceProto } from './services.ts';

// ---------------------------------------------------------------------------------------------
// Numbers (xtables_strtoul_base / strtoumax semantics)

/**
 * strtoumax(s, &end, base) after xtables' leading-minus check: optional whitespace, optional
 * '+', base prefix (0x / leading 0 when base is 0). Returns the value and the index where
 * parsing stopped, or undefined when no digit was consumed or s starts with '-'.
 */
export function strtoumax(s: string, base = 0): { value: bigint; end: number } | undefined {
  let i = 0;
  while (i < s.length && /\s/.test(s[i]!)) i++;
  if (s[i] === '-') return undefined;
  if (s[i] === '+') i++;
  let b = base;
  if ((b === 0 || b === 16) && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
    i += 2;
    b = 16;
  } else if (b === 0) {
    b = s[i] === '0' ? 8 : 10;
  }
  const start = i;
  let v = 0n;
  for (; i < s.length; i++) {
    const d = parseInt(s[i]!, 36);
    if (Number.isNaN(d) || d >= b) break;
    v = v * BigInt(b) + BigInt(d);
  }
  if (i === start) {
    // "0" followed by a non-octal digit still consumed the '0' in base 8.
    return undefined;
  }
  return { value: v, end: i };
}

/** inet_pton(AF_INET): exactly four decimal parts 0-255, no leading zeros. */
export function inetPton(s: string): number | undefined {
  if (!/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s)) return undefined;
  return parseIPv4(s);
}

/**
 * inet_aton(3): "a", "a.b", "a.b.c" or "a.b.c.d", each part a C integer (0x hex, 0 octal), the
 * last part filling the remaining bytes. Undefined when not of that form.
 */
export function inetAton(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length > 4) return undefined;
  const vals: number[] = [];
  for (const p of parts) {
    const r = strtoumax(p);
    if (!r || r.end !== p.length || /^\s|^\+/.test(p)) return undefined;
    vals.push(Number(r.value > 0xffffffffn ? 0x100000000n : r.value));
  }
  const last = vals.pop()!;
  if (vals.some((v) => v > 255) || last >= 2 ** (8 * (4 - vals.length))) return undefined;
  let a = 0;
  for (const v of vals) a = a * 256 + v;
  return (a * 2 ** (8 * (4 - vals.length)) + last) >>> 0;
}

/**
 * getaddrinfo's failure for a word that is not a numeric address, as seen in a namespace with no
 * resolver reachable: a plausible host name fails to resolve (EAI_AGAIN), anything else is no
 * name at all (EAI_NONAME), and so is a dotted number that is no address ("256.1").
 */
export function resolveFailure(s: string): string {
  return /^[A-Za-z0-9._-]+$/.test(s) && !/^[0-9.]+$/.test(s) ? 'getaddrinfo: Temporary failure in name resolution\n' : 'getaddrinfo: Name or service not known\n';
}

/** xtables_strtoui(s, NULL, &v, min, max) with base 0: whole string must be a number in range. */
export function strtouiFull(s: string, min: number, max: number, base = 0): number | undefined {
  const r = strtoumax(s, base);
  if (!r || r.end !== s.length) return undefined;
  if (r.value < BigInt(min) || r.value > BigInt(max)) return undefined;
  return Number(r.value);
}

/** Like strtouiFull but returns the stop index (xtables_strtoui with an end pointer). */
export function strtouiPrefix(s: string, min: number, max: number, base = 0): { value: number; end: number } | undefined {
  const r = strtoumax(s, base);
  if (!r) return undefined;
  if (r.value < BigInt(min) || r.value > BigInt(max)) return undefined;
  return { value: Number(r.value), end: r.end };
}

// ---------------------------------------------------------------------------------------------
// Usage errors of the x6 guided option parser (libxtables/xtoptions.c)

export function x6Once(ext: string, option: string): Error {
  return parameterProblem(`${ext}: option "--${option}" can only be used once.\n`);
}
export function x6NoInvert(ext: string, option: string): Error {
  return parameterProblem(`${ext}: option "--${option}" cannot be inverted.\n`);
}
export function x6Required(ext: string, option: string): Error {
  return parameterProblem(`${ext}: option "--${option}" must be specified\n`);
}
export function x6Excl(ext: string, a: string, b: string): Error {
  return parameterProblem(`${ext}: option "--${a}" cannot be used together with "--${b}".\n`);
}
/** XTTYPE_UINT* with bounds: `or out of range (min-max).` */
export function x6Bad(ext: string, option: string, min: number | bigint, max: number | bigint): Error {
  return parameterProblem(`${ext}: bad value for option "--${option}", or out of range (${min}-${max}).\n`);
}
/** XTTYPE_UINT* parse (base 0) with x6 wording on failure. */
export function x6Uint(ext: string, option: string, s: string, min: number, max: number): number {
  const v = strtouiFull(s, min, max);
  if (v === undefined) throw x6Bad(ext, option, min, max);
  return v;
}

/** Tracks which options an x6 module has seen (xflags) and throws the generic errors. */
export function x6Seen(seen: string[], ext: string, option: string, invert: boolean, invertible: boolean): void {
  if (seen.includes(option)) throw x6Once(ext, option);
  if (invert && !invertible) throw x6NoInvert(ext, option);
  seen.push(option);
}

// ---------------------------------------------------------------------------------------------
// Ports

/** xtables_parse_port: number (base 0) or service name for proto; exact iptables error. */
export function parsePort(s: string, proto: string | undefined): number {
  const n = strtouiFull(s, 0, 65535);
  if (n !== undefined) return n;
  const p = proto === 'tcp' || proto === 'udp' ? servicePort(s, proto as ServiceProto) : proto === undefined ? undefined : undefined;
  if (p !== undefined) return p;
  throw parameterProblem(`invalid port/service \`${s}' specified`);
}

/**
 * XTTYPE_PORT / XTTYPE_PORTRC element (xtables_getportbyname): a decimal number (getaddrinfo
 * keeps the low 16 bits) or a service name of any protocol.
 */
export function x6Port(s: string): number {
  // getaddrinfo treats an empty service as port 0.
  if (s === '') return 0;
  if (/^\d+$/.test(s)) return Number(BigInt(s) & 0xffffn);
  const p = servicePort(s);
  if (p !== undefined) return p;
  throw parameterProblem(`Port "${s}" does not resolve to anything.\n`);
}

/** XTTYPE_PORTRC: "a", "a:b", ":b", "a:", ":" with no order check. */
export function x6PortRange(s: string): [number, number] {
  const i = s.indexOf(':');
  if (i < 0) {
    const p = x6Port(s);
    return [p, p];
  }
  const a = s.slice(0, i);
  const b = s.slice(i + 1);
  return [a === '' ? 0 : x6Port(a), b === '' ? 65535 : x6Port(b)];
}

/** "a", "a:b", ":b", "a:" as tcp/udp parse them (parse_tcp_ports / xtables_parse_portrange). */
export function parsePortRange(s: string, proto: string): [number, number] {
  const i = s.indexOf(':');
  if (i < 0) {
    const p = parsePort(s, proto);
    return [p, p];
  }
  const a = s.slice(0, i);
  const b = s.slice(i + 1);
  const lo = a === '' ? 0 : parsePort(a, proto);
  const hi = b === '' ? 65535 : parsePort(b, proto);
  if (lo > hi) throw parameterProblem('invalid portrange (min > max)');
  return [lo, hi];
}

/** print_port of the tcp/udp/multiport matches: service name unless -n. */
export function portText(port: number, proto: string, numeric: boolean): string {
  if (!numeric && (proto === 'tcp' || proto === 'udp')) {
    const n = serviceName(port, proto);
    if (n !== undefined) return n;
  }
  return String(port);
}

/**
 * A port range constraint for an L4 match: never matches NO_L4 (iptables' port matches need a
 * readable first-fragment header), whether inverted or not.
 */
export function portRanges(lo: number, hi: number, invert: boolean): Array<[number, number]> {
  // A reversed range (udp accepts `--sport 4:3`) matches no port; inverted, every port.
  if (lo > hi) return invert ? [[0, 65535]] : [];
  if (!invert) return [[lo, hi]];
  const out: Array<[number, number]> = [];
  if (lo > 0) out.push([0, lo - 1]);
  if (hi < 65535) out.push([hi + 1, 65535]);
  return out;
}

/** Complement of a union of ranges within [0, max] (ranges need not be sorted). */
export function complementRanges(ranges: Array<[number, number]>, max: number): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= max) out.push([next, max]);
  return out;
}

/** Values v in [0, max] with predicate, as merged ranges. */
export function rangesWhere(max: number, pred: (v: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let v = 0; v <= max; v++) {
    if (!pred(v)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === v - 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

export { NO_L4 };

/** Protocol number of the rule's `-p`, when it is positively one protocol. */
export function ruleProto(rule: { proto?: { proto: number; invert: boolean } }): number | undefined {
  if (!rule.proto || rule.proto.invert || rule.proto.proto === 0) return undefined;
  return rule.proto.proto;
}

// ---------------------------------------------------------------------------------------------
// IPv4 addresses

/** xtables_numeric_to_ipaddr: dotted decimal, 1..4 parts (missing trailing parts are 0). */
export function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    let n = 0;
    if (p !== undefined) {
      const r = strtouiFull(p, 0, 255, 10);
      if (r === undefined || p === '' || /^\s|^\+/.test(p)) return undefined;
      n = r;
    }
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function formatIPv4(a: number): string {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
}

/** Bit-count of a contiguous netmask, or -1. */
export function maskLength(mask: number): number {
  const m = mask >>> 0;
  let len = 0;
  while (len < 32 && ((m >>> (31 - len)) & 1) === 1) len++;
  const canonical = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return canonical === m ? len : -1;
}

export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Minimal prefix cover of the inclusive address range [lo, hi]. */
export function rangeToPrefixes(lo: number, hi: number): Prefix[] {
  const out: Prefix[] = [];
  let cur = lo;
  while (cur <= hi) {
    let len = 32;
    while (len > 0) {
      const size = 2 ** (32 - (len - 1));
      if (cur % size !== 0 || cur + size - 1 > hi) break;
      len--;
    }
    out.push({ addr: cur >>> 0, len });
    cur += 2 ** (32 - len);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compile helpers

export function unsupported(reason: string): CompiledMatch {
  return { unsupported: reason };
}

/**
 * xtables_save_string: bare when the value is non-empty and only [_-0-9A-Za-z], otherwise
 * double-quoted with " \\ and ' escaped by a backslash. Returns the text without the leading space.
 */
export function saveString(s: string): string {
  if (/^[-_0-9A-Za-z]+$/.test(s)) return s;
  let out = '"';
  for (const c of s) {
    if (c === '"' || c === '\\' || c === "'") out += '\\';
    out += c;
  }
  return out + '"';
}

/** Deep equality of JSON-safe data (the default `equal`). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---------------------------------------------------------------------------------------------
// x6 finalize (xtables_options_fcheck), run after the module's own final check

export interface X6Entry {
  name: string;
  /** XTOPT_MAND */
  mand?: boolean;
  /** Options (by name) this one excludes; listed in option-id order. */
  excl?: readonly string[];
  /** Options this one also requires. */
  also?: readonly string[];
}

/** Mandatory / exclusion / also-requires checks in option-table order, with x6 wording. */
export function x6Fcheck(ext: string, table: readonly X6Entry[], seen: readonly string[] | undefined): void {
  const set = seen ?? [];
  for (const e of table) {
    if (e.mand && !set.includes(e.name)) throw x6Required(ext, e.name);
    if (!set.includes(e.name)) continue;
    const ids = table.map((t) => t.name);
    for (const other of ids) {
      if (other === e.name) continue;
      if (e.excl?.includes(other) && set.includes(other)) throw x6Excl(ext, e.name, other);
      if (e.also?.includes(other) && !set.includes(other)) throw parameterProblem(`${ext}: option "--${e.name}" also requires "--${other}".\n`);
    }
  }
}

/**
 * xtopt_parse_mint (XTTYPE_UINT*RC): up to two ':'-separated components, an empty one meaning 0
 * (first) or max (second). On failure iptables quotes the input from the component that failed
 * ("near \"-1:0\"", "near \"65536\""); characters after a number other than ':' have their own
 * wording. Returns the one or two values given.
 */
export function x6Mint(ext: string, option: string, s: string, max: bigint): bigint[] {
  const bad = (part: string) => parameterProblem(`${ext}: bad value for option "--${option}" near "${part}", or out of range (0-${max}).\n`);
  const vals: bigint[] = [];
  let pos = 0;
  for (;;) {
    if (vals.length === 2) throw parameterProblem(`${ext}: Too many components for option "--${option}" (max: 2)\n`);
    const rest = s.slice(pos);
    let end = pos;
    if (rest === '' || rest[0] === ':') vals.push(vals.length === 1 ? max : 0n);
    else {
      const r = strtoumax(rest);
      if (!r || r.value > max) throw bad(rest);
      end = pos + r.end;
      if (end < s.length && s[end] !== ':')
        throw parameterProblem(`${ext}: Argument to "--${option}" has unexpected characters near "${s.slice(end)}".\n`);
      vals.push(r.value);
    }
    if (end >= s.length) break;
    pos = end + 1;
  }
  return vals;
}

/** XTTYPE_UINT*RC: "a" or "a:b" (":b" = 0:b, "a:" = a:max), "near" wording on failure. */
export function x6UintRange(ext: string, option: string, s: string, max: number): [number, number] {
  const v = x6Mint(ext, option, s, BigInt(max)).map(Number);
  return v.length === 1 ? [v[0]!, v[0]!] : [v[0]!, v[1]!];
}

/**
 * What iptables-nft prints when the kernel refuses a rule in checkentry (EINVAL): exit 4.
 * (Rendered for the -A / -I path; the command layer may rewrite it for restore.)
 */
export function kernelInvalid(chain: string): Error {
  return new KernelRejects(chain);
}
