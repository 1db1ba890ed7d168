// compileTable: one model Table → one TableSpec (see spec.ts for the index space and the
// meaning of wildcard/classes). Pure; deterministic (same table, same spec).
//
// Invariants the BPF program relies on:
// - chains[0..] are the table's built-in chains in BUILTIN_CHAINS order (filter: INPUT 0,
//   FORWARD 1, OUTPUT 2; policy counter slots 0, 1, 2), then user chains in model order.
// - every chain's firstRule is a multiple of 64; an empty chain owns no index (its firstRule
//   equals its endRule and may equal the next chain's firstRule).
// - jump/goto targets are chain ids of user chains; the chain graph has no loop and no path
//   from a built-in chain pushes more than MAX_CALL_DEPTH return frames (checked here, so the
//   datapath's bounded call stack never overflows).
// - a rule is in a field's wildcard set iff it has no constraint on that field; a rule with
//   several constraints on one field (e.g. -p tcp and the tcp match's proto) needs all of them.
//   Exception (CompileOptions.classBudget): when a field's class sets would explode, wide
//   constraints on src/dst/sport/dport are moved to the rule's residual checks as `cmp`, and
//   the rule is wildcard on that field.
// - RuleSpec.residual order: checks demoted by classBudget, then the base part's (non-prefix
//   masks), then each match's in rule order. Stateful checks (limit, random, nth) carry no slot
//   of their own: the encoder keys their state by (rule index, position in this list).
// - iptables evaluates a rule's matches left to right and stops at the first that fails, so a
//   stateful check (residualIsStateful: limit, nth, recent --set/--update/--remove/--reap)
//   changes state only when every earlier match held, and does so even when a later match
//   fails. Field constraints of the matches AFTER the rule's first stateful check are therefore
//   not LBVS field constraints but residual `cmp` checks placed after it (afterStateful); those
//   before it stay fields (the bitvectors only pick candidates where they hold, as iptables
//   would have stopped there). Interface constraints have no scalar form; no match after the
//   base part makes one.
import { findMatch as registryFindMatch, findTarget as registryFindTarget } from '../extensions/index.ts';
import type { DatapathAction, MatchModule, TargetModule } from '../extensions/types.ts';
import { otherProblem } from '../parser/errors.ts';
import { BUILTIN_CHAINS, type Chain, type Rule, type Table } from '../ruleset/types.ts';
import { compileBase, prefixMask } from './base.ts';
import { buildArrayClasses, buildIfaceClasses, buildPrefixClasses, ConstraintTable, type IfaceCons } from './classes.ts';
import {
  FIELD_DOMAIN,
  FIELD_NAMES,
  residualIsStateful,
  residualMayHotdrop,
  type CompiledMatch,
  type FieldConstraint,
  type FieldName,
  type ResidualCheck,
  type ScalarField,
} from './fields.ts';
import type { ChainSpec, FieldSpec, RuleSpec, SpecAction, TableSpec } from './spec.ts';

/**
 * Return frames the datapath's call stack holds. A jump pushes one frame, a goto none.
 * iptables has no such bound (its stack is sized per table); rulesets nesting deeper than this
 * are refused at compile time rather than mis-enforced.
 */
export const MAX_CALL_DEPTH = 16;

export interface ModuleLookup {
  findMatch(name: string): MatchModule<any> | undefined;
  findTarget(name: string): TargetModule<any> | undefined;
}

/** Shared by every rule without residual checks (frozen: the spec is read-only data). */
const NO_RESIDUAL: ResidualCheck[] = Object.freeze([]) as unknown as ResidualCheck[];

// Shared, frozen action objects for the common targets (one object per rule adds up at 100k).
const ACCEPT: DatapathAction = Object.freeze({ kind: 'accept' });
const DROP: DatapathAction = Object.freeze({ kind: 'drop' });
const RETURN: DatapathAction = Object.freeze({ kind: 'return' });
const NEXT: DatapathAction = Object.freeze({ kind: 'next' });

const REGISTRY: ModuleLookup = { findMatch: registryFindMatch, findTarget: registryFindTarget };

