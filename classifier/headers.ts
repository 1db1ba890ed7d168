// The kernel's header matches over the packet's bytes (PacketKey.l4: from the transport header
// to skb->len), line by line as net/netfilter does them, for the reference matcher and the
// datapath model (lookup.ts). Each answers the match's result BEFORE its `!`, or 'hotdrop'
// where the kernel sets par->hotdrop (nft_compat then drops the packet at once: NF_DROP, the
// rule uncounted, whatever the inversion). bpf/headers.h computes the same from a per-packet
// summary; compat-tests/datapath-headers.test.ts holds both against iptables-nft.
//
// Fragments: xt_sctp / xt_esp / ipt_ah / xt_ipcomp and the tcp match answer false for a
// non-first fragment before reading anything; their modules constrain the proto key to the
// unfragmented protocol, so these checks never see one. xt_tcpmss has no such test: it parses
// whatever follows the IP header of any packet.
import type { DccpCheck, PacketKey, ResidualCheck, StringCheck, TimeCheck, U32Test } from './fields.ts';

export type HeaderResult = boolean | 'hotdrop';

const be16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const be32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** xt_sctp.c match_packet(): walk the chunks after the 12-byte common header. */
export function sctpChunks(c: Extract<ResidualCheck, { kind: 'sctpchunks' }>, l4: Uint8Array): HeaderResult {
  // sctp_mt(): the common header must be readable.
  if (l4.length < 12) return 'hotdrop';
  const inMap = new Set(c.map);
  const matchFlags = (type: number, flags: number): boolean => {
    for (const f of c.flags) if (f.chunktype === type) return (flags & f.mask) === f.flag;
    return true;
  };
  const copy = new Set(c.map);
  let off = 12;
  do {
    if (off + 4 > l4.length) return 'hotdrop';
    const type = l4[off]!;
    const flags = l4[off + 1]!;
    const len = be16(l4, off + 2);
    if (len === 0) return 'hotdrop';
    off += (len + 3) & ~3;
    if (inMap.has(type)) {
      if (c.type === 'any') {
        if (matchFlags(type, flags)) return true;
      } else if (c.type === 'all') {
        if (matchFlags(type, flags)) copy.delete(type);
      } else if (!matchFlags(type, flags)) return false;
    } else if (c.type === 'only') return false;
  } while (off < l4.length);
  return c.type === 'all' ? copy.size === 0 : c.type === 'only';
}

/** esp_mt / ah_mt / comp_mt: the SPI of an 8 / 12 / 4-byte header (ipcomp: the 16-bit CPI). */
export function spiOf(proto: 'esp' | 'ah' | 'ipcomp', l4: Uint8Array): number | 'hotdrop' {
  if (proto === 'esp') return l4.length < 8 ? 'hotdrop' : be32(l4, 0);
  if (proto === 'ah') return l4.length < 12 ? 'hotdrop' : be32(l4, 4);
  return l4.length < 4 ? 'hotdrop' : be16(l4, 2);
}

/**
 * The TCP options of the header at l4[0]: the option kinds tcp_find_option() visits and the first
 * well-formed MSS (xt_tcpmss), or 'hotdrop' (header unreadable, doff < 5, options truncated).
 * Both walks step alike: kinds 0 and 1 are one byte, others their length byte (0 counts as 1).
 */
export function tcpOptions(l4: Uint8Array): { kinds: Set<number>; mss?: number; optlen: number } | 'hotdrop' {
  if (l4.length < 20) return 'hotdrop';
  const doff = l4[12]! >> 4;
  if (doff * 4 < 20) return 'hotdrop';
  const optlen = doff * 4 - 20;
  const kinds = new Set<number>();
  if (optlen === 0) return { kinds, optlen };
  if (20 + optlen > l4.length) return 'hotdrop';
  const op = l4.subarray(20, 20 + optlen);
  let mss: number | undefined;
  for (let i = 0; i < optlen; ) {
    kinds.add(op[i]!);
    if (mss === undefined && op[i] === 2 && optlen - i >= 4 && op[i + 1] === 4) mss = (op[i + 2]! << 8) | op[i + 3]!;
    // op[i + 1] past the options (i = optlen - 1) only sets the step, and any step ends the walk.
    if (op[i]! < 2) i++;
    else i += op[i + 1] || 1;
  }
  return { kinds, mss, optlen };
}

