import { describe, expect, it } from 'vitest';
import { XtablesError } from '../parser/errors.ts';
import { emptyTable, zeroCounters, type Chain, type Table } from '../ruleset/types.ts';
import { compileBase, maskToPrefixLen } from './base.ts';
import { compileTable, MAX_CALL_DEPTH } from './compile.ts';
import { classifySpec } from './lookup.ts';
import type { ArrayFieldSpec, TableSpec } from './spec.ts';
import { bigTable, packet, rule, STUB_LOOKUP } from './testing.ts';

describe('compileBase', () => {
  it('-p tcp accepts first and non-first fragments', () => {
    expect(compileBase(rule({ proto: { proto: 6, invert: false } })).fields?.proto).toEqual({ kind: 'ranges', ranges: [[6, 6], [262, 262]], invert: false });
  });
  it('! -p tcp, -f, ! -f and their combinations', () => {
    const p = (r: Parameters<typeof rule>[0]) => compileBase(rule(r)).fields?.proto as { ranges: Array<[number, number]> } | undefined;
    expect(p({ proto: { proto: 6, invert: true } })?.ranges).toEqual([[0, 5], [7, 261], [263, 511]]);
    expect(p({ fragment: { invert: false } })?.ranges).toEqual([[256, 511]]);
    expect(p({ fragment: { invert: true } })?.ranges).toEqual([[0, 255]]);
    expect(p({ proto: { proto: 17, invert: false }, fragment: { invert: false } })?.ranges).toEqual([[273, 273]]);
    expect(p({ proto: { proto: 17, invert: true }, fragment: { invert: true } })?.ranges).toEqual([[0, 16], [18, 255]]);
  });
  it('-p all never constrains, even inverted', () => {
    expect(compileBase(rule({ proto: { proto: 0, invert: false } })).fields?.proto).toBeUndefined();
    expect(compileBase(rule({ proto: { proto: 0, invert: true } })).fields?.proto).toBeUndefined();
  });
  it('addresses: prefix, 0/0, inverted 0/0 and non-contiguous masks', () => {
    expect(compileBase(rule({ src: { addr: 0x0a000000, mask: 0xff000000, invert: true } })).fields?.src).toEqual({ kind: 'prefixes', prefixes: [{ addr: 0x0a000000, len: 8 }], invert: true });
    expect(compileBase(rule({ src: { addr: 0, mask: 0, invert: false } })).fields?.src).toBeUndefined();
    expect(compileBase(rule({ dst: { addr: 0, mask: 0, invert: true } })).fields?.dst).toEqual({ kind: 'prefixes', prefixes: [{ addr: 0, len: 0 }], invert: true });
    const cm = compileBase(rule({ dst: { addr: 0x0a000001, mask: 0xff0000ff, invert: true } }));
    expect(cm.fields?.dst).toBeUndefined();
    expect(cm.residual).toEqual([{ kind: 'cmp', field: 'daddr', mask: 0xff0000ff, ranges: [[0x0a000001, 0x0a000001]], invert: true }]);
    expect(maskToPrefixLen(0xffffff00)).toBe(24);
    expect(maskToPrefixLen(0xffffffff)).toBe(32);
    expect(maskToPrefixLen(0)).toBe(0);
    expect(maskToPrefixLen(0xff00ff00)).toBeUndefined();
  });
  it('interfaces', () => {
    expect(compileBase(rule({ inIface: { name: 'eth+', invert: true } })).fields?.iif).toEqual({ kind: 'iface', pattern: 'eth+', invert: true });
  });
});

function table(chains: Array<Partial<Chain> & { name: string }>): Table {
  const t = emptyTable('filter');
  for (const c of chains) {
    const existing = t.chains.find((x) => x.name === c.name);
    if (existing) Object.assign(existing, c);
    else t.chains.push({ counters: zeroCounters(), rules: [], ...c });
  }
  return t;
}

