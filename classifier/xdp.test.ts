import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { emptyTable, type Rule } from '../ruleset/types.ts';
import { xdpDrops, xdpLookup, xdpReference } from './xdp.ts';

const maskOf = (plen: number): number => (plen === 0 ? 0 : (~0 << (32 - plen)) >>> 0);

// Addresses from a small pool so that prefixes nest and overlap often.
const addrArb = fc.constantFrom(0x0a000000, 0x0a010000, 0x0a010200, 0x0a010203, 0xc0a80001, 0xc0a80100).chain((base) => fc.integer({ min: 0, max: 0x3ff }).map((x) => (base ^ x) >>> 0));

const ruleArb: fc.Arbitrary<Rule> = fc.record({
  kind: fc.constantFrom('src', 'src', 'src', 'any', 'accept', 'inv', 'proto'),
  addr: addrArb,
  plen: fc.integer({ min: 0, max: 32 }),
}).map(({ kind, addr, plen }) => {
  const src = { addr: (addr & maskOf(plen)) >>> 0, mask: maskOf(plen), invert: kind === 'inv' };
  const r: Rule = { matches: [], counters: { packets: 0n, bytes: 0n }, target: { kind: 'standard', verdict: kind === 'accept' ? 'ACCEPT' : 'DROP' } };
  if (kind !== 'any') r.src = src;
  if (kind === 'proto') r.proto = { proto: 6, invert: false } as Rule['proto'];
  return r;
});

describe('xdpDrops', () => {
  it('the longest-prefix lookup of the stored prefixes picks the first head rule (property)', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 12 }), fc.array(ruleArb, { maxLength: 4 }), fc.boolean(), fc.array(addrArb, { minLength: 20, maxLength: 20 }), (inRules, fwdRules, drop, addrs) => {
        const t = emptyTable('filter');
        let id = 10;
        const input = t.chains.find((c) => c.name === 'INPUT')!;
        const fwd = t.chains.find((c) => c.name === 'FORWARD')!;
        input.rules = inRules.map((r) => ({ ...r, id: id++ }));
        fwd.rules = fwdRules.map((r) => ({ ...r, id: id++ }));
        if (drop) input.policy = 'DROP';
        const drops = xdpDrops(t);
        for (const a of addrs) {
          expect(xdpLookup(drops, 0, a)).toBe(xdpReference(t, 0, a));
          expect(xdpLookup(drops, 1, a)).toBe(xdpReference(t, 1, a));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('stops at the first rule that is not a source-only DROP', () => {
    const t = emptyTable('filter');
    const input = t.chains.find((c) => c.name === 'INPUT')!;
    const mk = (id: number, addr: number, plen: number, verdict: 'DROP' | 'ACCEPT' = 'DROP'): Rule => ({ id, src: { addr, mask: maskOf(plen), invert: false }, matches: [], counters: { packets: 0n, bytes: 0n }, target: { kind: 'standard', verdict } });
    input.rules = [mk(5, 0x0a000000, 8), mk(6, 0x0a000001, 32, 'ACCEPT'), mk(7, 0x0b000000, 8)];
    input.policy = 'DROP';
    expect(xdpDrops(t)).toEqual([{ chain: 0, addr: 0x0a000000, plen: 8, counterId: 5 }]);
  });
});
