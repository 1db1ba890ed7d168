// Mirrors bpf/bpftables.h: constants, struct sizes and field offsets of the maps the loader
// writes. Any change here must be made there too (and vice versa).
import type { CtField, FieldName, ScalarField } from '../../classifier/fields.ts';

export const POOL_CHUNK_SHIFT = 19;
export const POOL_CHUNK = 1 << POOL_CHUNK_SHIFT; // u64 words per pool chunk
export const MAX_NSUM = 1024;

export const FIELD_NUM: Readonly<Record<FieldName, number>> = {
  src: 0,
  dst: 1,
  proto: 2,
  sport: 3,
  dport: 4,
  tcpflags: 5,
  ctstate: 6,
  iif: 7,
  oif: 8,
};
export const NFIELDS = 9;

export const KM_PROTO = 0;
export const KM_SPORT = 512;
export const KM_DPORT = KM_SPORT + 65537;
export const KM_TCPFLAGS = KM_DPORT + 65537;
export const KM_CTSTATE = KM_TCPFLAGS + 257;
export const KM_SIZE = KM_CTSTATE + 8;
export const KM_BASE: Readonly<Record<'proto' | 'sport' | 'dport' | 'tcpflags' | 'ctstate', number>> = {
  proto: KM_PROTO,
  sport: KM_SPORT,
  dport: KM_DPORT,
  tcpflags: KM_TCPFLAGS,
  ctstate: KM_CTSTATE,
};

export const A_ACCEPT = 1;
export const A_DROP = 2;
export const A_RETURN = 3;
export const A_JUMP = 4;
export const A_GOTO = 5;
export const A_NEXT = 6;
export const A_LOG = 7;
export const A_REJECT = 8;

export const R_CMP = 1;
export const R_EITHER = 2;
export const R_LIMIT = 3;
export const R_RANDOM = 4;
export const R_NTH = 5;
export const R_ADDRTYPE = 16;
export const R_RANGE = 15;
export const R_RECENT = 18;

// recent.h
export const RC_CMD: Readonly<Record<'set' | 'check' | 'update' | 'remove', number>> = { set: 1, check: 2, update: 3, remove: 4 };
export const RC_REAP = 0x10;
export const RC_RTTL = 0x20;
export const RC_DEST = 0x40;
export const RECENT_NSTAMPS = 32;
export const RECENT_NAME_LEN = 200;
export const RECENT_KEY_SIZE = 8; // list, addr
export const RECENT_LIST_SIZE = 8; // count, pad

/** -m mac / -m owner (bpf/content.h). 16 and 18 belong to other residual kinds. */
export const R_MAC = 20;
export const R_OWNER = 21;
export const R_CT = 22;
/** hashlimit.h: field = the rule's mode bits HL_INVERT | HL_BYTES | HL_RATE_MATCH, x = table id. */
export const R_HASHLIMIT = 23;
/** quota: x = the budget in bytes; state in resstate like limit. */
export const R_QUOTA = 24;
/** connbytes (conntrack.h): field = what | dir << 4, x = from, y = to. */
export const R_CONNBYTES = 25;
/** connlabel (connlabel.h): field = --set, x = bit; cfg.ct_on CT_LABELS; meta.needs NEED_LABEL. */
export const R_CONNLABEL = 26;
/** connlimit (connlimit.h): field = 1 for the destination, mask, x = limit; lists in clist. */
export const R_CONNLIMIT = 27;
export const CL_KEY_SIZE = 8; // rule op, addr
export const CT_LABELS = 4;
export const NEED_LABEL = 32;
/** cfg.ct_on bit: conntrack accounting (sticky). meta.needs bit for connbytes_prep(). */
export const CT_ACCT = 2;
export const NEED_ACCT = 16;
export const HL_RULE_MODE = 0x10 | 0x20 | 0x40;
export const HL_BYTES = 0x20;
export const HL_RATE_MATCH = 0x40;
export const HL_NAME_LEN = 256;
export const HL_KEY_SIZE = 16; // table, src, dst, sport u16, dport u16
/** struct hl_tab: mode, srcmask, dstmask, max (u32); expire, gc, hz, cpj, cpjb, init[4], count (u64). */
export const HL_TAB_SIZE = 16 + 8 * 10;
/** R_CT's field codes (bpf/content.h CTF_*). */
export const CT_FIELD_NUM: Readonly<Record<CtField, number>> = {
  proto: 0,
  origsrc: 1,
  origdst: 2,
  replsrc: 3,
  repldst: 4,
  origsrcport: 5,
  origdstport: 6,
  replsrcport: 7,
  repldstport: 8,
  dir: 9,
  status: 10,
  expire: 11,
};

