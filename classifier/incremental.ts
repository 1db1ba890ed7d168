// updateSpec: the TableSpec of a table from the spec of its previous version, when the two
// differ by a few rules in one chain (what -A, -I, -D, -R and most restores with -n do). Costs
// O(vector sizes + field domains) instead of rebuilding every field's classes: a 10k-rule
// compile takes ~100-300 ms, this a few ms.
//
// The result is not the spec compileTable would build, but an equivalent one (same chains,
// rule indices, rules; for every field and key the same set of matching rules):
// - rule indices are laid out as compileTable lays them out (chains at multiples of 64), and
//   every index vector is the old one renumbered (a monotone map, so it stays sorted);
// - a new rule joins the wildcard set of each field it leaves alone, and for a field it
//   constrains the classes of the keys it accepts: a class all of whose keys it accepts gains
//   it in place, a class it accepts only some keys of is split (the accepted keys get a copy
//   with the rule); LPM fields first get an entry for each prefix the rule names (with the
//   class of the entry that covered it), so every entry's keys are all in or all out;
// - a deleted rule leaves every vector; classes that become equal and entries that no longer
//   separate anything stay (the encoder shares identical vectors).
// A field no rule constrained before starts as one empty class with every old rule wildcard.
// Not handled (undefined → the caller compiles in full): chain list changes, new jumps/gotos
// (the call graph must be rechecked), more than MAX_EDIT rules changed, vectors past the class
// budget (compileTable would demote), and more than 2 × rules + 64 classes or entries in a
// field (leftovers of deleted rules: the full compile drops them).
import type { Rule, Table } from '../ruleset/types.ts';
import { BUILTIN_CHAINS } from '../ruleset/types.ts';
import { ifacePatternKey } from './classes.ts';
import { compileRule, DEFAULT_CLASS_BUDGET, orderChains, type CompiledRule, type ModuleLookup } from './compile.ts';
import { FIELD_DOMAIN, FIELD_NAMES, type FieldConstraint, type FieldName } from './fields.ts';
import type { ArrayFieldSpec, ChainSpec, FieldSpec, IfaceFieldSpec, PrefixFieldSpec, RuleSpec, TableSpec } from './spec.ts';
import { findMatch, findTarget } from '../extensions/index.ts';

/** Rules added plus rules removed beyond which a full compile is as cheap. */
export const MAX_EDIT = 32;

const REGISTRY: ModuleLookup = { findMatch, findTarget };

