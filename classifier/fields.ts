// The vocabulary shared by extensions' `compile`, the classifier, the reference matcher and
// the BPF program: which packet properties a rule can constrain, and how.
//
// A rule's constraint on a packet is the AND of
//   (a) per-field constraints ("LBVS fields": looked up once per packet, one bitvector each), and
//   (b) residual checks, evaluated only for the candidate rule the bitvectors pick.
// Anything expressible as "the field's value lies in this set" should be a field constraint;
// only what is not (either-port, stateful matches, non-prefix masks) is residual.

/**
 * LBVS fields and the packet key the BPF program computes for each (all keys are integers):
 * - src, dst: IPv4 address (u32 host order); looked up in an LPM trie.
 * - proto:    (nonFirstFragment ? 256 : 0) | ip protocol; domain 0..511.
 * - sport:    L4 source port for tcp/udp/udplite/sctp/dccp when the packet is not a
 *             non-first fragment and the header is readable; otherwise NO_L4 (65536).
 * - dport:    L4 destination port, same rules; for ICMP the key is type << 8 | code;
 *             otherwise NO_L4 (65536). Aliasing tcp ports with icmp types is harmless
 *             because every rule that constrains dport also constrains proto.
 * - tcpflags: TCP flags byte (header byte 13) for readable first-fragment TCP; otherwise 256.
 * - ctstate:  one of CT_* below (the packet's conntrack state); domain 0..7.
 * - iif, oif: interface name (in/out device; '' where the hook has none); LPM over name bytes.
 */
export type FieldName = 'src' | 'dst' | 'proto' | 'sport' | 'dport' | 'tcpflags' | 'ctstate' | 'iif' | 'oif';

export const FIELD_NAMES: readonly FieldName[] = ['src', 'dst', 'proto', 'sport', 'dport', 'tcpflags', 'ctstate', 'iif', 'oif'];

export const NO_L4 = 65536;
export const NO_TCPFLAGS = 256;
export const FRAG_BIT = 256;

/** Domain sizes of the integer-keyed fields (keys are 0 .. size-1). */
export const FIELD_DOMAIN: Readonly<Record<'proto' | 'sport' | 'dport' | 'tcpflags' | 'ctstate', number>> = {
  proto: 512,
  sport: 65537,
  dport: 65537,
  tcpflags: 257,
  ctstate: 8,
};

// Conntrack states, as the BPF conntrack reports them (one per packet).
export const CT_INVALID = 0;
export const CT_NEW = 1;
export const CT_ESTABLISHED = 2;
export const CT_RELATED = 3;
export const CT_UNTRACKED = 4;

export interface Prefix {
  /** u32 host order, already masked to `len`. */
  addr: number;
  len: number;
}

/**
 * The set of values a rule accepts for one field.
 * - 'prefixes' (src, dst): union of IPv4 prefixes.
 * - 'ranges' (proto, sport, dport, tcpflags, ctstate): union of inclusive [lo, hi] ranges.
 * - 'iface' (iif, oif): one iptables interface pattern ('eth0', 'eth+', '+').
 * `invert` complements the set over the field's whole domain (including NO_L4 / NO_TCPFLAGS
 * keys: callers that must not match those keys when inverted exclude them themselves, e.g.
 * `! --dport 80` is encoded as ranges [0,79],[81,65535], not as an inverted [80,80]).
 */
export type FieldConstraint =
  | { kind: 'prefixes'; prefixes: Prefix[]; invert: boolean }
  | { kind: 'ranges'; ranges: Array<[number, number]>; invert: boolean }
  | { kind: 'iface'; pattern: string; invert: boolean };