describe('compileTable layout', () => {
  it('puts built-in chains first at multiples of 64, with policy counters 0..2', () => {
    const t: Table = {
      name: 'filter',
      chains: [
        { name: 'U', counters: zeroCounters(), rules: [rule({ id: 40 })] },
        { name: 'OUTPUT', policy: 'DROP', counters: zeroCounters(), rules: [] },
        { name: 'INPUT', policy: 'ACCEPT', counters: zeroCounters(), rules: Array.from({ length: 65 }, (_, i) => rule({ id: 100 + i })) },
        { name: 'FORWARD', policy: 'DROP', counters: zeroCounters(), rules: [rule({ id: 20, target: { kind: 'jump', chain: 'U' } })] },
      ],
    };
    const spec = compileTable(t, STUB_LOOKUP);
    expect(spec.chains.map((c) => [c.name, c.firstRule, c.endRule, c.policy, c.counterId])).toEqual([
      ['INPUT', 0, 65, 'ACCEPT', 0],
      ['FORWARD', 128, 129, 'DROP', 1],
      ['OUTPUT', 192, 192, 'DROP', 2],
      ['U', 192, 193, undefined, -1],
    ]);
    expect(spec.nrules).toBe(256);
    expect(spec.rules[64]?.counterId).toBe(164);
    expect(spec.rules[65]).toBeNull();
    expect(spec.rules[128]?.action).toEqual({ kind: 'jump', chain: 3 });
    expect(spec.rules[192]?.action).toEqual({ kind: 'next' });
    expect(Object.keys(spec.fields)).toEqual([]);
    expect(classifySpec(spec, 'FORWARD', packet({}))).toEqual({ verdict: 'DROP', matched: [128, 192], policyCounted: 1 });
  });

  it('an empty table is 64 padding indices and no fields', () => {
    const spec = compileTable(emptyTable('filter'), STUB_LOOKUP);
    expect(spec.nrules).toBe(64);
    expect(spec.rules.every((r) => r === null)).toBe(true);
    expect(classifySpec(spec, 'INPUT', packet({}))).toEqual({ verdict: 'ACCEPT', matched: [], policyCounted: 0 });
  });

  it('omits unconstrained fields and keeps wildcard sets exact', () => {
    const t = table([
      {
        name: 'INPUT',
        rules: [
          rule({ id: 16, proto: { proto: 6, invert: false }, matches: [{ name: 'tcp', data: { dport: [80, 80, false] } }] }),
          rule({ id: 17, proto: { proto: 17, invert: false } }),
          rule({ id: 18 }),
        ],
      },
    ]);
    const spec = compileTable(t, STUB_LOOKUP);
    expect(Object.keys(spec.fields).sort()).toEqual(['dport', 'proto']);
    const proto = spec.fields.proto as ArrayFieldSpec;
    expect(Array.from(proto.wildcard)).toEqual([2]);
    expect(Array.from(proto.classes[proto.keyToClass[6]])).toEqual([0]); // -p tcp and the tcp match's proto
    expect(Array.from(proto.classes[proto.keyToClass[262]])).toEqual([]); // tcp match: first fragments only
    expect(Array.from(proto.classes[proto.keyToClass[256 + 17]])).toEqual([1]);
    const dport = spec.fields.dport as ArrayFieldSpec;
    expect(Array.from(dport.wildcard)).toEqual([1, 2]);
    expect(Array.from(dport.classes[dport.keyToClass[80]])).toEqual([0]);
    expect(Array.from(dport.classes[dport.keyToClass[65536]])).toEqual([]);
  });
});