/** Built-in chains first (BUILTIN_CHAINS order), then user chains in model order. */
export function orderChains(table: Table): Chain[] {
  const builtins = BUILTIN_CHAINS[table.name];
  const out: Chain[] = [];
  for (const name of builtins) {
    const c = table.chains.find((x) => x.name === name);
    out.push(c ?? { name, policy: 'ACCEPT', counters: { packets: 0n, bytes: 0n }, rules: [] });
  }
  for (const c of table.chains) if (!builtins.includes(c.name)) out.push(c);
  return out;
}

function refuse(position: number, chain: string, reason: string): never {
  throw otherProblem(`bpftables: cannot enforce rule ${position} in chain ${chain}: ${reason}`);
}

/** The rule's base part and every match, compiled; throws when one is unsupported. */
export function compileRuleMatches(
  rule: Readonly<Rule>,
  lookup: ModuleLookup,
  position: number,
  chain: string,
): CompiledMatch[] {
  const out: CompiledMatch[] = [compileBase(rule)];
  for (const m of rule.matches) {
    const mod = lookup.findMatch(m.name);
    if (!mod) refuse(position, chain, `match "${m.name}" is unknown to the datapath`);
    const cm = mod.compile(m.data, rule);
    if (cm.unsupported !== undefined) refuse(position, chain, cm.unsupported);
    out.push(cm);
  }
  return out;
}

/** The rule's datapath action with chain names unresolved; throws when unsupported. */
export function compileRuleAction(rule: Readonly<Rule>, lookup: ModuleLookup, position: number, chain: string): DatapathAction {
  const t = rule.target;
  if (t === undefined) return NEXT;
  switch (t.kind) {
    case 'standard':
      return t.verdict === 'ACCEPT' ? ACCEPT : t.verdict === 'DROP' ? DROP : RETURN;
    case 'jump':
      return { kind: 'jump', chain: t.chain };
    case 'goto':
      return { kind: 'goto', chain: t.chain };
    case 'extension': {
      const mod = lookup.findTarget(t.name);
      if (!mod) refuse(position, chain, `target "${t.name}" is unknown to the datapath`);
      const a = mod.compile(t.data, rule);
      if (a.kind === 'unsupported') refuse(position, chain, a.reason);
      return a;
    }
  }
}

export interface CompileOptions {
  /**
   * Class sets list every constraining rule per class, so a constraint accepting much of the
   * key space (`! -s 10.0.0.0/8`; `! --dport 22`, which modules encode as [0,21],[23,65535];
   * wide port ranges) is listed in most classes: 10k rules `! --dport N` would need ~350 MiB,
   * 10k random port ranges ~220 MiB. When a field's estimated memberships (per constraint: the
   * elementary intervals / entries its items span) exceed this budget (u32 entries), the
   * constraints with the most memberships among those accepting ≥ 1/16 of the keys are turned
   * into residual `cmp` checks on saddr/daddr/sport/dport (placed before the rule's other
   * residuals, so a stateful check such as limit is not consulted when they fail) until the
   * estimate fits; such a rule turns wildcard on the field. Same verdicts; the datapath may
   * visit more candidates (a demoted check fails for < 15/16 of the keys). Only src, dst,
   * sport and dport have scalar equivalents. Default DEFAULT_CLASS_BUDGET.
   */
  classBudget?: number;
}

/** 4M indices = 16 MiB of class sets per field before wide constraints are demoted. */
export const DEFAULT_CLASS_BUDGET = 1 << 22;

const SCALAR_OF: Partial<Record<FieldName, ScalarField>> = { src: 'saddr', dst: 'daddr', sport: 'sport', dport: 'dport' };

// Demoted checks must fit the datapath's residual program (bpf/bpftables.h: MAX_RANGES 64
// ranges per check, MAX_RES_OPS 16 checks per rule), with room to spare.
const DEMOTE_MAX_RANGES = 32;
const DEMOTE_MAX_RESIDUALS = 12;
/** Only constraints accepting at least 1/DEMOTE_MIN_FRACTION of the key space are demoted. */
const DEMOTE_MIN_FRACTION = 16;

