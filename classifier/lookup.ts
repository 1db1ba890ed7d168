// classifySpec: what the BPF program does with a TableSpec, in TypeScript. Used to test the
// compiler against the reference matcher and as the oracle for the kernel verdict tests.
//
// Per packet: per present field, find the class of the packet's key (array index, LPM over
// addresses, LPM over interface-name bytes), take wildcard(f) ∪ classes(f)[cls] as a bitmap
// over the rule index space, AND the bitmaps word by word from rule k, and take the lowest set
// bit below the chain's endRule. Residual checks run on that candidate only; when one fails the
// search resumes at candidate + 1. Actions: accept/drop/reject end the walk (reject's verdict is
// DROP; the datapath also sends the error), jump pushes a return frame (bounded by
// MAX_CALL_DEPTH), goto replaces the current chain, return pops (or, with an empty stack,
// applies the hook's policy), next/log/mark continue with candidate + 1 (mark rewrites the
// packet's mark as MARK --set-xmark does, so later mark checks see it). Falling off a chain is
// a return.
import type { RejectWith } from '../extensions/types.ts';
import { MAX_CALL_DEPTH } from './compile.ts';
import { FRAG_BIT, RTN_UNICAST, ctValue, type FieldName, type OwnerCheck, type PacketKey, type ResidualCheck, type ScalarField } from './fields.ts';
import type { FieldSpec, TableSpec } from './spec.ts';
import { headerCheck, isHeaderCheck } from './headers.ts';

export type Hook = 'INPUT' | 'FORWARD' | 'OUTPUT';

/**
 * Outcome of the stateful residual checks (limit, random, nth) for a rule, before `invert` is
 * applied: "under the rate", "random hit", "nth hit". `counterId` is the rule's counter slot
 * (Rule.id). Default: limit → true, random → probability ≥ 1, nth → every ≤ 1.
 */
export type ResidualOracle = (counterId: number, check: ResidualCheck, pkt: PacketKey) => boolean;

export function defaultResidualOracle(_counterId: number, check: ResidualCheck, pkt?: PacketKey): boolean {
  switch (check.kind) {
    case 'limit':
      return true;
    case 'random':
      return check.probability >= 1;
    case 'nth':
      return check.every <= 1;
    case 'connbytes': {
      // A connection's first packet, in the original direction.
      if (!pkt || (pkt.ctstate !== 1 && pkt.ctstate !== 2)) return false;
      const pk = check.dir === 'reply' ? 0n : 1n;
      const by = check.dir === 'reply' ? 0n : BigInt(pkt.len);
      const v = check.what === 'packets' ? pk : check.what === 'bytes' ? by : pk ? by / pk : 0n;
      const from = BigInt(check.from);
      const to = BigInt(check.to);
      return to >= from ? v >= from && v <= to : v < to || v > from;
    }
    case 'connlabel':
      // A connection with no label yet: only --set holds (and sets it).
      return check.set && pkt !== undefined && pkt.ctstate >= 1 && pkt.ctstate <= 3;
    case 'connlimit':
      // The first connection from the address.
      return 1 > check.limit;
    case 'quota':
      // A fresh budget.
      return BigInt(check.bytes) >= BigInt(pkt?.len ?? 0);
    case 'hashlimit':
      // Under the rate (a fresh bucket); the kernel's XT_HASHLIMIT_INVERT is the inversion.
      return (check.cfg.mode & 16) === 0;
    default:
      return true;
  }
}

export interface Classification {
  verdict: 'ACCEPT' | 'DROP';
  /** Set when the verdict came from a REJECT rule (verdict DROP). */
  reject?: RejectWith;
  /** Rule indices that counted the packet, in order. */
  matched: number[];
  /** Chain id (0..2) of the built-in chain whose policy counted the packet. */
  policyCounted?: number;
  /** A header check hotdropped the packet (verdict DROP, that rule uncounted). */
  hotdrop?: boolean;
}

function scalar(pkt: PacketKey, f: ScalarField): number {
  switch (f) {
    case 'saddr':
      return pkt.src;
    case 'daddr':
      return pkt.dst;
    case 'l4proto':
      return pkt.proto;
    case 'protokey':
      return (pkt.nonFirstFragment ? FRAG_BIT : 0) | pkt.proto;
    default:
      return pkt[f];
  }
}

function inRanges(v: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  for (const [lo, hi] of ranges) if (v >= lo && v <= hi) return true;
  return false;
}