describe('classBudget', () => {
  it('demotes inverted port/address constraints to residual checks when the sets would be large', () => {
    const t = table([
      {
        name: 'INPUT',
        rules: [
          rule({ id: 16, src: { addr: 0x0a000000, mask: 0xff000000, invert: true }, matches: [{ name: 'tcp', data: { dport: [80, 80, false] } }], target: { kind: 'extension', name: 'LOG', data: {} } }),
          rule({ id: 17, matches: [{ name: 'multiport', data: { dports: [[22, 22]], invert: true } }, { name: 'limit', data: { invert: false } }] }),
        ],
      },
    ]);
    const kept = compileTable(t, STUB_LOOKUP);
    expect(kept.fields.src).toBeDefined();
    expect(kept.rules[1]!.residual.map((r) => r.kind)).toEqual(['limit']);
    const spec = compileTable(t, STUB_LOOKUP, { classBudget: 0 });
    expect(spec.fields.src).toBeUndefined();
    expect(spec.rules[0]!.residual).toEqual([{ kind: 'cmp', field: 'saddr', mask: 0xffffffff, ranges: [[0x0a000000, 0x0affffff]], invert: true }]);
    expect(spec.rules[1]!.residual).toEqual([
      { kind: 'cmp', field: 'dport', mask: 0xffffffff, ranges: [[22, 22]], invert: true },
      { kind: 'limit', ratePerSec: 3, burst: 5, invert: false },
    ]);
    const dport = spec.fields.dport as ArrayFieldSpec;
    expect(Array.from(dport.wildcard)).toEqual([1]);
  });
});

describe('compileTable errors', () => {
  const catchErr = (f: () => unknown): XtablesError => {
    try {
      f();
    } catch (e) {
      return e as XtablesError;
    }
    throw new Error('did not throw');
  };

  it('refuses unsupported matches and targets naming rule and chain', () => {
    const t = table([{ name: 'U', rules: [rule({ id: 16 }), rule({ id: 17, matches: [{ name: 'unsup', data: { why: 'recent is not in the datapath' } }] })] }]);
    const e = catchErr(() => compileTable(t, STUB_LOOKUP));
    expect(e).toBeInstanceOf(XtablesError);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe('bpftables: cannot enforce rule 2 in chain U: recent is not in the datapath');
    const t2 = table([{ name: 'INPUT', rules: [rule({ id: 16, target: { kind: 'extension', name: 'UNSUP', data: {} } })] }]);
    expect(catchErr(() => compileTable(t2, STUB_LOOKUP)).message).toBe('bpftables: cannot enforce rule 1 in chain INPUT: UNSUP is not in the datapath');
    const t3 = table([{ name: 'OUTPUT', rules: [rule({ id: 16, matches: [{ name: 'nosuch', data: {} }] })] }]);
    expect(catchErr(() => compileTable(t3, STUB_LOOKUP)).message).toContain('rule 1 in chain OUTPUT');
  });

  it('requires rule ids', () => {
    expect(() => compileTable(table([{ name: 'INPUT', rules: [rule({})] }]), STUB_LOOKUP)).toThrow(/no id/);
  });

  it('refuses jumps to missing chains, loops and nesting beyond MAX_CALL_DEPTH', () => {
    expect(catchErr(() => compileTable(table([{ name: 'INPUT', rules: [rule({ id: 16, target: { kind: 'jump', chain: 'X' } })] }]), STUB_LOOKUP)).message).toContain('does not exist');
    const loop = (reached: boolean) =>
      table([
        { name: 'INPUT', rules: reached ? [rule({ id: 18, target: { kind: 'jump', chain: 'A' } })] : [] },
        { name: 'A', rules: [rule({ id: 16, target: { kind: 'goto', chain: 'B' } })] },
        { name: 'B', rules: [rule({ id: 17, target: { kind: 'jump', chain: 'A' } })] },
      ]);
    expect(catchErr(() => compileTable(loop(true), STUB_LOOKUP)).exitCode).toBe(1);
    // Like nf_tables: a loop no built-in chain reaches is never run, and is accepted.
    expect(classifySpec(compileTable(loop(false), STUB_LOOKUP), 'INPUT', packet({})).verdict).toBe('ACCEPT');
    const deep = (n: number) =>
      table([
        { name: 'INPUT', rules: [rule({ id: 1000, target: { kind: 'jump', chain: 'C0' } })] },
        ...Array.from({ length: n }, (_, i) => ({
          name: `C${i}`,
          rules: i + 1 < n ? [rule({ id: 16 + i, target: { kind: 'jump' as const, chain: `C${i + 1}` } })] : [rule({ id: 16 + i, target: { kind: 'standard' as const, verdict: 'DROP' as const } })],
        })),
      ]);
    const ok = compileTable(deep(MAX_CALL_DEPTH), STUB_LOOKUP);
    expect(classifySpec(ok, 'INPUT', packet({})).verdict).toBe('DROP');
    expect(catchErr(() => compileTable(deep(MAX_CALL_DEPTH + 1), STUB_LOOKUP)).message).toContain(`allows ${MAX_CALL_DEPTH}`);
  });
});

