// classifySpec(compileTable(t)) against the linear reference matcher on random tables and
// packets biased towards the tables' values (addresses, ports and names come from small
// shared pools, so overlaps, nesting and exact hits are the common case).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zeroCounters, type Table } from '../ruleset/types.ts';
import { prefixMask } from './base.ts';
import { compileTable } from './compile.ts';
import { FIELD_DOMAIN, type PacketKey } from './fields.ts';
import { classifySpec, type Hook } from './lookup.ts';
import { referenceClassify } from './reference.ts';
import type { TableSpec } from './spec.ts';
import { HOOKS, oracle, packetArb, ruleShapeArb, tableArb } from './random-tables.ts';
import { STUB_LOOKUP } from './testing.ts';


/** The structural promises of spec.ts that the BPF encoder relies on. */
function checkSpecInvariants(spec: TableSpec): void {
  expect(spec.nrules % 64).toBe(0);
  expect(spec.nrules).toBeGreaterThanOrEqual(64);
  expect(spec.rules.length).toBe(spec.nrules);
  const owner = new Int32Array(spec.nrules).fill(-1);
  spec.chains.forEach((c, id) => {
    expect(c.firstRule % 64).toBe(0);
    expect(c.endRule).toBeGreaterThanOrEqual(c.firstRule);
    expect(c.endRule).toBeLessThanOrEqual(spec.nrules);
    for (let i = c.firstRule; i < c.endRule; i++) {
      expect(owner[i]).toBe(-1);
      owner[i] = id;
    }
    expect(c.counterId).toBe(id < 3 ? id : -1);
  });
  spec.rules.forEach((r, i) => expect(r === null).toBe(owner[i] < 0));
  for (const r of spec.rules) {
    if (r && (r.action.kind === 'jump' || r.action.kind === 'goto')) expect(r.action.chain).toBeGreaterThanOrEqual(3);
  }
  const real = spec.rules.filter((r) => r !== null).length;
  for (const [f, fs] of Object.entries(spec.fields)) {
    if (!fs) continue;
    const sorted = (a: Uint32Array) => a.every((v, i) => i === 0 || a[i - 1] < v);
    expect(sorted(fs.wildcard), f).toBe(true);
    const wild = new Set(fs.wildcard);
    for (const i of fs.wildcard) expect(owner[i]).toBeGreaterThanOrEqual(0);
    const constraining = new Set<number>();
    const seen = new Set<string>();
    for (const c of fs.classes) {
      expect(sorted(c), f).toBe(true);
      for (const i of c) {
        expect(wild.has(i)).toBe(false);
        expect(owner[i]).toBeGreaterThanOrEqual(0);
        constraining.add(i);
      }
      seen.add(Array.from(c).join(','));
    }
    expect(seen.size, `${f}: classes are distinct sets`).toBe(fs.classes.length);
    expect(constraining.size + wild.size).toBeLessThanOrEqual(real);
    if (fs.kind === 'array') {
      expect(fs.keyToClass.length).toBe(FIELD_DOMAIN[f as keyof typeof FIELD_DOMAIN]);
      const used = new Set(fs.keyToClass);
      expect(used.size).toBe(fs.classes.length);
    } else if (fs.kind === 'lpm') {
      expect(fs.entries.some((e) => e.prefix.len === 0 && e.prefix.addr === 0)).toBe(true);
      for (const e of fs.entries) expect(((e.prefix.addr & prefixMask(e.prefix.len)) >>> 0) === e.prefix.addr).toBe(true);
    } else {
      expect(fs.entries.some((e) => e.name === '' && !e.exact)).toBe(true);
    }
  }
}

function compare(table: Table, hook: Hook, pkt: PacketKey): void {
  const spec = compileTable(table, STUB_LOOKUP);
  const got = classifySpec(spec, hook, pkt, oracle);
  const want = referenceClassify(table, hook, pkt, { lookup: STUB_LOOKUP, residual: oracle });
  expect({
    verdict: got.verdict,
    reject: got.reject,
    matched: got.matched.map((i) => spec.rules[i]!.counterId),
    policy: got.policyCounted === undefined ? undefined : spec.chains[got.policyCounted].name,
  }).toEqual({ verdict: want.verdict, reject: want.reject, matched: want.matched, policy: want.policyCounted });
}

