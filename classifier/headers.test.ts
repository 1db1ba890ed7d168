import { describe, expect, it } from 'vitest';
import { dccpHdrLen, dccpMatch, headerCheck, sctpChunks, tcpOptions, timeMatch, xtMonthday } from './headers.ts';
import type { SctpChunksCheck } from './fields.ts';

const sctp = (...chunks: Array<[number, number, number]>): Uint8Array =>
  Uint8Array.from([0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, ...chunks.flatMap(([t, f, len]) => [t, f, len >> 8, len & 255, ...Array(Math.max(0, ((len + 3) & ~3) - 4)).fill(0)])]);
const check = (type: SctpChunksCheck['type'], map: number[], flags: SctpChunksCheck['flags'] = []): SctpChunksCheck => ({ kind: 'sctpchunks', type, map, flags, invert: false });

describe('sctp chunk walk (xt_sctp match_packet)', () => {
  it('any / all / only over the chunk types, with flag_info', () => {
    const p = sctp([0, 3, 16], [3, 0, 4]);
    expect(sctpChunks(check('any', [1, 3]), p)).toBe(true);
    expect(sctpChunks(check('all', [0, 3]), p)).toBe(true);
    expect(sctpChunks(check('all', [0, 1]), p)).toBe(false);
    expect(sctpChunks(check('only', [0, 3]), p)).toBe(true);
    expect(sctpChunks(check('only', [0]), p)).toBe(false);
    expect(sctpChunks(check('any', [0], [{ chunktype: 0, flag: 0, mask: 1 }]), p)).toBe(false);
    expect(sctpChunks(check('only', [0, 3], [{ chunktype: 0, flag: 3, mask: 3 }]), p)).toBe(true);
  });
  it('hotdrops at a zero-length or unreadable chunk unless an earlier chunk decided', () => {
    expect(sctpChunks(check('any', [0]), sctp([0, 0, 4], [1, 0, 0]))).toBe(true);
    expect(sctpChunks(check('any', [1]), sctp([0, 0, 4], [1, 0, 0]))).toBe('hotdrop');
    expect(sctpChunks(check('only', [1]), sctp([0, 0, 4], [1, 0, 0]))).toBe(false);
    expect(sctpChunks(check('all', [0]), sctp([0, 0, 4], [1, 0, 0]))).toBe('hotdrop');
    expect(sctpChunks(check('all', []), sctp())).toBe('hotdrop'); // no chunk at all
    expect(sctpChunks(check('any', [0]), sctp([0, 0, 4]).subarray(0, 14))).toBe('hotdrop');
    expect(sctpChunks(check('any', [0]), new Uint8Array(11))).toBe('hotdrop');
  });
});

describe('tcp options (tcp_find_option, xt_tcpmss)', () => {
  const tcp = (doff: number, opts: number[], len = 20 + opts.length): Uint8Array => {
    const b = new Uint8Array(len);
    b[12] = doff << 4;
    b.set(opts.slice(0, len - 20), 20);
    return b;
  };
  it('walks kinds 0 / 1 one byte, others by length (0 steps 1), first MSS of length 4', () => {
    const t = tcpOptions(tcp(8, [1, 1, 3, 3, 7, 2, 4, 5, 180, 0, 0, 0]));
    expect(t).toEqual({ kinds: new Set([1, 3, 2, 0]), mss: 1460, optlen: 12 });
    expect(tcpOptions(tcp(6, [2, 3, 5, 180]))).toEqual({ kinds: new Set([2, 180]), mss: undefined, optlen: 4 });
  });
  it('hotdrops a short header, doff < 5 and truncated options', () => {
    expect(tcpOptions(new Uint8Array(19))).toBe('hotdrop');
    expect(tcpOptions(tcp(4, []))).toBe('hotdrop');
    expect(tcpOptions(tcp(7, [1, 1, 1, 1, 1, 1, 1, 1], 24))).toBe('hotdrop');
  });
  it('no options: --tcp-option and tcpmss do not match (before `!`)', () => {
    expect(headerCheck({ kind: 'tcpoption', option: 2, invert: true }, { l4: tcp(5, []) })).toBe(false);
    expect(headerCheck({ kind: 'tcpmss', lo: 0, hi: 65535, invert: false }, { l4: tcp(5, []) })).toBe(false);
  });
});

describe('IPsec SPIs', () => {
  it('esp 8, ah 12, ipcomp 4 bytes; the CPI is 16 bits', () => {
    expect(headerCheck({ kind: 'spi', proto: 'esp', lo: 5, hi: 5, invert: false }, { l4: Uint8Array.from([0, 0, 0, 5, 0, 0, 0, 0]) })).toBe(true);
    expect(headerCheck({ kind: 'spi', proto: 'esp', lo: 5, hi: 5, invert: false }, { l4: Uint8Array.from([0, 0, 0, 5, 0, 0, 0]) })).toBe('hotdrop');
    expect(headerCheck({ kind: 'spi', proto: 'ah', lo: 7, hi: 7, invert: false }, { l4: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]) })).toBe(true);
    expect(headerCheck({ kind: 'spi', proto: 'ah', lo: 7, hi: 7, invert: false }, { l4: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 7]) })).toBe('hotdrop');
    expect(headerCheck({ kind: 'spi', proto: 'ipcomp', lo: 0x102, hi: 0x102, invert: false }, { l4: Uint8Array.from([0, 0, 1, 2]) })).toBe(true);
  });
});