/** The spec of `next`, derived from `prev` = compile(prevTable); undefined when not applicable. */
export function updateSpec(prev: TableSpec, prevTable: Table, next: Table, lookup: ModuleLookup = REGISTRY): TableSpec | undefined {
  const oldChains = orderChains(prevTable);
  const newChains = orderChains(next);
  if (oldChains.length !== newChains.length || prev.chains.length !== oldChains.length) return undefined;
  for (let i = 0; i < oldChains.length; i++) if (oldChains[i].name !== newChains[i].name) return undefined;
  const nbuiltin = BUILTIN_CHAINS[next.name].length;

  // The one chain whose rules changed: common prefix and suffix by rule id.
  let edited = -1;
  let head = 0;
  let oldEnd = 0;
  let newEnd = 0;
  for (let ci = 0; ci < oldChains.length; ci++) {
    const a = oldChains[ci].rules;
    const b = newChains[ci].rules;
    if (a.length === b.length && sameIds(a, b)) continue;
    if (edited >= 0) return undefined;
    edited = ci;
    let p = 0;
    while (p < a.length && p < b.length && a[p].id === b[p].id) p++;
    let s = 0;
    while (s < a.length - p && s < b.length - p && a[a.length - 1 - s].id === b[b.length - 1 - s].id) s++;
    head = p;
    oldEnd = a.length - s;
    newEnd = b.length - s;
    if (oldEnd - head + (newEnd - head) > MAX_EDIT) return undefined;
  }
  for (const c of newChains) for (const r of c.rules) if (r.id === undefined) return undefined;

  // The new rules, compiled first: a refusal throws before anything is built.
  const chainId = new Map<string, number>();
  newChains.forEach((c, i) => chainId.set(c.name, i));
  const added: Array<{ pos: number; rule: Rule; c: CompiledRule }> = [];
  if (edited >= 0) {
    const ch = newChains[edited];
    for (let ri = head; ri < newEnd; ri++) {
      const c = compileRule(ch.rules[ri], lookup, ri + 1, ch.name, chainId, nbuiltin);
      if (c.jump) return undefined;
      added.push({ pos: ri, rule: ch.rules[ri], c });
    }
  }

  // Index space as compileTable lays it out, and old index → new index (-1: deleted).
  const chains: ChainSpec[] = [];
  let cursor = 0;
  for (let i = 0; i < newChains.length; i++) {
    const c = newChains[i];
    const spec: ChainSpec = { name: c.name, firstRule: cursor, endRule: cursor + c.rules.length, counterId: i < nbuiltin ? i : -1 };
    if (i < nbuiltin) spec.policy = c.policy ?? 'ACCEPT';
    chains.push(spec);
    cursor = Math.ceil(spec.endRule / 64) * 64;
  }
  const nrules = Math.max(64, cursor);
  const map = new Int32Array(prev.nrules).fill(-1);
  let identity = nrules === prev.nrules;
  for (let ci = 0; ci < chains.length; ci++) {
    const o = prev.chains[ci];
    const n = chains[ci];
    for (let i = o.firstRule; i < o.endRule; i++) {
      const ri = i - o.firstRule;
      let to: number;
      if (ci !== edited || ri < head) to = n.firstRule + ri;
      else if (ri < oldEnd) to = -1;
      else to = n.firstRule + ri - oldEnd + newEnd;
      map[i] = to;
      if (to !== i) identity = false;
    }
  }

  const rules: Array<RuleSpec | null> = new Array(nrules).fill(null);
  for (let i = 0; i < prev.nrules; i++) if (map[i] >= 0) rules[map[i]] = prev.rules[i];
  const newIdx: number[] = [];
  for (const a of added) {
    const idx = chains[edited].firstRule + a.pos;
    newIdx.push(idx);
    rules[idx] = { counterId: a.rule.id!, action: a.c.action, residual: a.c.residual };
  }

  const remap = (v: Uint32Array): Uint32Array => {
    if (identity) return v;
    const out = new Uint32Array(v.length);
    let n = 0;
    for (let i = 0; i < v.length; i++) {
      const t = map[v[i]];
      if (t >= 0) out[n++] = t;
    }
    return n === v.length ? out : out.slice(0, n);
  };

  const fields: Partial<Record<FieldName, FieldSpec>> = {};
  const nreal = newChains.reduce((n, c) => n + c.rules.length, 0);
  let members = 0;
  const isNew = new Set(newIdx);
  for (const f of FIELD_NAMES) {
    let fs = prev.fields[f];
    if (!fs) {
      if (!added.some((a) => a.c.cons.some((k) => k.field === f))) continue;
      // A field no rule constrained: every old rule is wildcard, one empty class for all keys.
      const all: number[] = [];
      for (const cs of chains) for (let i = cs.firstRule; i < cs.endRule; i++) if (!isNew.has(i)) all.push(i);
      const wildcard = Uint32Array.from(all);
      const empty = [new Uint32Array(0)];
      if (f === 'src' || f === 'dst') fs = { kind: 'lpm', wildcard, classes: empty, entries: [{ prefix: { addr: 0, len: 0 }, cls: 0 }] };
      else if (f === 'iif' || f === 'oif') fs = { kind: 'iface', wildcard, classes: empty, entries: [{ name: '', exact: false, cls: 0 }] };
      else fs = { kind: 'array', wildcard, classes: empty, keyToClass: new Uint32Array(FIELD_DOMAIN[f]) };
    }
    let wildcard = fs === prev.fields[f] ? remap(fs.wildcard) : fs.wildcard;
    const classes = fs === prev.fields[f] ? fs.classes.map(remap) : fs.classes;
    let field: FieldSpec;
    switch (fs.kind) {
      case 'array':
        field = { kind: 'array', wildcard, classes, keyToClass: fs.keyToClass };
        break;
      case 'lpm':
        field = { kind: 'lpm', wildcard, classes, entries: fs.entries };
        break;
      case 'iface':
        field = { kind: 'iface', wildcard, classes, entries: fs.entries };
    }
    for (let k = 0; k < added.length; k++) {
      const cons = added[k].c.cons.filter((x) => x.field === f).map((x) => x.fc);
      const r = newIdx[k];
      if (cons.length === 0) wildcard = insertSorted(wildcard, r);
      else if (field.kind === 'array') addToArrayField(field, f as keyof typeof FIELD_DOMAIN, cons, r);
      else if (field.kind === 'lpm') addToPrefixField(field, cons, r);
      else addToIfaceField(field, cons, r);
    }
    field.wildcard = wildcard;
    // No rule constrains it any more: omitted, as compileTable omits it.
    if (wildcard.length === nreal) continue;
    fields[f] = field;
    for (const c of field.classes) members += c.length;
    // Deleted rules leave their classes and entries behind: past twice what the rules can
    // need, a full compile starts clean (a long run of -A / -D never grows without bound).
    const limit = 2 * nreal + 64;
    if (field.classes.length > limit || (field.kind !== 'array' && field.entries.length > limit)) return undefined;
  }
  if (members > DEFAULT_CLASS_BUDGET) return undefined;
  return { nrules, chains, rules, fields };
}

