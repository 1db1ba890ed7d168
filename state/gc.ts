// Garbage collection of what deleted network namespaces leave behind.
//
// iptables' state dies with its namespace; bpftables' lives outside it (state under
// /run/bpftables/<cookie>/, pins under <bpffs>/bpftables/<cookie>/, the lock file
// /run/bpftables/<cookie>.lock), so `ip netns del` without `--bpftables-teardown` would leak
// the pinned maps (≈16 MiB for a one-rule ruleset) for ever. Each state directory records the
// inode of its namespace (file `netns`); a namespace is dead when nothing this process can see
// holds that inode: no task's /proc/<pid>/task/<tid>/ns/net, no open file descriptor, no nsfs
// bind mount. Pid 1 is exempt from the readability rule (sandboxes often hide it; it is the
// pid namespace's init, which lives in the namespace it was started in, not in a scratch one). An inode reused by a newer namespace only keeps stale state longer (the cookie,
// which names the directories, is never reused). When /proc cannot be read completely (e.g. a
// task we may not inspect) nothing is collected: deleting a live namespace's rules would be far
// worse than a leak.
//
// Runs when a namespace's datapath is created (once per namespace lifetime), not per command.
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const NS_FILE = 'netns';

/** The inode of the calling thread's network namespace. */
export function currentNetnsInode(): string {
  return String(statSync('/proc/thread-self/ns/net').ino);
}

/** Records the namespace's inode in its state directory (idempotent, best effort). */
export function recordNetns(stateDir: string): void {
  try {
    writeFileSync(join(stateDir, NS_FILE), `${currentNetnsInode()}\n`, { flag: 'wx', mode: 0o600 });
  } catch {
    // exists already, or not writable: the namespace is then simply never collected
  }
}

const NET_LINK = /^net:\[(\d+)\]$/;

/** Inodes of every network namespace something visible holds; null when /proc is not fully readable. */
export function liveNetnsInodes(): Set<string> | null {
  const live = new Set<string>();
  const note = (link: string): void => {
    const m = NET_LINK.exec(link);
    if (m) live.add(m[1]!);
  };
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  // ENOENT: the task exited meanwhile. Anything else: we cannot see what it holds.
  const unreadable = (pid: string, e: unknown): boolean => (e as NodeJS.ErrnoException).code !== 'ENOENT' && pid !== '1';
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch (e) {
      if (unreadable(pid, e)) return null;
      continue;
    }
    for (const tid of tids) {
      try {
        note(readlinkSync(`/proc/${pid}/task/${tid}/ns/net`));
      } catch (e) {
        if (unreadable(pid, e)) return null;
      }
    }
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch (e) {
      if (unreadable(pid, e)) return null;
      continue;
    }
    for (const fd of fds) {
      try {
        note(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  }
  // nsfs bind mounts (ip netns add, container runtimes): stat gives the namespace inode.
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const sep = line.indexOf(' - ');
      if (sep < 0 || !line.startsWith('nsfs ', sep + 3)) continue;
      const mountPoint = line.split(' ')[4]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      try {
        live.add(String(statSync(mountPoint).ino));
      } catch {
        return null;
      }
    }
  } catch {
    return null;
  }
  return live;
}

export interface GcTarget {
  /** Root of the per-namespace state directories (also holds <cookie>.lock). */
  stateRoot: string;
  /** <bpffs>/bpftables, when a bpffs is mounted. */
  pinRoot: string | undefined;
  /** This namespace's cookie: never collected. */
  self: string;
}

/** Removes state, pins and lock of every recorded namespace that is dead; returns their cookies. */
export function collectDeadNamespaces(target: GcTarget, live: Set<string> | null = liveNetnsInodes()): string[] {
  if (!live) return [];
  let names: string[];
  try {
    names = readdirSync(target.stateRoot);
  } catch {
    return [];
  }
  const dead: string[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || name === target.self) continue;
    let ino: string;
    try {
      ino = readFileSync(join(target.stateRoot, name, NS_FILE), 'utf8').trim();
    } catch {
      continue; // no record (older state, or being created): keep
    }
    if (!/^\d+$/.test(ino) || live.has(ino)) continue;
    // Pins first: once they are gone the kernel frees the maps and programs.
    if (target.pinRoot) rmSync(join(target.pinRoot, name), { recursive: true, force: true });
    rmSync(join(target.stateRoot, name), { recursive: true, force: true });
    rmSync(join(target.stateRoot, `${name}.lock`), { force: true });
    dead.push(name);
  }
  // Lock files whose state directory is already gone (--bpftables-teardown, pcn-iptables-clean):
  // the file records its namespace's inode (state/lock.ts); a dead namespace has no process
  // that could hold or wait for the lock.
  const present = new Set(names);
  for (const name of names) {
    const m = /^(\d+)\.lock$/.exec(name);
    if (!m || m[1] === target.self || present.has(m[1]!)) continue;
    let ino: string;
    try {
      ino = readFileSync(join(target.stateRoot, name), 'utf8').trim();
    } catch {
      continue;
    }
    if (!/^\d+$/.test(ino) || live.has(ino)) continue;
    rmSync(join(target.stateRoot, name), { force: true });
  }
  return dead;
}