/** Scalar packet properties a residual check can compare. */
export type ScalarField =
  | 'len' // IP total length
  | 'ttl'
  | 'tos' // whole TOS byte
  | 'mark' // skb->mark
  | 'pkttype' // 0 host, 1 broadcast, 2 multicast, 3 otherhost (PACKET_* values)
  | 'saddr'
  | 'daddr'
  | 'sport' // with the same NO_L4 convention as the field
  | 'dport'
  | 'ipflags' // IP flags+fragment offset word (frag_off, host order)
  | 'l4proto'
  // The keys of the LBVS fields of the same names (so a field constraint can be checked as a
  // residual `cmp`, in rule order, after a stateful match: see compile.ts).
  | 'protokey' // the proto field's key: (nonFirstFragment ? FRAG_BIT : 0) | protocol
  | 'tcpflags'
  | 'ctstate';

/**
 * Residual checks, in the order given; all must pass. Each may be inverted.
 * - cmp:     (value & mask) within any of ranges.
 * - either:  sport OR dport within ranges (multiport --ports); both use NO_L4 convention.
 * - limit:   token bucket (iptables' limit match: avg rate as packets per `perSeconds`, burst).
 *            `slot` is assigned by the classifier (one bucket per rule instance).
 * - random:  statistic --mode random; matches with probability p (0..1).
 * - nth:     statistic --mode nth --every n --packet p (per-rule counter slot).
 * - recent:  xt_recent (the recent match): per-namespace lists of addresses with the times
 *            they were seen, shared by name across rules and rulesets. `cmd` is what the
 *            match does (set / rcheck / update / remove); `side` picks the source or destination
 *            address, masked with `mask`; `seconds` (0 = any age), `hitcount` (0 = one),
 *            `reap`, `rttl` as the kernel's options. See classifier/recent.ts for the model.
 * - addrtype: the route type (RTN_*) of the source or destination address is in `types`
 *            (bit 1 << RTN_*); with `dev` 'in' / 'out' a type that came from a route whose
 *            device is not the packet's in / out device counts as UNICAST (xt_addrtype
 *            --limit-iface-in / -out). Packet facts: PacketKey.addrtype.
 * - mac:     the Ethernet source address equals `mac` (48-bit integer) — xt_mac: a packet
 *            without one (PacketKey.mac undefined) fails whatever `invert` says.
 * - owner:   xt_owner (revision 1) over PacketKey.sock, as one check: `invert` is always false;
 *            each option carries its own inversion (owner_mt() in the kernel).
 * - hashlimit: xt_hashlimit (revision 3): per-flow token buckets in the table `name`, shared by
 *            name across rules and rulesets; a table keeps the configuration of the rule that
 *            created it. `cfg` is this rule's (xt_hashlimit's hashlimit_cfg3); the kernel's
 *            XT_HASHLIMIT_INVERT in cfg.mode is the match's inversion (`invert` stays false).
 * - connbytes: xt_connbytes over the connection's accounting (this packet included); `from` /
 *            `to` are the kernel's count.from / count.to (decimal u64) after `!` swapped them:
 *            to >= from tests [from, to], else value < to || value > from. No connection: no
 *            match (the oracle decides: PacketKey has no counters).
 * - connlabel: xt_connlabel: label `bit` of the packet's connection (false without one or
 *            without labels); with `set` an unset bit is set and the check holds (stateful).
 * - connlimit: xt_connlimit: the number of connections this rule has seen from the packet's
 *            source (daddr: destination) address & `mask` that are still open, this packet's
 *            included, above `limit` (`invert`: --connlimit-upto). Stateful (it records them).
 * - quota:   xt_quota: the rule's byte budget (`bytes`, decimal u64); a packet that fits takes
 *            its length from it and holds, one that does not empties it and fails.
 *
 * limit, nth and recent's set / update / remove / --reap change state when evaluated: they are
 * STATEFUL, and the classifier keeps every constraint of the rule's later matches after them
 * (compile.ts), as iptables evaluates matches left to right. */
