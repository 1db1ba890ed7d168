/* Map layouts shared by bpftables.bpf.c and the TypeScript encoder (bpf/loader/layout.ts
 * mirrors every constant and struct here; change both together).
 *
 * Rule index space: one per table (classifier/spec.ts). nwords = nrules / 64 bitvector words,
 * nsum = ceil(nwords / 64) summary words (summary bit b of word j <=> word 64*j+b is non-zero).
 *
 * Vector format (in the u64 "pool", a vector never straddles a chunk of POOL_CHUNK words),
 * nsup = ceil(nsum / 64):
 *   [0, nsup)                super words: bit j of word t <=> summary word 64*t+j is non-zero
 *   [nsup, nsup+nsum)        summary words
 *   [nsup+nsum, nsup+2*nsum) rank[j] = number of non-zero words before word 64*j
 *   [nsup+2*nsum, ...)       the non-zero words, packed in increasing word order
 * Word w of a vector = summary bit set ? packed[rank[w>>6] + popcount(sum & below(w&63))] : 0.
 * Pool offset 0 holds the all-zero vector, so an empty set is offset 0.
 */
#ifndef BPFTABLES_H
#define BPFTABLES_H

#define POOL_CHUNK_SHIFT 19
#define POOL_CHUNK (1u << POOL_CHUNK_SHIFT) /* u64 words per pool array value (4 MiB) */
#define MAX_NSUM 1024                         /* 4,194,304 rule indices */

/* Field numbers (bit positions in meta.present; order of classifier FIELD_NAMES). */
#define F_SRC 0
#define F_DST 1
#define F_PROTO 2
#define F_SPORT 3
#define F_DPORT 4
#define F_TCPFLAGS 5
#define F_CTSTATE 6
#define F_IIF 7
#define F_OIF 8
#define NFIELDS 9

/* keymap: one u32 array (per generation) for all integer fields: key -> pool offset of S. */
#define KM_PROTO 0
#define KM_SPORT 512
#define KM_DPORT (KM_SPORT + 65537)
#define KM_TCPFLAGS (KM_DPORT + 65537)
#define KM_CTSTATE (KM_TCPFLAGS + 257)
#define KM_SIZE (KM_CTSTATE + 8)

#define NO_L4 65536
#define NO_TCPFLAGS 256
#define FRAG_BIT 256

/* Rule actions. */
#define A_ACCEPT 1
#define A_DROP 2
#define A_RETURN 3
#define A_JUMP 4
#define A_GOTO 5
#define A_NEXT 6
#define A_LOG 7
#define A_REJECT 8

/* Residual kinds. */
#define R_CMP 1
#define R_EITHER 2
#define R_LIMIT 3
#define R_RANDOM 4
#define R_NTH 5
#define R_RANGE 15 /* continuation entry: [x, y] is one range of the preceding op */
#define R_ADDRTYPE 16 /* addrtype.h */
#define R_RECENT 18 /* recent.h: field = RC_* flags, mask = address mask, x = list | hitcount << 32, y = seconds */
#define R_MAC 20   /* content.h; 16 and 18 are other residual kinds' */
#define R_OWNER 21
#define R_CT 22    /* conntrack's tuple options: like R_CMP over content.h's ct fields */
/* headers.h (30..40 are its range): matches that read the packet past the ports. */
#define R_SCTP 30   /* field = SCTP_CHUNK_MATCH_*, mask = flag entries, x = their chunk types (a byte
                     * each); then 2 entries: the chunk map; then 2 per flag entry: its accepted flags */
#define R_SPI 31    /* esp / ah / ipcomp: x = lo, y = hi */
#define R_TCPOPT 32 /* field 0: tcp --tcp-option x; field 1: tcpmss --mss [x, y] */
#define R_CPU 33    /* x = cpu */
#define R_TIME 34   /* field = weekdays, mask = monthdays, x = date start | stop << 32,
                     * y = day start | day stop << 17 | kerneltz << 34 | contiguous << 35 */
#define R_DCCP 35   /* field: 1 types, 2 option given; mask = types | type `!` << 16 | option `!` << 17;
                     * x = option */
#define R_REALM 36  /* (realm & mask) == x; the tc dry run leaves it to the netfilter program */
#define R_CONNLIMIT 27 /* connlimit.h: field = CL_DADDR, mask = address mask, x = limit, invert = --connlimit-upto */
#define R_CONNLABEL 26 /* connlabel.h: field = 1 for --set, x = the label bit (0..127) */
#define R_CONNBYTES 25 /* conntrack.h: field = what | dir << 4, x = from, y = to (the kernel's, after `!` swapped them) */
#define R_QUOTA 24     /* xt_quota: x = bytes; the remaining budget in resstate (a) */
#define R_HASHLIMIT 23 /* hashlimit.h: field = the rule's HL_INVERT | HL_BYTES | HL_RATE_MATCH, x = table id */
#define R_STRING 37 /* x = search slot: bit x of hdr_info.strhit (string_prep) */
#define STRING_SLOTS 32
#define R_U32 38    /* x = u32 slot: bit x of hdr_info.u32hit (u32_prep) */
#define U32_SLOTS 32

