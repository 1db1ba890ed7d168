// updateSpec against compileTable: random tables, random sequences of rule edits (insert,
// delete, replace, policy), each step's incremental spec (derived from the previous step's
// incremental spec, so leftovers accumulate) compared with a full compile of the same table:
// same layout and rules, and for every field the same rule set for every key (probed at every
// entry boundary of both specs and every domain key), and the same classification of random
// packets as the reference matcher.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Table } from '../ruleset/types.ts';
import { compileTable } from './compile.ts';
import { FIELD_DOMAIN, FIELD_NAMES, type PacketKey } from './fields.ts';
import { updateSpec } from './incremental.ts';
import { classifySpec } from './lookup.ts';
import { HOOKS, NAMES, oracle, packetArb, ruleShapeArb, shapeToRule, tableArb, type RuleShape } from './random-tables.ts';
import type { FieldSpec, TableSpec } from './spec.ts';
import { bigTable, STUB_LOOKUP } from './testing.ts';

type Edit =
  | { op: 'insert'; chain: number; pos: number; shapes: RuleShape[] }
  | { op: 'delete'; chain: number; pos: number; n: number }
  | { op: 'replace'; chain: number; pos: number; shape: RuleShape }
  | { op: 'policy'; chain: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), chain: fc.nat(), pos: fc.nat(), shapes: fc.array(ruleShapeArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('delete' as const), chain: fc.nat(), pos: fc.nat(), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('replace' as const), chain: fc.nat(), pos: fc.nat(), shape: ruleShapeArb }),
  fc.record({ op: fc.constant('policy' as const), chain: fc.integer({ min: 0, max: 2 }) }),
);

function maxId(t: Table): number {
  let m = 15;
  for (const c of t.chains) for (const r of c.rules) m = Math.max(m, r.id ?? 0);
  return m;
}

/** The table after one edit (new rules get fresh ids; jumps only to later user chains). */
function applyEdit(t: Table, e: Edit): Table {
  const ci = e.chain % t.chains.length;
  const chains = t.chains.map((c) => ({ ...c, rules: [...c.rules] }));
  const c = chains[ci];
  const targets = chains.slice(Math.max(3, ci + 1)).map((x) => x.name);
  let id = maxId(t) + 1;
  switch (e.op) {
    case 'insert':
      c.rules.splice(e.pos % (c.rules.length + 1), 0, ...e.shapes.map((s) => shapeToRule(s, id++, targets)));
      break;
    case 'delete':
      if (c.rules.length) c.rules.splice(e.pos % c.rules.length, e.n);
      break;
    case 'replace':
      if (c.rules.length) c.rules[e.pos % c.rules.length] = shapeToRule(e.shape, id, targets);
      break;
    case 'policy':
      c.policy = c.policy === 'DROP' ? 'ACCEPT' : 'DROP';
  }
  return { ...t, chains };
}

const setKey = (v: Uint32Array): string => v.join(',');

function lpmClass(fs: Extract<FieldSpec, { kind: 'lpm' }>, addr: number): number {
  let best = -1;
  let cls = -1;
  for (const e of fs.entries) {
    const m = e.prefix.len === 0 ? 0 : (0xffffffff << (32 - e.prefix.len)) >>> 0;
    if (((addr & m) >>> 0) === e.prefix.addr >>> 0 && e.prefix.len > best) {
      best = e.prefix.len;
      cls = e.cls;
    }
  }
  return cls;
}

function ifaceClass(fs: Extract<FieldSpec, { kind: 'iface' }>, name: string): number {
  let best = -1;
  let cls = -1;
  for (const e of fs.entries) {
    const hit = e.exact ? name === e.name : name.startsWith(e.name);
    const len = e.exact ? e.name.length + 1 : e.name.length;
    if (hit && len > best) {
      best = len;
      cls = e.cls;
    }
  }
  return cls;
}

/** Same index space, rules and per-key rule sets. */
function expectEquivalent(inc: TableSpec, full: TableSpec): void {
  expect(inc.nrules).toBe(full.nrules);
  expect(inc.chains).toEqual(full.chains);
  expect(inc.rules).toEqual(full.rules);
  expect(Object.keys(inc.fields).sort()).toEqual(Object.keys(full.fields).sort());
  for (const f of FIELD_NAMES) {
    const a = inc.fields[f];
    const b = full.fields[f];
    if (!a || !b) continue;
    expect(a.kind).toBe(b.kind);
    expect(setKey(a.wildcard), `${f} wildcard`).toBe(setKey(b.wildcard));
    if (a.kind === 'array' && b.kind === 'array') {
      const domain = FIELD_DOMAIN[f as keyof typeof FIELD_DOMAIN];
      const seen = new Set<number>();
      for (let k = 0; k < domain; k++) {
        const pair = a.keyToClass[k] * 1e6 + b.keyToClass[k];
        if (seen.has(pair)) continue;
        seen.add(pair);
        const x = setKey(a.classes[a.keyToClass[k]]);
        const y = setKey(b.classes[b.keyToClass[k]]);
        if (x !== y) expect(`${f}[${k}]: ${x}`).toBe(`${f}[${k}]: ${y}`);
      }
    } else if (a.kind === 'lpm' && b.kind === 'lpm') {
      const probes = new Set<number>();
      for (const e of [...a.entries, ...b.entries]) {
        const start = e.prefix.addr >>> 0;
        probes.add(start);
        const end = start + 2 ** (32 - e.prefix.len);
        if (end < 2 ** 32) probes.add(end);
        if (start > 0) probes.add(start - 1);
      }
      for (const p of probes) expect(`${f}@${p}: ${setKey(a.classes[lpmClass(a, p)])}`).toBe(`${f}@${p}: ${setKey(b.classes[lpmClass(b, p)])}`);
    } else if (a.kind === 'iface' && b.kind === 'iface') {
      const probes = new Set<string>(['', ...NAMES]);
      for (const e of [...a.entries, ...b.entries]) for (const n of [e.name, e.name + '0', e.name + 'x']) probes.add(n);
      for (const p of probes) expect(`${f}@${p}: ${setKey(a.classes[ifaceClass(a, p)])}`).toBe(`${f}@${p}: ${setKey(b.classes[ifaceClass(b, p)])}`);
    }
  }
}