/** meta.needs: per-packet inputs the generation's rules read (bpf/content.h NEED_*). */
export const NEED_MAC = 1;
export const NEED_OWNER = 2;
export const NEED_SUPPL = 4;
export const NEED_CT = 8;
/** Header matches (bpf/headers.h; residual kinds 30..40, need bits from 24). */
export const R_SCTP = 30;
export const R_SPI = 31;
export const R_TCPOPT = 32;
export const R_CPU = 33;
export const R_TIME = 34;
export const R_DCCP = 35;
export const R_REALM = 36;
export const NEED_REALM = 1 << 26;
export const R_STRING = 37;
export const NEED_STRING = 1 << 27;
/** Distinct string checks per generation (each searched per packet; bpf/headers.h). */
export const STRING_SLOTS = 32;
export const R_U32 = 38;
export const NEED_U32 = 1 << 28;
export const U32_SLOTS = 32;
export const NEED_HDR = 1 << 24;
export const NEED_TIME = 1 << 25;
/** R_SCTP's field: xt_sctp's SCTP_CHUNK_MATCH_*. */
export const SCTP_MATCH_TYPE = { any: 1, all: 2, only: 4 } as const;
/** Chunk types whose flags the program records (bpf/bpftables.h HDR_FLTYPES). */
export const HDR_FLTYPES = 24;
/** R_OWNER's option bits (xt_owner's XT_OWNER_*). */
export const OWNER_UID = 1;
export const OWNER_GID = 2;
export const OWNER_SOCKET = 4;
export const OWNER_SUPPL = 8;

export const SCALAR_NUM: Readonly<Record<ScalarField, number>> = {
  len: 0,
  ttl: 1,
  tos: 2,
  mark: 3,
  pkttype: 4,
  saddr: 5,
  daddr: 6,
  sport: 7,
  dport: 8,
  ipflags: 9,
  l4proto: 10,
  protokey: 11,
  tcpflags: 12,
  ctstate: 13,
};

export const MAX_RES_OPS = 16;
export const MAX_RANGES = 64;
export const CALL_DEPTH = 32;

// struct sizes (bytes)
export const META_SIZE = 104; // nrules, nsum, nchains, present, woff[9], atflags, needs, aoff[2], an[2], tai_off, tz_west, str_off, nstr, u32_off, u32_len, hz
/** meta.tai_off / tz_west (headers.h, time match): written by the loader at each commit. */
export const META_TAI_OFF = 76;
export const META_TZ_WEST = 80;
/** meta.str_off / nstr: the string match's search slots in the res map (headers.h). */
export const META_STR_OFF = 84;
export const META_NSTR = 88;
/** meta.u32_off / u32_len: the u32 match's slot programs in the res map (headers.h). */
export const META_U32_OFF = 92;
export const META_U32_LEN = 96;
export const RULE_SIZE = 20; // counter, chain, arg, res_off, action u8, nres u8, pad u16
export const CHAIN_SIZE = 16; // first, end, counter, policy
export const RES_SIZE = 24; // kind, field, invert, nranges u8; mask u32; x u64; y u64
export const LOGCFG_SIZE = 36; // level, flags, pad[2], prefix[32]
export const COUNTER_SIZE = 16; // packets, bytes
export const CFG_SIZE = 8; // active, ct_on
export const LPM4_KEY_SIZE = 8; // prefixlen, addr (network order)
export const LPMIF_KEY_SIZE = 20; // prefixlen, name[16]
export const LOG_REC_SIZE = 8 + 4 + 4 + 32 + 16 + 16 + 4 + 4 + 128;

export const NO_COUNTER = 0xffffffff;
