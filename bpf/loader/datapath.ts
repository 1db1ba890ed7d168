// The kernel side of one namespace's datapath: the loaded program, its pinned maps and links,
// and the generation swap. The only module that writes the maps.
//
// Atomicity: commit() fills the INACTIVE generation's maps in place (inner maps of the
// ARRAY_OF_MAPS outers are replaced only when they must grow: a map-in-map write waits for an
// RCU grace period), then flips cfg.active with one 8-byte array write; the program reads
// cfg.active once per packet. Counters are indexed by rule identity and live outside the
// generations. A generation is rewritten only by the commit after next, long after packets
// that started on it have finished (a program run takes microseconds; commits are separate
// commands).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableSpec } from '../../classifier/spec.ts';
import type { XdpDrop } from '../../classifier/xdp.ts';
import { xdpCommit, xdpDisable, xdpEnable, xdpEnabled } from './xdp.ts';
import { bpffsRoot, netnsCookie, pinDir } from './bpffs.ts';
import { encodeHashlimitTable, encodeSpec, hashlimitTables, recentNames, type Encoded } from './encode.ts';
import type { HashlimitCfg } from '../../classifier/fields.ts';
import { gunzipSync } from 'node:zlib';
import { release, totalmem } from 'node:os';
import * as L from './layout.ts';
import { mark } from '../../state/timing.ts';
import {
  api,
  BPF_F_INNER_MAP,
  BPF_F_NO_PREALLOC,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_LPM_TRIE,
  BPF_NETFILTER,
  BPF_PROG_TYPE_NETFILTER,
  check,
  closeFd,
  errno,
  hintFor,
  KernelError,
  nativeBuffer,
  netfilterLinkCreate,
  TestRunOpts,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_TCX_INGRESS,
  BPF_TCX_EGRESS,
  tcxLinkCreate,
  listInterfaces,
  clockFacts,
  ARPHRD_ETHER,
  ARPHRD_LOOPBACK,
} from './libbpf.ts';

export type HookName = 'INPUT' | 'FORWARD' | 'OUTPUT';
const HOOKNUM: Record<HookName, number> = { INPUT: 1, FORWARD: 2, OUTPUT: 3 };
const LINK_PIN: Record<HookName, string> = { INPUT: 'link_in', FORWARD: 'link_fwd', OUTPUT: 'link_out' };
/** After conntrack (-200) and where iptables' filter table sits (0). */
export const NF_PRIORITY = 0;

export interface CounterValue {
  packets: bigint;
  bytes: bigint;
}

export interface DatapathOptions {
  /** Counter slots (max Rule.id + 1). Default 262144. */
  counterSlots?: number;
  /** Conntrack LRU entries. Default 65536. */
  conntrackSize?: number;
}

export interface TestRunResult {
  verdict: 'ACCEPT' | 'DROP';
  retval: number;
  /** Average ns per run (kernel-measured) when repeat > 1. */
  durationNs: number;
}

export interface LogRecord {
  tsNs: bigint;
  counterId: number;
  hook: HookName;
  level: number;
  flags: number;
  prefix: string;
  iif: string;
  oif: string;
  len: number;
  packet: Buffer;
}

const PINNED_MAPS = ['cfg', 'meta', 'keymap', 'gen_pool', 'gen_rules', 'gen_chains', 'gen_res', 'gen_log', 'gen_addr', 'gen_ifc', 'counters', 'resstate', 'logbuf', 'ct', 'stats', 'tcifs', 'recent', 'recentls', 'recentnm', 'hltab', 'hlent', 'hlnm', 'clist'] as const;
/** Pins that older builds did not have. */
const LATER_PINS = new Set(['tcifs', 'prog_tci', 'prog_tco', 'recent', 'recentls', 'recentnm', 'hltab', 'hlent', 'hlnm', 'clist']);
/** The tc programs that send REJECT replies (reject.h), pinned next to `prog`. */
const TC_PROGS = { prog_tci: 'bpftables_tc_in', prog_tco: 'bpftables_tc_out' } as const;
type MapName = (typeof PINNED_MAPS)[number];

/** Inner maps of one generation. */
interface GenMaps {
  pool: number;
  rules: number;
  chains: number;
  res: number;
  log: number;
  src: number;
  dst: number;
  iif: number;
  oif: number;
}
type InnerName = keyof GenMaps;

interface InnerDef {
  outer: MapName;
  slot: (gen: number) => number;
  type: number;
  key: number;
  value: number;
  flags: number;
  min: number;
}
const INNER: Record<InnerName, InnerDef> = {
  pool: { outer: 'gen_pool', slot: (g) => g, type: BPF_MAP_TYPE_ARRAY, key: 4, value: L.POOL_CHUNK * 8, flags: BPF_F_INNER_MAP, min: 1 },
  rules: { outer: 'gen_rules', slot: (g) => g, type: BPF_MAP_TYPE_ARRAY, key: 4, value: L.RULE_SIZE, flags: BPF_F_INNER_MAP, min: 1024 },
  chains: { outer: 'gen_chains', slot: (g) => g, type: BPF_MAP_TYPE_ARRAY, key: 4, value: L.CHAIN_SIZE, flags: BPF_F_INNER_MAP, min: 64 },
  res: { outer: 'gen_res', slot: (g) => g, type: BPF_MAP_TYPE_ARRAY, key: 4, value: L.RES_SIZE, flags: BPF_F_INNER_MAP, min: 256 },
  log: { outer: 'gen_log', slot: (g) => g, type: BPF_MAP_TYPE_ARRAY, key: 4, value: L.LOGCFG_SIZE, flags: BPF_F_INNER_MAP, min: 16 },
  src: { outer: 'gen_addr', slot: (g) => 2 * g, type: BPF_MAP_TYPE_LPM_TRIE, key: L.LPM4_KEY_SIZE, value: 4, flags: BPF_F_NO_PREALLOC, min: 256 },
  dst: { outer: 'gen_addr', slot: (g) => 2 * g + 1, type: BPF_MAP_TYPE_LPM_TRIE, key: L.LPM4_KEY_SIZE, value: 4, flags: BPF_F_NO_PREALLOC, min: 256 },
  iif: { outer: 'gen_ifc', slot: (g) => 2 * g, type: BPF_MAP_TYPE_LPM_TRIE, key: L.LPMIF_KEY_SIZE, value: 4, flags: BPF_F_NO_PREALLOC, min: 64 },
  oif: { outer: 'gen_ifc', slot: (g) => 2 * g + 1, type: BPF_MAP_TYPE_LPM_TRIE, key: L.LPMIF_KEY_SIZE, value: 4, flags: BPF_F_NO_PREALLOC, min: 64 },
};