/** __dccp_hdr_len(): the generic header (+ 4 with X), + the type's own part (dccp_packet_hdr_len). */
export function dccpHdrLen(b0: number): number {
  const x = b0 & 1;
  const type = (b0 >> 1) & 15;
  const own = type === 2 ? 0 : type === 3 || type === 4 || type === 5 || type === 6 || type === 8 || type === 9 ? 8 : type === 0 ? 4 : 12;
  return 12 + (x ? 4 : 0) + own;
}

/** dccp_mt(): the types and option checks after the ports (xt_dccp.c, dccp_find_option). */
export function dccpMatch(c: DccpCheck, l4: Uint8Array): HeaderResult {
  if (l4.length < 12) return 'hotdrop';
  const type = (l4[8]! >> 1) & 15;
  if (c.types && (((c.types.mask >>> type) & 1) === 1) === c.types.invert) return false;
  if (!c.option) return true;
  const hdrlen = dccpHdrLen(l4[8]!);
  const doff4 = l4[4]! * 4;
  if (doff4 < hdrlen) return 'hotdrop';
  const optlen = doff4 - hdrlen;
  let found = false;
  if (optlen) {
    if (hdrlen + optlen > l4.length) return 'hotdrop';
    const op = l4.subarray(hdrlen, hdrlen + optlen);
    for (let i = 0; i < optlen; ) {
      if (op[i] === c.option.option) {
        found = true;
        break;
      }
      if (op[i]! < 2) i++;
      else i += op[i + 1] || 1;
    }
  }
  return found !== c.option.invert;
}

/** The kernel's toupper() (lib/ctype.c: Latin-1 lower case letters too; 223 and 255 included). */
export function kernelToupper(c: number): number {
  return (c >= 97 && c <= 122) || (c >= 223 && c <= 246) || c >= 248 ? c - 32 : c;
}

/** string_mt(): skb_find_text() over [from, min(to, skb->len)) of the packet from its IP header. */
export function stringMatch(c: StringCheck, pkt: Uint8Array): boolean {
  const end = Math.min(c.to, pkt.length);
  const n = c.pattern.length;
  const up = c.icase ? kernelToupper : (x: number) => x;
  const pat = c.pattern.map(up);
  for (let i = c.from; i + n <= end; i++) {
    let j = 0;
    while (j < n && up(pkt[i + j]!) === pat[j]) j++;
    if (j === n) return true;
  }
  return false;
}

/** u32_match_it() of xt_u32.c over the packet from its IP header (shift counts taken mod 32, as
 * the x86 instructions the kernel's C compiles to do). */
export function u32Match(tests: U32Test[], pkt: Uint8Array): boolean {
  const len = pkt.length;
  const word = (o: number) => ((pkt[o]! << 24) | (pkt[o + 1]! << 16) | (pkt[o + 2]! << 8) | pkt[o + 3]!) >>> 0;
  for (const t of tests) {
    let at = 0;
    const pos0 = t.ops[0]!.number;
    if (len < 4 || pos0 > len - 4) return false;
    let val = word(pos0);
    for (let i = 1; i < t.ops.length; i++) {
      const { op, number } = t.ops[i]!;
      if (op === '&') val = (val & number) >>> 0;
      else if (op === '<<') val = (val << (number & 31)) >>> 0;
      else if (op === '>>') val = val >>> (number & 31);
      else {
        if (at + val > 0xffffffff) return false;
        at += val;
        if (at + 4 > 0xffffffff || len < at + 4 || number > len - at - 4) return false;
        val = word(at + number);
      }
    }
    if (!t.ranges.some(([a, b]) => a <= val && val <= b)) return false;
  }
  return true;
}