/** Keys accepted by constraint items [start, end) (union; prefixes: a = addr, b = len). */
function acceptedKeys(isPrefix: boolean, domain: number, a: Uint32Array, b: Uint32Array, start: number, end: number, invert: boolean): number {
  let covered = 0;
  if (end - start === 1) {
    // The common case, without allocating.
    covered = isPrefix ? 2 ** (32 - b[start]) : b[start] - a[start] + 1;
  } else if (isPrefix) {
    for (let j = start; j < end; j++) covered += 2 ** (32 - b[j]);
  } else {
    const items: Array<[number, number]> = [];
    for (let j = start; j < end; j++) items.push([a[j], b[j]]);
    items.sort((x, y) => x[0] - y[0]);
    let lo = -1;
    let hi = -2;
    for (const [x, y] of items) {
      if (x > hi + 1) {
        covered += hi - lo + 1;
        lo = x;
        hi = y;
      } else hi = Math.max(hi, y);
    }
    covered += hi - lo + 1;
  }
  covered = Math.min(covered, domain);
  return invert ? domain - covered : covered;
}

/**
 * Applies CompileOptions.classBudget to one field: returns the table to build classes from
 * (the same one when within budget), updating `constrained` and the rules' residuals.
 */
function demoteWide(
  f: Exclude<FieldName, 'iif' | 'oif'>,
  t: ConstraintTable,
  budget: number,
  constrained: Uint8Array,
  rules: Array<RuleSpec | null>,
): ConstraintTable {
  const scalar = SCALAR_OF[f];
  if (!scalar) return t;
  const isPrefix = f === 'src' || f === 'dst';
  const domain = isPrefix ? 2 ** 32 : FIELD_DOMAIN[f];
  const consRule = t.consRule.view();
  const consInvert = t.consInvert.view();
  const itemCons = t.itemCons.view();
  const itemA = t.itemA.view();
  const itemB = t.itemB.view();
  const nitems = itemCons.length;
  const itemStart = new Uint32Array(consRule.length + 1);
  for (let c = 0, i = 0; c < consRule.length; c++) {
    itemStart[c] = i;
    while (i < nitems && itemCons[i] === c) i++;
    itemStart[c + 1] = i;
  }
  // Cheap upper bound first (an item spans at most as many classes as it has keys, and no
  // constraint spans more than all of them): typical rulesets stop here without sorting.
  {
    const nbMax = isPrefix ? nitems + 1 : Math.min(domain, 2 * nitems + 1);
    let bound = 0;
    for (let c = 0; c < consRule.length && bound <= budget; c++) {
      if (consInvert[c]) {
        bound += nbMax;
        continue;
      }
      let w = 0;
      for (let j = itemStart[c]; j < itemStart[c + 1] && w < nbMax; j++) w += isPrefix ? 2 ** (32 - itemB[j]) : itemB[j] - itemA[j] + 1;
      bound += Math.min(w, nbMax);
    }
    if (bound <= budget) return t;
  }
  // Items as key intervals; the sorted distinct interval bounds approximate the elementary
  // intervals (array fields) or LPM entries (prefix fields) the classes are built over.
  const lo = new Float64Array(nitems);
  const hi = new Float64Array(nitems);
  const bounds = new Float64Array(2 * nitems + 1);
  for (let j = 0; j < nitems; j++) {
    if (isPrefix) {
      lo[j] = (itemA[j] & prefixMask(itemB[j])) >>> 0;
      hi[j] = lo[j] + 2 ** (32 - itemB[j]) - 1;
    } else {
      lo[j] = itemA[j];
      hi[j] = itemB[j];
    }
    bounds[2 * j] = lo[j];
    bounds[2 * j + 1] = hi[j] + 1;
  }
  bounds[2 * nitems] = 0;
  bounds.sort();
  let nb = 0;
  for (let j = 0; j < bounds.length; j++) if (j === 0 || bounds[j] !== bounds[j - 1]) bounds[nb++] = bounds[j];
  const upper = (x: number): number => {
    let l = 0;
    let h = nb;
    while (l < h) {
      const m = (l + h) >>> 1;
      if (bounds[m] <= x) l = m + 1;
      else h = m;
    }
    return l;
  };
  // Estimated class memberships per constraint, and the total the classes would hold.
  const members = new Float64Array(consRule.length);
  let total = 0;
  for (let c = 0; c < consRule.length; c++) {
    let m = 0;
    for (let j = itemStart[c]; j < itemStart[c + 1]; j++) m += upper(hi[j]) - upper(lo[j]) + 1;
    m = Math.min(m, nb);
    members[c] = consInvert[c] ? nb - m : m;
    total += members[c];
  }
  if (total <= budget) return t;
  // Demote the constraints with the most memberships first, until within budget; only those
  // accepting ≥ 1/16 of the keys (a demoted check fails for a fraction 1 - accepted of the
  // packets reaching it: each costs the datapath one more candidate step).
  const order: number[] = [];
  for (let c = 0; c < consRule.length; c++) {
    if (itemStart[c + 1] - itemStart[c] > DEMOTE_MAX_RANGES) continue;
    if (acceptedKeys(isPrefix, domain, itemA, itemB, itemStart[c], itemStart[c + 1], consInvert[c] === 1) * DEMOTE_MIN_FRACTION < domain) continue;
    order.push(c);
  }
  order.sort((x, y) => members[y] - members[x] || x - y);
  const wide = new Uint8Array(consRule.length);
  const extra = new Uint8Array(rules.length);
  let nwide = 0;
  for (const c of order) {
    if (total <= budget) break;
    const r = consRule[c];
    if (rules[r]!.residual.length + extra[r] >= DEMOTE_MAX_RESIDUALS) continue;
    wide[c] = 1;
    extra[r]++;
    nwide++;
    total -= members[c];
  }
  if (nwide === 0) return t;

  const out = new ConstraintTable();
  const demoted = new Map<number, ResidualCheck[]>();
  for (let c = 0; c < consRule.length; c++) {
    const r = consRule[c];
    const invert = consInvert[c] === 1;
    if (wide[c]) {
      let list = demoted.get(r);
      if (!list) demoted.set(r, (list = []));
      // A prefix set is a set of address intervals: one cmp over the whole address.
      const ranges: Array<[number, number]> = [];
      for (let j = itemStart[c]; j < itemStart[c + 1]; j++) {
        if (isPrefix) {
          const v = (itemA[j] & prefixMask(itemB[j])) >>> 0;
          ranges.push([v, v + 2 ** (32 - itemB[j]) - 1]);
        } else {
          ranges.push([itemA[j], itemB[j]]);
        }
      }
      list.push({ kind: 'cmp', field: scalar, mask: 0xffffffff, ranges, invert });
    } else {
      const nc = out.addConstraint(r, invert);
      for (let j = itemStart[c]; j < itemStart[c + 1]; j++) out.addItem(nc, itemA[j], itemB[j]);
    }
  }
  for (const [r, list] of demoted) {
    constrained[r] = 0;
    const rs = rules[r]!;
    rules[r] = { ...rs, residual: [...list, ...rs.residual] };
  }
  const kept = out.consRule.view();
  for (let c = 0; c < kept.length; c++) constrained[kept[c]] = 1;
  return out;
}