let hzCache: number | undefined;
/**
 * The running kernel's CONFIG_HZ (hashlimit's credits are per jiffy): from /proc/config.gz,
 * else /boot/config-<release>.
 */
export function kernelHz(): number {
  if (hzCache !== undefined) return hzCache;
  let text = '';
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
  } catch {
    try {
      text = readFileSync(`/boot/config-${release()}`, 'latin1');
    } catch {
      // handled below
    }
  }
  const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
  if (!m) throw new Error('bpftables: cannot read the kernel\'s CONFIG_HZ (no /proc/config.gz or /boot/config-' + release() + '): the hashlimit match needs it');
  hzCache = Number(m[1]);
  return hzCache;
}

/** kernelHz(), or 0 when the kernel's configuration cannot be read. */
export function tryKernelHz(): number {
  try {
    return kernelHz();
  } catch {
    return 0;
  }
}

/** Opens the BPF object and sets the program types libbpf 1.1 cannot infer from the sections. */
function openObject(path: string): { obj: unknown; prog: unknown } {
  const obj = api.objOpenFile(path, null);
  if (!obj) throw new KernelError(`opening BPF object ${path}`, errno());
  try {
    const prog = api.findProg(obj, 'bpftables_filter');
    if (!prog) throw new Error(`bpftables: program bpftables_filter missing in ${path}`);
    check(api.progSetType(prog, BPF_PROG_TYPE_NETFILTER) as number, 'setting the program type');
    check(api.progSetAttach(prog, BPF_NETFILTER) as number, 'setting the expected attach type');
    for (const name of Object.values(TC_PROGS)) {
      const p = api.findProg(obj, name);
      if (p) check(api.progSetType(p, BPF_PROG_TYPE_SCHED_CLS) as number, `setting the type of ${name}`);
    }
    return { obj, prog };
  } catch (e) {
    api.objClose(obj);
    throw e;
  }
}

export interface VerifierStats {
  prog: string;
  /** Instructions the verifier processed (bpf_prog_info.verified_insns; the limit is 1,000,000). */
  verifiedInsns: number;
  /** The verifier's statistics line(s) (log level 4: processed insns, states, peak states). */
  log: string;
}

/** Loads the BPF object without pinning or attaching anything (maps are created and freed with
 *  it) and reports the verifier's work per program: what decides whether the object still loads
 *  as the datapath grows (BPF_COMPLEXITY_LIMIT_INSNS = 1M processed instructions per program).
 *  `logLevel` 2 with a large `logSize` gives the per-instruction log (for finding where the
 *  verifier spends its budget); the default 4 gives the statistics only. */
export function verifierStats(opts: { logLevel?: number; logSize?: number } = {}): VerifierStats[] {
  const path = objectPath();
  const { obj } = openObject(path);
  const names = ['bpftables_filter', ...Object.values(TC_PROGS)];
  const size = opts.logSize ?? 1 << 16;
  const bufs = names.map(() => nativeBuffer(size));
  try {
    names.forEach((n, i) => {
      const p = api.findProg(obj, n);
      if (!p) throw new Error(`bpftables: program ${n} missing in ${path}`);
      check(api.progSetLogLevel(p, opts.logLevel ?? 4) as number, `setting the log level of ${n}`);
      check(api.progSetLogBuf(p, bufs[i].ptr, size) as number, `setting the log buffer of ${n}`);
    });
    const rc = api.objLoad(obj) as number;
    if (rc < 0) for (const [i, n] of names.entries()) process.stderr.write(`${n}: ${bufs[i].text().slice(-2000)}\n`);
    check(rc, `loading ${path} (verifier log above)`);
    return names.map((n, i) => {
      const info = Buffer.alloc(BPF_PROG_INFO_SIZE);
      check(api.objInfo(api.progFd(api.findProg(obj, n)) as number, info, [info.length]) as number, 'reading program info');
      return { prog: n, verifiedInsns: info.readUInt32LE(BPF_PROG_INFO_VERIFIED_INSNS), log: bufs[i].text().trim() };
    });
  } finally {
    api.objClose(obj);
    for (const b of bufs) b.free();
  }
}
/** struct bpf_prog_info (uapi, kernel ≥ 5.16): size up to attach_btf_id; verified_insns offset. */
const BPF_PROG_INFO_SIZE = 228;
const BPF_PROG_INFO_VERIFIED_INSNS = 216;

function objectPath(): string {
  const env = process.env.BPFTABLES_BPF_OBJ;
  if (env) return env;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../build/bpftables.bpf.o'), resolve(here, '../bpf/build/bpftables.bpf.o'), resolve(here, '../../bpf/build/bpftables.bpf.o')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`bpftables: BPF object not found (looked at ${candidates.join(', ')}); run \`npm run build\``);
}