describe('updateSpec (incremental compile)', () => {
  it('equals a full compile on random edit sequences', () => {
    let incremental = 0;
    fc.assert(
      fc.property(tableArb, fc.array(editArb, { minLength: 1, maxLength: 8 }), fc.array(packetArb('INPUT'), { minLength: 1, maxLength: 8 }), (t0, edits, pkts) => {
        let table = t0;
        let spec: TableSpec;
        try {
          spec = compileTable(table, STUB_LOOKUP);
        } catch {
          return; // a table the datapath refuses: nothing to update
        }
        for (const e of edits) {
          const next = applyEdit(table, e);
          let full: TableSpec;
          try {
            full = compileTable(next, STUB_LOOKUP);
          } catch (err) {
            // What a full compile refuses, the incremental path refuses too.
            expect(() => updateSpec(spec, table, next, STUB_LOOKUP)).toThrow((err as Error).message);
            continue;
          }
          const inc = updateSpec(spec, table, next, STUB_LOOKUP);
          if (inc) {
            incremental++;
            expectEquivalent(inc, full);
            for (const hook of HOOKS) {
              for (const p of pkts) {
                const pkt: PacketKey = { ...p, iif: hook === 'OUTPUT' ? '' : p.iif, oif: hook === 'INPUT' ? '' : p.oif };
                // Same verdict and rules counted as the full compile (which the differential
                // test holds to the reference matcher).
                const got = classifySpec(inc, hook, pkt, oracle);
                const want = classifySpec(full, hook, pkt, oracle);
                expect(got).toEqual(want);
              }
            }
          }
          table = next;
          spec = inc ?? full;
        }
      }),
      { numRuns: Number(process.env.BPFT_INCREMENTAL_RUNS ?? 300) },
    );
    // Most edits must take the incremental path, or this test proves little.
    expect(incremental).toBeGreaterThan(300);
  }, 300_000);

  it('handles -A / -I 1 / -D at 10k rules without a full compile', () => {
    const t = bigTable(10_000);
    const spec = compileTable(t, STUB_LOOKUP);
    const input = t.chains.findIndex((c) => c.name === 'INPUT');
    const extra = shapeToRule({ matches: [], t: 1, pick: 0, src: { addr: 0xc0000201, mask: 0xffffffff, invert: false }, proto: { proto: 6, invert: false } }, 99_999, []);
    for (const edit of [
      (rules: typeof t.chains[0]['rules']) => [...rules, extra],
      (rules: typeof t.chains[0]['rules']) => [extra, ...rules],
      (rules: typeof t.chains[0]['rules']) => rules.slice(0, -1),
    ]) {
      const next: Table = { ...t, chains: t.chains.map((c, i) => (i === input ? { ...c, rules: edit(c.rules) } : c)) };
      const inc = updateSpec(spec, t, next, STUB_LOOKUP);
      expect(inc).toBeDefined();
      expectEquivalent(inc!, compileTable(next, STUB_LOOKUP));
    }
  }, 120_000);
});

describe('updateSpec leftovers', () => {
  it('compiles in full once deleted rules left too many classes behind', () => {
    // -A / -D of a rule with a new address, many times: each leaves an LPM entry and a class.
    const t = bigTable(10);
    let spec = compileTable(t, STUB_LOOKUP);
    let full = 0;
    for (let i = 0; i < 200; i++) {
      const extra = shapeToRule({ matches: [], t: 1, pick: 0, src: { addr: (0xc0000000 + i) >>> 0, mask: 0xffffffff, invert: false } }, 1000 + i, []);
      for (const next of [
        { ...t, chains: t.chains.map((c, ci) => (ci === 0 ? { ...c, rules: [...c.rules, extra] } : c)) },
        t,
      ]) {
        const prevTable = next === t ? { ...t, chains: t.chains.map((c, ci) => (ci === 0 ? { ...c, rules: [...c.rules, extra] } : c)) } : t;
        const inc = updateSpec(spec, prevTable, next, STUB_LOOKUP);
        if (!inc) full++;
        spec = inc ?? compileTable(next, STUB_LOOKUP);
        const src = spec.fields.src!;
        expect(src.kind === 'lpm' ? src.entries.length : 0).toBeLessThanOrEqual(2 * 11 + 64 + 1);
      }
    }
    expect(full).toBeGreaterThan(0);
    expectEquivalent(spec, compileTable(t, STUB_LOOKUP));
  });
});
