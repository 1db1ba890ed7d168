// koffi bindings to the system libbpf.so.1 (Debian libbpf 1.1) and the few libc calls the
// loader needs. All kernel errors leave through `KernelError` with what was being done, the
// errno and a hint (cilium/ebpf style). libbpf ≥ 1.0 returns -errno directly (or NULL + errno
// for pointer results).
import koffi from 'koffi';
import { readFileSync } from 'node:fs';

export class KernelError extends Error {
  readonly errno: number;
  constructor(what: string, errno: number, hint?: string) {
    const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`bpftables: ${what}: ${name}${hint ? ` (${hint})` : ''}`);
    this.errno = errno;
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 9: 'EBADF', 12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST',
  22: 'EINVAL', 28: 'ENOSPC', 38: 'ENOSYS', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP',
};

/** A hint for the usual causes of an errno in bpf(2) calls. */
export function hintFor(errno: number): string | undefined {
  switch (errno) {
    case 1:
      return 'needs root (CAP_BPF + CAP_NET_ADMIN); or MEMLOCK too low on kernels < 5.11';
    case 12:
      return 'out of memory for BPF maps; lower the capacity or check MEMLOCK (ulimit -l)';
    case 22:
    case 95:
    case 524:
      return 'BPF netfilter programs require kernel ≥ 6.4 (test_run ≥ 6.6) with CONFIG_NETFILTER_BPF_LINK';
    case 7:
      return 'value too large for the map';
    default:
      return undefined;
  }
}

const lib = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

koffi.opaque('bpf_object');
koffi.opaque('bpf_program');
koffi.opaque('bpf_map');

export const TestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

export const MapCreateOpts = koffi.struct('bpf_map_create_opts', {
  sz: 'size_t',
  btf_fd: 'uint32_t',
  btf_key_type_id: 'uint32_t',
  btf_value_type_id: 'uint32_t',
  btf_vmlinux_value_type_id: 'uint32_t',
  inner_map_fd: 'uint32_t',
  map_flags: 'uint32_t',
  map_extra: 'uint64_t',
  numa_node: 'uint32_t',
  map_ifindex: 'uint32_t',
});

export const BatchOpts = koffi.struct('bpf_map_batch_opts', {
  sz: 'size_t',
  elem_flags: 'uint64_t',
  flags: 'uint64_t',
});

export const api = {
  objOpenFile: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
  objLoad: lib.func('int bpf_object__load(bpf_object *obj)'),
  objClose: lib.func('void bpf_object__close(bpf_object *obj)'),
  findProg: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
  progSetType: lib.func('int bpf_program__set_type(bpf_program *prog, int type)'),
  progSetAttach: lib.func('int bpf_program__set_expected_attach_type(bpf_program *prog, int type)'),
  progFd: lib.func('int bpf_program__fd(bpf_program *prog)'),
  progSetLogLevel: lib.func('int bpf_program__set_log_level(bpf_program *prog, uint32_t level)'),
  progSetLogBuf: lib.func('int bpf_program__set_log_buf(bpf_program *prog, void *buf, size_t size)'),
  findMap: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
  mapFd: lib.func('int bpf_map__fd(bpf_map *map)'),
  mapSetMaxEntries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max)'),
  mapReuseFd: lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)'),
  mapCreate: lib.func('int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, bpf_map_create_opts *opts)'),
  update: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  lookup: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  del: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  nextKey: lib.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next)'),
  updateBatch: lib.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, bpf_map_batch_opts *opts)'),
  lookupBatch: lib.func('int bpf_map_lookup_batch(int fd, void *in_batch, _Out_ void *out_batch, _Out_ void *keys, _Out_ void *values, _Inout_ uint32_t *count, bpf_map_batch_opts *opts)'),
  objPin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
  objGet: lib.func('int bpf_obj_get(const char *path)'),
  mapFdById: lib.func('int bpf_map_get_fd_by_id(uint32_t id)'),
  objInfo: lib.func('int bpf_obj_get_info_by_fd(int fd, _Out_ void *info, _Inout_ uint32_t *len)'),
  testRun: lib.func('int bpf_prog_test_run_opts(int fd, _Inout_ bpf_test_run_opts *opts)'),
  numCpus: lib.func('int libbpf_num_possible_cpus()'),
  close: libc.func('int close(int fd)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Out_ void *val, _Inout_ uint32_t *len)'),
  statfs: libc.func('int statfs(const char *path, _Out_ void *buf)'),
  syscall: libc.func('long syscall(long number, ...)'),
};

/** Native memory that stays valid across calls (a JS Buffer passed as `void *` is only valid for
 *  the duration of that one call, so libbpf cannot keep it, e.g. as a program's log buffer). */
export function nativeBuffer(size: number): { ptr: unknown; text(): string; free(): void } {
  const ptr = koffi.alloc('uint8_t', size);
  return {
    ptr,
    text() {
      const b = Buffer.from(koffi.view(ptr, size));
      const end = b.indexOf(0);
      return b.subarray(0, end < 0 ? size : end).toString();
    },
    free() {
      koffi.free(ptr);
    },
  };
}

export function errno(): number {
  return koffi.errno();
}

/** Throws KernelError when rc < 0 (libbpf returns -errno). */
export function check(rc: number, what: string, hint?: string): number {
  if (rc < 0) {
    const e = -rc;
    throw new KernelError(what, e, hint ?? hintFor(e));
  }
  return rc;
}

export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_LPM_TRIE = 11;
export const BPF_F_NO_PREALLOC = 1;
export const BPF_F_INNER_MAP = 0x1000;
export const BPF_PROG_TYPE_NETFILTER = 32;
export const BPF_NETFILTER = 45;
const BPF_LINK_CREATE = 28;
const SYS_bpf = 321;