function mapInfo(fd: number): { maxEntries: number; valueSize: number; id: number } {
  const info = Buffer.alloc(96);
  const len = [96];
  check(api.objInfo(fd, info, len) as number, 'reading BPF map info');
  return { id: info.readUInt32LE(4), valueSize: info.readUInt32LE(12), maxEntries: info.readUInt32LE(16) };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

const NCPUS = (() => {
  const n = api.numCpus() as number;
  if (n <= 0) throw new KernelError('reading the number of possible CPUs', -n);
  return n;
})();

interface NameRegistry {
  what: string;
  names: MapName;
  nameLen: number;
  perId: MapName;
  entries: MapName;
  entryKeySize: number;
}
const RECENT_NAMES: NameRegistry = { what: 'recent list', names: 'recentnm', nameLen: L.RECENT_NAME_LEN, perId: 'recentls', entries: 'recent', entryKeySize: L.RECENT_KEY_SIZE };
const HASHLIMIT_NAMES: NameRegistry = { what: 'hashlimit table', names: 'hlnm', nameLen: L.HL_NAME_LEN, perId: 'hltab', entries: 'hlent', entryKeySize: L.HL_KEY_SIZE };

export class Datapath {
  readonly dir: string;
  readonly cookie: bigint;
  private fds = new Map<string, number>();
  private inner: [Partial<Record<InnerName, number>>, Partial<Record<InnerName, number>>] = [{}, {}];
  private closed = false;

  private constructor(dir: string, cookie: bigint) {
    this.dir = dir;
    this.cookie = cookie;
  }

  /** Reopens the pins of this namespace, if any. */
  static open(): Datapath | undefined {
    const cookie = netnsCookie();
    const dir = pinDir(cookie, false);
    if (!dir || !existsSync(`${dir}/cfg`)) return undefined;
    const dp = new Datapath(dir, cookie);
    try {
      for (const n of [...PINNED_MAPS, 'prog', ...Object.keys(TC_PROGS)]) {
        // A datapath pinned by a build without the REJECT tc programs still opens (listing
        // works); layoutMatches() then says it must be recreated.
        if (LATER_PINS.has(n) && !existsSync(`${dir}/${n}`)) continue;
        dp.fds.set(n, dp.getPin(`${dir}/${n}`));
      }
    } catch (e) {
      dp.close();
      throw e;
    }
    return dp;
  }

  /**
   * Whether the pinned maps have this build's layout (a datapath pinned by an older build must
   * be torn down and recreated: its map value sizes differ).
   */
  layoutMatches(): boolean {
    return (
      [...LATER_PINS].every((n) => this.fds.has(n)) &&
      mapInfo(this.fd('meta')).valueSize === L.META_SIZE &&
      mapInfo(this.fd('keymap')).valueSize === L.KM_SIZE * 4 &&
      mapInfo(this.innerFd(0, 'pool')).valueSize === L.POOL_CHUNK * 8 &&
      mapInfo(this.innerFd(0, 'rules')).valueSize === L.RULE_SIZE
    );
  }

  /** Opens the existing datapath of this namespace or creates and attaches one. */
  static ensure(opts: DatapathOptions = {}): Datapath {
    let existing: Datapath | undefined;
    try {
      existing = Datapath.open();
    } catch {
      existing = undefined; // half-removed pins: recreate below
    }
    if (existing && existing.layoutMatches()) return existing;
    if (existing) {
      process.stderr.write(`bpftables: the pinned datapath at ${existing.dir} has an older map layout; recreating it (counters restart)\n`);
      existing.teardown();
    } else {
      const stale = pinDir(netnsCookie(), false);
      if (stale && existsSync(stale)) rmSync(stale, { recursive: true, force: true });
    }
    const cookie = netnsCookie();
    const root = bpffsRoot(true)!;
    const base = `${root}/bpftables`;
    mkdirSync(base, { recursive: true });
    // Leftovers of interrupted creations: ours, and any whose creating process is gone.
    for (const n of readdirSync(base)) {
      const m = /^(\d+)_tmp_(\d+)$/.exec(n);
      if (m && (m[1] === String(cookie) || !existsSync(`/proc/${m[2]}`))) rmSync(`${base}/${n}`, { recursive: true, force: true });
    }
    const final = `${base}/${cookie}`;
    const tmp = `${final}_tmp_${process.pid}`;
    mkdirSync(tmp);
    const dp = new Datapath(tmp, cookie);
    try {
      dp.create(opts);
      (dp as { dir: string }).dir = final;
      renameSync(tmp, final);
    } catch (e) {
      dp.close();
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    return dp;
  }

  private getPin(path: string): number {
    const fd = api.objGet(path) as number;
    if (fd < 0) throw new KernelError(`opening pinned ${path}`, -fd, hintFor(-fd));
    return fd;
  }

  private fd(name: string): number {
    const fd = this.fds.get(name);
    if (fd === undefined) throw new Error(`bpftables: internal: map ${name} not open`);
    return fd;
  }

  private create(opts: DatapathOptions): void {
    const path = objectPath();
    const { obj, prog } = openObject(path);
    try {
      const sizes: Array<[string, number | undefined]> = [
        ['counters', opts.counterSlots],
        ['ct', opts.conntrackSize],
      ];
      for (const [n, v] of sizes) {
        if (!v) continue;
        const m = api.findMap(obj, n);
        check(api.mapSetMaxEntries(m, v) as number, `sizing map ${n}`);
      }
      check(api.objLoad(obj) as number, `loading ${path} (verifier log above)`);
      const pfd = api.progFd(prog) as number;
      check(api.objPin(pfd, `${this.dir}/prog`) as number, 'pinning the program');
      this.fds.set('prog', this.getPin(`${this.dir}/prog`));
      for (const [pin, name] of Object.entries(TC_PROGS)) {
        const p = api.findProg(obj, name);
        if (!p) throw new Error(`bpftables: program ${name} missing in ${path}`);
        check(api.objPin(api.progFd(p) as number, `${this.dir}/${pin}`) as number, `pinning ${name}`);
        this.fds.set(pin, this.getPin(`${this.dir}/${pin}`));
      }
      for (const n of PINNED_MAPS) {
        const m = api.findMap(obj, n);
        if (!m) throw new Error(`bpftables: map ${n} missing in ${path}`);
        const fd = api.mapFd(m) as number;
        check(api.objPin(fd, `${this.dir}/${n}`) as number, `pinning map ${n}`);
        this.fds.set(n, this.getPin(`${this.dir}/${n}`));
      }
    } finally {
      api.objClose(obj);
    }
    for (const g of [0, 1]) for (const n of Object.keys(INNER) as InnerName[]) this.replaceInner(g, n, INNER[n].min);
    for (const h of ['INPUT', 'FORWARD', 'OUTPUT'] as HookName[]) {
      const lfd = netfilterLinkCreate(this.fd('prog'), HOOKNUM[h], NF_PRIORITY);
      try {
        check(api.objPin(lfd, `${this.dir}/${LINK_PIN[h]}`) as number, `pinning the ${h} link`);
      } finally {
        closeFd(lfd);
      }
    }
  }

  private replaceInner(gen: number, name: InnerName, capacity: number): number {
    const d = INNER[name];
    const optsBuf = { sz: 48, btf_fd: 0, btf_key_type_id: 0, btf_value_type_id: 0, btf_vmlinux_value_type_id: 0, inner_map_fd: 0, map_flags: d.flags, map_extra: 0, numa_node: 0, map_ifindex: 0 };
    const fd = api.mapCreate(d.type, `bpft_${name}${gen}`, d.key, d.value, capacity, optsBuf) as number;
    check(fd, `creating the ${name} map (${capacity} entries of ${d.value} bytes)`);
    try {
      check(api.update(this.fd(d.outer), u32(d.slot(gen)), u32(fd), 0n) as number, `installing the ${name} map in ${d.outer}`);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    const old = this.inner[gen][name];
    if (old !== undefined) closeFd(old);
    this.inner[gen][name] = fd;
    return fd;
  }

  private innerFd(gen: number, name: InnerName): number {
    const cached = this.inner[gen][name];
    if (cached !== undefined) return cached;
    const d = INNER[name];
    const id = Buffer.alloc(4);
    check(api.lookup(this.fd(d.outer), u32(d.slot(gen)), id) as number, `reading ${d.outer}[${d.slot(gen)}]`);
    const fd = api.mapFdById(id.readUInt32LE(0)) as number;
    check(fd, `opening the ${name} map of generation ${gen}`);
    this.inner[gen][name] = fd;
    return fd;
  }

  /** Inner map of gen with room for `need` entries (grown by replacement when short). */
  private innerWithRoom(gen: number, name: InnerName, need: number): number {
    const fd = this.innerFd(gen, name);
    const cap = mapInfo(fd).maxEntries;
    if (need <= cap) return fd;
    const grown = Math.max(need, Math.ceil(cap * 1.5), INNER[name].min);
    return this.replaceInner(gen, name, grown);
  }

  private readCfg(): { active: number; ctOn: number } {
    const v = Buffer.alloc(L.CFG_SIZE);
    check(api.lookup(this.fd('cfg'), u32(0), v) as number, 'reading the active generation');
    return { active: v.readUInt32LE(0) & 1, ctOn: v.readUInt32LE(4) };
  }

  activeGeneration(): number {
    return this.readCfg().active;
  }

  private batch(fd: number, n: number, values: Buffer, valueSize: number, what: string): void {
    const CH = 65536;
    for (let s = 0; s < n; s += CH) {
      const cnt = Math.min(CH, n - s);
      const keys = new Uint32Array(cnt);
      for (let i = 0; i < cnt; i++) keys[i] = s + i;
      const count = [cnt];
      const rc = api.updateBatch(fd, keys, values.subarray(s * valueSize, (s + cnt) * valueSize), count, { sz: 24, elem_flags: 0n, flags: 0n }) as number;
      check(rc, `writing ${what} (${cnt} entries)`);
    }
  }

  private refillLpm(fd: number, entries: Array<[Buffer, number]>, keySize: number, what: string): void {
    const want = new Map<string, [Buffer, number]>();
    for (const e of entries) want.set(e[0].toString('hex'), e);
    // Delete stale keys first (enumerate, then delete: deleting while iterating skips keys).
    const stale: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(keySize);
      const rc = api.nextKey(fd, prev, next) as number;
      if (rc < 0) break;
      if (!want.has(next.toString('hex'))) stale.push(next);
      prev = next;
    }
    for (const k of stale) api.del(fd, k);
    const v = Buffer.alloc(4);
    for (const [k, off] of want.values()) {
      v.writeUInt32LE(off >>> 0, 0);
      check(api.update(fd, k, v, 0n) as number, `writing ${what} entry`);
    }
  }

  /**
   * Encodes spec into the inactive generation, writes the given counter slots (new rules,
   * -Z, -c), then flips the active generation.
   */
  commit(spec: TableSpec, counterWrites: ReadonlyArray<{ id: number; packets: bigint; bytes: bigint }> = [], xdp?: readonly XdpDrop[]): void {
    const enc = encodeSpec(spec, this.recentListIds(recentNames(spec)), this.hashlimitIds(hashlimitTables(spec)));
    mark('encode');
    this.commitEncoded(enc, counterWrites, xdp);
  }

  /** Loads the XDP fast path (bpf/xdp.bpf.c) into this datapath; its links come with the next commit. */
  enableXdp(): void {
    xdpEnable(this.dir, objectPath());
  }

  xdpEnabled(): boolean {
    return xdpEnabled(this.dir);
  }

  disableXdp(): void {
    xdpDisable(this.dir);
  }

  /**
   * A name → id registry in a pinned hash map (names: `nameLen`-byte NUL-padded keys; the all-zero
   * key holds the last id given out). Each live id owns a `perId` entry and the `entries` whose
   * key starts with the id (u32). Ids are never reused, so a packet still running the old
   * generation cannot fill a table that a later ruleset would inherit.
   */
  private static nameKey(r: NameRegistry, name: string): Buffer {
    const k = Buffer.alloc(r.nameLen);
    Buffer.from(name, 'utf8').copy(k, 0, 0, r.nameLen - 1);
    return k;
  }

  private readNames(r: NameRegistry): Map<string, number> {
    const fd = this.fd(r.names);
    const out = new Map<string, number>();
    let prev: Buffer | null = null;
    const v = Buffer.alloc(4);
    for (;;) {
      const next = Buffer.alloc(r.nameLen);
      if ((api.nextKey(fd, prev, next) as number) < 0) break;
      if ((api.lookup(fd, next, v) as number) === 0) {
        const end = next.indexOf(0);
        out.set(next.subarray(0, end < 0 ? next.length : end).toString('utf8'), v.readUInt32LE(0));
      }
      prev = next;
    }
    return out;
  }

  /** The id of each name: the one it already has, else a new one whose perId entry (`initial`) and name are written before the rules that use it go live. */
  private namedIds(r: NameRegistry, names: Iterable<string>, initial: (name: string) => Buffer): Map<string, number> {
    const ids = new Map<string, number>();
    const wanted = [...names];
    if (wanted.length === 0) return ids;
    const fd = this.fd(r.names);
    const known = this.readNames(r);
    let last = known.get('') ?? 0;
    for (const n of wanted) {
      let id = known.get(n);
      if (id === undefined) {
        id = ++last;
        check(api.update(this.fd(r.perId), u32(id), initial(n), 0n) as number, `creating ${r.what} ${n}`);
        check(api.update(fd, Datapath.nameKey(r, n), u32(id), 0n) as number, `recording ${r.what} ${n}`);
      }
      ids.set(n, id);
    }
    check(api.update(fd, Datapath.nameKey(r, ''), u32(last), 0n) as number, `recording the last ${r.what} id`);
    return ids;
  }

  /** After a flip: frees what the live ruleset no longer names (entries, perId entry, name). */
  private pruneNames(r: NameRegistry, keep: ReadonlyMap<string, number>): void {
    const dropped = new Set<number>();
    const nm = this.fd(r.names);
    for (const [name, id] of this.readNames(r)) {
      if (name === '' || keep.has(name)) continue;
      api.del(nm, Datapath.nameKey(r, name));
      dropped.add(id);
    }
    if (dropped.size === 0) return;
    const fd = this.fd(r.entries);
    const stale: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(r.entryKeySize);
      if ((api.nextKey(fd, prev, next) as number) < 0) break;
      if (dropped.has(next.readUInt32LE(0))) stale.push(next);
      prev = next;
    }
    for (const k of stale) api.del(fd, k);
    for (const id of dropped) api.del(this.fd(r.perId), u32(id));
  }

  /**
   * recent lists: the kernel keeps a list while a rule names it, so a list keeps its id and
   * entries across commits; a new list's entry count starts at zero (the datapath only updates
   * existing counts).
   */
  private recentListIds(names: readonly string[]): Map<string, number> {
    return this.namedIds(RECENT_NAMES, names, () => Buffer.alloc(L.RECENT_LIST_SIZE));
  }

  /**
   * hashlimit tables: the kernel keeps a table, its configuration and its entries while some
   * rule names it; a new table's hltab entry is the configuration of the first rule naming it.
   */
  private hashlimitIds(tables: ReadonlyMap<string, HashlimitCfg>): Map<string, number> {
    return this.namedIds(HASHLIMIT_NAMES, tables.keys(), (n) => encodeHashlimitTable(tables.get(n)!, kernelHz(), totalmem()));
  }

  commitEncoded(enc: Encoded, counterWrites: ReadonlyArray<{ id: number; packets: bigint; bytes: bigint }> = [], xdp: readonly XdpDrop[] = []): void {
    const slots = mapInfo(this.fd('counters')).maxEntries;
    const maxId = Math.max(enc.maxCounter, ...counterWrites.map((c) => c.id));
    if (maxId >= slots) throw new Error(`bpftables: counter id ${maxId} exceeds the datapath's ${slots} counter slots (recreate the datapath with a larger counterSlots)`);
    const { active, ctOn: ctWas } = this.readCfg();
    const g = 1 - active;

    const pool = this.innerWithRoom(g, 'pool', enc.poolChunks);
    const chunk = Buffer.alloc(L.POOL_CHUNK * 8);
    const src = Buffer.from(enc.pool.buffer, enc.pool.byteOffset, enc.pool.byteLength);
    for (let c = 0; c < enc.poolChunks; c++) {
      chunk.fill(0);
      src.copy(chunk, 0, c * L.POOL_CHUNK * 8, Math.min(src.length, (c + 1) * L.POOL_CHUNK * 8));
      check(api.update(pool, u32(c), chunk, 0n) as number, `writing pool chunk ${c}`);
    }
    this.batch(this.innerWithRoom(g, 'rules', enc.nrules), enc.nrules, enc.rules, L.RULE_SIZE, 'rules');
    this.batch(this.innerWithRoom(g, 'chains', enc.nchains), enc.nchains, enc.chains, L.CHAIN_SIZE, 'chains');
    if (enc.nres) this.batch(this.innerWithRoom(g, 'res', enc.nres), enc.nres, enc.res, L.RES_SIZE, 'residual checks');
    if (enc.nlogs) this.batch(this.innerWithRoom(g, 'log', enc.nlogs), enc.nlogs, enc.logs, L.LOGCFG_SIZE, 'LOG settings');
    for (const n of ['iif', 'oif'] as const) {
      const fd = this.innerWithRoom(g, n, enc.lpm[n].length);
      this.refillLpm(fd, enc.lpm[n], INNER[n].key, `${n} LPM`);
    }
    check(api.update(this.fd('keymap'), u32(g), enc.keymap, 0n) as number, 'writing the key map');
    if (enc.meta.readUInt32LE(56) & L.NEED_TIME) {
      // The time match's clock facts, as of this commit (bpf/headers.h bpftables_time()).
      const c = clockFacts();
      enc.meta.writeInt32LE(c.taiOffset, L.META_TAI_OFF);
      enc.meta.writeInt32LE(c.tzMinutesWest, L.META_TZ_WEST);
    }
    // meta.hz: conntrack's jiffies timers (--ctexpire); 0 where the kernel config is unreadable.
    enc.meta.writeUInt32LE(tryKernelHz(), L.META_SIZE - 4);
    check(api.update(this.fd('meta'), u32(g), enc.meta, 0n) as number, 'writing the generation header');
    this.writeCounters(counterWrites);
    // A written counter slot is a new rule (or -Z / -c): its limit bucket / nth count restart
    // too, so a reused id never inherits a deleted rule's state.
    if (enc.statefulIds.length && counterWrites.length) {
      const written = new Set(counterWrites.map((c) => c.id));
      const rs = this.fd('resstate');
      for (const id of enc.statefulIds) {
        if (!written.has(id)) continue;
        for (let op = 0; op < L.MAX_RES_OPS; op++) api.del(rs, u32(id * L.MAX_RES_OPS + op));
      }
    }
    // REJECT replies need the tc programs on every interface before the REJECT rules go live;
    // without REJECT rules they come off after the flip.
    if (enc.hasReject) this.syncTc(true);
    // The XDP fast path's head prefixes of generation g (no-op unless enabled).
    xdpCommit(this.dir, g, xdp);
    const cfg = Buffer.alloc(L.CFG_SIZE);
    cfg.writeUInt32LE(g, 0);
    // Accounting stays on once a connbytes rule turned it on (nf_conntrack_acct is sticky).
    cfg.writeUInt32LE((enc.ctOn ? 1 : 0) | (enc.ctAcct || ctWas & L.CT_ACCT ? L.CT_ACCT : 0) | (enc.ctLabels ? L.CT_LABELS : 0), 4);
    check(api.update(this.fd('cfg'), u32(0), cfg, 0n) as number, 'flipping the active generation');
    if (!enc.hasReject) this.syncTc(false);
    this.pruneNames(RECENT_NAMES, enc.recentIds);
    this.pruneNames(HASHLIMIT_NAMES, enc.hashlimitIds);
    this.pruneConnlimit(enc.connlimitIds);
  }

  /** After a flip: drops the connlimit lists of rules that are gone (the kernel frees a rule's
   * nf_conncount data with it; an id is reused only by a later commit). */
  private pruneConnlimit(live: readonly number[]): void {
    const keep = new Set(live);
    const fd = this.fd('clist');
    const stale: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(L.CL_KEY_SIZE);
      if ((api.nextKey(fd, prev, next) as number) < 0) break;
      if (!keep.has(Math.floor(next.readUInt32LE(0) / L.MAX_RES_OPS))) stale.push(next);
      prev = next;
    }
    for (const k of stale) api.del(fd, k);
  }

  /**
   * Attaches (on) the REJECT tc programs to the ingress and egress of every Ethernet and
   * loopback interface of this namespace that lacks them and records the interfaces in
   * `tcifs`; detaches them everywhere (off). Links are pinned as `tc_in_<ifindex>` /
   * `tc_out_<ifindex>`; those of interfaces that are gone are removed. Interfaces created
   * later are covered from the next commit on (their REJECTs only drop until then).
   */
  syncTc(on: boolean): void {
    const want = on ? listInterfaces().filter((i) => i.type === ARPHRD_ETHER || i.type === ARPHRD_LOOPBACK) : [];
    const wanted = new Set(want.map((i) => String(i.index)));
    const tcifs = this.fd('tcifs');
    for (const n of readdirSync(this.dir)) {
      const m = /^tc_(in|out)_(\d+)$/.exec(n);
      if (m && !wanted.has(m[2])) rmSync(`${this.dir}/${n}`, { force: true });
    }
    // tcifs: stale keys first (enumerate, then delete).
    const stale: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(4);
      if ((api.nextKey(tcifs, prev, next) as number) < 0) break;
      if (!wanted.has(String(next.readUInt32LE(0)))) stale.push(next);
      prev = next;
    }
    for (const k of stale) api.del(tcifs, k);
    for (const i of want) {
      try {
        for (const [dir, prog, type] of [['in', 'prog_tci', BPF_TCX_INGRESS], ['out', 'prog_tco', BPF_TCX_EGRESS]] as const) {
          const pin = `${this.dir}/tc_${dir}_${i.index}`;
          if (existsSync(pin) && tcLinkAlive(pin, i.index)) continue;
          rmSync(pin, { force: true });
          const lfd = tcxLinkCreate(this.fd(prog), i.index, type);
          try {
            check(api.objPin(lfd, pin) as number, `pinning the tc ${dir} link of ${i.name}`);
          } finally {
            closeFd(lfd);
          }
        }
      } catch (e) {
        // No tcx (kernel < 6.6) or the interface went away: REJECT only drops there. Never
        // record an interface without both programs (OUTPUT would hand packets to nobody).
        for (const dir of ['in', 'out']) rmSync(`${this.dir}/tc_${dir}_${i.index}`, { force: true });
        api.del(tcifs, u32(i.index));
        process.stderr.write(`bpftables: REJECT replies unavailable on ${i.name}: ${(e as Error).message}\n`);
        continue;
      }
      const name = Buffer.alloc(16);
      name.write(i.name.slice(0, 15), 'latin1');
      check(api.update(tcifs, u32(i.index), name, 0n) as number, `recording interface ${i.name}`);
    }
  }

  /** Kernel ids of the pinned tc links (REJECT replies), empty when none are attached. */
  tcLinkIds(): number[] {
    const ids: number[] = [];
    for (const n of readdirSync(this.dir)) {
      if (!/^tc_(in|out)_\d+$/.test(n)) continue;
      const fd = api.objGet(`${this.dir}/${n}`) as number;
      if (fd < 0) continue;
      const info = Buffer.alloc(64);
      const len = [64];
      try {
        if ((api.objInfo(fd, info, len) as number) >= 0) ids.push(info.readUInt32LE(4));
      } finally {
        closeFd(fd);
      }
    }
    return ids;
  }

  writeCounters(writes: ReadonlyArray<{ id: number; packets: bigint; bytes: bigint }>): void {
    if (!writes.length) return;
    const vals = Buffer.alloc(writes.length * NCPUS * L.COUNTER_SIZE);
    const keys = new Uint32Array(writes.length);
    writes.forEach((w, i) => {
      keys[i] = w.id;
      vals.writeBigUInt64LE(w.packets, i * NCPUS * L.COUNTER_SIZE);
      vals.writeBigUInt64LE(w.bytes, i * NCPUS * L.COUNTER_SIZE + 8);
    });
    const count = [writes.length];
    check(api.updateBatch(this.fd('counters'), keys, vals, count, { sz: 24, elem_flags: 0n, flags: 0n }) as number, 'writing counters');
  }

  /** Counters summed over CPUs; only ids with non-zero packets or bytes (or all of `ids`). */
  readCounters(ids?: readonly number[]): Map<number, CounterValue> {
    const out = new Map<number, CounterValue>();
    const fd = this.fd('counters');
    const sum = (buf: Buffer, i: number): CounterValue => {
      let packets = 0n;
      let bytes = 0n;
      for (let c = 0; c < NCPUS; c++) {
        packets += buf.readBigUInt64LE((i * NCPUS + c) * L.COUNTER_SIZE);
        bytes += buf.readBigUInt64LE((i * NCPUS + c) * L.COUNTER_SIZE + 8);
      }
      return { packets, bytes };
    };
    if (ids && ids.length > 64) {
      // Rule ids are dense from 16 up: read the covering key range with batch lookups (one
      // syscall per 16k slots instead of one per rule); sparse id sets fall back to lookups.
      let lo = Infinity;
      let hi = -1;
      for (const id of ids) {
        if (id < lo) lo = id;
        if (id > hi) hi = id;
      }
      if (hi - lo + 1 <= 4 * ids.length + 1024) {
        const range = this.readCounterRange(lo, Math.min(hi, mapInfo(fd).maxEntries - 1), sum);
        for (const id of ids) out.set(id, range.get(id) ?? { packets: 0n, bytes: 0n });
        return out;
      }
    }
    if (ids) {
      const v = Buffer.alloc(NCPUS * L.COUNTER_SIZE);
      for (const id of ids) {
        const rc = api.lookup(fd, u32(id), v) as number;
        out.set(id, rc < 0 ? { packets: 0n, bytes: 0n } : sum(v, 0));
      }
      return out;
    }
    return this.readCounterRange(0, mapInfo(fd).maxEntries - 1, sum);
  }

  /** Counter slots lo..hi (inclusive) by batch lookup; only non-zero ones in the result. */
  private readCounterRange(lo: number, hi: number, sum: (buf: Buffer, i: number) => CounterValue): Map<number, CounterValue> {
    const out = new Map<number, CounterValue>();
    const fd = this.fd('counters');
    const CH = 16384;
    const keys = Buffer.alloc(CH * 4);
    const vals = Buffer.alloc(CH * NCPUS * L.COUNTER_SIZE);
    const inB = Buffer.alloc(4);
    const outB = Buffer.alloc(4);
    // in_batch is the key before the first one read (array maps: next key = in_batch + 1).
    let first = lo === 0;
    if (!first) inB.writeUInt32LE(lo - 1, 0);
    for (let done = lo; done <= hi; ) {
      const want = Math.min(CH, hi - done + 1);
      const count = [want];
      const rc = api.lookupBatch(fd, first ? null : inB, outB, keys, vals, count, { sz: 24, elem_flags: 0n, flags: 0n }) as number;
      const n = count[0];
      // Most slots are zero: test the words before summing BigInts.
      const w = new Uint32Array(vals.buffer, vals.byteOffset, (n * NCPUS * L.COUNTER_SIZE) >>> 2);
      const per = (NCPUS * L.COUNTER_SIZE) >>> 2;
      for (let i = 0; i < n; i++) {
        let any = 0;
        for (let j = i * per; j < (i + 1) * per; j++) any |= w[j];
        if (any === 0) continue;
        const v = sum(vals, i);
        if (v.packets || v.bytes) out.set(keys.readUInt32LE(i * 4), v);
      }
      done += n;
      if (rc < 0) {
        if (-rc === 2) break; // ENOENT: end of map
        check(rc, 'reading counters');
      }
      if (n === 0) break;
      outB.copy(inB);
      first = false;
    }
    return out;
  }

  /** Datapath health counters: [stepBudgetExhausted, callStackOverflow, malformedIp, lookupFailure]. */
  readStats(): number[] {
    const v = Buffer.alloc(NCPUS * 8);
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      api.lookup(this.fd('stats'), u32(i), v);
      let s = 0n;
      for (let c = 0; c < NCPUS; c++) s += v.readBigUInt64LE(c * 8);
      out.push(Number(s));
    }
    return out;
  }

  /**
   * Runs the program on `pkt` (an IPv4 packet, from the IP header) with BPF_PROG_TEST_RUN.
   * The kernel supplies loopback as the in/out device of the hook. Side effects (counters,
   * conntrack, limit state, LOG records) are real.
   */
  testRun(pkt: Uint8Array, hook: HookName, opts: { repeat?: number } = {}): TestRunResult {
    // INPUT / FORWARD: the kernel strips an Ethernet header (eth_type_trans) before the
    // program; OUTPUT: skb->data is the buffer as given (it must still be ≥ 34 bytes, so
    // shorter packets are zero-padded at OUTPUT; tot_len keeps the real length).
    const raw = Buffer.from(pkt.buffer, pkt.byteOffset, pkt.byteLength);
    let data: Buffer;
    if (hook === 'OUTPUT') {
      data = Buffer.alloc(Math.max(34, raw.length));
      raw.copy(data, 0);
    } else {
      data = Buffer.alloc(14 + raw.length);
      data.writeUInt16BE(0x0800, 12);
      raw.copy(data, 14);
    }
    const ctx = Buffer.alloc(48); // struct nf_hook_state
    ctx.writeUInt8(HOOKNUM[hook], 0);
    ctx.writeUInt8(2, 1); // NFPROTO_IPV4
    const o = {
      sz: 80,
      data_in: data,
      data_out: null,
      data_size_in: data.length,
      data_size_out: 0,
      ctx_in: ctx,
      ctx_out: null,
      ctx_size_in: ctx.length,
      ctx_size_out: 0,
      retval: 0,
      repeat: opts.repeat ?? 1,
      duration: 0,
      flags: 0,
      cpu: 0,
      batch_size: 0,
    };
    check(api.testRun(this.fd('prog'), o) as number, `BPF_PROG_TEST_RUN at ${hook}`, 'test_run for netfilter programs requires kernel ≥ 6.6');
    return { verdict: o.retval === 1 ? 'ACCEPT' : 'DROP', retval: o.retval, durationNs: o.duration };
  }

  /** Kernel ids of the pinned netfilter links (INPUT, FORWARD, OUTPUT) and of the program. */
  objectIds(): { links: number[]; prog: number } {
    const links: number[] = [];
    for (const h of ['INPUT', 'FORWARD', 'OUTPUT'] as HookName[]) {
      const fd = api.objGet(`${this.dir}/${LINK_PIN[h]}`) as number;
      if (fd < 0) continue;
      const info = Buffer.alloc(64);
      const len = [64];
      try {
        check(api.objInfo(fd, info, len) as number, 'reading link info');
        links.push(info.readUInt32LE(4));
      } finally {
        closeFd(fd);
      }
    }
    const pinfo = Buffer.alloc(256);
    const plen = [256];
    check(api.objInfo(this.fd('prog'), pinfo, plen) as number, 'reading program info');
    return { links, prog: pinfo.readUInt32LE(4) };
  }

  /** Forgets every tracked flow (tests; `conntrack -F` equivalent). */
  clearConntrack(): void {
    const fd = this.fd('ct');
    const keys: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(16);
      if ((api.nextKey(fd, prev, next) as number) < 0) break;
      keys.push(next);
      prev = next;
    }
    for (const k of keys) api.del(fd, k);
  }

  /** Drains LOG records from the ring buffer (consumer position is kept in the map). */
  readLog(max = 1024): LogRecord[] {
    return readRingbuf(this.fd('logbuf'), max);
  }

  /** Map memory (bytes) of the kernel objects, from fdinfo memlock. */
  memoryBytes(): number {
    let total = 0;
    const fds: number[] = [...this.fds.values()];
    for (const g of [0, 1]) for (const n of Object.keys(INNER) as InnerName[]) fds.push(this.innerFd(g, n));
    for (const fd of fds) total += memlockOf(fd);
    return total;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds.values()) closeFd(fd);
    for (const g of this.inner) for (const fd of Object.values(g)) closeFd(fd as number);
    this.fds.clear();
  }

  /** Detaches the links and removes every pin of this namespace. */
  teardown(): void {
    this.close();
    rmSync(this.dir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(this.dir));
    } catch {
      // other namespaces still have datapaths
    }
  }
}