/** One rule compiled on its own: what compileTable adds to the field tables for it. */
export interface CompiledRule {
  residual: ResidualCheck[];
  /** LBVS field constraints in rule order (a field may have several: all must hold). */
  cons: Array<{ field: FieldName; fc: FieldConstraint }>;
  action: SpecAction;
  /** jump / goto: the edge of the chain graph (to: chain id). */
  jump?: { to: number; push: boolean };
}

/**
 * Compiles one rule at `position` (1-based) of `chain`; refuses (throws) what the datapath cannot
 * enforce. `chainId`: chain name → id of the table's chains (orderChains order).
 */
export function compileRule(
  rule: Readonly<Rule>,
  lookup: ModuleLookup,
  position: number,
  chain: string,
  chainId: ReadonlyMap<string, number>,
  nbuiltin: number,
): CompiledRule {
  if (rule.id === undefined) {
    throw new Error(`compileTable: rule ${position} in chain ${chain} has no id (the state layer assigns ids)`);
  }
  let residual: ResidualCheck[] = NO_RESIDUAL;
  let stateful = false;
  const cons: Array<{ field: FieldName; fc: FieldConstraint }> = [];
  for (const cm of compileRuleMatches(rule, lookup, position, chain)) {
    // After a stateful check: this match's field constraints become residual checks, in order.
    const late = stateful;
    if (late && cm.fields) {
      if (residual === NO_RESIDUAL) residual = [];
      for (const key in cm.fields) {
        const fc = cm.fields[key as FieldName];
        if (fc) residual.push(afterStateful(key as FieldName, fc, position, chain));
      }
    }
    if (cm.residual && cm.residual.length > 0) {
      if (residual === NO_RESIDUAL) residual = [];
      residual.push(...cm.residual);
      // A check that can hotdrop orders the rule's later matches after it too: the kernel
      // drops the packet there even when a later match would have failed.
      if (cm.residual.some((c) => residualIsStateful(c) || residualMayHotdrop(c))) stateful = true;
    }
    if (!cm.fields || late) continue;
    for (const key in cm.fields) {
      const f = key as FieldName;
      const fc = cm.fields[f];
      if (!fc) continue;
      switch (f) {
        case 'src':
        case 'dst':
          if (fc.kind !== 'prefixes') refuse(position, chain, `internal: ${fc.kind} constraint on field ${f}`);
          for (const p of fc.prefixes) if (!(p.len >= 0 && p.len <= 32)) refuse(position, chain, `internal: prefix length ${p.len}`);
          break;
        case 'iif':
        case 'oif':
          if (fc.kind !== 'iface') refuse(position, chain, `internal: ${fc.kind} constraint on field ${f}`);
          break;
        default:
          if (fc.kind !== 'ranges') refuse(position, chain, `internal: ${fc.kind} constraint on field ${f}`);
      }
      cons.push({ field: f, fc });
    }
  }
  const a = compileRuleAction(rule, lookup, position, chain);
  if (a.kind === 'jump' || a.kind === 'goto') {
    const to = chainId.get(a.chain);
    if (to === undefined) refuse(position, chain, `target chain "${a.chain}" does not exist`);
    if (to < nbuiltin) refuse(position, chain, `cannot jump to built-in chain ${a.chain}`);
    return { residual, cons, action: { kind: a.kind, chain: to }, jump: { to, push: a.kind === 'jump' } };
  }
  if (a.kind === 'unsupported') refuse(position, chain, a.reason); // narrowed away above; kept for the type
  return { residual, cons, action: a };
}

