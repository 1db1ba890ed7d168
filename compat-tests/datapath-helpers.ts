// Helpers for the datapath kernel tests: crafting IPv4 packets, the PacketKey the program
// derives from them (the header conventions of classifier/fields.ts), scratch namespaces
// (`bpft-dp-*`) and running a test body inside a namespace (the datapath is per netns).
import { execFileSync, spawnSync } from 'node:child_process';
import { NO_L4, NO_TCPFLAGS, type PacketKey } from '../classifier/fields.ts';

export interface PacketSpec {
  src: number;
  dst: number;
  proto: number;
  sport?: number;
  dport?: number;
  /** ICMP type / code. */
  type?: number;
  code?: number;
  tcpflags?: number;
  ttl?: number;
  tos?: number;
  /** IP options bytes (padded to 4). */
  options?: number;
  /** Fragment offset in 8-byte units (non-zero: non-first fragment). */
  fragOffset?: number;
  moreFragments?: boolean;
  /** L4 bytes present after the IP header (default: the full header + 8 payload bytes). */
  l4Len?: number;
  /** ICMP echo id. */
  id?: number;
  /** ICMP error payload: embedded packet. */
  inner?: Uint8Array;
}

function l4HeaderLen(p: PacketSpec): number {
  switch (p.proto) {
    case 6:
      return 20;
    case 17:
    case 136:
      return 8;
    case 132:
      return 12;
    case 33:
      return 16;
    case 1:
      return 8;
    default:
      return 8;
  }
}

export function craft(p: PacketSpec): Buffer {
  const optLen = ((p.options ?? 0) + 3) & ~3;
  const ihl = 5 + optLen / 4;
  const inner = p.inner ? Buffer.from(p.inner) : Buffer.alloc(0);
  const l4Full = l4HeaderLen(p) + (p.proto === 1 && p.inner ? inner.length : 8);
  const l4Len = p.l4Len ?? l4Full;
  const total = ihl * 4 + l4Len;
  const b = Buffer.alloc(total);
  b[0] = 0x40 | ihl;
  b[1] = p.tos ?? 0;
  b.writeUInt16BE(total, 2);
  b.writeUInt16BE(0x1234, 4);
  b.writeUInt16BE(((p.moreFragments ? 1 : 0) << 13) | (p.fragOffset ?? 0), 6);
  b[8] = p.ttl ?? 64;
  b[9] = p.proto;
  b.writeUInt32BE(p.src >>> 0, 12);
  b.writeUInt32BE(p.dst >>> 0, 16);
  for (let i = 20; i < ihl * 4; i++) b[i] = 1; // NOP options
  const l4 = Buffer.alloc(Math.max(l4Full, 64));
  if (p.proto === 1) {
    l4[0] = p.type ?? 8;
    l4[1] = p.code ?? 0;
    l4.writeUInt16BE(p.id ?? 0x4242, 4);
    inner.copy(l4, 8);
  } else {
    l4.writeUInt16BE(p.sport ?? 0, 0);
    l4.writeUInt16BE(p.dport ?? 0, 2);
    if (p.proto === 6) {
      l4[12] = 0x50;
      l4[13] = p.tcpflags ?? 0x02;
    }
  }
  l4.copy(b, ihl * 4, 0, l4Len);
  return b;
}

/** What the program computes from craft(p) (fields.ts conventions). */
export function keyOf(p: PacketSpec, hook: 'INPUT' | 'FORWARD' | 'OUTPUT', ifaces: { iif: string; oif: string }, ctstate: number): PacketKey {
  const frag = (p.fragOffset ?? 0) !== 0;
  const l4Len = p.l4Len ?? l4HeaderLen(p) + 8;
  const need = p.proto === 6 ? 20 : p.proto === 17 || p.proto === 136 ? 8 : p.proto === 132 || p.proto === 33 ? 12 : p.proto === 1 ? 4 : Infinity;
  const readable = !frag && l4Len >= need;
  const optLen = ((p.options ?? 0) + 3) & ~3;
  const isPorts = p.proto === 6 || p.proto === 17 || p.proto === 136 || p.proto === 132 || p.proto === 33;
  return {
    src: p.src >>> 0,
    dst: p.dst >>> 0,
    proto: p.proto,
    nonFirstFragment: frag,
    sport: readable && isPorts ? p.sport ?? 0 : NO_L4,
    dport: readable && isPorts ? p.dport ?? 0 : readable && p.proto === 1 ? ((p.type ?? 8) << 8) | (p.code ?? 0) : NO_L4,
    tcpflags: readable && p.proto === 6 ? p.tcpflags ?? 0x02 : NO_TCPFLAGS,
    ctstate,
    iif: hook === 'OUTPUT' ? '' : ifaces.iif,
    oif: hook === 'INPUT' ? '' : ifaces.oif,
    len: 20 + optLen + l4Len,
    ttl: p.ttl ?? 64,
    tos: p.tos ?? 0,
    mark: 0,
    pkttype: 0,
    ipflags: ((p.moreFragments ? 1 : 0) << 13) | (p.fragOffset ?? 0),
  };
}

export function ip(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function netnsAdd(name: string): void {
  spawnSync('ip', ['netns', 'del', name]);
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

export function netnsDel(name: string): void {
  spawnSync('ip', ['netns', 'del', name]);
}

export function sh(ns: string, cmd: string, opts: { check?: boolean; timeout?: number } = {}): { code: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8', timeout: opts.timeout ?? 20_000 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  if (opts.check && r.status !== 0) throw new Error(`${ns}: ${cmd} failed (${r.status}): ${out}`);
  return { code: r.status ?? -1, out };
}

// setns(2) on the calling (main JS) thread: the loader's bpf() calls, socket cookie and link
// creation all act on the calling thread's network namespace.
import koffi from 'koffi';
import { openSync, closeSync } from 'node:fs';
const libc = koffi.load('libc.so.6');
const setns = libc.func('int setns(int fd, int nstype)');
const CLONE_NEWNET = 0x40000000;

export function withNetns<T>(name: string, fn: () => T): T {
  const self = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(`/run/netns/${name}`, 'r');
  try {
    if ((setns(target, CLONE_NEWNET) as number) !== 0) throw new Error(`setns into ${name} failed (errno ${koffi.errno()})`);
    try {
      return fn();
    } finally {
      if ((setns(self, CLONE_NEWNET) as number) !== 0) throw new Error(`setns back failed (errno ${koffi.errno()})`);
    }
  } finally {
    closeSync(self);
    closeSync(target);
  }
}
