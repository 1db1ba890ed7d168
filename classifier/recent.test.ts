// The recent match: the pure model of xt_recent (classifier/recent.ts) on hand-made sequences
// from recent_mt()'s semantics, and the compiled tables (classifySpec, side effects in rule
// order) against the linear reference on random rulesets and packet sequences, each with its
// own lists: same verdicts, same counted rules, same lists afterwards.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recent as recentModule, type RecentData } from '../extensions/match/recent.ts';
import { zeroCounters, type Chain, type Rule, type Table } from '../ruleset/types.ts';
import { compileTable, type ModuleLookup } from './compile.ts';
import type { PacketKey, ResidualCheck } from './fields.ts';
import { classifySpec, type Hook } from './lookup.ts';
import { RECENT_LIST_TOT, RecentLists, recentOracle } from './recent.ts';
import { referenceClassify } from './reference.ts';
import { packet, STUB_LOOKUP, type TcpStub } from './testing.ts';

type Check = Extract<ResidualCheck, { kind: 'recent' }>;
const S = 1e9;

function chk(p: Partial<Check>): Check {
  return { kind: 'recent', cmd: 'check', name: 'L', side: 'source', mask: 0xffffffff, seconds: 0, hitcount: 0, reap: false, rttl: false, invert: false, ...p };
}