export function compileTable(table: Table, lookup: ModuleLookup = REGISTRY, options: CompileOptions = {}): TableSpec {
  const classBudget = options.classBudget ?? DEFAULT_CLASS_BUDGET;
  const chains = orderChains(table);
  const nbuiltin = BUILTIN_CHAINS[table.name].length;
  const chainId = new Map<string, number>();
  chains.forEach((c, i) => chainId.set(c.name, i));

  // Index space.
  const chainSpecs: ChainSpec[] = [];
  let cursor = 0;
  for (let i = 0; i < chains.length; i++) {
    const c = chains[i];
    const firstRule = cursor;
    const endRule = firstRule + c.rules.length;
    const spec: ChainSpec = { name: c.name, firstRule, endRule, counterId: i < nbuiltin ? i : -1 };
    if (i < nbuiltin) spec.policy = c.policy ?? 'ACCEPT';
    chainSpecs.push(spec);
    cursor = Math.ceil(endRule / 64) * 64;
  }
  const nrules = Math.max(64, cursor);
  const nreal = chains.reduce((n, c) => n + c.rules.length, 0);
  const rules: Array<RuleSpec | null> = new Array(nrules).fill(null);

  // Per-field constraints, in rule index order.
  const tables: Record<Exclude<FieldName, 'iif' | 'oif'>, ConstraintTable> = {
    src: new ConstraintTable(),
    dst: new ConstraintTable(),
    proto: new ConstraintTable(),
    sport: new ConstraintTable(),
    dport: new ConstraintTable(),
    tcpflags: new ConstraintTable(),
    ctstate: new ConstraintTable(),
  };
  const ifaceCons: Record<'iif' | 'oif', IfaceCons[]> = { iif: [], oif: [] };
  const constrained: Record<FieldName, Uint8Array> = Object.fromEntries(
    FIELD_NAMES.map((f) => [f, new Uint8Array(nrules)]),
  ) as Record<FieldName, Uint8Array>;
  const jumpsOf: Array<Array<{ to: number; push: boolean }>> = chains.map(() => []);

  for (let ci = 0; ci < chains.length; ci++) {
    const chain = chains[ci];
    const base = chainSpecs[ci].firstRule;
    for (let ri = 0; ri < chain.rules.length; ri++) {
      const idx = base + ri;
      const c = compileRule(chain.rules[ri], lookup, ri + 1, chain.name, chainId, nbuiltin);
      for (const { field: f, fc } of c.cons) {
        constrained[f][idx] = 1;
        switch (fc.kind) {
          case 'prefixes': {
            const t = tables[f as 'src' | 'dst'];
            const k = t.addConstraint(idx, fc.invert);
            for (const p of fc.prefixes) t.addItem(k, p.addr, p.len);
            break;
          }
          case 'iface':
            ifaceCons[f as 'iif' | 'oif'].push({ rule: idx, invert: fc.invert, pattern: fc.pattern });
            break;
          case 'ranges': {
            const t = tables[f as Exclude<FieldName, 'iif' | 'oif'>];
            const k = t.addConstraint(idx, fc.invert);
            const top = FIELD_DOMAIN[f as keyof typeof FIELD_DOMAIN] - 1;
            const ranges = fc.ranges;
            for (let j = 0; j < ranges.length; j++) {
              const r = ranges[j]!;
              const a = Math.max(0, r[0]);
              const b = Math.min(top, r[1]);
              if (a <= b) t.addItem(k, a, b);
            }
          }
        }
      }
      if (c.jump) jumpsOf[ci].push(c.jump);
      rules[idx] = { counterId: chain.rules[ri].id!, action: c.action, residual: c.residual };
    }
  }

  checkCallDepth(chains, nbuiltin, jumpsOf);

  for (const f of ['src', 'dst', 'sport', 'dport'] as const) {
    tables[f] = demoteWide(f, tables[f], classBudget, constrained[f], rules);
  }

  const fields: Partial<Record<FieldName, FieldSpec>> = {};
  for (const f of FIELD_NAMES) {
    const mark = constrained[f];
    let nconstrained = 0;
    for (let i = 0; i < nrules; i++) nconstrained += mark[i];
    if (nconstrained === 0) continue;
    const wildcard = new Uint32Array(nreal - nconstrained);
    let w = 0;
    for (const cs of chainSpecs) for (let i = cs.firstRule; i < cs.endRule; i++) if (!mark[i]) wildcard[w++] = i;
    switch (f) {
      case 'src':
      case 'dst': {
        const { entries, classes } = buildPrefixClasses(nrules, tables[f]);
        fields[f] = { kind: 'lpm', wildcard, classes, entries };
        break;
      }
      case 'iif':
      case 'oif': {
        const { entries, classes } = buildIfaceClasses(nrules, ifaceCons[f]);
        fields[f] = { kind: 'iface', wildcard, classes, entries };
        break;
      }
      default: {
        const { keyToClass, classes } = buildArrayClasses(FIELD_DOMAIN[f], nrules, tables[f]);
        fields[f] = { kind: 'array', wildcard, classes, keyToClass };
      }
    }
  }

  return { nrules, chains: chainSpecs, rules, fields };
}

