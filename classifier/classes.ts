// Per-field class computation: which set of constraining rules accepts each key.
//
// One machinery serves all three field kinds. Every constraint c (one rule's constraint on the
// field; a rule may have several, all required) has a counter `count[c]` of how many of its
// ranges/prefixes contain the current position; c is satisfied iff (count[c] > 0) XOR invert.
// A rule is in the active set iff all its constraints on the field are satisfied. We walk
// the key space in an order where the counters change incrementally:
// - array fields: a sweep over the domain's elementary intervals (events at lo and hi+1,
//   bucketed by position: O(events + domain), no comparison sort);
// - src/dst: a DFS over the trie of every prefix any rule mentions plus 0.0.0.0/0 (entries
//   sorted by (addr, len) are a preorder; a stack of open prefixes gives enter/exit events).
//   Because every prefix of every rule is an entry, whether a rule accepts an address depends
//   only on the longest entry containing the address, which is the LPM result: class(Q) is the
//   active set while Q is the deepest open entry. Inversion needs no set complement: an
//   inverted constraint is satisfied while none of its prefixes is open;
// - iif/oif: the same DFS over name byte strings (exact name = bytes + NUL, 'eth+' = 'eth').
// The active set is kept as a dense array with O(1) add/remove plus a 64-bit XOR (Zobrist) hash
// of its members, so a position costs O(changed rules), and a set is materialised (copied and
// sorted) only the first time its hash is seen. Dedupe is by (64-bit hash, size); two different
// sets colliding would need a 64-bit collision with equal size (probability ~ classes² / 2^65).
//
// Sets are sorted Uint32Array views into one shared pool (one backing store, not one per
// class: at 100k classes separate ArrayBuffers cost more than the members). A set is snapshot
// from the dense array (small sets) or from a membership bitmap kept alongside (large sets);
// see bench/bitset.ts for the measurements and why plain typed arrays rather than `bitset`.
import type { Prefix } from './fields.ts';
import { prefixMask } from './base.ts';

/** splitmix32-style finaliser: deterministic per-rule hash words. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Growable pool of u32 set members; classes are subarray views of it at the end. */
class SetPool {
  private buf = new Uint32Array(1024);
  private len = 0;
  readonly offsets: number[] = [];
  readonly sizes: number[] = [];

  /**
   * Appends the set as a sorted list. Two ways, by cost: copy the dense members and sort
   * (∝ size·log size, and V8's typed-array sort is slow: ~0.25 µs per element at 2k), or scan
   * the membership bitmap (∝ words + size). bench/bitset.ts measured the crossover near
   * size · 8 ≈ words.
   */
  add(dense: Uint32Array, words: Uint32Array, size: number): number {
    if (this.len + size > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + size) cap *= 2;
      const nb = new Uint32Array(cap);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    const buf = this.buf;
    const o = this.len;
    if (size * 8 < words.length) {
      for (let i = 0; i < size; i++) buf[o + i] = dense[i];
      if (size > 1) buf.subarray(o, o + size).sort();
    } else {
      let n = o;
      for (let w = 0; w < words.length; w++) {
        let v = words[w];
        while (v !== 0) {
          const low = v & -v;
          buf[n++] = (w << 5) + 31 - Math.clz32(low);
          v ^= low;
        }
      }
    }
    this.offsets.push(o);
    this.sizes.push(size);
    this.len += size;
    return this.offsets.length - 1;
  }

  finish(): Uint32Array[] {
    const buf = this.buf.length === this.len ? this.buf : this.buf.slice(0, this.len);
    return this.offsets.map((o, i) => buf.subarray(o, o + this.sizes[i]));
  }
}

/**
 * The incremental active set over constraints. `consRule[c]` is the rule of constraint c,
 * `consInvert[c]` its inversion.
 */
export class ActiveSet {
  private readonly count: Int32Array;
  private readonly need: Int32Array;
  private readonly sat: Int32Array;
  private readonly pos: Int32Array;
  private readonly dense: Uint32Array;
  /** Membership bitmap, kept in step with `dense` (for O(words) snapshots of large sets). */
  private readonly words: Uint32Array;
  private size = 0;
  private h1 = 0;
  private h2 = 0;
  // Open-addressing table of seen sets: slot → class id + 1 (0 = empty). Typed arrays, not a
  // Map: with 100k classes a Map of 53-bit keys allocates a heap number per key.
  private slots = new Int32Array(1024);
  private clsH1 = new Uint32Array(256);
  private clsH2 = new Uint32Array(256);
  private readonly pool = new SetPool();