describe('RecentLists (xt_recent semantics)', () => {
  it('ssh brute force: --update --seconds 60 --hitcount 4 matches from the 4th --set on', () => {
    const l = new RecentLists();
    const p = packet({ src: 0x0a000001 });
    const set = chk({ cmd: 'set' });
    const upd = chk({ cmd: 'update', seconds: 60, hitcount: 4 });
    const got: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      expect(l.evaluate(set, p, 'INPUT', i * S)).toBe(true);
      got.push(l.evaluate(upd, p, 'INPUT', i * S));
    }
    expect(got).toEqual([false, false, false, true, true, true]);
    // At 64 s the 60 s window starts at 4 s: the stamps of 4 s and 5 s (two each) still count.
    expect(l.evaluate(upd, p, 'INPUT', 64 * S)).toBe(true);
    expect(l.evaluate(chk({ seconds: 1, hitcount: 1 }), p, 'INPUT', 200 * S)).toBe(false);
  });

  it('without an entry only --set matches; --remove matches and forgets; ! --update stamps when it does not hit', () => {
    const l = new RecentLists();
    const p = packet({ src: 1 });
    expect(l.evaluate(chk({}), p, 'INPUT', 0)).toBe(false);
    expect(l.evaluate(chk({ cmd: 'update' }), p, 'INPUT', 0)).toBe(false);
    expect(l.evaluate(chk({ cmd: 'remove' }), p, 'INPUT', 0)).toBe(false);
    expect(l.addresses('L')).toEqual([]);
    expect(l.evaluate(chk({ cmd: 'set' }), p, 'INPUT', 0)).toBe(true);
    // hitcount 2 with one stamp: no hit; inverted, the result is true, so it stamps.
    expect(l.evaluate(chk({ cmd: 'update', hitcount: 2, invert: true }), p, 'INPUT', 1)).toBe(false);
    expect(l.evaluate(chk({ hitcount: 2 }), p, 'INPUT', 2)).toBe(true);
    expect(l.evaluate(chk({ cmd: 'remove' }), p, 'INPUT', 3)).toBe(true);
    expect(l.evaluate(chk({}), p, 'INPUT', 4)).toBe(false);
  });

  it('--rdest and --mask pick the key; lists are separate by name', () => {
    const l = new RecentLists();
    l.evaluate(chk({ cmd: 'set', side: 'dest', mask: 0xffffff00 }), packet({ src: 5, dst: 0x0a000107 }), 'OUTPUT', 0);
    expect(l.addresses('L')).toEqual([0x0a000100]);
    expect(l.evaluate(chk({ mask: 0xffffff00 }), packet({ src: 0x0a0001ff }), 'INPUT', 1)).toBe(true);
    expect(l.evaluate(chk({ name: 'M', mask: 0xffffff00 }), packet({ src: 0x0a0001ff }), 'INPUT', 1)).toBe(false);
  });

  it('keeps 100 addresses per list, evicting the least recently stamped', () => {
    const l = new RecentLists();
    for (let a = 1; a <= RECENT_LIST_TOT; a++) l.evaluate(chk({ cmd: 'set' }), packet({ src: a }), 'INPUT', a);
    l.evaluate(chk({ cmd: 'set' }), packet({ src: 1 }), 'INPUT', 1000); // 1 is now the newest
    l.evaluate(chk({ cmd: 'set' }), packet({ src: 999 }), 'INPUT', 1001);
    const have = l.addresses('L');
    expect(have.length).toBe(RECENT_LIST_TOT);
    expect(have).not.toContain(2);
    expect(have).toContain(1);
    expect(have[have.length - 1]).toBe(999);
  });

  it('keeps 32 time stamps per address (hit counts up to 32)', () => {
    const l = new RecentLists();
    const p = packet({ src: 7 });
    for (let i = 0; i < 40; i++) l.evaluate(chk({ cmd: 'set' }), p, 'INPUT', i * S);
    expect(l.evaluate(chk({ hitcount: 32 }), p, 'INPUT', 40 * S)).toBe(true);
    // The ring holds the last 32 (8 s .. 39 s): 20 of them are within 20 s of 40 s.
    expect(l.evaluate(chk({ hitcount: 20, seconds: 20 }), p, 'INPUT', 40 * S)).toBe(true);
    expect(l.evaluate(chk({ hitcount: 21, seconds: 20 }), p, 'INPUT', 40 * S)).toBe(false);
  });

  it('--rttl compares the TTL of the last stamp (plus one at FORWARD)', () => {
    const l = new RecentLists();
    l.evaluate(chk({ cmd: 'set' }), packet({ src: 9, ttl: 63 }), 'FORWARD', 0); // stored as 64
    expect(l.evaluate(chk({ rttl: true }), packet({ src: 9, ttl: 64 }), 'INPUT', 1)).toBe(true);
    expect(l.evaluate(chk({ rttl: true }), packet({ src: 9, ttl: 63 }), 'INPUT', 1)).toBe(false);
    expect(l.evaluate(chk({}), packet({ src: 9, ttl: 63 }), 'INPUT', 1)).toBe(true);
  });

  it('--reap removes the oldest entry when it is outside the window, not the one being updated', () => {
    const l = new RecentLists();
    l.evaluate(chk({ cmd: 'set' }), packet({ src: 1 }), 'INPUT', 0);
    l.evaluate(chk({ cmd: 'set' }), packet({ src: 2 }), 'INPUT', 1 * S);
    // 1 is the oldest and is being updated (it hits): nothing is reaped.
    expect(l.evaluate(chk({ cmd: 'update', seconds: 5, reap: true }), packet({ src: 1 }), 'INPUT', 4 * S)).toBe(true);
    expect(l.addresses('L')).toEqual([2, 1]);
    // At 10 s, a check of 1 (last stamp 4 s) reaps the oldest, 2 (1 s).
    expect(l.evaluate(chk({ seconds: 7, reap: true }), packet({ src: 1 }), 'INPUT', 10 * S)).toBe(true);
    expect(l.addresses('L')).toEqual([1]);
  });

  it('retain() keeps the lists a new ruleset names', () => {
    const l = new RecentLists();
    l.evaluate(chk({ cmd: 'set', name: 'A' }), packet({ src: 1 }), 'INPUT', 0);
    l.evaluate(chk({ cmd: 'set', name: 'B' }), packet({ src: 1 }), 'INPUT', 0);
    l.retain(['B']);
    expect(l.addresses('A')).toEqual([]);
    expect(l.addresses('B')).toEqual([1]);
  });
});