/* ScalarField codes for R_CMP. */
#define S_LEN 0
#define S_TTL 1
#define S_TOS 2
#define S_MARK 3
#define S_PKTTYPE 4
#define S_SADDR 5
#define S_DADDR 6
#define S_SPORT 7
#define S_DPORT 8
#define S_IPFLAGS 9
#define S_L4PROTO 10
#define S_PROTOKEY 11 /* the proto field's key: FRAG_BIT | protocol */
#define S_TCPFLAGS 12
#define S_CTSTATE 13

#define MAX_RES_OPS 16    /* residual ops per rule */
#define MAX_RANGES 64     /* ranges per op */
#define CALL_DEPTH 32     /* jump stack */

/* Conntrack states (classifier/fields.ts CT_*). */
#define CT_INVALID 0
#define CT_NEW 1
#define CT_ESTABLISHED 2
#define CT_RELATED 3
#define CT_UNTRACKED 4

struct meta {
	__u32 nrules;
	__u32 nsum;
	__u32 nchains;
	__u32 present;   /* bit per field */
	__u32 woff[NFIELDS]; /* pool offset of W_f (0 = empty) */
	__u32 atflags;  /* addrtype.h: bit 0 some rule tests the source's type, bit 1 the destination's */
	__u32 needs;     /* NEED_* (content.h): per-packet inputs of mac / owner rules */
	/* src/dst: sorted interval tables in the pool, one u64 per interval:
	 * start address (host order) << 32 | pool offset of the class vector. */
	__u32 aoff[2];
	__u32 an[2];
	/* headers.h (time match): realtime = TAI - tai_off; the kernel's sys_tz minutes west.
	 * Written by the loader at each commit (adjtimex, gettimeofday). */
	__s32 tai_off;
	__s32 tz_west;
	/* headers.h (string match): the search slots in the res map, after every rule's entries */
	__u32 str_off;
	__u32 nstr;
	/* headers.h (u32 match): its slots' programs in the res map, after the string slots */
	__u32 u32_off;
	__u32 u32_len;
	__u32 hz;        /* the kernel's CONFIG_HZ (0: unknown), for conntrack's jiffies timers */
};

struct rule_ent {
	__u32 counter;
	__u32 chain;
	__u32 arg;      /* jump/goto: chain index; log: log slot */
	__u32 res_off;  /* first residual entry */
	__u8 action;
	__u8 nres;      /* residual entries (ops + their ranges) */
	__u16 pad;
};

struct chain_ent {
	__u32 first;
	__u32 end;
	__u32 counter;  /* policy counter (built-ins) */
	__u32 policy;   /* A_ACCEPT / A_DROP for built-ins, 0 for user chains */
};

struct res_ent {
	__u8 kind;
	__u8 field;
	__u8 invert;
	__u8 nranges;
	__u32 mask;
	__u64 x;
	__u64 y;
};

struct counter_val {
	__u64 packets;
	__u64 bytes;
};