/** The program's R_OWNER (bpf/content.h) with the kernel's match / invert bit words. */
function ownerHolds(o: OwnerCheck, pkt: PacketKey): boolean {
  const match = (o.uid ? 1 : 0) | (o.gid ? 2 : 0) | (o.socket ? 4 : 0) | (o.suppl ? 8 : 0);
  const inv = (o.uidInv ? 1 : 0) | (o.gidInv ? 2 : 0) | (o.socketInv ? 4 : 0);
  const s = pkt.sock;
  if (!s) return (match ^ inv) === 0;
  if (match & inv & 4) return false;
  if (!s.file) return ((match ^ inv) & 3) === 0;
  if (o.uid && (s.uid >= o.uid[0] && s.uid <= o.uid[1]) === !!o.uidInv) return false;
  if (o.gid) {
    const [lo, hi] = o.gid;
    const hit = (s.gid >= lo && s.gid <= hi) || (!!o.suppl && s.groups.some((g) => g >= lo && g <= hi));
    if (hit === !!o.gidInv) return false;
  }
  return true;
}

function residualPasses(counterId: number, checks: readonly ResidualCheck[], pkt: PacketKey, oracle: ResidualOracle): boolean | 'hotdrop' {
  for (const c of checks) {
    let hit: boolean;
    if (isHeaderCheck(c)) {
      const h = headerCheck(c, pkt);
      if (h === 'hotdrop') return h;
      if (h === c.invert) return false;
      continue;
    }
    switch (c.kind) {
      case 'cmp':
        hit = inRanges((scalar(pkt, c.field) & c.mask) >>> 0, c.ranges);
        break;
      case 'either':
        hit = inRanges(pkt.sport, c.ranges) || inRanges(pkt.dport, c.ranges);
        break;
      case 'addrtype': {
        const f = pkt.addrtype;
        let t = f ? (c.addr === 'src' ? f.src : f.dst) : RTN_UNICAST;
        const routeDev = c.addr === 'src' ? f?.srcDev : f?.dstDev;
        const dev = c.dev === 'in' ? pkt.iif : c.dev === 'out' ? pkt.oif : '';
        if (dev !== '' && routeDev !== undefined && routeDev !== dev) t = RTN_UNICAST;
        hit = t < 32 && ((c.types >>> t) & 1) === 1;
        break;
      }
      case 'mac':
        // No Ethernet header: no match, inverted or not (the program's R_MAC).
        if (pkt.mac === undefined) return false;
        hit = pkt.mac === c.mac;
        break;
      case 'owner':
        hit = ownerHolds(c.owner, pkt);
        break;
      case 'ct':
        // No connection: xt_conntrack's answer is whether --ctstate was given, uninverted.
        if (!pkt.ct) {
          if (!c.untracked) return false;
          continue;
        }
        hit = inRanges((ctValue(pkt.ct, c.field) & c.mask) >>> 0, c.ranges);
        break;
      default:
        hit = oracle(counterId, c, pkt);
    }
    if (hit === c.invert) return false;
  }
  return true;
}

interface FieldCache {
  /** Bitmap (wildcard ∪ class) per class, built on first use. */
  bitmaps: Map<number, Uint32Array>;
  /** lpm: entry key addr*64+len → class; lens present, longest first. */
  lpm?: { byKey: Map<number, number>; lens: number[] };
  /** iface: LPM key bytes ('eth0\0', 'eth') → class. */
  iface?: Map<string, number>;
}

const caches = new WeakMap<TableSpec, Map<FieldName, FieldCache>>();

function fieldCache(spec: TableSpec, f: FieldName, fs: FieldSpec): FieldCache {
  let m = caches.get(spec);
  if (!m) caches.set(spec, (m = new Map()));
  let c = m.get(f);
  if (!c) {
    c = { bitmaps: new Map() };
    if (fs.kind === 'lpm') {
      const byKey = new Map<number, number>();
      const lens = new Set<number>();
      for (const e of fs.entries) {
        byKey.set(e.prefix.addr * 64 + e.prefix.len, e.cls);
        lens.add(e.prefix.len);
      }
      c.lpm = { byKey, lens: [...lens].sort((a, b) => b - a) };
    } else if (fs.kind === 'iface') {
      c.iface = new Map(fs.entries.map((e) => [e.exact ? e.name + '\0' : e.name, e.cls]));
    }
    m.set(f, c);
  }
  return c;
}