export type ResidualCheck =
  | { kind: 'cmp'; field: ScalarField; mask: number; ranges: Array<[number, number]>; invert: boolean }
  | { kind: 'either'; ranges: Array<[number, number]>; invert: boolean }
  | { kind: 'limit'; ratePerSec: number; burst: number; invert: boolean }
  | { kind: 'random'; probability: number; invert: boolean }
  | { kind: 'nth'; every: number; packet: number; invert: boolean }
  | {
      kind: 'recent';
      cmd: 'set' | 'check' | 'update' | 'remove';
      name: string;
      side: 'source' | 'dest';
      mask: number;
      seconds: number;
      hitcount: number;
      reap: boolean;
      rttl: boolean;
      invert: boolean;
    }
  | { kind: 'addrtype'; addr: 'src' | 'dst'; types: number; dev: 'any' | 'in' | 'out'; invert: boolean }
  | { kind: 'mac'; mac: number; invert: boolean }
  | { kind: 'owner'; owner: OwnerCheck; invert: false }
  | { kind: 'hashlimit'; name: string; cfg: HashlimitCfg; invert: false }
  | { kind: 'quota'; bytes: string; invert: boolean }
  | { kind: 'connlabel'; bit: number; set: boolean; invert: boolean }
  | { kind: 'connlimit'; limit: number; mask: number; daddr: boolean; invert: boolean }
  | { kind: 'connbytes'; what: 'packets' | 'bytes' | 'avgpkt'; dir: 'original' | 'reply' | 'both'; from: string; to: string; invert: false }
  | { kind: 'ct'; field: CtField; mask: number; ranges: Array<[number, number]>; invert: boolean; untracked: boolean }
  | SctpChunksCheck
  | { kind: 'spi'; proto: 'esp' | 'ah' | 'ipcomp'; lo: number; hi: number; invert: boolean }
  | { kind: 'tcpoption'; option: number; invert: boolean }
  | { kind: 'tcpmss'; lo: number; hi: number; invert: boolean }
  | { kind: 'cpu'; cpu: number; invert: boolean }
  | TimeCheck
  | DccpCheck
  | { kind: 'realm'; id: number; mask: number; invert: boolean }
  | StringCheck
  | { kind: 'u32'; tests: U32Test[]; invert: boolean };

/** One xt_u32 test: a location (the first number, then operator + number pairs) and its value ranges. */
export interface U32Test {
  ops: Array<{ op: 'start' | '&' | '<<' | '>>' | '@'; number: number }>;
  ranges: Array<[number, number]>;
}

/** xt_string: `pattern` within the packet's bytes [from, min(to, skb->len)) from the IP header
 * (skb_find_text), with the kernel's toupper() on both sides when `icase`. */
export interface StringCheck {
  kind: 'string';
  pattern: number[];
  from: number;
  to: number;
  icase: boolean;
  invert: boolean;
}

/**
 * xt_dccp's --dccp-types / --dccp-option (after the ports, which are fields): the header must be
 * readable (else hotdrop); the type's bit in `types.mask` XOR its `!`; then dccp_find_option()
 * XOR its `!` (doff too small or options truncated: hotdrop). The check's own `invert` is false.
 */
export interface DccpCheck {
  kind: 'dccp';
  types?: { mask: number; invert: boolean };
  option?: { option: number; invert: boolean };
  invert: false;
}

/** xt_time's xt_time_info (seconds since the epoch, seconds of the day, bit masks). */
export interface TimeCheck {
  kind: 'time';
  dateStart: number;
  dateStop: number;
  dayStart: number;
  dayStop: number;
  /** Bits 1..7: Monday..Sunday. */
  weekdays: number;
  /** Bits 1..31. */
  monthdays: number;
  /** --kerneltz: shift by the kernel's sys_tz minutes west. */
  kerneltz: boolean;
  contiguous: boolean;
  invert: false;
}

/**
 * Header checks that read the packet past the ports (classifier/headers.ts holds their kernel
 * semantics over PacketKey.l4):
 * - sctpchunks: xt_sctp's chunk walk (--chunk-types any / all / only, with flag_info).
 * - spi:        xt_esp / ipt_ah / xt_ipcomp: the SPI (ipcomp: the 16-bit CPI) within [lo, hi].
 * - tcpoption:  xt_tcpudp's tcp_find_option (tcp --tcp-option).
 * - tcpmss:     xt_tcpmss: the first well-formed MSS option within [lo, hi] (no MSS: no match).
 * - cpu:        xt_cpu: the CPU processing the packet (PacketKey.cpu).
 * The first four can HOTDROP (residualMayHotdrop): a truncated header drops the packet at once,
 * the rule uncounted, whatever `invert` says (nft_compat: hotdrop → NF_DROP before the verdict).
 */
