// TableSpec → map contents (pure; no kernel access). The byte layouts are those of
// bpf/bpftables.h (mirrored in layout.ts).
//
// Vectors: every set of rule indices (a field's wildcard set, or one class's set) becomes one
// compact vector in the u64 pool: [nsup super words][nsum summary words][nsum ranks][non-zero
// words, packed] (bpf/bpftables.h).
// Pool offset 0 is the empty vector. A vector never straddles a POOL_CHUNK boundary, so the
// program can index one chunk with a masked offset. Identical sets share one vector.
import type { FieldName, HashlimitCfg, ResidualCheck } from '../../classifier/fields.ts';
import type { FieldSpec, TableSpec } from '../../classifier/spec.ts';
import * as L from './layout.ts';
import { kernelToupper } from '../../classifier/headers.ts';

export interface Encoded {
  nrules: number;
  nsum: number;
  /** Pool as u32 pairs (little-endian u64 words); length = 2 * poolWords. */
  pool: Uint32Array;
  poolWords: number;
  /** Chunks in use (≥ 1). */
  poolChunks: number;
  meta: Buffer;
  keymap: Buffer;
  rules: Buffer; // nrules * RULE_SIZE
  chains: Buffer; // nchains * CHAIN_SIZE
  nchains: number;
  res: Buffer; // nres * RES_SIZE
  nres: number;
  logs: Buffer; // nlogs * LOGCFG_SIZE
  nlogs: number;
  /** LPM entries per trie: key bytes → value (pool offset). */
  lpm: { iif: Array<[Buffer, number]>; oif: Array<[Buffer, number]> };
  /** Whether some rule constrains ctstate (the program then runs conntrack). */
  ctOn: boolean;
  /** Whether some rule reads conntrack's counters (connbytes): accounting goes on for good. */
  ctAcct: boolean;
  /** Whether some rule uses connection labels: new entries then get them. */
  ctLabels: boolean;
  /** Counter ids of the rules with connlimit (their lists in clist live while they do). */
  connlimitIds: number[];
  /** Highest counter id referenced. */
  maxCounter: number;
  /** Counter ids of rules with limit / nth checks (their state lives in `resstate`). */
  statefulIds: number[];
  /** Whether some rule REJECTs (the tc programs that send the replies are then attached). */
  hasReject: boolean;
  /** recent list name -> list id used in the residual checks. */
  recentIds: ReadonlyMap<string, number>;
  /** hashlimit table name -> table id used in the residual checks. */
  hashlimitIds: ReadonlyMap<string, number>;
}

export class EncodeError extends Error {}

class PoolBuilder {
  words: Uint32Array;
  used: number;
  readonly nsum: number;
  readonly nsup: number;
  private singles = new Map<number, number>();
  private dedup = new Map<string, number>();
  constructor(nsum: number, estimate = 0) {
    this.nsum = nsum;
    this.nsup = Math.ceil(nsum / 64);
    this.words = new Uint32Array(2 * Math.max(POOL_INIT, 4 * nsum, estimate));
    this.used = this.nsup + 2 * nsum; // the empty vector at offset 0 (all zero)
  }
  private ensure(n: number): void {
    if (n * 2 <= this.words.length) return;
    let len = this.words.length;
    while (len < n * 2) len = Math.ceil(len * 1.5);
    const w = new Uint32Array(len);
    w.set(this.words.subarray(0, this.used * 2));
    this.words = w;
  }
  /** Adds raw u64 words (lo/hi u32 pairs) kept within one chunk; returns the pool offset. */
  addRaw(pairs: Uint32Array): number {
    const len = pairs.length / 2;
    if (len > L.POOL_CHUNK) throw new EncodeError(`table of ${len} words exceeds a pool chunk`);
    let off = this.used;
    if ((off & (L.POOL_CHUNK - 1)) + len > L.POOL_CHUNK) off = (off + L.POOL_CHUNK - 1) & ~(L.POOL_CHUNK - 1);
    this.ensure(off + len);
    this.words.set(pairs, 2 * off);
    this.used = off + len;
    return off;
  }
  /** Adds the vector of sorted rule indices; returns its pool offset. */
  add(indices: Uint32Array): number {
    if (indices.length === 0) return 0;
    // Identical sets share a vector (singletons are common across fields: the same rule is
    // the only one with this address and with that port).
    let key: string | undefined;
    if (indices.length === 1) {
      const hit = this.singles.get(indices[0]);
      if (hit !== undefined) return hit;
    } else {
      key = dedupKey(indices);
      const hit = this.dedup.get(key);
      if (hit !== undefined) return hit;
    }
    const nsum = this.nsum;
    const nsup = this.nsup;
    let nw = 0;
    let prev = -1;
    for (let i = 0; i < indices.length; i++) {
      const w = indices[i] >>> 6;
      if (w !== prev) {
        nw++;
        prev = w;
      }
    }
    const len = nsup + 2 * nsum + nw;
    if (len > L.POOL_CHUNK) throw new EncodeError(`vector of ${len} words exceeds a pool chunk`);
    let off = this.used;
    if ((off & (L.POOL_CHUNK - 1)) + len > L.POOL_CHUNK) off = (off + L.POOL_CHUNK - 1) & ~(L.POOL_CHUNK - 1);
    this.ensure(off + len);
    // The region is still zero (the pool only grows). Words are u32 pairs (lo, hi).
    const W = this.words;
    const sumBase = 2 * (off + nsup);
    const pk = 2 * (off + nsup + 2 * nsum);
    let wi = -1;
    prev = -1;
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      const w = r >>> 6;
      if (w !== prev) {
        wi++;
        prev = w;
        const j = w >>> 6;
        const sb = w & 63;
        W[sumBase + 2 * j + (sb >>> 5)] |= 1 << (sb & 31);
        W[2 * (off + (j >>> 6)) + ((j & 63) >>> 5)] |= 1 << (j & 31);
      }
      const b = r & 63;
      W[pk + 2 * wi + (b >>> 5)] |= 1 << (b & 31);
    }
    // ranks: number of non-zero words before word 64*j
    let k = 0;
    const rankBase = 2 * (off + nsup + nsum);
    for (let j = 0; j < nsum; j++) {
      W[rankBase + 2 * j] = k;
      k += popcount32(W[sumBase + 2 * j]) + popcount32(W[sumBase + 2 * j + 1]);
    }
    this.used = off + len;
    if (key === undefined) this.singles.set(indices[0], off);
    else this.dedup.set(key, off);
    return off;
  }
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

