import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixMask } from './base.ts';
import { buildArrayClasses, buildIfaceClasses, buildPrefixClasses, type IfaceCons, type PrefixCons, type RangeCons } from './classes.ts';

/** Rules (sorted) accepting key under per-rule constraint lists, by brute force. */
function bruteForce<C extends { rule: number; invert: boolean }>(cons: C[], holds: (c: C) => boolean): number[] {
  const byRule = new Map<number, C[]>();
  for (const c of cons) byRule.set(c.rule, [...(byRule.get(c.rule) ?? []), c]);
  return [...byRule.entries()]
    .filter(([, cs]) => cs.every((c) => holds(c) !== c.invert))
    .map(([r]) => r)
    .sort((a, b) => a - b);
}

describe('buildArrayClasses (elementary-interval sweep)', () => {
  it('splits a small domain', () => {
    const cons: RangeCons[] = [
      { rule: 0, invert: false, ranges: [[2, 5]] },
      { rule: 1, invert: true, ranges: [[4, 8]] },
      { rule: 2, invert: false, ranges: [[0, 0], [9, 9]] },
    ];
    const { keyToClass, classes } = buildArrayClasses(10, 3, cons);
    const sets = Array.from(keyToClass, (c) => Array.from(classes[c]));
    expect(sets).toEqual([[1, 2], [1], [0, 1], [0, 1], [0], [0], [], [], [], [1, 2]]);
    // Keys 6,7,8 and key 4,5 share classes: deduped.
    expect(keyToClass[6]).toBe(keyToClass[7]);
    expect(keyToClass[4]).toBe(keyToClass[5]);
    expect(new Set(keyToClass).size).toBe(classes.length);
  });

  it('intersects several constraints of one rule and inverts over the whole domain', () => {
    const cons: RangeCons[] = [
      { rule: 5, invert: false, ranges: [[0, 6]] },
      { rule: 5, invert: true, ranges: [[3, 3]] },
    ];
    const { keyToClass, classes } = buildArrayClasses(8, 64, cons);
    expect(Array.from(keyToClass, (c) => classes[c].length)).toEqual([1, 1, 1, 0, 1, 1, 1, 0]);
  });

  it('equals brute force on random constraints', () => {
    const domain = 40;
    const rangeArb = fc.tuple(fc.integer({ min: 0, max: domain - 1 }), fc.integer({ min: 0, max: 6 })).map(([lo, w]) => [lo, Math.min(domain - 1, lo + w)] as [number, number]);
    const consArb = fc.array(fc.record({ rule: fc.integer({ min: 0, max: 12 }), invert: fc.boolean(), ranges: fc.array(rangeArb, { maxLength: 3 }) }), { maxLength: 20 });
    fc.assert(
      fc.property(consArb, (cons) => {
        for (const nrules of [16, 4096]) {
        const { keyToClass, classes } = buildArrayClasses(domain, nrules, cons);
        for (let k = 0; k < domain; k++) {
          const want = bruteForce(cons, (c) => c.ranges.some(([lo, hi]) => k >= lo && k <= hi));
          expect(Array.from(classes[keyToClass[k]])).toEqual(want);
        }
        // Classes are distinct sets.
        expect(new Set(classes.map((c) => Array.from(c).join(','))).size).toBe(classes.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('buildPrefixClasses (LPM entries)', () => {
  const pool = [0x0a000000, 0x0a010000, 0x0a010200, 0x0a010203, 0xc0a80000, 0xc0a80101, 0];
  const lens = [0, 8, 15, 16, 24, 30, 32];
  const prefixArb = fc.record({ a: fc.constantFrom(...pool), len: fc.constantFrom(...lens) }).map(({ a, len }) => ({ addr: (a & prefixMask(len)) >>> 0, len }));

  it('always has 0.0.0.0/0 and classes by longest prefix', () => {
    const cons: PrefixCons[] = [
      { rule: 0, invert: false, prefixes: [{ addr: 0x0a000000, len: 8 }] },
      { rule: 1, invert: true, prefixes: [{ addr: 0x0a010000, len: 16 }] },
    ];
    const { entries, classes } = buildPrefixClasses(2, cons);
    const cls = (len: number) => Array.from(classes[entries.find((e) => e.prefix.len === len)!.cls]);
    expect(entries.map((e) => e.prefix.len)).toEqual([0, 8, 16]);
    expect(cls(0)).toEqual([1]);
    expect(cls(8)).toEqual([0, 1]);
    expect(cls(16)).toEqual([0]);
  });

  it('equals brute force on random prefix sets and addresses', () => {
    const consArb = fc.array(fc.record({ rule: fc.integer({ min: 0, max: 10 }), invert: fc.boolean(), prefixes: fc.array(prefixArb, { minLength: 1, maxLength: 3 }) }), { maxLength: 14 });
    const addrArb = fc.oneof(fc.constantFrom(...pool).chain((a) => fc.integer({ min: 0, max: 600 }).map((d) => (a + d) >>> 0)), fc.integer({ min: 0, max: 0xffffffff }));
    fc.assert(
      fc.property(consArb, fc.array(addrArb, { minLength: 1, maxLength: 20 }), (cons, addrs) => {
        const { entries, classes } = buildPrefixClasses(addrs.length % 2 ? 16 : 4096, cons);
        expect(entries.some((e) => e.prefix.len === 0)).toBe(true);
        for (const addr of addrs) {
          let best = entries[0];
          for (const e of entries) {
            if (((addr & prefixMask(e.prefix.len)) >>> 0) === e.prefix.addr && e.prefix.len >= best.prefix.len) best = e;
          }
          const want = bruteForce(cons, (c) => c.prefixes.some((p) => ((addr & prefixMask(p.len)) >>> 0) === p.addr));
          expect(Array.from(classes[best.cls])).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('buildIfaceClasses (LPM over name bytes)', () => {
  const patterns = ['eth0', 'eth1', 'eth+', 'eth1+', '+', 'lo', 'veth+', 'e+'];
  const names = ['eth0', 'eth1', 'eth10', 'eth', 'lo', 'veth0', 'wlan0', '', 'e'];
  it('equals brute force', () => {
    const consArb = fc.array(fc.record({ rule: fc.integer({ min: 0, max: 8 }), invert: fc.boolean(), pattern: fc.constantFrom(...patterns) }), { maxLength: 12 });
    fc.assert(
      fc.property(consArb, (cons: IfaceCons[]) => {
        const { entries, classes } = buildIfaceClasses(16, cons);
        for (const name of names) {
          let best: (typeof entries)[number] | undefined;
          let bestBits = -1;
          for (const e of entries) {
            const ok = e.exact ? name === e.name : name.startsWith(e.name);
            const bits = (e.name.length + (e.exact ? 1 : 0)) * 8;
            if (ok && bits > bestBits) [best, bestBits] = [e, bits];
          }
          const want = bruteForce(cons, (c) => (c.pattern.endsWith('+') ? name.startsWith(c.pattern.slice(0, -1)) : name === c.pattern));
          expect(Array.from(classes[best!.cls])).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});
