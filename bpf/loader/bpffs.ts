// Where the pins of a network namespace live, and the namespace's identity.
//
// Pins: <bpffs>/bpftables/<netns-cookie>/ in the INIT mount namespace's bpffs, because
// `ip netns exec` gives every command a fresh mount namespace with /sys re-mounted (no bpffs):
// <bpffs> is /sys/fs/bpf when that is a bpffs, else /proc/1/root/sys/fs/bpf; when pid 1 is not
// readable (sandboxes), the outermost readable ancestor's /proc/<pid>/root/sys/fs/bpf. When
// none is a bpffs, bpffs is mounted once in that mount namespace (nsenter; a child process).
import { execFileSync } from 'node:child_process';
import { accessSync, existsSync, readFileSync, readlinkSync } from 'node:fs';
import { api, errno, KernelError, closeFd } from './libbpf.ts';

const BPF_FS_MAGIC = 0xcafe4a11;
const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;

/** The network namespace cookie of the calling thread (never reused, unlike the inode). */
export function netnsCookie(): bigint {
  const fd = api.socket(2, 2, 0) as number; // AF_INET, SOCK_DGRAM
  if (fd < 0) throw new KernelError('creating a socket to read the netns cookie', errno());
  try {
    const buf = Buffer.alloc(8);
    const len = [8];
    const rc = api.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, buf, len) as number;
    if (rc < 0) throw new KernelError('getsockopt(SO_NETNS_COOKIE)', errno(), 'requires kernel ≥ 5.14');
    return buf.readBigUInt64LE(0);
  } finally {
    closeFd(fd);
  }
}

function isBpffs(path: string): boolean {
  if (!existsSync(path)) return false;
  const buf = Buffer.alloc(256);
  if ((api.statfs(path, buf) as number) < 0) return false;
  return Number(buf.readBigInt64LE(0) & 0xffffffffn) === BPF_FS_MAGIC;
}

let cachedRoot: string | undefined;

/**
 * The topmost ancestor process whose mount namespace we may enter (pid 1 on a normal host; in
 * sandboxes where pid 1 is not ptrace-readable, the outermost readable ancestor). Every
 * command started from the same environment finds the same one, so pins are shared.
 */
function outerPid(): number {
  let best = process.pid;
  let pid = process.pid;
  for (let i = 0; i < 64 && pid > 1; i++) {
    let ppid: number;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
    if (!(ppid >= 1)) break;
    try {
      readlinkSync(`/proc/${ppid}/ns/mnt`);
      accessSync(`/proc/${ppid}/root/`);
      best = ppid;
    } catch {
      // not enterable: keep looking further up (pid 1 may be readable when its child is not)
    }
    pid = ppid;
  }
  return best;
}

function candidates(): string[] {
  const out = ['/sys/fs/bpf', '/proc/1/root/sys/fs/bpf'];
  const p = outerPid();
  if (p !== process.pid) out.push(`/proc/${p}/root/sys/fs/bpf`);
  return out;
}

/** The bpffs mount to pin into; mounts it in the outermost mount namespace when absent. */
export function bpffsRoot(mountIfMissing = true): string | undefined {
  if (cachedRoot) return cachedRoot;
  for (const p of candidates()) if (isBpffs(p)) return (cachedRoot = p);
  if (!mountIfMissing) return undefined;
  let target = 1;
  try {
    readlinkSync('/proc/1/ns/mnt');
  } catch {
    target = outerPid();
  }
  const args = target === process.pid ? ['mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf'] : ['nsenter', `--mount=/proc/${target}/ns/mnt`, 'mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf'];
  try {
    execFileSync(args[0], args.slice(1), { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`bpftables: mounting bpffs at /sys/fs/bpf (${args.join(' ')}) failed: ${(e as Error).message.trim()} (needs root)`);
  }
  for (const p of candidates()) if (isBpffs(p)) return (cachedRoot = p);
  throw new Error('bpftables: bpffs mounted but not visible at /sys/fs/bpf nor /proc/<pid>/root/sys/fs/bpf');
}

/** <bpffs>/bpftables/<cookie> (may not exist). */
export function pinDir(cookie: bigint = netnsCookie(), mountIfMissing = true): string | undefined {
  const root = bpffsRoot(mountIfMissing);
  return root ? `${root}/bpftables/${cookie}` : undefined;
}