const POOL_INIT = 1 << 14;

function dedupKey(a: Uint32Array): string {
  if (a.length <= 8) return Array.prototype.join.call(a, ',');
  let h = 0x811c9dc5;
  let h2 = 0;
  for (let i = 0; i < a.length; i++) {
    h = Math.imul(h ^ a[i], 0x01000193) >>> 0;
    h2 = (Math.imul(h2, 31) + a[i]) >>> 0;
  }
  // Hash collisions are astronomically unlikely with two 32-bit hashes + length + ends.
  return `h${a.length}:${h}:${h2}:${a[0]}:${a[a.length - 1]}`;
}

/** rule_ent.arg of a REJECT: the ICMP destination-unreachable code, 0x100 for tcp-reset (reject.h). */
const REJECT_ARG: Record<string, number> = {
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 1,
  'icmp-proto-unreachable': 2,
  'icmp-port-unreachable': 3,
  'icmp-net-prohibited': 9,
  'icmp-host-prohibited': 10,
  'icmp-admin-prohibited': 13,
  'tcp-reset': 0x100,
};

const ACTION_CODE = {
  accept: L.A_ACCEPT,
  drop: L.A_DROP,
  return: L.A_RETURN,
  jump: L.A_JUMP,
  goto: L.A_GOTO,
  next: L.A_NEXT,
  log: L.A_LOG,
  reject: L.A_REJECT,
} as const;

/**
 * Longest-prefix match as sorted disjoint intervals: [start, value] means addresses from start
 * up to the next interval's start take value. Entries must include 0.0.0.0/0.
 */