  constructor(
    nrules: number,
    private readonly consRule: Uint32Array,
    private readonly consInvert: Uint8Array,
  ) {
    const ncons = consRule.length;
    this.count = new Int32Array(ncons);
    this.need = new Int32Array(nrules);
    this.sat = new Int32Array(nrules);
    this.pos = new Int32Array(nrules).fill(-1);
    this.dense = new Uint32Array(nrules);
    this.words = new Uint32Array((nrules + 31) >>> 5);
    for (let c = 0; c < ncons; c++) {
      const r = consRule[c];
      this.need[r]++;
      if (consInvert[c]) this.sat[r]++;
    }
    for (let c = 0; c < ncons; c++) {
      const r = consRule[c];
      if (this.sat[r] === this.need[r] && this.pos[r] < 0) this.add(r);
    }
  }

  private add(r: number): void {
    this.pos[r] = this.size;
    this.dense[this.size++] = r;
    this.words[r >>> 5] ^= 1 << (r & 31);
    this.h1 ^= mix32(r * 2 + 1);
    this.h2 ^= mix32(r * 2 + 2);
  }

  private remove(r: number): void {
    const p = this.pos[r];
    const last = this.dense[--this.size];
    this.dense[p] = last;
    this.pos[last] = p;
    this.pos[r] = -1;
    this.words[r >>> 5] ^= 1 << (r & 31);
    this.h1 ^= mix32(r * 2 + 1);
    this.h2 ^= mix32(r * 2 + 2);
  }

  private flip(c: number, nowSatisfied: boolean): void {
    const r = this.consRule[c];
    if (nowSatisfied) {
      if (++this.sat[r] === this.need[r]) this.add(r);
    } else {
      if (this.sat[r] === this.need[r]) this.remove(r);
      this.sat[r]--;
    }
  }

  inc(c: number): void {
    if (++this.count[c] === 1) this.flip(c, !this.consInvert[c]);
  }

  dec(c: number): void {
    if (--this.count[c] === 0) this.flip(c, this.consInvert[c] === 1);
  }

  /** Class id of the current active set (a new id the first time a set is seen). */
  classId(): number {
    const h1 = this.h1 >>> 0;
    const h2 = this.h2 >>> 0;
    const sizes = this.pool.sizes;
    let mask = this.slots.length - 1;
    let i = (h1 ^ Math.imul(h2, 0x9e3779b1)) & mask;
    for (let s = this.slots[i]; s !== 0; s = this.slots[i]) {
      const id = s - 1;
      if (this.clsH1[id] === h1 && this.clsH2[id] === h2 && sizes[id] === this.size) return id;
      i = (i + 1) & mask;
    }
    const id = this.pool.add(this.dense, this.words, this.size);
    if (id >= this.clsH1.length) {
      const n1 = new Uint32Array(this.clsH1.length * 2);
      n1.set(this.clsH1);
      this.clsH1 = n1;
      const n2 = new Uint32Array(this.clsH2.length * 2);
      n2.set(this.clsH2);
      this.clsH2 = n2;
    }
    this.clsH1[id] = h1;
    this.clsH2[id] = h2;
    if ((id + 1) * 2 > this.slots.length) {
      // Rehash at load 1/2.
      const slots = new Int32Array(this.slots.length * 2);
      mask = slots.length - 1;
      for (let c = 0; c <= id; c++) {
        let j = (this.clsH1[c] ^ Math.imul(this.clsH2[c], 0x9e3779b1)) & mask;
        while (slots[j] !== 0) j = (j + 1) & mask;
        slots[j] = c + 1;
      }
      this.slots = slots;
    } else {
      this.slots[i] = id + 1;
    }
    return id;
  }

  classes(): Uint32Array[] {
    return this.pool.finish();
  }
}

/** Growable u32 column (constraint and item tables are filled rule by rule). */
export class U32Column {
  data = new Uint32Array(256);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const n = new Uint32Array(this.data.length * 2);
      n.set(this.data);
      this.data = n;
    }
    this.data[this.length++] = v;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Flat constraint table of one field: constraint c belongs to rule consRule[c]; its items
 * (ranges [a, b] or prefixes addr/len as a = addr, b = len) are the rows with itemCons == c.
 * Flat columns rather than objects per constraint: at 100k rules the objects would all survive
 * to the end of the compile and be promoted, and old-space GC dominated the compile time.
 */
export class ConstraintTable {
  readonly consRule = new U32Column();
  readonly consInvert = new U32Column();
  readonly itemCons = new U32Column();
  readonly itemA = new U32Column();
  readonly itemB = new U32Column();

