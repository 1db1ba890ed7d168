// Scratch namespaces for the bench. Every namespace is named `bpft-bench-*` (or BPFTABLES_BENCH_NS_PREFIX), registered in
// `live` on creation, and removed by `destroyAll()`, which run.ts calls in a finally block and
// from its SIGINT/SIGTERM handlers, so an interrupted bench leaves nothing behind. Addresses
// are 10.203.x.y and exist only inside these namespaces.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The bpftables build under test; BPFTABLES_BENCH_DIST_BIN points at another (e.g. a before/after pair). */
export const DIST_BIN = process.env.BPFTABLES_BENCH_DIST_BIN ?? join(ROOT, 'dist', 'bin');
export const BENCH_DIR = join(ROOT, 'bench');

export interface Out {
  stdout: string;
  stderr: string;
  code: number;
}

export function sh(argv: string[], opts: SpawnSyncOptions & { input?: string } = {}): Out {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, ...opts });
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), code: r.status ?? -1 };
}

/** Like sh() but throws with the command and its stderr when it fails. */
export function must(argv: string[], opts: SpawnSyncOptions & { input?: string } = {}): string {
  const r = sh(argv, opts);
  if (r.code !== 0) throw new Error(`bench: \`${argv.join(' ')}\` exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

const live = new Set<string>();
const cleanups = new Set<() => void>();

export function bpftablesBuilt(): boolean {
  return existsSync(join(DIST_BIN, 'iptables')) && existsSync(join(DIST_BIN, 'iptables-restore'));
}

/** Prefix of every namespace the bench makes (BPFTABLES_BENCH_NS_PREFIX, so concurrent users keep theirs apart). */
export const NS_PREFIX = process.env.BPFTABLES_BENCH_NS_PREFIX ?? 'bpft-bench-';

export function createNs(name: string): string {
  if (!name.startsWith(NS_PREFIX)) throw new Error(`bench: refusing to create namespace ${name}`);
  // A stale namespace of the same name is a leftover of a killed run: remove it first.
  if (existsSync(`/var/run/netns/${name}`)) deleteNs(name);
  must(['ip', 'netns', 'add', name]);
  live.add(name);
  must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

export function deleteNs(name: string): void {
  // bpftables keeps state (pins, model files) per namespace: tear it down with the namespace.
  const bp = join(DIST_BIN, 'iptables');
  if (existsSync(bp)) sh(['ip', 'netns', 'exec', name, bp, '--bpftables-teardown'], { timeout: 30_000 });
  sh(['ip', 'netns', 'del', name]);
  live.delete(name);
}

export function nsExec(ns: string, argv: string[], opts: SpawnSyncOptions & { input?: string } = {}): Out {
  return sh(['ip', 'netns', 'exec', ns, ...argv], opts);
}

export function nsMust(ns: string, argv: string[], opts: SpawnSyncOptions & { input?: string } = {}): string {
  return must(['ip', 'netns', 'exec', ns, ...argv], opts);
}

/** Registers an extra cleanup (killing a child, removing a temp dir) for destroyAll(). */
export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export function destroyAll(): void {
  for (const fn of [...cleanups]) {
    try {
      fn();
    } catch {
      /* keep cleaning */
    }
    cleanups.delete(fn);
  }
  for (const n of [...live]) deleteNs(n);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A temporary directory removed by the returned function, or by destroyAll() on a signal. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bpft-bench-'));
  const rm = (): void => rmSync(dir, { recursive: true, force: true });
  const unregister = onCleanup(rm);
  return {
    dir,
    remove: () => {
      unregister();
      rm();
    },
  };
}
