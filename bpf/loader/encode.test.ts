// The hashlimit table the loader writes (bpf/hashlimit.h struct hl_tab): xt_hashlimit's
// arithmetic (revision 3) worked out by hand for HZ 250 (this machine's CONFIG_HZ).
import { describe, expect, it } from 'vitest';
import type { HashlimitCfg } from '../../classifier/fields.ts';
import { encodeHashlimitTable, msecsToJiffies } from './encode.ts';

const cfg = (c: Partial<HashlimitCfg>): HashlimitCfg => ({ mode: 0, avg: 1000000, burst: 5, size: 0, max: 0, gcInterval: 1000, expire: 1000, srcmask: 32, dstmask: 32, interval: 0, ...c });
const GiB = 1024 ** 3;

function fields(b: Buffer) {
  return {
    mode: b.readUInt32LE(0),
    srcmask: b.readUInt32LE(4),
    dstmask: b.readUInt32LE(8),
    max: b.readUInt32LE(12),
    expire: b.readBigUInt64LE(16),
    gc: b.readBigUInt64LE(24),
    hz: b.readBigUInt64LE(32),
    cpj: b.readBigUInt64LE(40),
    cpjb: b.readBigUInt64LE(48),
    init: [0, 1, 2, 3].map((i) => b.readBigUInt64LE(56 + 8 * i)),
    count: b.readBigUInt64LE(88),
  };
}

describe('hashlimit tables (encodeHashlimitTable)', () => {
  it('packet mode: user2credits with CREDITS_PER_JIFFY = 2^39 at HZ 250', () => {
    const t = fields(encodeHashlimitTable(cfg({ avg: 1000000, burst: 3, srcmask: 16, dstmask: 0, expire: 2000 }), 250, 2 * GiB));
    // HZ * CPJ / 1000000 = 137438953 credits per microsecond of period.
    expect(t.cpj).toBe(2n ** 39n);
    expect(t.cpjb).toBe(2n ** 24n);
    expect(t.init).toEqual([3000000n * 137438953n, 3000000n * 137438953n, 1000000n * 137438953n, 0n]);
    expect([t.srcmask, t.dstmask]).toEqual([0xffff0000, 0]);
    expect(t.expire).toBe(500n);
    expect(t.gc).toBe(250n);
    expect(t.max).toBe(65536); // 8 * 8192 buckets above 1 GiB of RAM
    expect(t.count).toBe(0n);
  });

  it('byte mode: the bucket is CREDITS_PER_JIFFY_BYTES * HZ, the cost user2credits_byte(avg)', () => {
    // 16b/s: avg = 0xffffffff / 2 = 2147483647; (avg * 250 * 2^24) >> 32.
    const t = fields(encodeHashlimitTable(cfg({ mode: 0x20, avg: 2147483647, burst: 3 }), 250, 2 * GiB));
    expect(t.init).toEqual([4194304000n, 3n, 2097151999n, 0n]);
  });

  it('rate match: rate = 1000000 / avg, burst + rate, the interval in the first word', () => {
    const t = fields(encodeHashlimitTable(cfg({ mode: 0x40, avg: 500000, burst: 1, interval: 1 }), 250, 2 * GiB));
    expect(t.init).toEqual([1n, 0n, 2n, 3n]);
    // bytes: rate = (U32_MAX / avg - 1) << 4, burst * rate.
    const b = fields(encodeHashlimitTable(cfg({ mode: 0x60, avg: 2147483647, burst: 2, interval: 1 }), 250, 2 * GiB));
    expect(b.init).toEqual([1n, 0n, 16n, 32n]);
  });

  it('htable size and max as htable_create()', () => {
    expect(fields(encodeHashlimitTable(cfg({}), 250, 512 * 1024 ** 2)).max).toBe(8 * 4096);
    expect(fields(encodeHashlimitTable(cfg({ size: 10, max: 5 }), 250, 2 * GiB)).max).toBe(10);
    expect(fields(encodeHashlimitTable(cfg({ size: 1, max: 2 }), 250, 2 * GiB)).max).toBe(2);
  });

  it('msecs_to_jiffies rounds up', () => {
    expect(msecsToJiffies(1001, 250)).toBe(251n);
    expect(msecsToJiffies(1000, 1000)).toBe(1000n);
    expect(msecsToJiffies(1000, 300)).toBe(300n);
    expect(msecsToJiffies(1, 300)).toBe(1n);
  });
});