  /** Starts a constraint of `rule`; returns its id for addItem. */
  addConstraint(rule: number, invert: boolean): number {
    this.consRule.push(rule);
    this.consInvert.push(invert ? 1 : 0);
    return this.consRule.length - 1;
  }
  addItem(c: number, a: number, b: number): void {
    this.itemCons.push(c);
    this.itemA.push(a >>> 0);
    this.itemB.push(b >>> 0);
  }
  get size(): number {
    return this.consRule.length;
  }
}

/** One rule's constraint on an array field: union of inclusive ranges, maybe inverted. */
export interface RangeCons {
  rule: number;
  invert: boolean;
  ranges: ReadonlyArray<readonly [number, number]>;
}

/** One rule's constraint on src/dst: union of prefixes, maybe inverted. */
export interface PrefixCons {
  rule: number;
  invert: boolean;
  prefixes: readonly Prefix[];
}

export function rangeTable(cons: readonly RangeCons[]): ConstraintTable {
  const t = new ConstraintTable();
  for (const c of cons) {
    const id = t.addConstraint(c.rule, c.invert);
    for (const [lo, hi] of c.ranges) if (Math.max(0, lo) <= hi) t.addItem(id, Math.max(0, lo), hi);
  }
  return t;
}

export function prefixTable(cons: readonly PrefixCons[]): ConstraintTable {
  const t = new ConstraintTable();
  for (const c of cons) {
    const id = t.addConstraint(c.rule, c.invert);
    for (const p of c.prefixes) t.addItem(id, p.addr, p.len);
  }
  return t;
}

/** Elementary-interval sweep over keys 0 .. domain-1. */
export function buildArrayClasses(
  domain: number,
  nrules: number,
  input: readonly RangeCons[] | ConstraintTable,
): { keyToClass: Uint32Array; classes: Uint32Array[] } {
  const t = input instanceof ConstraintTable ? input : rangeTable(input);
  const consRule = t.consRule.view();
  const consInvert = Uint8Array.from(t.consInvert.view());
  const itemCons = t.itemCons.view();
  const itemLo = t.itemA.view();
  const itemHi = t.itemB.view();
  const nitems = itemCons.length;
  // Bucket events by position: bucket p holds c for range starts and ~c for range ends.
  const bucketCount = new Uint32Array(domain + 1);
  for (let i = 0; i < nitems; i++) {
    const lo = itemLo[i];
    const hi = Math.min(domain - 1, itemHi[i]);
    if (lo > hi) continue;
    bucketCount[lo]++;
    if (hi + 1 < domain) bucketCount[hi + 1]++;
  }
  const start = new Uint32Array(domain + 1);
  for (let p = 0, acc = 0; p <= domain; p++) {
    start[p] = acc;
    acc += bucketCount[p];
  }
  const ev = new Int32Array(start[domain]);
  const fill = start.slice();
  for (let i = 0; i < nitems; i++) {
    const lo = itemLo[i];
    const hi = Math.min(domain - 1, itemHi[i]);
    if (lo > hi) continue;
    const c = itemCons[i];
    ev[fill[lo]++] = c;
    if (hi + 1 < domain) ev[fill[hi + 1]++] = ~c;
  }
  const set = new ActiveSet(nrules, consRule, consInvert);
  const keyToClass = new Uint32Array(domain);
  // Key 0's class is known before the loop only when no range starts at 0.
  let cls = bucketCount[0] === 0 ? set.classId() : 0;
  let cur = 0;
  for (let p = 0; p < domain; p++) {
    if (bucketCount[p] === 0) continue;
    if (p > 0) keyToClass.fill(cls, cur, p);
    for (let i = start[p], e = start[p] + bucketCount[p]; i < e; i++) {
      const c = ev[i];
      if (c >= 0) set.inc(c);
      else set.dec(~c);
    }
    cls = set.classId();
    cur = p;
  }
  keyToClass.fill(cls, cur, domain);
  return { keyToClass, classes: set.classes() };
}

