// Base rule parameters as iptables 1.8.9 parses them (libxtables: xtables_ipparse_multiple,
// xtables_parse_interface, xtables_parse_protocol). Pure: names resolve through embedded
// tables only (/etc/protocols); hostnames are not resolved.
import { parameterProblem } from './errors.ts';
import { PROTO_BY_NAME, PROTO_NAME } from './protocols.ts';

/** xtables_strtoui with base 0 (decimal, 0x hex, 0 octal), whole string, within [min, max]. */
export function strtoui(s: string, min: number, max: number): number | undefined {
  // Fast path: plain decimal ("0", or [1-9][0-9]* of at most 15 digits, exact as a double).
  const n = s.length;
  if (n > 0 && n <= 15) {
    let c = s.charCodeAt(0);
    if (c >= 49 && c <= 57) {
      let v = c - 48;
      let i = 1;
      for (; i < n; i++) {
        c = s.charCodeAt(i);
        if (c < 48 || c > 57) break;
        v = v * 10 + (c - 48);
      }
      if (i === n) return v >= min && v <= max ? v : undefined;
    } else if (c === 48 && n === 1) {
      return 0 >= min && 0 <= max ? 0 : undefined;
    }
  }
  let t = s.replace(/^[ \t\n\v\f\r]+/, '');
  let neg = false;
  if (t[0] === '+' || t[0] === '-') {
    neg = t[0] === '-';
    t = t.slice(1);
  }
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) v = parseInt(t, 8);
  else if (/^[1-9][0-9]*$/.test(t)) v = Number(t);
  else return undefined;
  // strtoul negates in unsigned arithmetic: "-1" becomes ULONG_MAX, out of any range we use.
  if (neg && v !== 0) return undefined;
  if (!(v >= min && v <= max)) return undefined;
  return v;
}

/** xtables_chain_protos: names iptables knows even without /etc/protocols. */
export const CHAIN_PROTOS: ReadonlyArray<[string, number]> = [
  ['tcp', 6], ['sctp', 132], ['udp', 17], ['udplite', 136], ['icmp', 1], ['icmpv6', 58],
  ['esp', 50], ['ah', 51], ['mh', 135], ['all', 0],
];

/** xtables_parse_protocol (input already lower-cased by the caller, as iptables does). */
export function parseProtocol(s: string): number {
  const n = strtoui(s, 0, 255);
  if (n !== undefined) return n;
  if (s === 'all') return 0;
  const p = PROTO_BY_NAME.get(s);
  if (p !== undefined) return p;
  for (const [name, num] of CHAIN_PROTOS) if (name === s) return num;
  throw parameterProblem(`unknown protocol "${s}" specified`);
}

/** proto_to_name(proto, 0): /etc/protocols name first, then xtables_chain_protos. */
export function protoName(proto: number): string | undefined {
  if (proto !== 0) {
    const n = PROTO_NAME.get(proto);
    if (n !== undefined) return n;
  }
  for (const [name, num] of CHAIN_PROTOS) if (num === proto) return name;
  return undefined;
}

/** Name of the match module `-p` loads implicitly (find_proto: chain protos first when numeric). */
export function protoMatchName(proto: number): string | undefined {
  for (const [name, num] of CHAIN_PROTOS) if (num === proto && proto !== 0) return name;
  return protoName(proto);
}