describe('compiled LBVS tables agree with the linear reference', () => {
  for (const hook of HOOKS) {
    it(`on random tables and packets (${hook})`, () => {
      fc.assert(
        fc.property(tableArb, fc.array(packetArb(hook), { minLength: 1, maxLength: 25 }), (table, pkts) => {
          const spec = compileTable(table, STUB_LOOKUP);
          checkSpecInvariants(spec);
          for (const pkt of pkts) {
            const got = classifySpec(spec, hook, pkt, oracle);
            const want = referenceClassify(table, hook, pkt, { lookup: STUB_LOOKUP, residual: oracle });
            expect({
              verdict: got.verdict,
              reject: got.reject,
              matched: got.matched.map((i) => spec.rules[i]!.counterId),
              policy: got.policyCounted === undefined ? undefined : spec.chains[got.policyCounted].name,
            }).toEqual({ verdict: want.verdict, reject: want.reject, matched: want.matched, policy: want.policyCounted });
          }
        }),
        { numRuns: 400 },
      );
    });
  }

  it('with inverted constraints demoted to residual checks (classBudget 0)', () => {
    fc.assert(
      fc.property(tableArb, fc.constantFrom(...HOOKS).chain((h) => fc.tuple(fc.constant(h), fc.array(packetArb(h), { minLength: 1, maxLength: 20 }))), (table, [hook, pkts]) => {
        const spec = compileTable(table, STUB_LOOKUP, { classBudget: 0 });
        checkSpecInvariants(spec);
        for (const pkt of pkts) {
          const got = classifySpec(spec, hook, pkt, oracle);
          const want = referenceClassify(table, hook, pkt, { lookup: STUB_LOOKUP, residual: oracle });
          expect({
            verdict: got.verdict,
            reject: got.reject,
            matched: got.matched.map((i) => spec.rules[i]!.counterId),
            policy: got.policyCounted === undefined ? undefined : spec.chains[got.policyCounted].name,
          }).toEqual({ verdict: want.verdict, reject: want.reject, matched: want.matched, policy: want.policyCounted });
        }
      }),
      { numRuns: 400 },
    );
  });

  it('on long chains (bitvector words crossing 32/64-rule boundaries)', () => {
    const longTableArb = fc.array(ruleShapeArb, { minLength: 30, maxLength: 140 }).chain((rules) =>
      tableArb.map((t) => ({ ...t, chains: t.chains.map((c, i) => (i === 0 ? { ...c, rules: rules.map((s, j) => ({ id: 10_000 + j, counters: zeroCounters(), ...s, matches: s.matches, target: s.t === 2 ? ({ kind: 'standard', verdict: 'DROP' } as const) : s.t === 1 ? ({ kind: 'standard', verdict: 'ACCEPT' } as const) : undefined })) } : c)) })),
    );
    fc.assert(
      fc.property(longTableArb, fc.array(packetArb('INPUT'), { minLength: 1, maxLength: 30 }), (table, pkts) => {
        for (const pkt of pkts) compare(table, 'INPUT', pkt);
      }),
      { numRuns: 60 },
    );
  });

  it('handles empty tables, empty chains and DROP policies', () => {
    const table: Table = {
      name: 'filter',
      chains: [
        { name: 'INPUT', policy: 'DROP', counters: zeroCounters(), rules: [{ id: 16, matches: [], counters: zeroCounters(), target: { kind: 'jump', chain: 'E' } }] },
        { name: 'FORWARD', policy: 'ACCEPT', counters: zeroCounters(), rules: [] },
        { name: 'OUTPUT', policy: 'ACCEPT', counters: zeroCounters(), rules: [] },
        { name: 'E', counters: zeroCounters(), rules: [] },
      ],
    };
    const pkt = fc.sample(packetArb('INPUT'), 1)[0];
    compare(table, 'INPUT', pkt);
    compare(table, 'FORWARD', { ...pkt, oif: 'eth0' });
    const spec = compileTable(table, STUB_LOOKUP);
    expect(classifySpec(spec, 'INPUT', pkt)).toEqual({ verdict: 'DROP', matched: [0], policyCounted: 0 });
  });
});