export interface SctpChunksCheck {
  kind: 'sctpchunks';
  type: 'any' | 'all' | 'only';
  /** Chunk types in the chunk map. */
  map: number[];
  /** xt_sctp_flag_info: chunk flags of chunks whose TYPE equals `chunktype` must satisfy (flags & mask) == flag. */
  flags: Array<{ chunktype: number; flag: number; mask: number }>;
  invert: boolean;
}

/**
 * Properties of the packet's connection (PacketKey.ct) for the conntrack match's tuple options
 * ('ct' checks: (value & mask) within ranges, like cmp). Without a connection (INVALID /
 * UNTRACKED) xt_conntrack returns "--ctstate was given" before testing them: `untracked` is
 * that result, `invert` not applied. repl* are the reversed orig* (no NAT).
 */
export type CtField = 'proto' | 'origsrc' | 'origdst' | 'replsrc' | 'repldst' | 'origsrcport' | 'origdstport' | 'replsrcport' | 'repldstport' | 'dir' | 'status' | 'expire';

export interface PacketConn {
  proto: number;
  origSrc: number;
  origDst: number;
  /** Ports of the original tuple (ICMP: id and type << 8 | code). */
  origSport: number;
  origDport: number;
  /** Reply-tuple ports when they are not the reversed originals (ICMP: id, reply type << 8). */
  replSport: number;
  replDport: number;
  /** The packet travels in the reply direction. */
  reply: boolean;
  /** ct->status at the filter hooks (IPS_* EXPECTED 1, SEEN_REPLY 2, ASSURED 4, CONFIRMED 8); absent: 0. */
  status?: number;
  /** Seconds left on the connection's timer at the filter hooks (--ctexpire); absent: 0. */
  expire?: number;
}

export function ctValue(c: PacketConn, f: CtField): number {
  switch (f) {
    case 'proto':
      return c.proto;
    case 'origsrc':
    case 'repldst':
      return c.origSrc;
    case 'origdst':
    case 'replsrc':
      return c.origDst;
    case 'origsrcport':
      return c.origSport;
    case 'origdstport':
      return c.origDport;
    case 'replsrcport':
      return c.replSport;
    case 'repldstport':
      return c.replDport;
    case 'dir':
      return c.reply ? 1 : 0;
    case 'status':
      return c.status ?? 0;
    case 'expire':
      return c.expire ?? 0;
  }
}

/** xt_hashlimit's struct hashlimit_cfg3 as the rule gives it (iptables fills the defaults). */
export interface HashlimitCfg {
  /** XT_HASHLIMIT_*: HASH_DIP 1, HASH_DPT 2, HASH_SIP 4, HASH_SPT 8, INVERT 16, BYTES 32, RATE_MATCH 64. */
  mode: number;
  /** Packet mode: period in 1/1000000 s; byte mode: the cost (bytes_to_cost). */
  avg: number;
  /** Packets, or byte-mode quanta (0: none given). */
  burst: number;
  /** 0: the kernel's default. */
  size: number;
  max: number;
  /** Milliseconds. */
  gcInterval: number;
  expire: number;
  srcmask: number;
  dstmask: number;
  /** Seconds (rate match). */
  interval: number;
}

/** The owner match's options (uid / gid inclusive ranges; suppl: --suppl-groups). */
export interface OwnerCheck {
  uid?: [number, number];
  uidInv?: boolean;
  gid?: [number, number];
  gidInv?: boolean;
  socket?: boolean;
  socketInv?: boolean;
  suppl?: boolean;
}