// ---- compiled tables vs the reference, with state ---------------------------------------------

const LOOKUP: ModuleLookup = {
  findMatch: (n) => (n === 'recent' ? recentModule : STUB_LOOKUP.findMatch(n)),
  findTarget: STUB_LOOKUP.findTarget,
};

const recentArb = fc
  .record({
    cmd: fc.constantFrom('SET', 'CHECK', 'UPDATE', 'REMOVE') as fc.Arbitrary<NonNullable<RecentData['cmd']>>,
    name: fc.constantFrom('A', 'B'),
    side: fc.constantFrom('source', 'dest') as fc.Arbitrary<'source' | 'dest'>,
    mask: fc.constantFrom(0xffffffff, 0xffffff00),
    seconds: fc.constantFrom(0, 2, 5),
    hitcount: fc.constantFrom(0, 1, 2, 3),
    reap: fc.boolean(),
    rttl: fc.boolean(),
    invert: fc.boolean(),
  })
  .map((d): RecentData => {
    const modifiers = d.cmd === 'CHECK' || d.cmd === 'UPDATE';
    return {
      cmd: d.cmd,
      name: d.name,
      side: d.side,
      mask: d.mask,
      seconds: modifiers ? d.seconds : 0,
      hitcount: modifiers ? d.hitcount : 0,
      reap: modifiers && d.seconds > 0 && d.reap,
      rttl: modifiers && d.rttl,
      invert: d.invert,
    };
  });

const ADDRS = [0x0a000001, 0x0a000002, 0x0a000102, 0xc0a80001];

const otherArb = fc.oneof(
  fc.record({ proto: fc.constant(6), dport: fc.constantFrom(22, 80).map((p) => [p, p, false] as [number, number, boolean]) }).map((d) => ({ name: 'tcp', data: d as TcpStub })),
  fc.record({ states: fc.subarray([0, 1, 2], { minLength: 1 }), invert: fc.boolean() }).map((d) => ({ name: 'conntrack', data: d })),
  fc.record({ field: fc.constantFrom('src', 'dst'), prefixes: fc.constantFrom(...ADDRS).map((a) => [{ addr: a, len: 32 }]), invert: fc.boolean() }).map((d) => ({ name: 'pfx', data: d })),
  fc.record({ lo: fc.constantFrom(1, 64), hi: fc.constantFrom(64, 255), invert: fc.boolean() }).map((d) => ({ name: 'ttl', data: d })),
);

const ruleArb = fc.record({
  matches: fc.array(fc.oneof(recentArb.map((d) => ({ name: 'recent', data: d })), otherArb), { minLength: 1, maxLength: 3 }),
  t: fc.integer({ min: 0, max: 3 }),
});

const tableArb: fc.Arbitrary<Table> = fc.array(ruleArb, { minLength: 1, maxLength: 8 }).map((shapes) => {
  let id = 16;
  const rules: Rule[] = shapes.map((s) => ({
    id: id++,
    matches: s.matches,
    counters: zeroCounters(),
    target: s.t === 1 ? { kind: 'standard', verdict: 'ACCEPT' } : s.t === 2 ? { kind: 'standard', verdict: 'DROP' } : s.t === 3 ? { kind: 'jump', chain: 'U' } : undefined,
  }));
  // A user chain that also names the lists (jumps reach it from INPUT).
  const user: Chain = { name: 'U', counters: zeroCounters(), rules: [{ id: id++, matches: [{ name: 'recent', data: { cmd: 'UPDATE', name: 'A', side: 'source', mask: 0xffffffff, seconds: 0, hitcount: 2 } }], counters: zeroCounters(), target: { kind: 'standard', verdict: 'DROP' } }] };
  return {
    name: 'filter',
    chains: [
      { name: 'INPUT', policy: 'ACCEPT', counters: zeroCounters(), rules },
      { name: 'FORWARD', policy: 'ACCEPT', counters: zeroCounters(), rules: [] },
      { name: 'OUTPUT', policy: 'ACCEPT', counters: zeroCounters(), rules: [] },
      user,
    ],
  } as Table;
});

