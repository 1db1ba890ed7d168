// The xtables lock: flock(2) on a per-namespace lock file with iptables-legacy's -w / -W semantics
// (xshared.c xtables_lock): no -w → one try; -w → block; -w N → retry every interval (default
// 1 s) until N seconds are used up. iptables-nft takes no lock; bpftables does, because its
// read-modify-write of the state file needs serialising.
import { fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { namespaceKey } from './bridge.ts';
import { stateRoot } from './store.ts';
import { currentNetnsInode } from './gc.ts';
import { XtablesError } from '../parser/errors.ts';

/**
 * One lock per network namespace (iptables state is per namespace, so commands in different
 * namespaces never wait for each other); BPFTABLES_LOCK overrides it.
 */
export function lockPath(): string {
  if (process.env.BPFTABLES_LOCK) return process.env.BPFTABLES_LOCK;
  mkdirSync(stateRoot(), { recursive: true, mode: 0o700 });
  return join(stateRoot(), `${namespaceKey()}.lock`);
}
const LOCK_EX = 2;
const LOCK_NB = 4;

type FlockFn = (fd: number, op: number) => number;
let flockFn: FlockFn | undefined;

async function loadFlock(): Promise<FlockFn> {
  if (flockFn) return flockFn;
  const koffi = (await import('koffi')).default;
  const libc = koffi.load('libc.so.6');
  flockFn = libc.func('int flock(int fd, int op)') as FlockFn;
  return flockFn;
}

function sleepMicros(us: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, us / 1000);
}

/**
 * A new lock file records its namespace's inode (state/gc.ts removes the lock files of dead
 * namespaces whose state directory is already gone, e.g. after --bpftables-teardown).
 */
function stamp(fd: number): number {
  try {
    if (fstatSync(fd).size === 0) writeSync(fd, `${currentNetnsInode()}\n`);
  } catch {
    // best effort: an unstamped lock file is only never collected
  }
  return fd;
}

/**
 * Takes the lock or throws the error iptables prints (exit 4). `wait`: undefined → no -w,
 * -1 → forever, else seconds. The lock is released when the process exits (fd closes).
 */
export async function acquireLock(wait: number | undefined, waitIntervalUs: number | undefined, warn: (s: string) => void): Promise<number> {
  const flock = await loadFlock();
  const path = lockPath();
  const fd = openSync(path, 'a', 0o600);
  if (wait === -1) {
    if (flock(fd, LOCK_EX) === 0) return stamp(fd);
    throw new XtablesError(`Can't lock ${path}`, 4, { raw: true });
  }
  const interval = waitIntervalUs ?? 1_000_000;
  let left = (wait ?? 0) * 1_000_000;
  let i = 0;
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) === 0) return stamp(fd);
    if (left < interval) break;
    if (++i % 10 === 0) warn(`Another app is currently holding the xtables lock; still ${Math.floor(left / 1e6)}s ${left % 1e6}us time ahead to have a chance to grab the lock...\n`);
    sleepMicros(interval);
    left -= interval;
  }
  const tail = !wait ? 'Perhaps you want to use the -w option?' : `Stopped waiting after ${wait}s.`;
  throw new XtablesError(`Another app is currently holding the xtables lock. ${tail}`, 4, { raw: true });
}