const SCALAR_KEY: Record<Exclude<FieldName, 'iif' | 'oif'>, ScalarField> = {
  src: 'saddr',
  dst: 'daddr',
  proto: 'protokey',
  sport: 'sport',
  dport: 'dport',
  tcpflags: 'tcpflags',
  ctstate: 'ctstate',
};
/** bpf/bpftables.h MAX_RANGES. */
const RESIDUAL_MAX_RANGES = 64;

/** A field constraint as the equivalent residual `cmp` on the field's key (same verdicts). */
function afterStateful(f: FieldName, fc: FieldConstraint, position: number, chain: string): ResidualCheck {
  if (f === 'iif' || f === 'oif' || fc.kind === 'iface') {
    refuse(position, chain, `an interface match after a stateful match (recent, limit, statistic) is not supported`);
  }
  let ranges: Array<[number, number]>;
  if (fc.kind === 'prefixes') {
    ranges = fc.prefixes.map((p) => [p.addr >>> 0, (p.addr >>> 0) + 2 ** (32 - p.len) - 1]);
  } else {
    const top = FIELD_DOMAIN[f as keyof typeof FIELD_DOMAIN] - 1;
    ranges = [];
    for (const [lo, hi] of fc.ranges) {
      const a = Math.max(0, lo);
      const b = Math.min(top, hi);
      if (a <= b) ranges.push([a, b]);
    }
  }
  let mask = 0xffffffff;
  if (ranges.length > RESIDUAL_MAX_RANGES && fc.kind === 'ranges') {
    const m = maskedRanges(ranges, FIELD_DOMAIN[f as keyof typeof FIELD_DOMAIN]);
    if (m) ({ mask, ranges } = m);
  }
  if (ranges.length > RESIDUAL_MAX_RANGES) {
    refuse(position, chain, `a match after a stateful match (recent, limit, statistic) has more than ${RESIDUAL_MAX_RANGES} ranges`);
  }
  return { kind: 'cmp', field: SCALAR_KEY[f], mask, ranges, invert: fc.invert };
}