import { readFileSync } from 'node:fs';

function memlockOf(fd: number): number {
  try {
    const s = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const m = /memlock:\s*(\d+)/.exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// Ring buffer consumer over mmap would need a native mmap; instead the loader reads records
// through libbpf's ring_buffer API.
import koffi from 'koffi';
const librb = koffi.load('libbpf.so.1');
const RbCallback = koffi.proto('int bpft_rb_cb(void *ctx, void *data, size_t size)');
const rbNew = librb.func('void *ring_buffer__new(int map_fd, bpft_rb_cb *cb, void *ctx, void *opts)');
const rbConsume = librb.func('int ring_buffer__consume(void *rb)');
const rbFree = librb.func('void ring_buffer__free(void *rb)');
const HOOKS: HookName[] = ['INPUT', 'FORWARD', 'OUTPUT'];

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('latin1');
}

function readRingbuf(fd: number, max: number): LogRecord[] {
  const out: LogRecord[] = [];
  const cb = koffi.register((_ctx: unknown, data: unknown, size: number) => {
    if (out.length >= max) return 1;
    const b = Buffer.from(koffi.decode(data, 'uint8_t', Number(size)) as number[]);
    const caplen = b.readUInt32LE(84);
    out.push({
      tsNs: b.readBigUInt64LE(0),
      counterId: b.readUInt32LE(8),
      hook: HOOKS[b.readUInt8(12)] ?? 'INPUT',
      level: b.readUInt8(13),
      flags: b.readUInt8(14),
      prefix: cstr(b.subarray(16, 48)),
      iif: cstr(b.subarray(48, 64)),
      oif: cstr(b.subarray(64, 80)),
      len: b.readUInt32LE(80),
      packet: b.subarray(88, 88 + Math.min(caplen, 128)),
    });
    return 0;
  }, koffi.pointer(RbCallback));
  const rb = rbNew(fd, cb, null, null);
  if (!rb) {
    koffi.unregister(cb);
    throw new KernelError('opening the LOG ring buffer', errno());
  }
  try {
    rbConsume(rb);
  } finally {
    rbFree(rb);
    koffi.unregister(cb);
  }
  return out;
}

/** Whether the pinned tcx link still points at ifindex (a deleted interface leaves it defunct). */
function tcLinkAlive(pin: string, ifindex: number): boolean {
  const fd = api.objGet(pin) as number;
  if (fd < 0) return false;
  try {
    // struct bpf_link_info: type u32, id u32, prog_id u32, pad, union { tcx: { ifindex u32, attach_type u32 } }
    const info = Buffer.alloc(64);
    const len = [64];
    if ((api.objInfo(fd, info, len) as number) < 0) return false;
    return info.readUInt32LE(16) === ifindex;
  } finally {
    closeFd(fd);
  }
}