describe('time (xt_time time_mt)', () => {
  const base = { kind: 'time' as const, dateStart: 0, dateStop: 2147483647, dayStart: 0, dayStop: 86399, weekdays: 0xfe, monthdays: 0xfffffffe, kerneltz: false, contiguous: false, invert: false as const };
  // 2026-12-07 (a Monday) 23:30:00 UTC
  const mon2330 = Date.UTC(2026, 11, 7, 23, 30, 0) / 1000;
  it('daytime ranges, wrapping past midnight, --contiguous moving the day back', () => {
    expect(timeMatch({ ...base, dayStart: 23 * 3600, dayStop: 3600 }, mon2330, 0)).toBe(true);
    expect(timeMatch({ ...base, dayStart: 3600, dayStop: 2 * 3600 }, mon2330, 0)).toBe(false);
    // Tuesday 00:30 in a Mon 23:00-01:00 window: without --contiguous the weekday is Tuesday's.
    const tue0030 = mon2330 + 3600;
    const monOnly = { ...base, dayStart: 23 * 3600, dayStop: 3600, weekdays: 1 << 1 };
    expect(timeMatch(monOnly, tue0030, 0)).toBe(false);
    expect(timeMatch({ ...monOnly, contiguous: true }, tue0030, 0)).toBe(true);
  });
  it('weekdays, monthdays, dates and --kerneltz', () => {
    expect(timeMatch({ ...base, weekdays: 1 << 1 }, mon2330, 0)).toBe(true);
    expect(timeMatch({ ...base, weekdays: 1 << 2 }, mon2330, 0)).toBe(false);
    expect(timeMatch({ ...base, monthdays: 1 << 7 }, mon2330, 0)).toBe(true);
    expect(timeMatch({ ...base, monthdays: 1 << 8 }, mon2330, 0)).toBe(false);
    expect(timeMatch({ ...base, dateStop: mon2330 - 1 }, mon2330, 0)).toBe(false);
    // kerneltz 60 minutes east (west = -60): 00:30 Tuesday the 8th locally.
    expect(timeMatch({ ...base, kerneltz: true, monthdays: 1 << 8, weekdays: 1 << 2 }, mon2330, -60)).toBe(true);
    expect(timeMatch({ ...base, kerneltz: false, monthdays: 1 << 8 }, mon2330, -60)).toBe(false);
  });
  it('monthdays after 2039 count as 2039 days, as the kernel table does', () => {
    expect(xtMonthday(Date.UTC(2039, 11, 31) / 86400000)).toBe(31);
    expect(xtMonthday(Date.UTC(2040, 0, 1) / 86400000)).toBe(32);
    expect(xtMonthday(Date.UTC(2000, 1, 29) / 86400000)).toBe(29);
  });
});

describe('dccp (xt_dccp dccp_mt)', () => {
  // DATA (type 2, X=1): 16-byte header, doff 5 → 4 option bytes.
  const data = (opts: number[], doff = 5): Uint8Array => Uint8Array.from([0, 1, 0, 2, doff, 0, 0, 0, (2 << 1) | 1, 0, 0, 0, 0, 0, 0, 0, ...opts]);
  it('header lengths per type and X', () => {
    expect(dccpHdrLen((2 << 1) | 1)).toBe(16);
    expect(dccpHdrLen(0 << 1)).toBe(16); // REQUEST: + service code
    expect(dccpHdrLen(1 << 1)).toBe(24); // RESPONSE
    expect(dccpHdrLen((3 << 1) | 1)).toBe(24); // ACK with X
    expect(dccpHdrLen(15 << 1)).toBe(24); // unknown types: as RESET
  });
  it('types, then the option walk; a short header, doff below the header or truncated options hotdrop', () => {
    const c = (types?: number, option?: number, tinv = false, oinv = false) =>
      ({ kind: 'dccp', types: types === undefined ? undefined : { mask: types, invert: tinv }, option: option === undefined ? undefined : { option, invert: oinv }, invert: false }) as const;
    expect(dccpMatch(c(1 << 2), data([1, 5, 2, 0]))).toBe(true);
    expect(dccpMatch(c(1 << 3, 5), data([0, 0, 0, 0], 3))).toBe(false); // the type fails before the doff check
    expect(dccpMatch(c(undefined, 5), data([0, 0, 0, 0], 3))).toBe('hotdrop');
    expect(dccpMatch(c(undefined, 5), data([1, 5, 2, 0]))).toBe(true);
    // 2 is option 5's length byte, never a kind the walk visits.
    expect(dccpMatch(c(undefined, 2), data([1, 5, 2, 0]))).toBe(false);
    expect(dccpMatch(c(undefined, 2, false, true), data([1, 5, 2, 0]))).toBe(true);
    expect(dccpMatch(c(undefined, 2), data([1, 5]).subarray(0, 18))).toBe('hotdrop');
    expect(dccpMatch(c(1 << 2), new Uint8Array(11))).toBe('hotdrop');
  });
});