/** Bytes of the per-field sets and key arrays (what the encoder turns into map contents). */
export function specSetBytes(spec: TableSpec): { classBytes: number; classes: number; wildcardBytes: number; keyArrayBytes: number } {
  let classBytes = 0;
  let classes = 0;
  let wildcardBytes = 0;
  let keyArrayBytes = 0;
  for (const fs of Object.values(spec.fields)) {
    if (!fs) continue;
    classes += fs.classes.length;
    for (const c of fs.classes) classBytes += c.byteLength;
    wildcardBytes += fs.wildcard.byteLength;
    if (fs.kind === 'array') keyArrayBytes += fs.keyToClass.byteLength;
  }
  return { classBytes, classes, wildcardBytes, keyArrayBytes };
}

describe('scale (measurements, not timed assertions)', () => {
  it('keeps class sets bounded for wide / inverted port constraints (classBudget)', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const mode of ['! --dport N', 'random --dport lo:hi'] as const) {
      const t = emptyTable('filter');
      for (let i = 0; i < 10_000; i++) {
        const a = Math.floor(rnd() * 65536);
        const b = Math.floor(rnd() * 65536);
        const dport: [number, number, boolean] = mode === '! --dport N' ? [a, a, true] : [Math.min(a, b), Math.max(a, b), false];
        t.chains[0].rules.push(rule({ id: 16 + i, proto: { proto: 6, invert: false }, matches: [{ name: 'tcp', data: { dport } }], target: { kind: 'standard', verdict: 'ACCEPT' } }));
      }
      const t0 = performance.now();
      const spec = compileTable(t, STUB_LOOKUP);
      const m = specSetBytes(spec);
      console.log(`compileTable 10000 rules '${mode}': ${(performance.now() - t0).toFixed(0)} ms; ${m.classes} classes, class sets ${(m.classBytes / 1048576).toFixed(1)} MiB`);
      expect(m.classBytes).toBeLessThan(64 * 1048576);
    }
  });


  it('compiles 1k / 10k / 100k rules with distinct /32 sources and ports', () => {
    for (const n of [1_000, 10_000, 100_000]) {
      const t = bigTable(n);
      const heap0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      const spec = compileTable(t, STUB_LOOKUP);
      const ms = performance.now() - t0;
      const heap = process.memoryUsage().heapUsed - heap0;
      const m = specSetBytes(spec);
      console.log(
        `compileTable ${n} rules: ${ms.toFixed(0)} ms; ${m.classes} classes, class sets ${(m.classBytes / 1024).toFixed(0)} KiB, ` +
          `wildcards ${(m.wildcardBytes / 1024).toFixed(0)} KiB, key arrays ${(m.keyArrayBytes / 1024).toFixed(0)} KiB, heap +${(heap / 1048576).toFixed(1)} MiB`,
      );
      // Spot check: the last rule's packet hits exactly that rule.
      const i = n - 1;
      const r = classifySpec(spec, 'INPUT', packet({ src: 0x0a000000 + i, proto: 6, dport: i % 65536 }));
      expect(r.matched).toEqual([i]);
    }
  });
});
