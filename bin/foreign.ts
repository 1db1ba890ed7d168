// "Rules of another iptables backend are live in this namespace": iptables-nft 1.8.9 warns on
// stderr when iptables-legacy tables exist (nft_check_xt_legacy(): /proc/net/ip_tables_names is
// non-empty), on listing commands (-L, -S; also with -v/-n/…) and in iptables-save, but not on
// rule-changing commands, --version, -C, -F, -N, or in iptables-restore. Measured here:
//   iptables-nft -L / -S   → "# Warning: iptables-legacy tables present, use iptables-legacy to see them"
//   iptables-nft-save      → "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them"
// bpftables is a third backend: packets traverse its BPF programs AND any legacy or nf_tables
// rules, so it warns about both, in the same form and in the same places. A table is "live"
// when it holds at least one rule (legacy: when it is registered at all, as iptables-nft does).
//
// Cost: one small /proc read and one netlink dump of nf_tables rules (koffi, loaded lazily; the
// datapath has loaded it anyway for listing counters). nf_tables may be built in (no
// /sys/module entry), so there is no cheaper test for it; ENOENT/EPROTONOSUPPORT count as none.
import { readFileSync } from 'node:fs';

export type ForeignContext = 'list' | 'save';

/** What another backend has in this network namespace. */
export interface ForeignState {
  /** Lines of /proc/net/ip_tables_names (iptables-legacy tables registered in this netns). */
  legacyTables: readonly string[];
  /** nf_tables tables that see IPv4 packets (family ip or inet) and hold ≥ 1 rule. */
  nftTables: ReadonlyArray<{ family: 'ip' | 'inet'; name: string }>;
}

/** The xtables table names: an ip-family nf_tables table with one of these is iptables-nft's. */
const XTABLES_NAMES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

export const WARN_LEGACY_LIST = '# Warning: iptables-legacy tables present, use iptables-legacy to see them\n';
export const WARN_LEGACY_SAVE = '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n';
export const WARN_NFT_LIST = '# Warning: iptables-nft tables present, use iptables-nft to see them\n';
export const WARN_NFT_SAVE = '# Warning: iptables-nft tables present, use iptables-nft-save to see them\n';
export const WARN_NFTABLES = '# Warning: nftables rules present, use nft list ruleset to see them\n';

/** Pure: the warning lines (stderr text, '' when none) for a listing or save. */
export function foreignWarnings(state: ForeignState, context: ForeignContext): string {
  let out = '';
  if (state.legacyTables.length > 0) out += context === 'save' ? WARN_LEGACY_SAVE : WARN_LEGACY_LIST;
  const xt = state.nftTables.some((t) => t.family === 'ip' && XTABLES_NAMES.has(t.name));
  const other = state.nftTables.some((t) => !(t.family === 'ip' && XTABLES_NAMES.has(t.name)));
  if (xt) out += context === 'save' ? WARN_NFT_SAVE : WARN_NFT_LIST;
  if (other) out += WARN_NFTABLES;
  return out;
}

/**
 * The warning to print on stderr before a listing (-L, -S) or iptables-save output, or
 * undefined. Call once per invocation; never throws (a probe that fails counts as "none").
 */
export async function detectForeignRules(context: ForeignContext = 'list'): Promise<string | undefined> {
  const state: ForeignState = { legacyTables: readLegacyTables(), nftTables: [] };
  try {
    state.nftTables = await dumpNftRuleTables();
  } catch {
    // No permission or no nf_tables in this kernel: nothing we can report.
  }
  return foreignWarnings(state, context) || undefined;
}

export function readLegacyTables(path = '/proc/net/ip_tables_names'): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  } catch {
    return [];
  }
}

// --- nf_tables netlink dump (NFT_MSG_GETRULE, all families, NLM_F_DUMP) ---------------------
// Message layout (host byte order except nfgenmsg.res_id): nlmsghdr {u32 len, u16 type,
// u16 flags, u32 seq, u32 pid} (16 bytes), nfgenmsg {u8 family, u8 version, be16 res_id}
// (4 bytes), then attributes {u16 len, u16 type, value padded to 4}.
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWRULE = 6;
const NFT_MSG_GETRULE = 7;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NFTA_RULE_TABLE = 1;
const NFPROTO_INET = 1;
const NFPROTO_IPV4 = 2;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;

type Libc = {
  socket: (d: number, t: number, p: number) => number;
  send: (fd: number, buf: Buffer, len: number, flags: number) => number;
  recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
  close: (fd: number) => number;
};
let libc: Libc | undefined;

async function loadLibc(): Promise<Libc> {
  if (libc) return libc;
  const koffi = (await import('koffi')).default;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    send: lib.func('long send(int fd, void *buf, size_t len, int flags)'),
    recv: lib.func('long recv(int fd, void *buf, size_t len, int flags)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, void *val, uint32_t len)'),
    close: lib.func('int close(int fd)'),
  } as Libc;
  return libc;
}

/** Tables (family ip/inet) that hold at least one rule, from one nf_tables rule dump. */
export async function dumpNftRuleTables(): Promise<Array<{ family: 'ip' | 'inet'; name: string }>> {
  const c = await loadLibc();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) throw new Error('netlink socket');
  try {
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(1n, 0); // 1 s: a dump never takes that long; a hang must not block iptables -L
    c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
    const req = Buffer.alloc(20);
    req.writeUInt32LE(20, 0);
    req.writeUInt16LE((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE, 4);
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    req.writeUInt32LE(1, 8);
    req.writeUInt8(0, 16); // NFPROTO_UNSPEC: every family; filtered below
    if (c.send(fd, req, req.length, 0) !== req.length) throw new Error('netlink send');
    const found = new Map<string, { family: 'ip' | 'inet'; name: string }>();
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const n = c.recv(fd, buf, buf.length, 0);
      if (n <= 0) throw new Error('netlink recv');
      for (let off = 0; off + 16 <= n; ) {
        const len = buf.readUInt32LE(off);
        const type = buf.readUInt16LE(off + 4);
        if (len < 16 || off + len > n) return [...found.values()];
        if (type === NLMSG_DONE) return [...found.values()];
        if (type === NLMSG_ERROR) {
          const err = buf.readInt32LE(off + 16);
          if (err !== 0) throw new Error(`netlink error ${err}`);
          return [...found.values()];
        }
        if (type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE)) {
          const fam = buf.readUInt8(off + 16);
          const family = fam === NFPROTO_IPV4 ? 'ip' : fam === NFPROTO_INET ? 'inet' : undefined;
          if (family) {
            const name = attrString(buf, off + 20, off + len, NFTA_RULE_TABLE);
            if (name !== undefined) found.set(`${family} ${name}`, { family, name });
          }
        }
        off += (len + 3) & ~3;
      }
    }
  } finally {
    c.close(fd);
  }
}

function attrString(buf: Buffer, start: number, end: number, want: number): string | undefined {
  for (let a = start; a + 4 <= end; ) {
    const alen = buf.readUInt16LE(a);
    const atype = buf.readUInt16LE(a + 2) & 0x3fff;
    if (alen < 4) return undefined;
    if (atype === want) {
      const s = buf.subarray(a + 4, a + alen);
      const z = s.indexOf(0);
      return s.subarray(0, z < 0 ? s.length : z).toString('utf8');
    }
    a += (alen + 3) & ~3;
  }
  return undefined;
}