/**
 * The same key set as fewer ranges of (key & mask), when the set ignores some bits of the key
 * (tcp --tcp-flags SYN,ACK SYN lists every flags byte with SYN set and ACK clear: 64 ranges;
 * masked with 0x12 it is one value). Checked exhaustively over the domain; undefined when no
 * mask helps.
 */
function maskedRanges(ranges: ReadonlyArray<readonly [number, number]>, domain: number): { mask: number; ranges: Array<[number, number]> } | undefined {
  const member = new Uint8Array(domain);
  for (const [lo, hi] of ranges) member.fill(1, lo, hi + 1);
  const bits = Math.ceil(Math.log2(domain));
  let mask = 0;
  for (let b = 0; b < bits; b++) {
    for (let v = 0; v < domain; v++) {
      const u = v ^ (1 << b);
      if (u < domain && member[u] !== member[v]) {
        mask |= 1 << b;
        break;
      }
    }
  }
  const projected = new Uint8Array(mask + 1);
  for (let v = 0; v < domain; v++) if (member[v]) projected[v & mask] = 1;
  for (let v = 0; v < domain; v++) if (projected[v & mask] !== member[v]) return undefined;
  const out: Array<[number, number]> = [];
  for (let v = 0; v <= mask; v++) {
    if (!projected[v]) continue;
    if (out.length && out[out.length - 1][1] === v - 1) out[out.length - 1][1] = v;
    else out.push([v, v]);
  }
  return out.length < ranges.length ? { mask, ranges: out } : undefined;
}

/**
 * Refuses loops and call depths beyond MAX_CALL_DEPTH (frames pushed by jumps) on the paths from
 * the built-in chains. Chains no built-in chain reaches are never run, and nf_tables accepts loops
 * among them (it validates from base chains only), so they are not checked.
 */
function checkCallDepth(chains: Chain[], nbuiltin: number, jumpsOf: Array<Array<{ to: number; push: boolean }>>): void {
  const depth = new Int32Array(chains.length).fill(-1);
  const onPath = new Uint8Array(chains.length);
  // Iterative DFS would only matter past thousands of nested chains; recursion depth here is
  // bounded by the number of user chains on one path.
  const visit = (c: number): number => {
    if (depth[c] >= 0) return depth[c];
    if (onPath[c]) throw otherProblem(`iptables: Too many levels of symbolic links.`);
    onPath[c] = 1;
    let d = 0;
    for (const j of jumpsOf[c]) d = Math.max(d, visit(j.to) + (j.push ? 1 : 0));
    onPath[c] = 0;
    depth[c] = d;
    return d;
  };
  for (let c = 0; c < nbuiltin; c++) {
    if (visit(c) > MAX_CALL_DEPTH) {
      throw otherProblem(
        `bpftables: chain ${chains[c].name} nests user chains ${depth[c]} jumps deep; the datapath allows ${MAX_CALL_DEPTH}`,
      );
    }
  }
}