const stepArb = fc.record({
  src: fc.constantFrom(...ADDRS),
  dst: fc.constantFrom(...ADDRS),
  dport: fc.constantFrom(22, 80),
  ctstate: fc.integer({ min: 0, max: 2 }),
  ttl: fc.constantFrom(63, 64),
  dt: fc.constantFrom(0, 0.5, 1, 3),
  hook: fc.constantFrom('INPUT', 'FORWARD') as fc.Arbitrary<Hook>,
});

function snapshot(l: RecentLists): unknown {
  // By list name: the order the lists were first looked up in is no part of the state (a
  // compiled table may skip a side-effect-free --rcheck the reference evaluates).
  return [...l.lists].filter(([, m]) => m.size).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, m]) => [n, [...m].map(([a, e]) => [a, e.ttl, e.nstamps, e.index, e.stamps.slice(0, e.nstamps)])]);
}

describe('compiled tables with recent agree with the reference, side effects included', () => {
  it('on random rulesets and packet sequences (verdicts, counted rules, lists)', () => {
    fc.assert(
      fc.property(tableArb, fc.array(stepArb, { minLength: 1, maxLength: 30 }), (table, steps) => {
        const spec = compileTable(table, LOOKUP);
        const ours = new RecentLists();
        const ref = new RecentLists();
        let now = 0;
        for (const s of steps) {
          now += s.dt * S;
          const pkt: PacketKey = packet({ src: s.src, dst: s.dst, dport: s.dport, ctstate: s.ctstate, ttl: s.ttl, iif: 'eth0', oif: s.hook === 'FORWARD' ? 'eth1' : '' });
          const got = classifySpec(spec, s.hook, pkt, recentOracle(ours, s.hook, now));
          const want = referenceClassify(table, s.hook, pkt, { lookup: LOOKUP, residual: recentOracle(ref, s.hook, now) });
          expect({ verdict: got.verdict, matched: got.matched.map((i) => spec.rules[i]!.counterId) }).toEqual({ verdict: want.verdict, matched: want.matched });
          expect(snapshot(ours)).toEqual(snapshot(ref));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a later match after the side effect: a failing later field does not undo --set', () => {
    const table: Table = {
      name: 'filter',
      chains: [
        {
          name: 'INPUT',
          policy: 'ACCEPT',
          counters: zeroCounters(),
          rules: [
            // -m recent --set --name A -m tcp --dport 22 -j DROP
            { id: 16, matches: [{ name: 'recent', data: { cmd: 'SET', name: 'A', side: 'source', mask: 0xffffffff, seconds: 0, hitcount: 0 } }, { name: 'tcp', data: { proto: 6, dport: [22, 22, false] } }], counters: zeroCounters(), target: { kind: 'standard', verdict: 'DROP' } },
            // -m tcp --dport 23 -m recent --set --name B
            { id: 17, matches: [{ name: 'tcp', data: { proto: 6, dport: [23, 23, false] } }, { name: 'recent', data: { cmd: 'SET', name: 'B', side: 'source', mask: 0xffffffff, seconds: 0, hitcount: 0 } }], counters: zeroCounters() },
          ],
        },
      ],
    } as Table;
    const spec = compileTable(table, LOOKUP);
    // The tcp match after recent is a residual check after it, not an LBVS field.
    expect(spec.fields.dport?.wildcard).toContain(0);
    expect(spec.rules[0]!.residual.map((c) => c.kind)).toEqual(['recent', 'cmp', 'cmp']);
    const l = new RecentLists();
    const r = classifySpec(spec, 'INPUT', packet({ src: 1, dport: 80 }), recentOracle(l, 'INPUT', 0));
    expect(r.verdict).toBe('ACCEPT');
    expect(l.addresses('A')).toEqual([1]);
    expect(l.addresses('B')).toEqual([]);
  });
});