export function flattenPrefixes(entries: Array<{ addr: number; len: number; val: number }>): Array<[number, number]> {
  const ps = entries
    .map((e) => ({ start: e.addr >>> 0, end: (e.addr >>> 0) + 2 ** (32 - e.len), val: e.val }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Array<[number, number]> = [];
  const emit = (start: number, val: number) => {
    if (start >= 2 ** 32) return;
    if (out.length && out[out.length - 1][0] === start) out[out.length - 1][1] = val;
    else out.push([start, val]);
  };
  const stack: Array<{ end: number; val: number }> = [];
  const popTo = (pos: number) => {
    while (stack.length && stack[stack.length - 1].end <= pos) {
      const t = stack.pop()!;
      if (stack.length) emit(t.end, stack[stack.length - 1].val);
    }
  };
  for (const p of ps) {
    popTo(p.start);
    stack.push({ end: p.end, val: p.val });
    emit(p.start, p.val);
  }
  popTo(2 ** 33);
  if (!out.length || out[0][0] !== 0) throw new EncodeError('address prefixes without 0.0.0.0/0');
  // Merge neighbours with the same value.
  const merged: Array<[number, number]> = [];
  for (const iv of out) if (!merged.length || merged[merged.length - 1][1] !== iv[1]) merged.push(iv);
  return merged;
}

function lpmIfKey(name: string, exact: boolean): Buffer {
  const b = Buffer.alloc(L.LPMIF_KEY_SIZE);
  const bytes = Buffer.from(name, 'latin1');
  const n = exact ? bytes.length + 1 : bytes.length;
  if (n > 16) throw new EncodeError(`interface name '${name}' longer than 15 characters`);
  bytes.copy(b, 4);
  b.writeUInt32LE(n * 8, 0);
  return b;
}

/** meta.needs: what the program must read per packet for this generation's residual checks. */
function residualNeeds(spec: TableSpec): number {
  let needs = 0;
  for (const r of spec.rules) {
    for (const c of r?.residual ?? []) {
      if (c.kind === 'mac') needs |= L.NEED_MAC;
      if (c.kind === 'owner') needs |= L.NEED_OWNER | (c.owner.suppl ? L.NEED_SUPPL : 0);
      if (c.kind === 'ct') needs |= L.NEED_CT;
      if (c.kind === 'sctpchunks' || c.kind === 'spi' || c.kind === 'tcpoption' || c.kind === 'tcpmss' || c.kind === 'dccp') needs |= L.NEED_HDR;
      if (c.kind === 'time') needs |= L.NEED_TIME;
      if (c.kind === 'realm') needs |= L.NEED_REALM;
      if (c.kind === 'connbytes') needs |= L.NEED_ACCT;
      if (c.kind === 'connlabel') needs |= L.NEED_LABEL;
      if (c.kind === 'string') needs |= L.NEED_STRING;
      if (c.kind === 'u32') needs |= L.NEED_U32;
    }
  }
  return needs;
}

/** The string match's per-generation search slots (bpf/headers.h string_prep()): one per distinct check. */
function stringKey(c: Extract<ResidualCheck, { kind: 'string' }>): string {
  return JSON.stringify([c.pattern, c.from, c.to, c.icase]);
}

/** KMP failure function of p: f[i] = length of the longest proper border of p[0..i]. */
function kmpFail(p: number[]): number[] {
  const f = new Array<number>(p.length).fill(0);
  for (let i = 1, k = 0; i < p.length; i++) {
    while (k > 0 && p[i] !== p[k]) k = f[k - 1]!;
    if (p[i] === p[k]) k++;
    f[i] = k;
  }
  return f;
}

/** A byte array as res rows of 16 bytes (x, y little-endian), zero-padded. */
function byteRows(b: number[], rows: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const w = [0, 0, 0, 0];
    for (let i = 0; i < 16; i++) w[i >> 2] = (w[i >> 2]! | ((b[r * 16 + i] ?? 0) << (8 * (i & 3)))) >>> 0;
    out.push([L.R_RANGE, 0, 0, 0, 0, w[0]!, w[1]!, w[2]!, w[3]!]);
  }
  return out;
}

/** A slot of the u32 interpreter (bpf/headers.h u32_prep): its program rows after a header row. */
const U32_OP_CODE = { start: 1, '&': 2, '<<': 3, '>>': 4, '@': 5 } as const;
function u32Program(c: Extract<ResidualCheck, { kind: 'u32' }>, slot: number): number[][] {
  const rows: number[][] = [];
  for (const t of c.tests) {
    for (const o of t.ops) rows.push([L.R_RANGE, U32_OP_CODE[o.op], 0, 0, 0, o.number >>> 0, 0, 0, 0]);
    for (const [a, b] of t.ranges) rows.push([L.R_RANGE, 6, 0, 0, 0, a >>> 0, 0, b >>> 0, 0]);
    rows.push([L.R_RANGE, 7, 0, 0, 0, 0, 0, 0, 0]);
  }
  rows.push([L.R_RANGE, 8, 0, 0, 0, 0, 0, 0, 0]);
  return [[L.R_RANGE, 0, 0, 0, rows.length, slot, 0, 0, 0], ...rows];
}

function encodeResidual(checks: ResidualCheck[], out: number[][], recentIds: ReadonlyMap<string, number>, hlIds: ReadonlyMap<string, number>, strSlots: Map<string, number>, u32Slots: Map<string, number>): number {
  if (checks.length > L.MAX_RES_OPS) throw new EncodeError(`more than ${L.MAX_RES_OPS} residual checks in one rule`);
  let n = 0;
  for (const c of checks) {
    const ranges = c.kind === 'cmp' || c.kind === 'either' || c.kind === 'ct' ? c.ranges : [];
    if (ranges.length > L.MAX_RANGES) throw new EncodeError(`more than ${L.MAX_RANGES} ranges in one residual check`);
    let kind = 0;
    let field = 0;
    let mask = 0xffffffff;
    let x = 0n;
    let y = 0n;
    /** Data entries after the op (R_SCTP), as [x, y] pairs. */
    let data: Array<[bigint, bigint]> = [];
    switch (c.kind) {
      case 'sctpchunks': {
        // field: match type; mask: flag entries; x: their chunk types, a byte each; then the
        // chunk map (2 entries) and per flag entry the 256-bit set of flags bytes it accepts.
        kind = L.R_SCTP;
        field = L.SCTP_MATCH_TYPE[c.type];
        const bits = (pred: (v: number) => boolean): [bigint, bigint, bigint, bigint] => {
          const w: [bigint, bigint, bigint, bigint] = [0n, 0n, 0n, 0n];
          for (let v = 0; v < 256; v++) if (pred(v)) w[v >> 6] |= 1n << BigInt(v & 63);
          return w;
        };
        const inMap = new Set(c.map);
        const m = bits((v) => inMap.has(v));
        data = [[m[0], m[1]], [m[2], m[3]]];
        // match_flags() stops at the first entry of a type: later ones never decide.
        const flags = c.flags.filter((f, i) => c.flags.findIndex((g) => g.chunktype === f.chunktype) === i);
        if (flags.length > 4) throw new EncodeError('sctp: more than 4 chunk flag entries');
        for (const [k, f] of flags.entries()) {
          if (f.chunktype >= L.HDR_FLTYPES) throw new EncodeError(`sctp: chunk flags for chunk type ${f.chunktype} (the datapath records types below ${L.HDR_FLTYPES})`);
          x |= BigInt(f.chunktype) << BigInt(8 * k);
          const a = bits((v) => (v & f.mask) === f.flag);
          data.push([a[0], a[1]], [a[2], a[3]]);
        }
        mask = flags.length;
        break;
      }
      case 'spi':
        kind = L.R_SPI;
        x = BigInt(c.lo >>> 0);
        y = BigInt(c.hi >>> 0);
        break;
      case 'tcpoption':
        kind = L.R_TCPOPT;
        field = 0;
        x = BigInt(c.option & 0xff);
        break;
      case 'tcpmss':
        kind = L.R_TCPOPT;
        field = 1;
        x = BigInt(c.lo);
        y = BigInt(c.hi);
        break;
      case 'cpu':
        kind = L.R_CPU;
        x = BigInt(c.cpu >>> 0);
        break;
      case 'string': {
        kind = L.R_STRING;
        const k = stringKey(c);
        let slot = strSlots.get(k);
        if (slot === undefined) {
          if (strSlots.size >= L.STRING_SLOTS) throw new EncodeError(`more than ${L.STRING_SLOTS} distinct string matches in one table (the datapath searches each one per packet)`);
          slot = strSlots.size;
          strSlots.set(k, slot);
        }
        x = BigInt(slot);
        break;
      }
      case 'u32': {
        kind = L.R_U32;
        const k = JSON.stringify(c.tests);
        let slot = u32Slots.get(k);
        if (slot === undefined) {
          if (u32Slots.size >= L.U32_SLOTS) throw new EncodeError(`more than ${L.U32_SLOTS} distinct u32 matches in one table (the datapath evaluates each one per packet)`);
          slot = u32Slots.size;
          u32Slots.set(k, slot);
        }
        x = BigInt(slot);
        break;
      }
      case 'realm':
        kind = L.R_REALM;
        mask = c.mask >>> 0;
        x = BigInt(c.id >>> 0);
        break;
      case 'dccp':
        kind = L.R_DCCP;
        field = (c.types ? 1 : 0) | (c.option ? 2 : 0);
        mask = ((c.types?.mask ?? 0) & 0xffff) | (c.types?.invert ? 1 << 16 : 0) | (c.option?.invert ? 1 << 17 : 0);
        x = BigInt(c.option?.option ?? 0);
        break;
      case 'time':
        kind = L.R_TIME;
        field = c.weekdays & 0xff;
        mask = c.monthdays >>> 0;
        x = BigInt(c.dateStart >>> 0) | (BigInt(c.dateStop >>> 0) << 32n);
        y = BigInt(c.dayStart) | (BigInt(c.dayStop) << 17n) | (c.kerneltz ? 1n << 34n : 0n) | (c.contiguous ? 1n << 35n : 0n);
        break;
      case 'cmp':
        kind = L.R_CMP;
        field = L.SCALAR_NUM[c.field];
        mask = c.mask >>> 0;
        break;
      case 'either':
        kind = L.R_EITHER;
        break;
      case 'limit': {
        kind = L.R_LIMIT;
        if (!(c.ratePerSec > 0)) throw new EncodeError('limit rate must be positive');
        const cost = BigInt(Math.max(1, Math.round(1e9 / c.ratePerSec)));
        x = cost;
        y = cost * BigInt(Math.max(1, c.burst));
        break;
      }
      case 'random':
        kind = L.R_RANDOM;
        x = BigInt(Math.min(0x80000000, Math.max(0, Math.round(c.probability * 0x80000000))));
        break;
      case 'addrtype':
        // field: 0 source / 1 destination; mask: accepted types; x: 0 any / 1 in / 2 out device.
        kind = L.R_ADDRTYPE;
        field = c.addr === 'src' ? 0 : 1;
        mask = c.types >>> 0;
        x = BigInt(c.dev === 'in' ? 1 : c.dev === 'out' ? 2 : 0);
        break;
      case 'nth':
        kind = L.R_NTH;
        x = BigInt(Math.max(1, c.every));
        y = BigInt(Math.max(0, c.packet));
        break;
      case 'recent': {
        kind = L.R_RECENT;
        const id = recentIds.get(c.name);
        if (id === undefined) throw new EncodeError(`recent list "${c.name}" has no list id`);
        if (c.hitcount > L.RECENT_NSTAMPS) throw new EncodeError(`recent --hitcount ${c.hitcount} above ${L.RECENT_NSTAMPS}`);
        field = L.RC_CMD[c.cmd] | (c.reap ? L.RC_REAP : 0) | (c.rttl ? L.RC_RTTL : 0) | (c.side === 'dest' ? L.RC_DEST : 0);
        mask = c.mask >>> 0;
        x = BigInt(id >>> 0) | (BigInt(c.hitcount >>> 0) << 32n);
        y = BigInt(c.seconds >>> 0);
        break;
      }
      case 'hashlimit': {
        // The table's configuration is in hltab (the loader's); the op carries the rule's own
        // mode bits, which decide rate-match, byte cost and inversion.
        kind = L.R_HASHLIMIT;
        const id = hlIds.get(c.name);
        if (id === undefined) throw new EncodeError(`hashlimit table "${c.name}" has no id`);
        field = c.cfg.mode & L.HL_RULE_MODE;
        x = BigInt(id >>> 0);
        break;
      }
      case 'connbytes':
        kind = L.R_CONNBYTES;
        field = { packets: 0, bytes: 1, avgpkt: 2 }[c.what] | ({ original: 1, reply: 2, both: 3 }[c.dir] << 4);
        x = BigInt(c.from);
        y = BigInt(c.to);
        break;
      case 'connlimit':
        kind = L.R_CONNLIMIT;
        field = c.daddr ? 1 : 0;
        mask = c.mask >>> 0;
        x = BigInt(c.limit >>> 0);
        break;
      case 'connlabel':
        kind = L.R_CONNLABEL;
        field = c.set ? 1 : 0;
        x = BigInt(c.bit & 127);
        break;
      case 'quota':
        kind = L.R_QUOTA;
        x = BigInt(c.bytes);
        break;
      case 'mac':
        kind = L.R_MAC;
        x = BigInt(c.mac);
        break;
      case 'ct':
        // Like cmp over the connection's tuple; x: the result without a connection.
        kind = L.R_CT;
        field = L.CT_FIELD_NUM[c.field];
        mask = c.mask >>> 0;
        x = c.untracked ? 1n : 0n;
        break;
      case 'owner': {
        // field: the options given, mask: which are inverted (the kernel's match / invert
        // words); x, y: uid and gid ranges as lo | hi << 32. `invert` stays 0.
        const o = c.owner;
        kind = L.R_OWNER;
        field = (o.uid ? L.OWNER_UID : 0) | (o.gid ? L.OWNER_GID : 0) | (o.socket ? L.OWNER_SOCKET : 0) | (o.suppl ? L.OWNER_SUPPL : 0);
        mask = (o.uidInv ? L.OWNER_UID : 0) | (o.gidInv ? L.OWNER_GID : 0) | (o.socketInv ? L.OWNER_SOCKET : 0);
        if (o.uid) x = BigInt(o.uid[0] >>> 0) | (BigInt(o.uid[1] >>> 0) << 32n);
        if (o.gid) y = BigInt(o.gid[0] >>> 0) | (BigInt(o.gid[1] >>> 0) << 32n);
        break;
      }
    }
    out.push([kind, field, c.invert ? 1 : 0, ranges.length + data.length, mask, Number(x & 0xffffffffn), Number(x >> 32n), Number(y & 0xffffffffn), Number(y >> 32n)]);
    n++;
    for (const [dx, dy] of data) {
      out.push([L.R_RANGE, 0, 0, 0, 0, Number(dx & 0xffffffffn), Number(dx >> 32n), Number(dy & 0xffffffffn), Number(dy >> 32n)]);
      n++;
    }
    for (const [lo, hi] of ranges) {
      out.push([L.R_RANGE, 0, 0, 0, 0, lo >>> 0, 0, hi >>> 0, 0]);
      n++;
    }
  }
  if (n > 255) throw new EncodeError('residual checks of one rule too large');
  return n;
}

/**
 * The hashlimit tables the spec's rules name, each with the configuration of its first rule
 * (the one whose check would create the table in the kernel), in rule order.
 */
export function hashlimitTables(spec: TableSpec): Map<string, HashlimitCfg> {
  const out = new Map<string, HashlimitCfg>();
  for (const r of spec.rules) if (r) for (const c of r.residual) if (c.kind === 'hashlimit' && !out.has(c.name)) out.set(c.name, c.cfg);
  return out;
}

/** The names of the recent lists the spec's rules use, sorted. */
export function recentNames(spec: TableSpec): string[] {
  const names = new Set<string>();
  for (const r of spec.rules) if (r) for (const c of r.residual) if (c.kind === 'recent') names.add(c.name);
  return [...names].sort();
}

/**
 * recentIds: list name -> list id (recent.h) for every name in recentNames(spec); the loader
 * keeps the ids stable across commits (Datapath.commit). Without it, ids are 1, 2, ... in name
 * order (enough for test_run on a fresh datapath).
 */
export function encodeSpec(spec: TableSpec, recentIds?: ReadonlyMap<string, number>, hashlimitIds?: ReadonlyMap<string, number>): Encoded {
  const ids = recentIds ?? new Map(recentNames(spec).map((n, i) => [n, i + 1]));
  const hlIds = hashlimitIds ?? new Map([...hashlimitTables(spec).keys()].map((n, i) => [n, i + 1]));
  const nrules = spec.nrules;
  if (nrules % 64 !== 0 || nrules < 64) throw new EncodeError(`nrules ${nrules} is not a positive multiple of 64`);
  const nwords = nrules / 64;
  const nsum = Math.ceil(nwords / 64);
  if (nsum > L.MAX_NSUM) throw new EncodeError(`${nrules} rule indices exceed the datapath's ${L.MAX_NSUM * 4096}`);
  // Upper bound of the pool size (no dedup, no chunk padding): avoids regrowing a large array.
  let estimate = 0;
  for (const fs of Object.values(spec.fields)) {
    if (!fs) continue;
    estimate += (fs.classes.length + 2) * (Math.ceil(nsum / 64) + 2 * nsum) + fs.wildcard.length;
    for (const c of fs.classes) estimate += c.length;
  }
  const pool = new PoolBuilder(nsum, Math.min(estimate + L.POOL_CHUNK, 1 << 27));

  const meta = Buffer.alloc(L.META_SIZE);
  const keymap = Buffer.alloc(L.KM_SIZE * 4); // byteOffset 0 (not pooled): aligned for the view
  const lpm: Encoded['lpm'] = { iif: [], oif: [] };
  let present = 0;
  for (const [name, fs] of Object.entries(spec.fields) as Array<[FieldName, FieldSpec | undefined]>) {
    if (!fs) continue;
    const f = L.FIELD_NUM[name];
    present |= 1 << f;
    const woff = pool.add(fs.wildcard);
    meta.writeUInt32LE(woff, 16 + 4 * f);
    const clsOff = fs.classes.map((c) => pool.add(c));
    switch (fs.kind) {
      case 'array': {
        const base = L.KM_BASE[name as keyof typeof L.KM_BASE];
        if (base === undefined) throw new EncodeError(`field ${name} cannot be an array field`);
        // Host order = little-endian (x86/arm64 BPF hosts): a typed view is 20x faster than
        // Buffer.writeUInt32LE over 65,537 keys.
        const k2c = fs.keyToClass;
        const view = new Uint32Array(keymap.buffer, keymap.byteOffset + 4 * base, k2c.length);
        const offs = Uint32Array.from(clsOff);
        for (let key = 0; key < k2c.length; key++) view[key] = offs[k2c[key]];
        break;
      }
      case 'lpm': {
        // Flattened to sorted intervals, searched by the program (an LPM trie lookup costs
        // an indirect call plus a trie walk per packet).
        const iv = flattenPrefixes(fs.entries.map((e) => ({ addr: e.prefix.addr >>> 0, len: e.prefix.len, val: clsOff[e.cls] })));
        const pairs = new Uint32Array(iv.length * 2);
        iv.forEach(([start, off], i) => {
          pairs[2 * i] = off >>> 0;
          pairs[2 * i + 1] = start >>> 0;
        });
        const k = name === 'src' ? 0 : 1;
        meta.writeUInt32LE(pool.addRaw(pairs), 60 + 4 * k);
        meta.writeUInt32LE(iv.length, 68 + 4 * k);
        break;
      }
      case 'iface': {
        const list = name === 'iif' ? lpm.iif : lpm.oif;
        for (const e of fs.entries) list.push([lpmIfKey(e.name, e.exact), clsOff[e.cls]]);
        break;
      }
    }
  }
  meta.writeUInt32LE(nrules, 0);
  meta.writeUInt32LE(nsum, 4);
  meta.writeUInt32LE(spec.chains.length, 8);
  meta.writeUInt32LE(present, 12);
  meta.writeUInt32LE(residualNeeds(spec), 56);

  // Chains, and each rule index's chain.
  const chains = Buffer.alloc(spec.chains.length * L.CHAIN_SIZE);
  const chainOf = new Uint32Array(nrules);
  spec.chains.forEach((c, i) => {
    chains.writeUInt32LE(c.firstRule, i * L.CHAIN_SIZE);
    chains.writeUInt32LE(c.endRule, i * L.CHAIN_SIZE + 4);
    chains.writeUInt32LE(c.counterId >= 0 ? c.counterId : L.NO_COUNTER, i * L.CHAIN_SIZE + 8);
    chains.writeUInt32LE(c.policy === 'DROP' ? L.A_DROP : c.policy === 'ACCEPT' ? L.A_ACCEPT : 0, i * L.CHAIN_SIZE + 12);
    chainOf.fill(i, c.firstRule, c.endRule);
  });

  const rules = Buffer.alloc(nrules * L.RULE_SIZE);
  const resRows: number[][] = [];
  const strSlots = new Map<string, number>();
  const u32Slots = new Map<string, number>();
  const logs: Buffer[] = [];
  let maxCounter = 2;
  const statefulIds: number[] = [];
  let hasReject = false;
  let atFlags = 0;
  for (let i = 0; i < nrules; i++) {
    const r = spec.rules[i];
    if (!r) continue;
    const o = i * L.RULE_SIZE;
    const a = r.action;
    let arg = 0;
    switch (a.kind) {
      case 'jump':
      case 'goto':
        arg = a.chain;
        break;
      case 'log': {
        arg = logs.length;
        const lc = Buffer.alloc(L.LOGCFG_SIZE);
        lc.writeUInt8(a.level & 0xff, 0);
        lc.writeUInt8(a.flags & 0xff, 1);
        Buffer.from(a.prefix, 'utf8').copy(lc, 4, 0, 31);
        logs.push(lc);
        break;
      }
      case 'reject':
        arg = REJECT_ARG[a.with] ?? 3;
        hasReject = true;
        break;
      case 'mark':
        throw new EncodeError('MARK: a BPF netfilter program cannot write skb->mark (the datapath cannot enforce it)');
    }
    rules.writeUInt32LE(r.counterId >>> 0, o);
    rules.writeUInt32LE(chainOf[i], o + 4);
    rules.writeUInt32LE(arg, o + 8);
    rules.writeUInt32LE(resRows.length, o + 12);
    rules.writeUInt8(ACTION_CODE[a.kind], o + 16);
    rules.writeUInt8(r.residual.length ? encodeResidual(r.residual, resRows, ids, hlIds, strSlots, u32Slots) : 0, o + 17);
    if (r.counterId > maxCounter) maxCounter = r.counterId;
    if (r.residual.some((c) => c.kind === 'limit' || c.kind === 'nth' || c.kind === 'quota')) statefulIds.push(r.counterId);
    for (const c of r.residual) if (c.kind === 'addrtype') atFlags |= c.addr === 'src' ? 1 : 2;
  }
  // meta.pad (offset 52): which address types the program looks up per packet (addrtype.h).
  meta.writeUInt32LE(atFlags, 52);
  // The string match's search slots after the rules' entries (headers.h): per slot a header
  // (field icase, mask pattern length, x from, y to), the pattern (8 rows, upper-cased with the
  // kernel's toupper when icase) and its KMP failure function (8 rows, a byte each).
  meta.writeUInt32LE(resRows.length, L.META_STR_OFF);
  meta.writeUInt32LE(strSlots.size, L.META_NSTR);
  for (const k of strSlots.keys()) {
    const [pattern, from, to, icase] = JSON.parse(k) as [number[], number, number, boolean];
    const pat = icase ? pattern.map(kernelToupper) : pattern;
    resRows.push([L.R_RANGE, icase ? 1 : 0, 0, 0, pat.length, from >>> 0, 0, to >>> 0, 0]);
    resRows.push(...byteRows(pat, 8), ...byteRows(kmpFail(pat), 8));
  }
  const u32Off = resRows.length;
  for (const [k, slot] of u32Slots) resRows.push(...u32Program({ kind: 'u32', tests: JSON.parse(k), invert: false }, slot));
  meta.writeUInt32LE(u32Off, L.META_U32_OFF);
  meta.writeUInt32LE(resRows.length - u32Off, L.META_U32_LEN);
  for (const c of spec.chains) if (c.counterId > maxCounter) maxCounter = c.counterId;
  const res = Buffer.alloc(Math.max(1, resRows.length) * L.RES_SIZE);
  resRows.forEach((row, i) => {
    const o = i * L.RES_SIZE;
    res.writeUInt8(row[0], o);
    res.writeUInt8(row[1], o + 1);
    res.writeUInt8(row[2], o + 2);
    res.writeUInt8(row[3], o + 3);
    res.writeUInt32LE(row[4] >>> 0, o + 4);
    res.writeUInt32LE(row[5] >>> 0, o + 8);
    res.writeUInt32LE(row[6] >>> 0, o + 12);
    res.writeUInt32LE(row[7] >>> 0, o + 16);
    res.writeUInt32LE(row[8] >>> 0, o + 20);
  });

  return {
    nrules,
    nsum,
    pool: pool.words.subarray(0, pool.used * 2),
    poolWords: pool.used,
    poolChunks: Math.max(1, Math.ceil(pool.used / L.POOL_CHUNK)),
    meta,
    keymap,
    rules,
    chains,
    nchains: spec.chains.length,
    res,
    nres: resRows.length,
    logs: Buffer.concat(logs.length ? logs : [Buffer.alloc(L.LOGCFG_SIZE)]),
    nlogs: logs.length,
    lpm,
    // ctstate may also be read by residual checks kept after a stateful match (compile.ts);
    // conntrack's tuple options (ct) need the tracker too.
    ctOn: spec.fields.ctstate !== undefined || spec.rules.some((r) => r?.residual.some((c) => (c.kind === 'cmp' && c.field === 'ctstate') || c.kind === 'ct' || c.kind === 'connbytes' || c.kind === 'connlabel' || c.kind === 'connlimit')),
    connlimitIds: spec.rules.filter((r) => r?.residual.some((c) => c.kind === 'connlimit')).map((r) => r!.counterId),
    ctLabels: spec.rules.some((r) => r?.residual.some((c) => c.kind === 'connlabel')),
    ctAcct: spec.rules.some((r) => r?.residual.some((c) => c.kind === 'connbytes')),
    recentIds: ids,
    hashlimitIds: hlIds,
    maxCounter,
    statefulIds,
    hasReject,
  };
}

/** True when the table enforces nothing: built-in chains empty with ACCEPT policy, no rules. */
export function specIsTrivial(spec: TableSpec): boolean {
  return spec.rules.every((r) => r === null) && spec.chains.slice(0, 3).every((c) => (c.policy ?? 'ACCEPT') === 'ACCEPT');
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const U32 = (v: bigint): bigint => BigInt.asUintN(32, v);
/** The largest power of two not above x (the kernel's POW2_BELOW32 / POW2_BELOW64). */
function pow2Below(x: bigint): bigint {
  let p = 1n;
  while (p * 2n <= x) p *= 2n;
  return p;
}

/** msecs_to_jiffies() for a kernel with this HZ. */
export function msecsToJiffies(ms: number, hz: number): bigint {
  const m = BigInt(ms >>> 0);
  const h = BigInt(hz);
  if (1000 % hz === 0) {
    const per = 1000n / h;
    return (m + per - 1n) / per;
  }
  if (hz % 1000 === 0) return m * (h / 1000n);
  return (m * h + 999n) / 1000n;
}

/**
 * struct hl_tab (bpf/bpftables.h) for a hashlimit table created by a rule with this cfg: what
 * htable_create() and rateinfo_init() (xt_hashlimit.c, revision 3) derive from it on a kernel
 * with this HZ and this much RAM (the default table size). `count` starts at 0.
 */
export function encodeHashlimitTable(cfg: HashlimitCfg, hz: number, ramBytes: number): Buffer {
  const H = BigInt(hz);
  const cpj = pow2Below(0xffffffffffffffffn / (H * 86400n));
  const cpjb = pow2Below(0xffffffffn / H);
  const scale = 1000000n;
  const hzCpj = U64(H * cpj);
  const user2credits = (user: bigint): bigint => (scale >= hzCpj ? U64(user) / (scale / hzCpj) : U64(U64(user) * (hzCpj / scale)));
  const user2creditsByte = (user: bigint): bigint => U32(U64(U32(user) * U32(H * cpjb)) >> 32n);
  const avg = BigInt(cfg.avg);
  const burst = BigInt(cfg.burst);
  const init = [0n, 0n, 0n, 0n];
  if (cfg.mode & L.HL_RATE_MATCH) {
    let rate: bigint;
    let b: bigint;
    if (cfg.mode & L.HL_BYTES) {
      const a = U32(avg);
      rate = U64(((a ? 0xffffffffn / a : 0xffffffffn) - 1n) << 4n);
      b = burst ? U64(burst * rate) : rate;
    } else {
      rate = avg ? scale / avg : 0n;
      b = U64(burst + rate);
    }
    init[0] = BigInt(cfg.interval >>> 0);
    init[2] = rate;
    init[3] = b;
  } else if (cfg.mode & L.HL_BYTES) {
    init[0] = U32(cpjb * H);
    init[1] = burst;
    init[2] = user2creditsByte(avg);
  } else {
    init[0] = user2credits(U64(avg * burst));
    init[1] = init[0];
    init[2] = user2credits(avg);
  }
  let size = cfg.size >>> 0;
  if (!size) {
    const ram = BigInt(Math.floor(ramBytes));
    size = Number(ram / 16384n / 8n);
    if (ram > 1024n * 1024n * 1024n) size = 8192;
    if (size < 16) size = 16;
  }
  let max = cfg.max >>> 0;
  if (max === 0) max = (8 * size) >>> 0;
  else if (max < size) max = size;
  const mask = (l: number): number => (l ? (0xffffffff << (32 - l)) >>> 0 : 0);
  const b = Buffer.alloc(L.HL_TAB_SIZE);
  b.writeUInt32LE(cfg.mode >>> 0, 0);
  b.writeUInt32LE(mask(cfg.srcmask), 4);
  b.writeUInt32LE(mask(cfg.dstmask), 8);
  b.writeUInt32LE(max, 12);
  b.writeBigUInt64LE(msecsToJiffies(cfg.expire, hz), 16);
  b.writeBigUInt64LE(msecsToJiffies(cfg.gcInterval, hz), 24);
  b.writeBigUInt64LE(H, 32);
  b.writeBigUInt64LE(cpj, 40);
  b.writeBigUInt64LE(cpjb, 48);
  init.forEach((w, i) => b.writeBigUInt64LE(U64(w), 56 + 8 * i));
  return b;
}