struct lpm4_key {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

struct lpmif_key {
	__u32 prefixlen;
	char name[16];
};

struct log_cfg {
	__u8 level;
	__u8 flags;
	__u8 pad[2];
	char prefix[32];
};

/* Ring buffer record for LOG. */
struct log_rec {
	__u64 ts_ns;
	__u32 counter;
	__u8 hook;
	__u8 level;
	__u8 flags;
	__u8 pad;
	char prefix[32];
	char iif[16];
	char oif[16];
	__u32 len;       /* skb->len */
	__u32 caplen;    /* bytes of pkt[] valid */
	__u8 pkt[128];   /* from the IP header */
};

struct cfg {
	__u32 active;  /* active generation 0/1 */
	__u32 ct_on;   /* bit 0: conntrack tracking enabled; bit 1 (CT_ACCT): new entries count
	                * packets / bytes (sticky like net.netfilter.nf_conntrack_acct, which
	                * xt_connbytes turns on) */
};

/* Conntrack. */
struct ct_key {
	__u32 a;      /* lower (addr,port) endpoint first: direction-independent */
	__u32 b;
	__u16 pa;
	__u16 pb;
	__u8 proto;
	__u8 pad[3];
};

struct ct_val {
	__u64 expires_ns;
	__u32 orig_src;   /* host order: the first packet's source (original direction) */
	__u16 orig_sport;
	__u8 state;       /* TCPS_* for tcp */
	__u8 seen_reply;
	/* nf_conn_acct: packets / bytes per direction (0 original, 1 reply), kept only when the
	 * entry was created with accounting on (acct); skb->len per packet, as conntrack counts. */
	__u64 pk[2];
	__u64 by[2];
	__u32 acct;
	__u32 assured;    /* IPS_ASSURED (conntrack.h ct_assures()) */
	__u64 created_ns; /* UDP: a stream after 2 s (nf_conntrack_udp_packet's stream_ts) */
	__u64 labels[2];  /* nf_conn_labels (connlabel.h), when haslabels */
	__u32 haslabels;  /* created while some connlabel rule existed (the labels extension) */
	__u32 tmo_j;      /* ct->timeout: (u32)jiffies of the last refresh + its timeout (meta.hz known) */
};
#define CT_ACCT 2
#define CT_LABELS 4 /* cfg.ct_on: new entries get labels (a connlabel rule exists) */
#define NEED_LABEL 32 /* meta.needs: connlabel_prep() */
#define NEED_ACCT 16 /* meta.needs: connbytes_prep() (conntrack.h); 1..8 are content.h's */

/* Per-packet conntrack inputs (parsed with the headers). */
struct ct_pkt {
	__u8 l4ok;
	__u8 tcp_seq_ok;
	__u8 doff;
	__u8 icmp_type;
	__u16 icmp_id;
	__u8 inner_ok;  /* ICMP error with a readable embedded header */
	__u8 inner_proto;
	__u32 inner_saddr; /* host order */
	__u32 inner_daddr;
	__u16 inner_sport;
	__u16 inner_dport;
};

/* recent.h */
#define RECENT_NSTAMPS 32    /* power of two: the ring index is masked */
#define RECENT_LIST_TOT 100  /* xt_recent ip_list_tot */
#define RECENT_ENTRIES 65536 /* all lists together */
#define RECENT_LISTS 4096
#define RECENT_NAME_LEN 200  /* XT_RECENT_NAME_LEN */

/* res_ent.field of an R_RECENT op. */
#define RC_CMD 7
#define RC_SET 1
#define RC_CHECK 2
#define RC_UPDATE 3
#define RC_REMOVE 4
#define RC_REAP 0x10
#define RC_RTTL 0x20
#define RC_DEST 0x40

struct recent_key {
	__u32 list;
	__u32 addr; /* host order, masked */
};

struct recent_val {
	__u64 stamps[RECENT_NSTAMPS]; /* ns */
	__u64 last;    /* the newest stamp: the list's LRU order */
	__u64 prev;    /* `last` before the newest stamp (0 for a new entry) */
	__u8 ttl;
	__u8 index;    /* next ring slot (1..RECENT_NSTAMPS after a stamp) */
	__u8 nstamps;  /* valid stamps */
	__u8 pad[5];
};

struct recent_list {
	__u32 count;
	__u32 pad;
};

/* The tc dry run's private copy of an entry it touched (recent.h): a dry run sees what its own
 * earlier rules would have done to the lists, without changing them. */
#define RECENT_DRY 2
struct recent_dry {
	struct recent_key key;
	__u32 present;  /* the copy holds an entry (0: none, or removed by the dry run) */
	__u32 pad;
	struct recent_val val;
};

/* hashlimit.h: xt_hashlimit's cfg.mode bits (XT_HASHLIMIT_*). */
#define HL_DIP 0x01
#define HL_DPT 0x02
#define HL_SIP 0x04
#define HL_SPT 0x08
#define HL_INVERT 0x10
#define HL_BYTES 0x20
#define HL_RATE_MATCH 0x40
#define HL_ENTRIES 262144 /* all tables together */
#define HL_TABLES 4096
#define HL_NAME_LEN 256

/* A table's bucket key: addresses host order, masked; ports as the packet has them; fields the
 * table's mode does not hash are 0 (hashlimit_init_dst). */
struct hl_key {
	__u32 table;
	__u32 src;
	__u32 dst;
	__u16 sport;
	__u16 dport;
};

/* dsthash_ent: times in jiffies; w[] is the kernel's rateinfo union, word for word:
 * token bucket {credit, credit_cap, cost}; rate match {interval | prev_window << 32,
 * current_rate, rate, burst}. */
struct hl_ent {
	__u64 prev;
	__u64 expires;
	__u64 w[4];
};

/* A table (xt_hashlimit_htable): the configuration of the rule that created it, prepared by
 * the loader for this kernel's HZ; `count` is the number of entries (the datapath's). */
struct hl_tab {
	__u32 mode;
	__u32 srcmask;   /* address masks, host order */
	__u32 dstmask;
	__u32 max;       /* cfg.max after htable_create() */
	__u64 expire;    /* msecs_to_jiffies(cfg.expire) */
	__u64 gc;        /* msecs_to_jiffies(cfg.gc_interval) */
	__u64 hz;
	__u64 cpj;       /* CREDITS_PER_JIFFY */
	__u64 cpjb;      /* CREDITS_PER_JIFFY_BYTES */
	__u64 init[4];   /* rateinfo_init()'s w[] */
	__u64 count;
};

/* connlimit.h: the list walk's state (in the scratch slot). */
struct cl_key {
	__u32 rule;  /* counterId * MAX_RES_OPS + op */
	__u32 addr;  /* host order, masked */
};
struct cl_walk {
	struct cl_key lk;
	__u32 n;
	__u32 w;       /* entries kept so far */
	__u32 collect; /* entries dropped so far */
	__u32 found;   /* this packet's connection is in the list */
	__u32 cpu;
	__u32 now32;   /* (u32)jiffies */
	__u32 dry;
	__u32 pad;
	__u64 kt;      /* bpf_ktime_get_ns(): ct entries' clock */
};

/* addrtype.h: LC-trie walk state, kept in the scratch slot (struct scratch.at_w); the stack
 * holds only a pointer to it, so the combined stack of tc_in → classify → step → res_step →
 * bpftables_addrtype stays under 512 bytes. Kernel pointers as u64. */
struct at_walk {
	__u64 n;      /* struct key_vector * */
	__u64 pn;
	__u64 fa;     /* struct fib_alias * being scanned (phase 3) */
	__u32 key;    /* the address, host order */
	__u32 cindex;
	__u32 phase;  /* 1 descend, 2 prefix match, 3 backtrace, 4 leaf, 0 done */
	__u32 type;   /* result */
	__u32 ifx;    /* result: ifindex of the route's first nexthop device (0 unknown) */
	__u32 pad;
	__u64 tmp;    /* bpf_probe_read_kernel destination (little-endian: narrower reads land low) */
	__u32 kkey;   /* the key_vector last read */
	__u8 kpos;
	__u8 kbits;
	__u8 kslen;
	__u8 kpad;
};

/* headers.h: what the header matches read, gathered once per packet (meta.needs NEED_HDR). */
#define HDR_FLTYPES 24 /* chunk types whose flags are recorded (flag_info chunk types are 0..21) */
struct hdr_info {
	__u64 sctp_seen[4];               /* chunk types of the chunks before the walk ended */
	__u64 sctp_fl[HDR_FLTYPES][4];    /* per type < HDR_FLTYPES: the flags bytes seen */
	__u64 topt[4];                    /* TCP option kinds tcp_find_option() visits */
	__u32 sctp_bad;   /* the walk ended at an unreadable or zero-length chunk (hotdrop) */
	__u32 spi;
	__u32 spi_ok;     /* the esp / ah / ipcomp header was readable */
	__u32 tcp_ok;     /* tcp header readable, doff >= 5, options readable */
	__u32 mss;        /* 0x10000 | the first well-formed MSS option's value; 0: none */
	__u32 off;        /* walk state */
	__u32 end;
	__u32 l3;
	__u32 oi;
	__u32 optlen;
	/* bpftables_sctp()'s working set (a rule's words, accumulators) */
	__u64 em[32];
	__u64 ftypes;
	__u64 flagged;
	__u32 nf;
	__u32 mtype;
	__u32 good;
	__u32 wrong;
	__u32 allflags;
	__u32 key;
	__u32 dccp_ok;    /* the 12-byte DCCP header was readable */
	__u32 dtype;      /* its type */
	__u32 dopt_ok;    /* doff covers the header and the options are readable (else hotdrop) */
	__u32 realm;      /* skb_dst(skb)->tclassid (NEED_REALM) */
	__s32 tai_off;    /* the generation's meta.tai_off / tz_west (NEED_TIME) */
	__s32 tz_west;
	__u8 obuf[64];     /* TCP options (at most 40 bytes; indices masked with 63) */
	/* string_prep(): one KMP search per slot */
	__u32 strhit;     /* bit s: slot s found its pattern */
	__u32 slot;
	__u32 spos;       /* next text byte (offset from the IP header) */
	__u32 send;       /* end of the text */
	__u32 sq;         /* pattern bytes matched */
	__u32 splen;
	__u32 sicase;
	__u32 sbufpos;    /* offset of sbuf[0]; sbuf holds [sbufpos, sbufpos + sbuflen) */
	__u32 sbuflen;
	__u32 sl3;
	/* u32_prep(): the xt_u32 interpreter's registers */
	__u32 u32hit;
	__u32 uidx;
	__u32 uend;
	__u32 uslot;
	__u32 uslotend;
	__u32 uvm;
	__u64 uat;
	__u32 uval;
	__u32 utmp;
	__u8 spat[128];
	__u8 sfail[128];
	__u8 sbuf[64];
};

#endif
