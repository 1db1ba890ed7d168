// The XDP fast path (bpf/xdp.bpf.c) of one namespace's datapath. Everything lives under
// `<datapath dir>/xdp/`: the program, its own maps and one link per Ethernet interface
// (`link_<ifindex>`), so the datapath's teardown removes it with the rest. It shares cfg,
// counters and ct with the netfilter program (the pinned fds are handed to libbpf before load).
//
// Per commit, before the generation flip: the inactive generation's head prefixes are replaced
// in `xdpdrop`, `xdpifs` (MAC, strict rp_filter) and `xdplocal` (the local table's LOCAL and
// BROADCAST addresses) are rewritten, and interfaces without a link get one. Interfaces created
// later are covered from the next commit on; until then their packets take the netfilter path,
// which gives the same verdicts.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { XdpDrop } from '../../classifier/xdp.ts';
import { api, ARPHRD_ETHER, check, closeFd, errno, KernelError, listInterfaces, xdpLinkCreate } from './libbpf.ts';

const SHARED = ['cfg', 'counters', 'ct'] as const;
const MAPS = ['xdpdrop', 'xdpifs', 'xdplocal', 'xdpstats'] as const;
const KEY_SIZE = 12;

function objectPath(mainObject: string): string {
  const env = process.env.BPFTABLES_XDP_OBJ;
  if (env) return env;
  const sibling = resolve(dirname(mainObject), 'xdp.bpf.o');
  if (existsSync(sibling)) return sibling;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [resolve(here, '../build/xdp.bpf.o'), resolve(here, '../bpf/build/xdp.bpf.o'), resolve(here, '../../bpf/build/xdp.bpf.o')]) if (existsSync(c)) return c;
  throw new Error('bpftables: XDP object xdp.bpf.o not found; run `npm run build`');
}

export function xdpEnabled(dir: string): boolean {
  return existsSync(`${dir}/xdp/prog`);
}

function pinFd(path: string): number {
  const fd = api.objGet(path) as number;
  if (fd < 0) throw new KernelError(`opening pinned ${path}`, -fd);
  return fd;
}

/** Loads and pins the XDP program and its maps under `<dir>/xdp` (no links yet). */
export function xdpEnable(dir: string, mainObject: string): void {
  if (xdpEnabled(dir)) return;
  const xdir = `${dir}/xdp`;
  rmSync(xdir, { recursive: true, force: true });
  mkdirSync(xdir);
  const path = objectPath(mainObject);
  const obj = api.objOpenFile(path, null);
  if (!obj) throw new KernelError(`opening BPF object ${path}`, errno());
  const shared: number[] = [];
  try {
    for (const n of SHARED) {
      const fd = pinFd(`${dir}/${n}`);
      shared.push(fd);
      check(api.mapReuseFd(api.findMap(obj, n), fd) as number, `sharing map ${n} with the XDP program`);
    }
    check(api.objLoad(obj) as number, `loading ${path} (verifier log above)`);
    const prog = api.findProg(obj, 'bpftables_xdp');
    check(api.objPin(api.progFd(prog) as number, `${xdir}/prog_tmp`) as number, 'pinning the XDP program');
    for (const n of MAPS) check(api.objPin(api.mapFd(api.findMap(obj, n)) as number, `${xdir}/${n}`) as number, `pinning map ${n}`);
    // The program pin last: xdpEnabled() means everything is there.
    const fd = pinFd(`${xdir}/prog_tmp`);
    try {
      check(api.objPin(fd, `${xdir}/prog`) as number, 'pinning the XDP program');
    } finally {
      closeFd(fd);
      rmSync(`${xdir}/prog_tmp`, { force: true });
    }
  } catch (e) {
    rmSync(xdir, { recursive: true, force: true });
    throw e;
  } finally {
    for (const fd of shared) closeFd(fd);
    api.objClose(obj);
  }
}

function dropKey(gen: number, chain: number, addr: number, plen: number): Buffer {
  const k = Buffer.alloc(KEY_SIZE);
  k.writeUInt32LE(16 + plen, 0);
  k.writeUInt8(gen, 4);
  k.writeUInt8(chain, 5);
  k.writeUInt32BE(addr >>> 0, 6);
  return k;
}

function allKeys(fd: number, size: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(size);
    if ((api.nextKey(fd, prev, next) as number) < 0) break;
    keys.push(next);
    prev = next;
  }
  return keys;
}