function sameIds(a: readonly Rule[], b: readonly Rule[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i].id !== b[i].id) return false;
  return true;
}

/** v with r added (v sorted, r not in v). */
function insertSorted(v: Uint32Array, r: number): Uint32Array {
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (v[m] < r) lo = m + 1;
    else hi = m;
  }
  const out = new Uint32Array(v.length + 1);
  out.set(v.subarray(0, lo));
  out[lo] = r;
  out.set(v.subarray(lo), lo + 1);
  return out;
}

/**
 * Gives rule r to every holder (a key or an entry) for which accepts(holder): a class all of
 * whose holders accept it gains r in place, a class some of them accept is split.
 */
function splitClasses(classes: Uint32Array[], clsOf: ArrayLike<number>, accepted: Uint8Array, setCls: (h: number, c: number) => void, r: number): void {
  const total = new Uint32Array(classes.length);
  const yes = new Uint32Array(classes.length);
  for (let h = 0; h < clsOf.length; h++) {
    total[clsOf[h]]++;
    if (accepted[h]) yes[clsOf[h]]++;
  }
  const split = new Map<number, number>();
  const n0 = classes.length;
  for (let c = 0; c < n0; c++) {
    if (yes[c] === 0) continue;
    const grown = insertSorted(classes[c], r);
    if (yes[c] === total[c]) classes[c] = grown;
    else {
      split.set(c, classes.length);
      classes.push(grown);
    }
  }
  if (split.size === 0) return;
  for (let h = 0; h < clsOf.length; h++) {
    if (!accepted[h]) continue;
    const to = split.get(clsOf[h]);
    if (to !== undefined) setCls(h, to);
  }
}

function addToArrayField(field: ArrayFieldSpec, f: keyof typeof FIELD_DOMAIN, cons: FieldConstraint[], r: number): void {
  const domain = FIELD_DOMAIN[f];
  const accepted = new Uint8Array(domain).fill(1);
  const inC = new Uint8Array(domain);
  for (const fc of cons) {
    if (fc.kind !== 'ranges') throw new Error(`updateSpec: ${fc.kind} constraint on ${f}`);
    inC.fill(0);
    for (const [lo, hi] of fc.ranges) {
      const a = Math.max(0, lo);
      const b = Math.min(domain - 1, hi);
      if (a <= b) inC.fill(1, a, b + 1);
    }
    const inv = fc.invert ? 1 : 0;
    for (let k = 0; k < domain; k++) accepted[k] &= inC[k] ^ inv;
  }
  const keyToClass = field.keyToClass.slice();
  splitClasses(field.classes, keyToClass, accepted, (k, c) => (keyToClass[k] = c), r);
  field.keyToClass = keyToClass;
}

