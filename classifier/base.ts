// The rule's base part (-s, -d, -i, -o, -p, -f) as a CompiledMatch, with the kernel's
// ip_packet_match() semantics:
// - -s/-d: (addr & mask) == rule.addr, XOR `!`. A contiguous mask is a prefix constraint on the
//   src/dst field; any other mask (iptables accepts e.g. 255.0.255.0) is a residual `cmp` on
//   saddr/daddr, checked after the bitvector hit. `-s 0.0.0.0/0` (no `!`) constrains nothing.
// - -p: protocol 0 ("all") never constrains, even with `!` (the kernel skips the test when the
//   rule's proto is 0). Otherwise the proto key (FRAG_BIT | ipproto) must be proto or
//   FRAG_BIT|proto: non-first fragments still carry their protocol.
// - -f / ! -f: non-first fragments are exactly the keys with FRAG_BIT set.
//   -p and -f both constrain the proto key; they are intersected here into ONE ranges
//   constraint (a CompiledMatch holds at most one constraint per field).
// - -i/-o: the iptables pattern ('eth0', 'eth+', '+') as an iface constraint, XOR `!`.
import type { AddrMatch, Rule } from '../ruleset/types.ts';
import { FIELD_DOMAIN, FRAG_BIT, type CompiledMatch, type FieldConstraint, type FieldName, type ResidualCheck } from './fields.ts';

/** The netmask of a /len prefix (u32 host order). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Prefix length of a contiguous mask, or undefined when the mask has holes. */
export function maskToPrefixLen(mask: number): number | undefined {
  const m = mask >>> 0;
  let len = 0;
  let x = m;
  while (x !== 0) {
    len += x & 1;
    x >>>= 1;
  }
  return prefixMask(len) === m ? len : undefined;
}

/** Sorted, merged inclusive ranges of the keys set in `allowed`. */
export function keysToRanges(allowed: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let i = 0;
  while (i < allowed.length) {
    if (!allowed[i]) {
      i++;
      continue;
    }
    const lo = i;
    while (i < allowed.length && allowed[i]) i++;
    out.push([lo, i - 1]);
  }
  return out;
}

function compileAddr(
  m: AddrMatch | undefined,
  field: 'src' | 'dst',
  scalar: 'saddr' | 'daddr',
  fields: Partial<Record<FieldName, FieldConstraint>>,
  residual: ResidualCheck[],
): void {
  if (!m) return;
  const mask = m.mask >>> 0;
  const addr = (m.addr & mask) >>> 0;
  const len = maskToPrefixLen(mask);
  if (len === undefined) {
    residual.push({ kind: 'cmp', field: scalar, mask, ranges: [[addr, addr]], invert: m.invert });
    return;
  }
  if (len === 0 && !m.invert) return; // matches every address
  fields[field] = { kind: 'prefixes', prefixes: [{ addr, len }], invert: m.invert };
}

// Shared between rules, indexed by (proto + 1, invert, fragment state): 257 * 6 shapes;
// nothing downstream mutates ranges.
const protoRangesCache: Array<Array<[number, number]> | undefined> = new Array(257 * 6);

/** Proto keys accepted by `-p p` (p < 0: no -p) and `-f`, as ranges over 0..511. */
function protoRanges(p: number, invert: boolean, fragment: { invert: boolean } | undefined): Array<[number, number]> {
  const allowed = new Uint8Array(FIELD_DOMAIN.proto).fill(1);
  for (let k = 0; k < allowed.length; k++) {
    if (p >= 0 && ((k & 0xff) === p) === invert) allowed[k] = 0;
    if (fragment && ((k & FRAG_BIT) !== 0) === fragment.invert) allowed[k] = 0;
  }
  return keysToRanges(allowed);
}

export function compileBase(rule: Readonly<Rule>): CompiledMatch {
  const fields: Partial<Record<FieldName, FieldConstraint>> = {};
  const residual: ResidualCheck[] = [];
  compileAddr(rule.src, 'src', 'saddr', fields, residual);
  compileAddr(rule.dst, 'dst', 'daddr', fields, residual);

  const protoConstrained = rule.proto !== undefined && rule.proto.proto !== 0;
  if (protoConstrained || rule.fragment) {
    const p = protoConstrained ? rule.proto!.proto & 0xff : -1;
    const key = (p + 1) * 6 + (rule.proto?.invert ? 3 : 0) + (rule.fragment ? (rule.fragment.invert ? 2 : 1) : 0);
    let ranges = protoRangesCache[key];
    if (ranges === undefined) {
      ranges = protoRanges(p, rule.proto?.invert ?? false, rule.fragment);
      protoRangesCache[key] = ranges;
    }
    fields.proto = { kind: 'ranges', ranges, invert: false };
  }

  if (rule.inIface) fields.iif = { kind: 'iface', pattern: rule.inIface.name, invert: rule.inIface.invert };
  if (rule.outIface) fields.oif = { kind: 'iface', pattern: rule.outIface.name, invert: rule.outIface.invert };

  const out: CompiledMatch = { fields };
  if (residual.length > 0) out.residual = residual;
  return out;
}