/** Raw BPF_LINK_CREATE for a netfilter link (libbpf 1.1 predates it). Returns the link fd. */
export function netfilterLinkCreate(progFd: number, hooknum: number, priority: number): number {
  const attr = Buffer.alloc(64);
  attr.writeUInt32LE(progFd, 0);
  attr.writeUInt32LE(0, 4); // target_fd
  attr.writeUInt32LE(BPF_NETFILTER, 8);
  attr.writeUInt32LE(0, 12);
  attr.writeUInt32LE(2, 16); // pf = NFPROTO_IPV4
  attr.writeUInt32LE(hooknum, 20);
  attr.writeInt32LE(priority, 24);
  attr.writeUInt32LE(0, 28);
  const fd = Number(api.syscall(SYS_bpf, 'int', BPF_LINK_CREATE, 'void *', attr, 'uint', 64));
  if (fd < 0) {
    const e = errno();
    throw new KernelError(`attaching the netfilter link (hook ${hooknum}, priority ${priority})`, e, hintFor(e));
  }
  return fd;
}

export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;
export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;

const BPF_XDP = 37;

/** Raw BPF_LINK_CREATE for an XDP link (native mode where the driver has it, else generic). */
export function xdpLinkCreate(progFd: number, ifindex: number): number {
  const attr = Buffer.alloc(64);
  attr.writeUInt32LE(progFd, 0);
  attr.writeUInt32LE(ifindex, 4); // target_ifindex
  attr.writeUInt32LE(BPF_XDP, 8);
  attr.writeUInt32LE(0, 12); // flags: the kernel picks driver mode when it can
  const fd = Number(api.syscall(SYS_bpf, 'int', BPF_LINK_CREATE, 'void *', attr, 'uint', 64));
  if (fd < 0) {
    const e = errno();
    throw new KernelError(`attaching the XDP link (ifindex ${ifindex})`, e, e === 16 ? 'another XDP program is attached to this interface' : hintFor(e));
  }
  return fd;
}

/** Raw BPF_LINK_CREATE for a tcx link (libbpf 1.1 predates tcx). Returns the link fd. */
export function tcxLinkCreate(progFd: number, ifindex: number, attachType: number): number {
  const attr = Buffer.alloc(64);
  attr.writeUInt32LE(progFd, 0);
  attr.writeUInt32LE(ifindex, 4); // target_ifindex
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(0, 12); // flags: append after other tcx programs
  const fd = Number(api.syscall(SYS_bpf, 'int', BPF_LINK_CREATE, 'void *', attr, 'uint', 64));
  if (fd < 0) {
    const e = errno();
    throw new KernelError(`attaching the tcx link (ifindex ${ifindex}, ${attachType === BPF_TCX_INGRESS ? 'ingress' : 'egress'})`, e, e === 22 ? 'tcx needs kernel ≥ 6.6' : hintFor(e));
  }
  return fd;
}

const adjtimex = libc.func('int adjtimex(_Inout_ uint8_t *buf)');
const gettimeofday = libc.func('int gettimeofday(_Out_ uint8_t *tv, _Out_ uint8_t *tz)');
/** struct timex (x86_64 / aarch64 glibc): int tai at byte 160 of 208. */
const TIMEX_SIZE = 208;
const TIMEX_TAI = 160;

/**
 * What the time match needs to turn bpf_ktime_get_tai_ns() into the kernel's real time and local
 * time: the TAI offset (adjtimex, seconds: TAI = real time + tai) and sys_tz's minutes west
 * (gettimeofday's timezone, which the vDSO reports from the kernel).
 */
export function clockFacts(): { taiOffset: number; tzMinutesWest: number } {
  const tx = new Uint8Array(TIMEX_SIZE); // modes 0: read only
  if ((adjtimex(tx) as number) < 0) throw new KernelError('reading the TAI offset (adjtimex)', errno());
  const tv = new Uint8Array(16);
  const tz = new Uint8Array(8);
  if ((gettimeofday(tv, tz) as number) < 0) throw new KernelError('reading the kernel time zone (gettimeofday)', errno());
  return { taiOffset: Buffer.from(tx).readInt32LE(TIMEX_TAI), tzMinutesWest: Buffer.from(tz).readInt32LE(0) };
}

const ioctl = libc.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)');
const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *name)');
const SIOCGIFHWADDR = 0x8927;

/** Interfaces of the calling thread's network namespace: name, ifindex, ARPHRD type. */
export function listInterfaces(): Array<{ name: string; index: number; type: number; mac: Buffer }> {
  const text = readFileSync('/proc/thread-self/net/dev', 'utf8');
  const out: Array<{ name: string; index: number; type: number; mac: Buffer }> = [];
  const sock = api.socket(2, 2 | 0x80000, 0) as number; // AF_INET, SOCK_DGRAM | SOCK_CLOEXEC
  if (sock < 0) throw new KernelError('opening a socket to list interfaces', errno());
  try {
    for (const line of text.split('\n').slice(2)) {
      const m = /^\s*([^:\s]+):/.exec(line);
      if (!m) continue;
      const name = m[1];
      const index = Number(ifNameToIndex(name));
      if (!index) continue;
      const req = new Uint8Array(40);
      Buffer.from(name, 'latin1').copy(req, 0, 0, 15);
      if ((ioctl(sock, SIOCGIFHWADDR, req) as number) < 0) continue;
      out.push({ name, index, type: req[16] | (req[17] << 8), mac: Buffer.from(req.subarray(18, 24)) });
    }
  } finally {
    api.close(sock);
  }
  return out;
}

export function closeFd(fd: number): void {
  if (fd >= 0) api.close(fd);
}