/** LPM entries (every mentioned prefix plus 0.0.0.0/0, sorted by addr then len) and classes. */
export function buildPrefixClasses(
  nrules: number,
  input: readonly PrefixCons[] | ConstraintTable,
): { entries: Array<{ prefix: Prefix; cls: number }>; classes: Uint32Array[] } {
  const t = input instanceof ConstraintTable ? input : prefixTable(input);
  const consRule = t.consRule.view();
  const consInvert = Uint8Array.from(t.consInvert.view());
  const itemCons = t.itemCons.view();
  const itemAddr = t.itemA.view();
  const itemLen = t.itemB.view();
  const nitems = itemCons.length;
  // Entry key addr * 64 + len (< 2^38, exact in a double); sorted numerically it is the
  // (addr, len) order, a preorder of the prefix trie. Native Float64Array sort, no comparator.
  const keys = new Float64Array(nitems + 1);
  const itemKey = new Float64Array(nitems);
  for (let i = 0; i < nitems; i++) {
    const len = itemLen[i];
    const addr = (itemAddr[i] & prefixMask(len)) >>> 0;
    keys[i] = itemKey[i] = addr * 64 + len;
  }
  keys[nitems] = 0; // 0.0.0.0/0
  keys.sort();
  let nent = 0;
  for (let i = 0; i < keys.length; i++) if (i === 0 || keys[i] !== keys[i - 1]) keys[nent++] = keys[i];
  const entKey = keys.subarray(0, nent);
  // CSR: constraints per entry.
  const itemEnt = new Uint32Array(nitems);
  const entStart = new Uint32Array(nent + 1);
  for (let i = 0; i < nitems; i++) {
    const k = itemKey[i];
    let lo = 0;
    let hi = nent - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entKey[mid] < k) lo = mid + 1;
      else hi = mid;
    }
    itemEnt[i] = lo;
    entStart[lo + 1]++;
  }
  for (let e = 0; e < nent; e++) entStart[e + 1] += entStart[e];
  const entCons = new Uint32Array(nitems);
  const fill = entStart.slice(0, nent);
  for (let i = 0; i < nitems; i++) entCons[fill[itemEnt[i]]++] = itemCons[i];

  const set = new ActiveSet(nrules, consRule, consInvert);
  const stack = new Int32Array(34);
  let sp = 0;
  const entries: Array<{ prefix: Prefix; cls: number }> = new Array(nent);
  for (let e = 0; e < nent; e++) {
    const len = entKey[e] % 64;
    const addr = (entKey[e] - len) / 64;
    while (sp > 0) {
      const top = stack[sp - 1];
      const tlen = entKey[top] % 64;
      if (tlen <= len && ((addr & prefixMask(tlen)) >>> 0) * 64 + tlen === entKey[top]) break;
      sp--;
      for (let j = entStart[top]; j < entStart[top + 1]; j++) set.dec(entCons[j]);
    }
    stack[sp++] = e;
    for (let j = entStart[e]; j < entStart[e + 1]; j++) set.inc(entCons[j]);
    entries[e] = { prefix: { addr, len }, cls: set.classId() };
  }
  return { entries, classes: set.classes() };
}

/** One rule's constraint on iif/oif: an iptables interface pattern, maybe inverted. */
export interface IfaceCons {
  rule: number;
  invert: boolean;
  pattern: string;
}

/** The LPM key bytes of a pattern: 'eth0' → 'eth0\0', 'eth+' → 'eth', '+' → ''. */
export function ifacePatternKey(pattern: string): string {
  return pattern.endsWith('+') ? pattern.slice(0, -1) : pattern + '\0';
}

export function buildIfaceClasses(
  nrules: number,
  cons: readonly IfaceCons[],
): { entries: Array<{ name: string; exact: boolean; cls: number }>; classes: Uint32Array[] } {
  const ncons = cons.length;
  const consRule = new Uint32Array(ncons);
  const consInvert = new Uint8Array(ncons);
  const entryOf = new Map<string, number>([['', 0]]);
  const entKey: string[] = [''];
  const entCons: number[][] = [[]];
  for (let c = 0; c < ncons; c++) {
    consRule[c] = cons[c].rule;
    consInvert[c] = cons[c].invert ? 1 : 0;
    const key = ifacePatternKey(cons[c].pattern);
    let e = entryOf.get(key);
    if (e === undefined) {
      e = entKey.length;
      entryOf.set(key, e);
      entKey.push(key);
      entCons.push([]);
    }
    entCons[e].push(c);
  }
  // Code-unit order: a string sorts before its extensions and NUL before any other byte, so
  // the sorted keys are a preorder of the byte trie.
  const order = Array.from({ length: entKey.length }, (_, i) => i);
  order.sort((a, b) => (entKey[a] < entKey[b] ? -1 : entKey[a] > entKey[b] ? 1 : 0));
  const set = new ActiveSet(nrules, consRule, consInvert);
  const stack: number[] = [];
  const entries: Array<{ name: string; exact: boolean; cls: number }> = [];
  for (const e of order) {
    const key = entKey[e];
    while (stack.length > 0) {
      const t = stack[stack.length - 1];
      if (key.startsWith(entKey[t])) break;
      stack.pop();
      for (const c of entCons[t]) set.dec(c);
    }
    stack.push(e);
    for (const c of entCons[e]) set.inc(c);
    const exact = key.endsWith('\0');
    entries.push({ name: exact ? key.slice(0, -1) : key, exact, cls: set.classId() });
  }
  return { entries, classes: set.classes() };
}