/** xt_time's days_since_epoch[] covers 1970..2039; later days count as 2039's (the kernel's). */
const DSE_2039 = 25202;
const DAYS_SINCE_YEAR = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const DAYS_SINCE_LEAPYEAR = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];

/** xt_time's localtime_3(): the day of the month of day dse since the epoch. */
export function xtMonthday(dse: number): number {
  let year: number;
  let w: number;
  if (dse >= DSE_2039) {
    year = 2039;
    w = dse - DSE_2039;
  } else {
    const d = new Date(dse * 86400 * 1000);
    year = d.getUTCFullYear();
    w = dse - Math.floor(Date.UTC(year, 0, 1) / 86400000);
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const t = leap ? DAYS_SINCE_LEAPYEAR : DAYS_SINCE_YEAR;
  let i = t.length - 1;
  while (i > 0 && t[i]! > w) i--;
  return w - t[i]! + 1;
}

/** time_mt() of net/netfilter/xt_time.c at real time `sec` with sys_tz minutes west `west`. */
export function timeMatch(c: TimeCheck, sec: number, west: number): boolean {
  let stamp = sec;
  if (c.kerneltz) stamp -= 60 * west;
  if (stamp < c.dateStart || stamp > c.dateStop) return false;
  const packetTime = ((stamp % 86400) + 86400) % 86400;
  if (c.dayStart < c.dayStop) {
    if (packetTime < c.dayStart || packetTime > c.dayStop) return false;
  } else {
    if (packetTime < c.dayStart && packetTime > c.dayStop) return false;
    if (c.contiguous && packetTime <= c.dayStop) stamp -= 86400;
  }
  const dse = Math.floor(stamp / 86400);
  const weekday = ((4 + dse - 1) % 7) + 1;
  if (!((c.weekdays >>> weekday) & 1)) return false;
  if (c.monthdays !== 0xfffffffe && !((c.monthdays >>> (xtMonthday(dse) & 31)) & 1)) return false;
  return true;
}

/** The result before `invert` of a header check (sctpchunks, spi, tcpoption, tcpmss, cpu, time). */
export function headerCheck(c: ResidualCheck, p: Pick<PacketKey, 'l4' | 'cpu' | 'now' | 'realm' | 'pkt'>): HeaderResult {
  const b = p.l4 ?? new Uint8Array(0);
  const cpu = p.cpu;
  switch (c.kind) {
    case 'sctpchunks':
      return sctpChunks(c, b);
    case 'spi': {
      const v = spiOf(c.proto, b);
      return v === 'hotdrop' ? v : v >= c.lo && v <= c.hi;
    }
    case 'tcpoption': {
      const t = tcpOptions(b);
      if (t === 'hotdrop') return t;
      // tcp_find_option(): no options → `invert` (false before the inversion).
      return t.kinds.has(c.option);
    }
    case 'tcpmss': {
      const t = tcpOptions(b);
      if (t === 'hotdrop') return t;
      return t.mss !== undefined && t.mss >= c.lo && t.mss <= c.hi;
    }
    case 'cpu':
      return (cpu ?? 0) === c.cpu;
    case 'time':
      return timeMatch(c, p.now?.sec ?? 0, p.now?.tzMinutesWest ?? 0);
    case 'dccp':
      return dccpMatch(c, b);
    case 'string':
      return stringMatch(c, p.pkt ?? new Uint8Array(0));
    case 'u32':
      return u32Match(c.tests, p.pkt ?? new Uint8Array(0));
    case 'realm':
      // realm_mt(): (dst->tclassid & mask) == id.
      return (((p.realm ?? 0) & c.mask) >>> 0) === c.id >>> 0;
    default:
      throw new Error(`headerCheck: ${c.kind} is not a header check`);
  }
}

export function isHeaderCheck(c: ResidualCheck): boolean {
  return c.kind === 'sctpchunks' || c.kind === 'spi' || c.kind === 'tcpoption' || c.kind === 'tcpmss' || c.kind === 'cpu' || c.kind === 'time' || c.kind === 'dccp' || c.kind === 'realm' || c.kind === 'string' || c.kind === 'u32';
}