/** __numeric_to_ipaddr: dotted quad, or fewer parts padded with zeros (not for masks). */
export function numericToIpaddr(dotted: string, isMask: boolean): number | undefined {
  const fast = plainDottedQuad(dotted);
  if (fast !== undefined) return fast;
  const buf = dotted.slice(0, 19);
  const parts = buf.split('.');
  const bytes = [0, 0, 0, 0];
  if (parts.length > 4) {
    // Only the first three dots split; the rest stays in the last byte and fails there.
    const last = parts.slice(3).join('.');
    parts.length = 3;
    parts.push(last);
  }
  if (parts.length < 4 && isMask) return undefined;
  for (let i = 0; i < parts.length; i++) {
    const b = strtoui(parts[i]!, 0, 255);
    if (b === undefined) return undefined;
    bytes[i] = b;
  }
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

/**
 * Fast path of numericToIpaddr: exactly four plain decimal parts ("0" or no leading zero,
 * each ≤ 255), the form rulesets use; anything else (octal, hex, short forms) is undefined.
 */
function plainDottedQuad(s: string): number | undefined {
  const n = s.length;
  if (n < 7 || n > 15) return undefined;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return undefined;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      if (++dots > 3) return undefined;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return undefined; // leading zero: octal in strtoul
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return (v * 256 + part) >>> 0;
}

/** Well-known names of /etc/networks (getnetbyname) on Debian. */
const NETWORKS: ReadonlyMap<string, number> = new Map([
  ['default', 0],
  ['loopback', 0x7f000000],
  ['link-local', 0xa9fe0000],
]);

/** Host names iptables would resolve through /etc/hosts on a default system. */
const HOSTS: ReadonlyMap<string, number> = new Map([['localhost', 0x7f000001]]);

function parseMask(mask: string | undefined): number {
  if (mask === undefined) return 0xffffffff;
  const m = numericToIpaddr(mask, true);
  if (m !== undefined) return m;
  const bits = strtoui(mask, 0, 32);
  if (bits === undefined) throw parameterProblem(`invalid mask \`${mask}' specified`);
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export interface AddrMask {
  addr: number;
  mask: number;
}

/** xtables_ipparse_multiple: comma list of address[/mask]; each masked. */
export function parseAddresses(spec: string): AddrMask[] {
  const out: AddrMask[] = [];
  const items = spec.split(',');
  for (const raw of items) {
    const c0 = raw.charCodeAt(0);
    let buf = c0 === 32 || (c0 >= 9 && c0 <= 13) ? raw.replace(/^[ \t\n\v\f\r]+/, '') : raw;
    if (buf.length > 255) throw parameterProblem('Hostname too long');
    const slash = buf.lastIndexOf('/');
    let maskStr: string | undefined;
    if (slash >= 0) {
      maskStr = buf.slice(slash + 1);
      buf = buf.slice(0, slash);
    }
    const mask = parseMask(maskStr);
    if (mask === 0) buf = '0.0.0.0';
    let addr = numericToIpaddr(buf, false);
    if (addr === undefined) addr = NETWORKS.get(buf);
    if (addr === undefined) addr = HOSTS.get(buf);
    if (addr === undefined) throw parameterProblem(`host/network \`${buf}' not found`);
    out.push({ addr: (addr & mask) >>> 0, mask });
  }
  return out;
}

export function ipToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Prefix length of a contiguous mask, or -1. */
export function maskToCidr(mask: number): number {
  if (mask === 0) return 0;
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return -1;
  return 32 - Math.log2(inv + 1);
}

/** xtables_ipmask_to_numeric: '' for /32, '/len', or '/dotted'. */
export function maskToNumeric(mask: number): string {
  const c = maskToCidr(mask);
  if (c === -1) return `/${ipToString(mask)}`;
  if (c === 32) return '';
  return `/${c}`;
}

/** mask_to_str of iptables-save: prefix length or dotted when non-contiguous. */
export function maskToSave(mask: number): string {
  const c = maskToCidr(mask);
  return c === -1 ? ipToString(mask) : String(c);
}

export const IFNAMSIZ = 16;

/** xtables_parse_interface; returns the warning iptables prints, if any. */
export function checkInterface(arg: string): string | undefined {
  if (arg.length + 1 > IFNAMSIZ) throw parameterProblem(`interface name \`${arg}' must be shorter than IFNAMSIZ (${IFNAMSIZ - 1})`);
  if (arg.length === 0 || arg.endsWith('+')) return undefined;
  if (arg.includes('/') || arg.includes(' '))
    return `Warning: weird character in interface \`${arg}' ('/' and ' ' are not allowed by the kernel).`;
  return undefined;
}