/** LOCAL and BROADCAST addresses of the namespace's local routing table (host order). */
function localAddresses(): Map<number, number> {
  const out = new Map<number, number>();
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/net/fib_trie', 'utf8');
  } catch {
    return out;
  }
  let last: number | undefined;
  for (const line of text.split('\n')) {
    const leaf = /\|-- (\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(line);
    if (leaf) {
      last = ((+leaf[1]! << 24) | (+leaf[2]! << 16) | (+leaf[3]! << 8) | +leaf[4]!) >>> 0;
      continue;
    }
    if (last === undefined) continue;
    if (/\/32 host LOCAL/.test(line)) out.set(last, 1);
    else if (/\/32 link BROADCAST/.test(line) && !out.has(last)) out.set(last, 2);
  }
  return out;
}

function rpStrict(name: string): boolean {
  const read = (p: string): number => {
    try {
      return Number(readFileSync(p, 'utf8').trim());
    } catch {
      return 0;
    }
  };
  // The kernel uses the larger of conf/all and conf/<dev>; 1 = strict, 2 = loose.
  return Math.max(read('/proc/sys/net/ipv4/conf/all/rp_filter'), read(`/proc/sys/net/ipv4/conf/${name}/rp_filter`)) === 1;
}

/**
 * Writes generation `gen` (the inactive one) of the head prefixes and refreshes interfaces,
 * addresses and links. No-op when the fast path is not enabled.
 */
export function xdpCommit(dir: string, gen: number, drops: readonly XdpDrop[]): void {
  if (!xdpEnabled(dir)) return;
  const xdir = `${dir}/xdp`;
  const fds: Record<string, number> = {};
  try {
    for (const n of MAPS) fds[n] = pinFd(`${xdir}/${n}`);
    const drop = fds.xdpdrop!;
    for (const k of allKeys(drop, KEY_SIZE)) if (k.readUInt8(4) === gen) api.del(drop, k);
    const v = Buffer.alloc(4);
    for (const d of drops) {
      v.writeUInt32LE(d.counterId >>> 0, 0);
      check(api.update(drop, dropKey(gen, d.chain, d.addr, d.plen), v, 0n) as number, 'writing an XDP head prefix');
    }
    // Addresses: rewrite the set (stale ones removed).
    const local = localAddresses();
    const lfd = fds.xdplocal!;
    for (const k of allKeys(lfd, 4)) if (!local.has(k.readUInt32BE(0))) api.del(lfd, k);
    for (const [a, t] of local) {
      const k = Buffer.alloc(4);
      k.writeUInt32BE(a, 0);
      check(api.update(lfd, k, Buffer.from([t]), 0n) as number, 'recording a local address');
    }
    // Interfaces and links.
    const ifs = listInterfaces().filter((i) => i.type === ARPHRD_ETHER);
    const want = new Set(ifs.map((i) => String(i.index)));
    const ifd = fds.xdpifs!;
    for (const k of allKeys(ifd, 4)) if (!want.has(String(k.readUInt32LE(0)))) api.del(ifd, k);
    for (const n of readdirSync(xdir)) {
      const m = /^link_(\d+)$/.exec(n);
      if (m && !want.has(m[1]!)) rmSync(`${xdir}/${n}`, { force: true });
    }
    const prog = pinFd(`${xdir}/prog`);
    try {
      for (const i of ifs) {
        const val = Buffer.alloc(8);
        i.mac.copy(val, 0, 0, 6);
        val.writeUInt8(rpStrict(i.name) ? 1 : 0, 6);
        const key = Buffer.alloc(4);
        key.writeUInt32LE(i.index, 0);
        check(api.update(ifd, key, val, 0n) as number, `recording interface ${i.name}`);
        const pin = `${xdir}/link_${i.index}`;
        if (existsSync(pin)) continue;
        try {
          const lfd2 = xdpLinkCreate(prog, i.index);
          try {
            check(api.objPin(lfd2, pin) as number, `pinning the XDP link of ${i.name}`);
          } finally {
            closeFd(lfd2);
          }
        } catch (e) {
          // Another XDP program owns the interface: its packets take the netfilter path.
          api.del(ifd, key);
          process.stderr.write(`bpftables: XDP fast path unavailable on ${i.name}: ${(e as Error).message}\n`);
        }
      }
    } finally {
      closeFd(prog);
    }
  } finally {
    for (const fd of Object.values(fds)) closeFd(fd);
  }
}

/** Kernel ids of the pinned XDP links (for tests and status). */
export function xdpLinkCount(dir: string): number {
  if (!existsSync(`${dir}/xdp`)) return 0;
  return readdirSync(`${dir}/xdp`).filter((n) => /^link_\d+$/.test(n)).length;
}

/** Detaches and unpins the fast path (links, program, maps). */
export function xdpDisable(dir: string): void {
  rmSync(`${dir}/xdp`, { recursive: true, force: true });
}