/** The socket a locally generated packet belongs to (skb_to_full_sk), as xt_owner sees it. */
export interface PacketSocket {
  /** Whether the socket has a file (kernel sockets have none); uid / gid then come from its f_cred. */
  file: boolean;
  /** fsuid / fsgid of the file's credentials. */
  uid: number;
  gid: number;
  /** Supplementary groups of the file's credentials. */
  groups: number[];
}

/** Route types (the kernel's RTN_* numbers) that the addrtype match names. */
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_MULTICAST = 5;

/**
 * What inet_dev_addr_type() answers for the packet's addresses: the type (RTN_*) and, when it
 * came from a route of the namespace's local table, that route's device name (absent for the
 * fixed classes 0.0.0.0/8, 255.255.255.255 → BROADCAST, 224.0.0.0/4 → MULTICAST, and for
 * UNICAST from no route). The BPF program looks these up per packet (bpf/addrtype.h).
 */
export interface AddrTypeFacts {
  src: number;
  dst: number;
  srcDev?: string;
  dstDev?: string;
}

/** Whether evaluating the check can drop the packet at once (a truncated header: the kernel's hotdrop). */
export function residualMayHotdrop(c: ResidualCheck): boolean {
  return c.kind === 'sctpchunks' || c.kind === 'spi' || c.kind === 'tcpoption' || c.kind === 'tcpmss' || c.kind === 'dccp';
}

/** Whether evaluating the check changes state (see ResidualCheck). */
export function residualIsStateful(c: ResidualCheck): boolean {
  return c.kind === 'limit' || c.kind === 'nth' || c.kind === 'hashlimit' || c.kind === 'quota' || (c.kind === 'connlabel' && c.set) || c.kind === 'connlimit' || (c.kind === 'recent' && (c.cmd !== 'check' || c.reap));
}

/** What one match (or the rule's base part) contributes. Several are intersected. */
export interface CompiledMatch {
  fields?: Partial<Record<FieldName, FieldConstraint>>;
  residual?: ResidualCheck[];
  /**
   * Set when the datapath cannot enforce this match; the CLI then refuses the rule with this
   * reason (exit 1) unless model-only mode is on. Never silently ignore a match.
   */
  unsupported?: string;
}

/** A packet as the classifier, the reference matcher and the BPF program see it. */
export interface PacketKey {
  src: number;
  dst: number;
  /** IP protocol number. */
  proto: number;
  /** True for second and further fragments (fragment offset != 0). */
  nonFirstFragment: boolean;
  /** Ports (or NO_L4). */
  sport: number;
  /** Port, ICMP type << 8 | code, or NO_L4. */
  dport: number;
  tcpflags: number;
  ctstate: number;
  iif: string;
  oif: string;
  len: number;
  ttl: number;
  tos: number;
  mark: number;
  pkttype: number;
  ipflags: number;
  /** Route types of src / dst; absent: both UNICAST, from no route. */
  addrtype?: AddrTypeFacts;
  /**
   * Ethernet source address (48-bit integer) when the packet has an Ethernet header as xt_mac
   * requires (in device of type ARPHRD_ETHER, mac header set); undefined otherwise (loopback,
   * locally generated packets).
   */
  mac?: number;
  /** The owning full socket of this namespace; undefined: none (xt_owner's "no socket"). */
  sock?: PacketSocket;
  /** The packet's connection; undefined when it has none (INVALID, UNTRACKED). */
  ct?: PacketConn;
  /**
   * The packet from the transport header (IP header length, ihl * 4) to its end (skb->len),
   * for the header checks (sctpchunks, spi, tcpoption, tcpmss); absent: no bytes.
   */
  l4?: Uint8Array;
  /** The processing CPU (cpu match); absent: 0. */
  cpu?: number;
  /** Real time when the packet is classified (seconds since the epoch) and the kernel's sys_tz
   * minutes west (time match); absent: 0 and 0. */
  now?: { sec: number; tzMinutesWest: number };
  /** The whole packet from the IP header to skb->len (string match); absent: no bytes. */
  pkt?: Uint8Array;
  /** The routing realm of the packet's route (dst->tclassid; realm match); absent: 0. */
  realm?: number;
}