function classOf(f: FieldName, fs: FieldSpec, cache: FieldCache, pkt: PacketKey): number {
  switch (fs.kind) {
    case 'array': {
      const key =
        f === 'proto' ? (pkt.nonFirstFragment ? FRAG_BIT : 0) | pkt.proto : (pkt[f as 'sport' | 'dport' | 'tcpflags' | 'ctstate'] as number);
      return fs.keyToClass[key];
    }
    case 'lpm': {
      const addr = (f === 'src' ? pkt.src : pkt.dst) >>> 0;
      for (const len of cache.lpm!.lens) {
        const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        const cls = cache.lpm!.byKey.get(((addr & mask) >>> 0) * 64 + len);
        if (cls !== undefined) return cls;
      }
      throw new Error('classifySpec: LPM without 0.0.0.0/0');
    }
    case 'iface': {
      const name = f === 'iif' ? pkt.iif : pkt.oif;
      const exact = cache.iface!.get(name + '\0');
      if (exact !== undefined) return exact;
      for (let l = name.length; l >= 0; l--) {
        const cls = cache.iface!.get(name.slice(0, l));
        if (cls !== undefined) return cls;
      }
      throw new Error('classifySpec: interface LPM without the empty prefix');
    }
  }
}

function bitmapOf(spec: TableSpec, fs: FieldSpec, cache: FieldCache, cls: number): Uint32Array {
  let b = cache.bitmaps.get(cls);
  if (!b) {
    b = new Uint32Array(spec.nrules >>> 5);
    for (const i of fs.wildcard) b[i >>> 5] |= 1 << (i & 31);
    for (const i of fs.classes[cls]) b[i >>> 5] |= 1 << (i & 31);
    cache.bitmaps.set(cls, b);
  }
  return b;
}

export function classifySpec(spec: TableSpec, hook: Hook, pkt0: PacketKey, residualState?: ResidualOracle): Classification {
  const oracle = residualState ?? defaultResidualOracle;
  const pkt: PacketKey = { ...pkt0 };
  const hookChain = spec.chains.findIndex((c, i) => i < 3 && c.name === hook);
  if (hookChain < 0) throw new Error(`classifySpec: no chain ${hook}`);

  const maps: Uint32Array[] = [];
  for (const [f, fs] of Object.entries(spec.fields) as Array<[FieldName, FieldSpec | undefined]>) {
    if (!fs) continue;
    const cache = fieldCache(spec, f, fs);
    maps.push(bitmapOf(spec, fs, cache, classOf(f, fs, cache, pkt)));
  }
  const firstCandidate = (k: number, end: number): number => {
    for (let w = k >>> 5; w << 5 < end; w++) {
      let word = w === k >>> 5 ? (0xffffffff << (k & 31)) >>> 0 : 0xffffffff;
      for (const m of maps) word = (word & m[w]) >>> 0;
      if (word !== 0) {
        const idx = (w << 5) + (31 - Math.clz32(word & -word));
        return idx < end ? idx : -1;
      }
    }
    return -1;
  };

  const matched: number[] = [];
  const stack: Array<{ chain: number; next: number }> = [];
  let chain = hookChain;
  let k = spec.chains[chain].firstRule;
  const policy = (): Classification => ({ verdict: spec.chains[hookChain].policy ?? 'ACCEPT', matched, policyCounted: hookChain });
  // Every step advances k or moves to another chain of a loop-free graph; the bound only
  // turns a compiler bug into an exception instead of a hang.
  for (let steps = 0; steps < spec.nrules * (MAX_CALL_DEPTH + 2) + 64; steps++) {
    const idx = firstCandidate(k, spec.chains[chain].endRule);
    if (idx < 0) {
      const f = stack.pop();
      if (!f) return policy();
      chain = f.chain;
      k = f.next;
      continue;
    }
    const r = spec.rules[idx];
    if (!r) throw new Error(`classifySpec: padding index ${idx} matched`);
    const pass = residualPasses(r.counterId, r.residual, pkt, oracle);
    if (pass === 'hotdrop') return { verdict: 'DROP', matched, hotdrop: true };
    if (!pass) {
      k = idx + 1;
      continue;
    }
    matched.push(idx);
    const a = r.action;
    switch (a.kind) {
      case 'accept':
        return { verdict: 'ACCEPT', matched };
      case 'drop':
        return { verdict: 'DROP', matched };
      case 'reject':
        return { verdict: 'DROP', reject: a.with, matched };
      case 'return': {
        const f = stack.pop();
        if (!f) return policy();
        chain = f.chain;
        k = f.next;
        break;
      }
      case 'jump':
        if (stack.length >= MAX_CALL_DEPTH) throw new Error('classifySpec: call stack overflow');
        stack.push({ chain, next: idx + 1 });
        chain = a.chain;
        k = spec.chains[chain].firstRule;
        break;
      case 'goto':
        chain = a.chain;
        k = spec.chains[chain].firstRule;
        break;
      case 'mark':
        pkt.mark = ((pkt.mark & ~a.mask) ^ a.value) >>> 0;
        k = idx + 1;
        break;
      case 'next':
      case 'log':
        k = idx + 1;
        break;
    }
  }
  throw new Error('classifySpec: walk did not terminate');
}