/** Prefix a contains prefix b. */
function prefixContains(aAddr: number, aLen: number, bAddr: number, bLen: number): boolean {
  if (aLen > bLen) return false;
  if (aLen === 0) return true;
  const shift = 32 - aLen;
  return aAddr >>> shift === bAddr >>> shift;
}

function addToPrefixField(field: PrefixFieldSpec, cons: FieldConstraint[], r: number): void {
  const entries = field.entries.map((e) => ({ prefix: e.prefix, cls: e.cls }));
  const have = new Set(entries.map((e) => e.prefix.addr * 64 + e.prefix.len));
  // An entry per named prefix, with the class its keys had (the longest entry covering it).
  for (const fc of cons) {
    if (fc.kind !== 'prefixes') throw new Error(`updateSpec: ${fc.kind} constraint on an address`);
    for (const p of fc.prefixes) {
      const addr = p.addr >>> 0;
      if (have.has(addr * 64 + p.len)) continue;
      let best = -1;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i].prefix;
        if (prefixContains(e.addr >>> 0, e.len, addr, p.len) && (best < 0 || e.len > entries[best].prefix.len)) best = i;
      }
      entries.push({ prefix: { addr, len: p.len }, cls: entries[best].cls });
      have.add(addr * 64 + p.len);
    }
  }
  // The keys an entry resolves to lie in a named prefix iff the entry is inside it.
  const accepted = new Uint8Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i].prefix;
    let ok = 1;
    for (const fc of cons) {
      if (fc.kind !== 'prefixes') continue;
      let inside = false;
      for (const p of fc.prefixes) if (prefixContains(p.addr >>> 0, p.len, e.addr >>> 0, e.len)) inside = true;
      if (inside === fc.invert) ok = 0;
    }
    accepted[i] = ok;
  }
  const clsOf = Uint32Array.from(entries, (e) => e.cls);
  splitClasses(field.classes, clsOf, accepted, (i, c) => (entries[i].cls = c), r);
  field.entries = entries;
}

function addToIfaceField(field: IfaceFieldSpec, cons: FieldConstraint[], r: number): void {
  const keyOf = (e: { name: string; exact: boolean }): string => (e.exact ? e.name + '\0' : e.name);
  const entries = field.entries.map((e) => ({ name: e.name, exact: e.exact, cls: e.cls }));
  const keys = entries.map(keyOf);
  const have = new Set(keys);
  const patterns: Array<{ keys: string[]; invert: boolean }> = [];
  for (const fc of cons) {
    if (fc.kind !== 'iface') throw new Error(`updateSpec: ${fc.kind} constraint on an interface`);
    const key = ifacePatternKey(fc.pattern);
    patterns.push({ keys: [key], invert: fc.invert });
    if (have.has(key)) continue;
    let best = -1;
    for (let i = 0; i < keys.length; i++) if (key.startsWith(keys[i]) && (best < 0 || keys[i].length > keys[best].length)) best = i;
    const exact = key.endsWith('\0');
    entries.push({ name: exact ? key.slice(0, -1) : key, exact, cls: entries[best].cls });
    keys.push(key);
    have.add(key);
  }
  const accepted = new Uint8Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    let ok = 1;
    for (const p of patterns) {
      const inside = p.keys.some((k) => keys[i].startsWith(k));
      if (inside === p.invert) ok = 0;
    }
    accepted[i] = ok;
  }
  const clsOf = Uint32Array.from(entries, (e) => e.cls);
  splitClasses(field.classes, clsOf, accepted, (i, c) => (entries[i].cls = c), r);
  field.entries = entries;
}

