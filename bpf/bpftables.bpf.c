// SPDX-License-Identifier: GPL-2.0
/* bpftables datapath: the filter table of one network namespace, as a BPF netfilter program
 * attached at NF_INET_LOCAL_IN / FORWARD / LOCAL_OUT (IPv4), classifying with linear
 * bit-vector search (LBVS) over maps filled by bpf/loader/encode.ts.
 *
 * Invariants:
 * - The generation the program reads is cfg.active, read ONCE per packet: every map of that
 *   generation is consistent (the loader fills the inactive one, then flips the word).
 * - Returns only NF_DROP (0) or NF_ACCEPT (1): the verifier's rule for netfilter programs.
 * - Counters are indexed by rule identity (counterId), not by generation: they survive swaps.
 * - All loops are bounded: the classification state machine runs inside one bpf_loop
 *   (MAX_STEPS); residual ops and ranges have constant bounds (bpftables.h).
 * - Map value pointers used inside the loop callback are obtained before the loop and kept in
 *   the caller's stack (struct run); every index into a pool chunk is masked with
 *   POOL_CHUNK - 1 (the encoder never lets a vector straddle a chunk, so masking is a no-op).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "bpftables.h"

#define NF_DROP 0
#define NF_ACCEPT 1
#define MAX_STEPS (1u << 22)

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer, __u32 buffer__szk) __ksym;

char LICENSE[] SEC("license") = "GPL";

/* ---- maps -------------------------------------------------------------------------------- */

struct pool_chunk {
	__u64 w[POOL_CHUNK];
};
struct keymap_val {
	__u32 off[KM_SIZE];
};

#include "shared_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct meta);
} meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct keymap_val);
} keymap SEC(".maps");

struct pool_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct pool_chunk));
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct pool_inner);
} gen_pool SEC(".maps");

struct rules_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct rule_ent));
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct rules_inner);
} gen_rules SEC(".maps");

struct chains_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct chain_ent));
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct chains_inner);
} gen_chains SEC(".maps");

struct res_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct res_ent));
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct res_inner);
} gen_res SEC(".maps");

struct log_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct log_cfg));
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct log_inner);
} gen_log SEC(".maps");

struct lpm4_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct lpm4_key));
	__uint(value_size, sizeof(__u32));
};
struct lpmif_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct lpmif_key));
	__uint(value_size, sizeof(__u32));
};
/* Index 2*gen + 0 = src, 2*gen + 1 = dst. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct lpm4_inner);
} gen_addr SEC(".maps");
/* Index 2*gen + 0 = iif, 2*gen + 1 = oif. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct lpmif_inner);
} gen_ifc SEC(".maps");


/* limit / nth state, keyed by counterId * MAX_RES_OPS + op index (survives swaps). */
struct res_state {
	__u64 a; /* limit: credit (ns); nth: count */
	__u64 b; /* limit: last refill time (ns); nth: initialised flag */
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct res_state);
} resstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} logbuf SEC(".maps");


/* Datapath health counters: [0] step budget exhausted, [1] call stack overflow,
 * [2] malformed IPv4 header, [3] map lookup failure, [4] addrtype lookup step budget (addrtype.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* ---- helpers ----------------------------------------------------------------------------- */

static __always_inline __u64 popcnt64(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* Index of the lowest set bit (x != 0). */
static __always_inline __u32 ctz64(__u64 x)
{
	return popcnt64((x & -x) - 1);
}

static __always_inline void stat_inc(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &i);
	if (v)
		*v += 1;
}

static __always_inline void count(__u32 dry, __u32 id, __u32 bytes)
{
	if (dry)
		return;
	struct counter_val *c = bpf_map_lookup_elem(&counters, &id);
	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* Packet properties (classifier/fields.ts PacketKey). */
struct pkt {
	__u32 saddr; /* host order */
	__u32 daddr;
	__u32 proto;
	__u32 frag;  /* non-first fragment */
	__u32 sport;
	__u32 dport;
	__u32 tcpflags;
	__u32 ctstate;
	__u32 len;   /* IP total length */
	__u32 ttl;
	__u32 tos;
	__u32 mark;
	__u32 pkttype;
	__u32 ipflags;
	__u32 skblen;
	__u32 hook;
	/* content.h: read only when meta.needs asks for them. */
	__u32 macok;
	__u32 skf;
	__u64 mac;
	__u32 uid;
	__u32 gid;
	__u64 groups;  /* address of group_info->gid[] (0: none) */
	__u32 ngroups;
	__u32 ctok;    /* the packet has a connection (R_CT) */
	__u32 ctdir;   /* 1: reply direction */
	__u32 ct_proto;
	__u32 ct_os;   /* original tuple, host order */
	__u32 ct_od;
	__u32 ct_osp;
	__u32 ct_odp;
	__u32 ct_rsp;  /* reply tuple's ports */
	__u32 ct_rdp;
	__u32 ct_status; /* IPS_* bits (conntrack.h ct_status_now()) */
	__u32 ct_expire; /* seconds (conntrack.h ct_expire_now()) */
	/* hashlimit.h: the 4 bytes at the L4 offset + proto_ports_offset() as source port << 16 |
	 * destination port, 0 for protocols without ports; hlpok 0 when they were unreadable. */
	__u32 hlports;
	__u32 hlpok;
	/* conntrack.h, when meta.needs has NEED_ACCT: the connection's counters as the filter
	 * hooks see them (this packet included); cbok 0: no connection or no accounting. */
	__u32 cbok;
	__u32 cbpad;
	__u64 cbpk[2];
	__u64 cbby[2];
};

/* Per-packet state that does not fit the 512-byte stack: a per-CPU scratch slot per nesting
 * level (a LOCAL_OUT run in process context can be interrupted by a softirq running LOCAL_IN
 * on the same CPU; the nested run takes the next slot and finishes before the outer resumes). */
#define NEST_MAX 4
struct scratch {
	struct pkt p;
	struct ct_pkt cp;
	struct ct_key ck;
	__u32 wb[NFIELDS];
	__u32 sb[NFIELDS];
	__u32 present;
	__u32 nsum;
	__u32 nsup;
	__u32 gen;
	/* scan state */
	__u32 chain;
	__u32 k;      /* next rule index to consider */
	__u32 hi;     /* end of the current chain */
	__u32 jnext;  /* next summary word to load */
	__u32 jend;   /* last summary word of the chain (inclusive) */
	__u32 jcur;
	__u32 wcur;
	__u32 sp;
	__u32 verdict; /* 0 drop, 1 accept, 2 undecided */
	__u32 pad;
	__u64 cand;   /* candidate words of summary word jcur */
	__u64 bits;   /* candidate rules of word wcur */
	__u32 stack[CALL_DEPTH];
	__u8 iif[16];
	__u8 oif[16];
	/* Set by the caller before classify(). */
	__u32 l3off;  /* IP header offset in the skb (0 netfilter, 14 tc) */
	__u32 dry;    /* tc pre-pass: no counters, LOG, state updates */
	__u32 ctforce; /* 0, or ctstate + 1 imposed (a REJECT reply: RELATED, as nf_ct_attach) */
	/* Results besides the verdict. */
	__u32 rej;    /* REJECT_HIT | reply code when the verdict came from a REJECT rule */
	__u32 abort;  /* dry run met a statistic match or recent --reap: verdict unknown */
	/* tc (reject.h): route of the packet, kept here to keep the tc frame small. */
	__u32 t_oif;
	__u32 t_saddr; /* network order */
	__u32 t_daddr;
	__u32 t_pad;  /* tc ingress: chain (0 INPUT, 1 FORWARD) */
	__u64 relkey; /* sk_buff address of a packet arriving on lo (reject.h relskb), or 0 */
	__u32 relconsume;
	__u32 rdn;    /* recent.h: dry-run copies in use (reset when a dry run starts) */
	struct recent_dry rdry[RECENT_DRY];
	/* addrtype.h: set by the caller (struct net *, in / out ifindex, 0 = none) ... */
	__u64 at_net;
	__u32 at_in;
	__u32 at_out;
	/* ... and per packet (classify(), when meta.atflags asks): type and route device. */
	__u32 at_pad;
	__u32 at_type[2];
	__u32 at_ifx[2];
	struct at_walk at_w;
	struct hl_key hk; /* hashlimit.h: the bucket key being looked up */
	__u32 ctacct;     /* cfg.ct_on & CT_ACCT: a new entry keeps counters */
	__u32 ctlabels;   /* cfg.ct_on & CT_LABELS: a new entry gets labels */
	__u32 hz;         /* meta.hz */
	/* connlabel.h: the connection whose labels the rules read and --set (lbstate 1: the entry
	 * at lbkey; 2: the flow this packet starts, labels in lbnew until ct_confirm() creates it) */
	struct ct_key lbkey;
	__u32 lbstate;
	__u32 lbpad;
	__u64 lbnew[2];
	struct ct_key clt; /* connlimit.h: the packet's connection */
	struct cl_walk cw; /* connlimit.h: the list walk */
	__u64 netp;   /* struct net of the hook (content.h: the owner's namespace), 0 in tc */
	struct hdr_info h; /* headers.h: per packet, when meta.needs has NEED_HDR */
};
#define REJECT_HIT 0x80000000u

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NEST_MAX);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nest SEC(".maps");

/* Pointers stay on the stack (map value pointers cannot be stored in maps). */
struct run {
	__u64 *w[NFIELDS];
	__u64 *s[NFIELDS];
	struct scratch *x;
	void *skb;    /* struct __sk_buff * (netfilter: the BTF sk_buff) for dynptrs */
	__u64 *chunk0;
};

#include "conntrack.h"
#include "content.h"

/* Inner maps of the packet's generation: ARRAY_OF_MAPS lookups on static maps are inlined by
 * the verifier, so re-fetching them costs less than carrying the pointers on the stack. */
static __always_inline void *gen_map(void *outer, struct scratch *x)
{
	__u32 g = x->gen;
	return bpf_map_lookup_elem(outer, &g);
}

static __always_inline struct chain_ent *chain_at(struct scratch *x, __u32 i)
{
	void *m = gen_map(&gen_chains, x);
	return m ? bpf_map_lookup_elem(m, &i) : 0;
}

static __always_inline struct rule_ent *rule_at(struct scratch *x, __u32 i)
{
	void *m = gen_map(&gen_rules, x);
	return m ? bpf_map_lookup_elem(m, &i) : 0;
}

static __always_inline __u64 vsum(__u64 *c, __u32 base, __u32 j)
{
	return c[(base + j) & (POOL_CHUNK - 1)];
}

static __always_inline __u64 vword(__u64 *c, __u32 base, __u32 nsum, __u32 w)
{
	__u32 j = w >> 6, b = w & 63;
	__u64 s = c[(base + j) & (POOL_CHUNK - 1)];
	if (!((s >> b) & 1))
		return 0;
	__u32 rank = (__u32)c[(base + nsum + j) & (POOL_CHUNK - 1)];
	rank += (__u32)popcnt64(s & ((1ULL << b) - 1));
	return c[(base + 2 * nsum + rank) & (POOL_CHUNK - 1)];
}

/* Start scanning chain `chain` at rule index k. */
static __always_inline int scan_reset(struct run *r, __u32 chain, __u32 k)
{
	struct scratch *x = r->x;
	struct chain_ent *ce = chain_at(x, chain);
	if (!ce)
		return -1;
	x->chain = chain;
	x->k = k;
	x->hi = ce->end;
	x->jnext = k >> 12;
	x->jend = ce->end ? (ce->end - 1) >> 12 : 0;
	x->cand = 0;
	x->bits = 0;
	return 0;
}

static __always_inline __u32 scalar(struct pkt *p, __u8 field)
{
	switch (field) {
	case S_LEN: return p->len;
	case S_TTL: return p->ttl;
	case S_TOS: return p->tos;
	case S_MARK: return p->mark;
	case S_PKTTYPE: return p->pkttype;
	case S_SADDR: return p->saddr;
	case S_DADDR: return p->daddr;
	case S_SPORT: return p->sport;
	case S_DPORT: return p->dport;
	case S_IPFLAGS: return p->ipflags;
	case S_L4PROTO: return p->proto;
	case S_PROTOKEY: return (p->frag ? FRAG_BIT : 0) | p->proto;
	case S_TCPFLAGS: return p->tcpflags;
	case S_CTSTATE: return p->ctstate;
	}
	return 0;
}

#include "recent.h"
#include "headers.h"
#include "hashlimit.h"
#include "connlabel.h"
#include "connlimit.h"

struct res_ctx {
	void *res;
	struct pkt *p;
	struct scratch *x;
	__u32 off;    /* next entry */
	__u32 end;
	__u32 counter;
	__u32 opi;
	__u32 ok;     /* 1 while all ops passed */
	__u32 dry;
	__u32 abort;
	/* A cmp / either op whose ranges are being tested: v1 or v2 within one of them. */
	__u32 rend;   /* end of its ranges (0: none pending) */
	__u32 v1;
	__u32 v2;
	__u32 inv;
};

/* One op's result: invert, fail the rule, go on after its ranges. */
static __always_inline void res_done(struct res_ctx *c, int m, __u32 inv, __u32 next)
{
	if (inv)
		m = !m;
	if (!m)
		c->ok = 0;
	c->off = next;
	c->rend = 0;
	c->opi++;
}

/* One residual entry per call (an op, or one range of the pending cmp / either op): a flat
 * state machine rather than a loop over the ranges inside each op, which the verifier would
 * walk once per range bound for every op kind (most of the program's verification cost). */
#include "addrtype.h"

static long res_step(__u32 i, struct res_ctx *c)
{
	if (c->off >= c->end || !c->ok)
		return 1;
	__u32 idx = c->off;
	struct res_ent *e = bpf_map_lookup_elem(c->res, &idx);
	if (!e) {
		c->ok = 0;
		return 1;
	}
	if (c->rend) {
		/* R_RANGE entry of the pending op; the first range that holds decides. */
		__u64 v1 = c->v1, v2 = c->v2;
		if ((v1 >= e->x && v1 <= e->y) || (v2 >= e->x && v2 <= e->y))
			res_done(c, 1, c->inv, c->rend);
		else if (idx + 1 >= c->rend)
			res_done(c, 0, c->inv, c->rend);
		else
			c->off = idx + 1;
		return 0;
	}
	__u32 n = e->nranges;
	int m = 0;
	struct pkt *p = c->p;
	struct scratch *x = c->x;
	__u32 key = c->counter * MAX_RES_OPS + (c->opi & (MAX_RES_OPS - 1));
	/* R_REALM: a tc pass sees arrivals before routing (no dst) — also left to the netfilter run. */
	if (c->dry && (e->kind == R_RANDOM || e->kind == R_NTH || e->kind == R_REALM)) {
		/* A dry run must not consume state; the verdict is left to the netfilter program. */
		c->abort = 1;
		c->ok = 0;
		return 1;
	}
	switch (e->kind) {
	case R_CMP:
	case R_EITHER:
	case R_CT:
		if (!n)
			break;
		if (e->kind == R_CT && !p->ctok) {
			/* No connection: the match's answer is x (--ctstate given), not inverted. */
			m = e->x ? !e->invert : e->invert;
			break;
		}
		if (e->kind == R_CMP) {
			c->v1 = scalar(p, e->field) & e->mask;
			c->v2 = c->v1;
		} else if (e->kind == R_CT) {
			c->v1 = content_ctval(p, e->field) & e->mask;
			c->v2 = c->v1;
		} else {
			c->v1 = p->sport;
			c->v2 = p->dport;
		}
		c->inv = e->invert;
		c->rend = idx + 1 + n;
		c->off = idx + 1;
		return 0;
	case R_ADDRTYPE:
		m = addrtype_check(x, e);
		break;
	case R_LIMIT: {
		/* iptables' limit: credit in ns, one packet costs x ns, cap y = burst * x; starts full.
		 * Updates are not atomic across CPUs (a race can let one extra packet through). */
		__u64 now = bpf_ktime_get_ns();
		struct res_state *st = bpf_map_lookup_elem(&resstate, &key);
		if (!st) {
			/* A dry run (tc REJECT pre-pass) only peeks: a new bucket is full. */
			if (c->dry) {
				m = 1;
				break;
			}
			struct res_state init = { .a = e->y, .b = now };
			bpf_map_update_elem(&resstate, &key, &init, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&resstate, &key);
			if (!st)
				break;
		}
		__u64 credit = st->a + (now - st->b);
		if (credit > e->y)
			credit = e->y;
		if (c->dry) {
			m = credit >= e->x;
			break;
		}
		st->b = now;
		if (credit >= e->x) {
			credit -= e->x;
			m = 1;
		}
		st->a = credit;
		break;
	}
	case R_RANDOM:
		m = (bpf_get_prandom_u32() & 0x7fffffff) < e->x;
		break;
	case R_MAC:
	case R_OWNER:
		m = content_res(p, e);
		break;
	case R_SCTP:
		m = bpftables_sctp(x, idx);
		break;
	case R_SPI:
		m = x->h.spi_ok ? x->h.spi >= e->x && x->h.spi <= e->y : 2;
		break;
	case R_TCPOPT:
		if (!x->h.tcp_ok)
			m = 2;
		else if (e->field == 0)
			m = (x->h.topt[(e->x >> 6) & 3] >> (e->x & 63)) & 1;
		else
			m = x->h.mss && (x->h.mss & 0xffff) >= e->x && (x->h.mss & 0xffff) <= e->y;
		break;
	case R_CPU:
		m = bpf_get_smp_processor_id() == e->x;
		break;
	case R_TIME:
		m = bpftables_time(x, e);
		break;
	case R_REALM:
		m = (x->h.realm & e->mask) == e->x;
		break;
	case R_STRING:
		m = (x->h.strhit >> (e->x & 31)) & 1;
		break;
	case R_U32:
		m = (x->h.u32hit >> (e->x & 31)) & 1;
		break;
	case R_DCCP:
		/* dccp_mt(): header, then types (a miss ends it), then the option walk. */
		if (!x->h.dccp_ok)
			m = 2;
		else if ((e->field & 1) && ((e->mask >> (x->h.dtype & 15)) & 1) == ((e->mask >> 16) & 1))
			m = 0;
		else if (!(e->field & 2))
			m = 1;
		else if (!x->h.dopt_ok)
			m = 2;
		else
			m = ((x->h.topt[(e->x >> 6) & 3] >> (e->x & 63)) & 1) != ((e->mask >> 17) & 1);
		break;
	case R_NTH: {
		/* xt_statistic: count starts at `packet`; nval = count == every-1 ? 0 : count+1. */
		struct res_state *st = bpf_map_lookup_elem(&resstate, &key);
		if (!st) {
			struct res_state init = { .a = e->y, .b = 1 };
			bpf_map_update_elem(&resstate, &key, &init, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&resstate, &key);
			if (!st)
				break;
		}
		__u64 nval = st->a + 1 >= e->x ? 0 : st->a + 1;
		st->a = nval;
		m = nval == 0;
		break;
	}
	case R_CONNLABEL:
		/* < 0: a dry run would set a label: the netfilter program decides. */
		m = bpftables_connlabel(x, e, c->dry);
		if (m < 0) {
			c->abort = 1;
			c->ok = 0;
			return 1;
		}
		break;
	case R_CONNLIMIT: {
		/* 0: hotdrop (the real run drops uncounted; a dry run leaves it to netfilter). */
		__u32 n = bpftables_cl_begin(x, e, key, c->dry);
		if (n == CL_WALK)
			n = bpftables_cl_walk(x);
		if (!n) {
			c->abort = 1;
			c->ok = 0;
			return 1;
		}
		m = n > e->x;
		break;
	}
	case R_CONNBYTES:
		m = connbytes_res(p, e);
		break;
	case R_QUOTA: {
		/* quota_mt(): a packet that fits takes its length and holds; one that does not
		 * empties the budget and fails. The budget starts at x (per rule, survives swaps). */
		struct res_state *st = bpf_map_lookup_elem(&resstate, &key);
		if (!st) {
			if (c->dry) {
				m = e->x >= p->skblen;
				break;
			}
			struct res_state init = { .a = e->x, .b = 1 };
			bpf_map_update_elem(&resstate, &key, &init, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&resstate, &key);
			if (!st)
				break;
		}
		if (c->dry) {
			m = st->a >= p->skblen;
			break;
		}
		if (st->a >= p->skblen) {
			st->a -= p->skblen;
			m = 1;
		} else {
			st->a = 0;
		}
		break;
	}
	case R_HASHLIMIT:
		/* < 0: hotdrop (the real run drops uncounted; a dry run leaves it to the netfilter
		 * program, which drops it). */
		m = bpftables_hashlimit(x, e, c->dry, 0);
		if (m == HL_FULL) {
			bpftables_hl_gc(e);
			m = bpftables_hashlimit(x, e, 0, 1);
		}
		if (m < 0) {
			c->abort = 1;
			c->ok = 0;
			return 1;
		}
		break;
	case R_RECENT:
		/* < 0: a dry run met a recent op that changes state (see above). */
		/* p is the first member of the scratch slot (struct scratch). */
		m = bpftables_recent((struct scratch *)p, e, c->dry);
		if (m < 0) {
			c->abort = 1;
			c->ok = 0;
			return 1;
		}
		if ((m & (RR_EVICT | RR_REAP)) && !c->dry)  /* rare: a new entry, or --reap */
			bpftables_recent_evict(p, e, m);
		m &= 1;
		break;
	}
	if (m == 2) {
		/* headers.h: hotdrop — the packet is dropped now, the rule uncounted (nft_compat). */
		c->abort = 1;
		c->ok = 0;
		return 1;
	}
	res_done(c, m, e->invert, idx + 1 + n);
	return 0;
}

static __always_inline int residuals_pass(struct run *r, struct rule_ent *re)
{
	if (!re->nres)
		return 1;
	void *res = gen_map(&gen_res, r->x);
	if (!res)
		return 0;
	struct res_ctx c = { .res = res, .p = &r->x->p, .x = r->x, .off = re->res_off, .end = re->res_off + re->nres, .counter = re->counter, .ok = 1, .dry = r->x->dry };
	/* Entries: ops and their ranges (encode.ts caps both). */
	bpf_loop(MAX_RES_OPS * (1 + MAX_RANGES), res_step, &c, 0);
	if (c.abort)
		r->x->abort = 1;
	return c.ok && c.off >= c.end;
}

static __noinline void emit_log(struct run *r, struct rule_ent *re)
{
	struct scratch *x = r->x;
	if (x->dry)
		return;
	__u32 slot = re->arg;
	void *logc = gen_map(&gen_log, x);
	struct log_cfg *lc = logc ? bpf_map_lookup_elem(logc, &slot) : 0;
	struct log_rec *rec = bpf_ringbuf_reserve(&logbuf, sizeof(*rec), 0);
	if (!rec)
		return;
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->ts_ns = bpf_ktime_get_ns();
	rec->counter = re->counter;
	rec->hook = x->p.hook;
	if (lc) {
		rec->level = lc->level;
		rec->flags = lc->flags;
		__builtin_memcpy(rec->prefix, lc->prefix, sizeof(rec->prefix));
	}
	__builtin_memcpy(rec->iif, x->iif, 16);
	__builtin_memcpy(rec->oif, x->oif, 16);
	rec->len = x->p.skblen;
	struct bpf_dynptr dp;
	if (!bpf_dynptr_from_skb((struct __sk_buff *)r->skb, 0, &dp)) {
		/* The first 128 bytes (whole 16-byte pieces) from the IP header, read straight into
		 * the record: one read of a bounded length keeps the verifier to one path. */
		__u32 cap = x->p.skblen, l3 = x->l3off & 0xff;
		__u32 n = (cap < sizeof(rec->pkt) ? cap : sizeof(rec->pkt)) & ~15u;
		asm volatile("" : "+r"(n)); /* keep the bound check below for the verifier */
		if (n && n <= sizeof(rec->pkt) && !bpf_dynptr_read(rec->pkt, n, &dp, l3, 0))
			rec->caplen = n;
	}
	bpf_ringbuf_submit(rec, 0);
}

/* End of the current chain (or RETURN): pop, or the built-in chain's policy. */
static __always_inline int chain_end(struct run *r)
{
	struct scratch *x = r->x;
	if (x->sp > 0) {
		x->sp--;
		__u32 k = x->stack[x->sp & (CALL_DEPTH - 1)];
		__u32 caller = k - 1;
		struct rule_ent *re = rule_at(x, caller);
		if (!re || scan_reset(r, re->chain, k)) {
			x->verdict = NF_DROP;
			return 1;
		}
		return 0;
	}
	__u32 base = x->p.hook;
	struct chain_ent *ce = chain_at(x, base);
	if (!ce) {
		x->verdict = NF_DROP;
		return 1;
	}
	count(x->dry, ce->counter, x->p.skblen);
	x->verdict = ce->policy == A_DROP ? NF_DROP : NF_ACCEPT;
	return 1;
}

/* Whether field f takes part in the AND. A fresh (volatile) load per test: were `present` kept
 * in a register, the verifier would learn each bit at the first loop over the fields, find the
 * second loop's tests decided, mark `present` precise and so explore every combination of
 * fields separately (2^NFIELDS paths, past the 1M-instruction limit). */
static __always_inline __u32 field_on(struct scratch *x, int f)
{
	return (*(volatile __u32 *)&x->present >> f) & 1;
}

/* The rule at the lowest candidate bit of word wcur: residuals, count, action. */
static __always_inline long hit_rule(struct run *r)
{
	struct scratch *x = r->x;
	__u32 b = ctz64(x->bits);
	x->bits &= x->bits - 1;
	__u32 idx = (x->wcur << 6) + b;
	struct rule_ent *re = rule_at(x, idx);
	if (!re)
		return 0;
	if (!residuals_pass(r, re)) {
		if (x->abort) {
			x->verdict = NF_DROP;
			return 1;
		}
		return 0;
	}
	count(x->dry, re->counter, x->p.skblen);
	x->k = idx + 1;
	switch (re->action) {
	case A_ACCEPT:
		x->verdict = NF_ACCEPT;
		return 1;
	case A_REJECT:
		x->rej = REJECT_HIT | (re->arg & 0xffff);
		x->verdict = NF_DROP;
		return 1;
	case A_DROP:
		x->verdict = NF_DROP;
		return 1;
	case A_LOG:
		emit_log(r, re);
		return 0;
	case A_RETURN:
		return chain_end(r);
	case A_JUMP:
		if (x->sp >= CALL_DEPTH) {
			stat_inc(1);
			x->verdict = NF_DROP;
			return 1;
		}
		x->stack[x->sp & (CALL_DEPTH - 1)] = idx + 1;
		x->sp++;
		/* fallthrough */
	case A_GOTO: {
		__u32 target = re->arg;
		struct chain_ent *ce = chain_at(x, target);
		if (!ce || scan_reset(r, target, ce->first)) {
			x->verdict = NF_DROP;
			return 1;
		}
		return 0;
	}
	}
	return 0; /* A_NEXT */
}

/* Candidate words of summary word jcur: AND the lowest one across fields into bits. */
static __noinline void next_word(struct run *r)
{
	struct scratch *x = r->x;
	__u32 nsum = x->nsum;
	__u32 b = ctz64(x->cand);
	x->cand &= x->cand - 1;
	__u32 w = (x->jcur << 6) + b;
	__u64 acc = ~0ULL;
#pragma unroll
	for (int f = 0; f < NFIELDS; f++) {
		if (field_on(x, f) && acc)
			acc &= vword(r->w[f], x->wb[f], nsum, w) | vword(r->s[f], x->sb[f], nsum, w);
	}
	if (w == (x->k >> 6))
		acc &= ~0ULL << (x->k & 63);
	x->wcur = w;
	x->bits = acc;
}

/* The next summary word non-zero in every field (via the super words) into cand. */
static __noinline void next_summary(struct run *r)
{
	struct scratch *x = r->x;
	/* Super summary: bit j of super word t says summary word 64*t+j is non-zero; jump
	 * straight to the next summary word that is non-zero in every field. */
	__u32 jnext = x->jnext, jend = x->jend, nsup = x->nsup;
	__u32 t = jnext >> 6;
	__u64 sup = ~0ULL;
#pragma unroll
	for (int f = 0; f < NFIELDS; f++) {
		if (field_on(x, f))
			sup &= vsum(r->w[f], x->wb[f] - nsup, t) | vsum(r->s[f], x->sb[f] - nsup, t);
	}
	sup &= ~0ULL << (jnext & 63);
	if ((jend >> 6) == t && (jend & 63) != 63)
		sup &= (1ULL << ((jend & 63) + 1)) - 1;
	if (!sup) {
		x->jnext = (t + 1) << 6;
		return;
	}
	__u32 j = (t << 6) + ctz64(sup);
	__u64 acc = ~0ULL;
#pragma unroll
	for (int f = 0; f < NFIELDS; f++) {
		if (field_on(x, f))
			acc &= vsum(r->w[f], x->wb[f], j) | vsum(r->s[f], x->sb[f], j);
	}
	/* Keep only words in [k >> 6, ceil(hi / 64)): a summary word may span chains. */
	__u32 wlo = x->k >> 6, whi = (x->hi + 63) >> 6, base = j << 6;
	if (wlo > base)
		acc &= ~0ULL << ((wlo - base) & 63);
	if (whi < base + 64)
		acc &= (1ULL << ((whi - base) & 63)) - 1;
	x->jcur = j;
	x->jnext = j + 1;
	x->cand = acc;
}

/* One bpf_loop step goes as far as it can: summary word -> candidate word -> rule (the state
 * is the same as with one transition per step; fewer calls and reloads of the scan state). */
static long step(__u32 i, struct run *r)
{
	struct scratch *x = r->x;
	if (!x->bits) {
		if (!x->cand) {
			if (x->k >= x->hi || x->jnext > x->jend)
				return chain_end(r);
			next_summary(r);
			if (!x->cand)
				return 0;
		}
		next_word(r);
		if (!x->bits)
			return 0;
	}
	return hit_rule(r);
}

/* ---- parsing ----------------------------------------------------------------------------- */

/* Bytes of the L4 header that must be readable for ports / type are what the iptables match
 * reads with skb_header_pointer: tcp 20 (struct tcphdr), udp/udplite 8, sctp/dccp 12, icmp 4;
 * a shorter first fragment gets NO_L4 / NO_TCPFLAGS keys. */
/* Fill x->p / x->cp from the packet. Returns 0, or -1 for an unreadable / malformed IPv4 header. */
/* The caller sets x->l3off and p->skblen / mark / pkttype (skblen counts from the IP header). */
static __noinline int parse(void *skb, struct scratch *x)
{
	struct pkt *p = &x->p;
	struct ct_pkt *cp = &x->cp;
	struct bpf_dynptr dp;
	if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, &dp))
		return -1;
	__u32 skblen = p->skblen;
	__u32 l3 = x->l3off & 0xff;
	__builtin_memset(cp, 0, sizeof(*cp));
	/* Fast path, one slice: option-less header, first fragment (or unfragmented) TCP/UDP. */
	if (skblen >= 40) {
		__u8 fb[40];
		__u8 *h = bpf_dynptr_slice(&dp, l3, fb, 40);
		if (h && h[0] == 0x45 && !(h[6] & 0x1f) && !h[7] && (h[9] == 6 || h[9] == 17)) {
			struct iphdr *ih = (struct iphdr *)h;
			p->saddr = bpf_ntohl(ih->saddr);
			p->daddr = bpf_ntohl(ih->daddr);
			p->proto = h[9];
			p->ipflags = bpf_ntohs(ih->frag_off);
			p->frag = 0;
			p->len = bpf_ntohs(ih->tot_len);
			p->ttl = h[8];
			p->tos = h[1];
			p->sport = (__u32)h[20] << 8 | h[21];
			p->dport = (__u32)h[22] << 8 | h[23];
			p->tcpflags = h[9] == 6 ? h[33] : NO_TCPFLAGS;
			p->hlports = p->sport << 16 | p->dport;
			p->hlpok = 1;
			cp->l4ok = 1;
			return 0;
		}
	}
	__u8 ipbuf[20];
	struct iphdr *ip = bpf_dynptr_slice(&dp, l3, ipbuf, sizeof(ipbuf));
	if (!ip)
		return -1;
	if (ip->version != 4 || ip->ihl < 5)
		return -1;
	__u32 thoff = l3 + ip->ihl * 4;
	p->saddr = bpf_ntohl(ip->saddr);
	p->daddr = bpf_ntohl(ip->daddr);
	p->proto = ip->protocol;
	p->ipflags = bpf_ntohs(ip->frag_off);
	p->frag = (p->ipflags & 0x1fff) != 0;
	p->len = bpf_ntohs(ip->tot_len);
	p->ttl = ip->ttl;
	p->tos = ip->tos;
	p->sport = NO_L4;
	p->dport = NO_L4;
	p->tcpflags = NO_TCPFLAGS;
	{
		/* hashlimit_init_dst(): proto_ports_offset() and skb_header_pointer(), fragments too. */
		__u32 pr = p->proto;
		int poff = (pr == 6 || pr == 17 || pr == 33 || pr == 50 || pr == 132 || pr == 136) ? 0 : pr == 51 ? 4 : -1;
		__u8 pb[4] = {};
		p->hlports = 0;
		p->hlpok = 1;
		if (poff >= 0) {
			if (bpf_dynptr_read(pb, 4, &dp, thoff + poff, 0))
				p->hlpok = 0;
			else
				p->hlports = (__u32)pb[0] << 24 | (__u32)pb[1] << 16 | (__u32)pb[2] << 8 | pb[3];
		}
	}
	if (p->frag)
		return 0;
	__u8 l4buf[20];
	if (p->proto == 6) {
		__u8 *t = bpf_dynptr_slice(&dp, thoff, l4buf, 20);
		if (!t)
			return 0;
		cp->l4ok = 1;
		p->sport = (__u32)t[0] << 8 | t[1];
		p->dport = (__u32)t[2] << 8 | t[3];
		p->tcpflags = t[13];
		return 0;
	}
	if (p->proto == 1) {
		__u8 *t = bpf_dynptr_slice(&dp, thoff, l4buf, 4);
		if (!t)
			return 0;
		cp->l4ok = 1;
		p->dport = (__u32)t[0] << 8 | t[1];
		ct_parse_icmp(&dp, thoff, t, cp);
		return 0;
	}
	__u8 *t = 0;
	if (p->proto == 17 || p->proto == 136)
		t = bpf_dynptr_slice(&dp, thoff, l4buf, 8);
	else if (p->proto == 132 || p->proto == 33)
		t = bpf_dynptr_slice(&dp, thoff, l4buf, 12);
	if (!t)
		return 0;
	cp->l4ok = 1;
	p->sport = (__u32)t[0] << 8 | t[1];
	p->dport = (__u32)t[2] << 8 | t[3];
	return 0;
}

/* ---- program ----------------------------------------------------------------------------- */

static __always_inline int setup_vec(struct run *r, void *pool, __u32 f, __u32 woff, __u32 soff)
{
	/* Most vectors live in chunk 0 (looked up once per packet): a lookup in an inner map is
	 * an indirect call (retpoline), so only other chunks pay for one. */
	__u32 cw = woff >> POOL_CHUNK_SHIFT, cs = soff >> POOL_CHUNK_SHIFT;
	__u64 *w = cw ? bpf_map_lookup_elem(pool, &cw) : r->chunk0;
	__u64 *s = cs ? bpf_map_lookup_elem(pool, &cs) : r->chunk0;
	if (!w || !s)
		return -1;
	r->w[f] = w;
	r->s[f] = s;
	r->x->wb[f] = (woff + r->x->nsup) & (POOL_CHUNK - 1);
	r->x->sb[f] = (soff + r->x->nsup) & (POOL_CHUNK - 1);
	return 0;
}

/* Address -> class vector: binary search for the last interval starting at or below addr in
 * a sorted table (the encoder's flattening of the LPM entries; entry 0 starts at 0.0.0.0).
 * 2^20 intervals at most (bounded loop of 21 halvings). */
static __always_inline __u32 addr_class(struct run *r, void *pool, __u32 off, __u32 n, __u32 addr)
{
	__u32 ch = off >> POOL_CHUNK_SHIFT;
	__u64 *c = ch ? bpf_map_lookup_elem(pool, &ch) : r->chunk0;
	if (!c || n == 0)
		return 0;
	__u32 base = off & (POOL_CHUNK - 1);
	/* Invariant: the answer is in [lo, lo + len) (start[0] = 0 <= addr). Branch-free halving
	 * (start <= addr from the sign of the 64-bit difference): the verifier walks one state per
	 * halving instead of forking on every comparison. */
	__u32 lo = 0, len = n;
	for (int i = 0; i < 21; i++) {
		if (len <= 1)
			break;
		__u32 half = len >> 1;
		__u64 e = c[(base + lo + half) & (POOL_CHUNK - 1)];
		__u32 le = 1 - (__u32)(((__u64)addr - (e >> 32)) >> 63);
		lo += half * le;
		len -= half;
	}
	return (__u32)c[(base + lo) & (POOL_CHUNK - 1)];
}

/* Per-field lookups: key -> class vector, plus the field's wildcard vector. Separate frame
 * (noinline) to keep the LPM keys off the main program's stack. */
static __noinline int setup_fields(struct run *r, struct meta *m, struct keymap_val *km, void *pool, __u32 gen)
{
	struct scratch *x = r->x;
	__u32 present = x->present;
	if (present & (1u << F_SRC)) {
		if (setup_vec(r, pool, F_SRC, m->woff[F_SRC], addr_class(r, pool, m->aoff[0], m->an[0], x->p.saddr)))
			return -1;
	}
	if (present & (1u << F_DST)) {
		if (setup_vec(r, pool, F_DST, m->woff[F_DST], addr_class(r, pool, m->aoff[1], m->an[1], x->p.daddr)))
			return -1;
	}
	if (present & (1u << F_PROTO)) {
		__u32 key = (x->p.proto | (x->p.frag ? FRAG_BIT : 0)) & 511;
		if (setup_vec(r, pool, F_PROTO, m->woff[F_PROTO], km->off[KM_PROTO + key]))
			return -1;
	}
	if (present & (1u << F_SPORT)) {
		__u32 key = x->p.sport <= NO_L4 ? x->p.sport : NO_L4;
		if (setup_vec(r, pool, F_SPORT, m->woff[F_SPORT], km->off[KM_SPORT + key]))
			return -1;
	}
	if (present & (1u << F_DPORT)) {
		__u32 key = x->p.dport <= NO_L4 ? x->p.dport : NO_L4;
		if (setup_vec(r, pool, F_DPORT, m->woff[F_DPORT], km->off[KM_DPORT + key]))
			return -1;
	}
	if (present & (1u << F_TCPFLAGS)) {
		__u32 key = x->p.tcpflags <= NO_TCPFLAGS ? x->p.tcpflags : NO_TCPFLAGS;
		if (setup_vec(r, pool, F_TCPFLAGS, m->woff[F_TCPFLAGS], km->off[KM_TCPFLAGS + key]))
			return -1;
	}
	if (present & (1u << F_CTSTATE)) {
		__u32 key = x->p.ctstate & 7;
		if (setup_vec(r, pool, F_CTSTATE, m->woff[F_CTSTATE], km->off[KM_CTSTATE + key]))
			return -1;
	}
	if (present & (1u << F_IIF)) {
		__u32 i = gen * 2;
		void *t = bpf_map_lookup_elem(&gen_ifc, &i);
		struct lpmif_key k = { .prefixlen = 128 };
		__builtin_memcpy(k.name, x->iif, 16);
		__u32 *v = t ? bpf_map_lookup_elem(t, &k) : 0;
		if (setup_vec(r, pool, F_IIF, m->woff[F_IIF], v ? *v : 0))
			return -1;
	}
	if (present & (1u << F_OIF)) {
		__u32 i = gen * 2 + 1;
		void *t = bpf_map_lookup_elem(&gen_ifc, &i);
		struct lpmif_key k = { .prefixlen = 128 };
		__builtin_memcpy(k.name, x->oif, 16);
		__u32 *v = t ? bpf_map_lookup_elem(t, &k) : 0;
		if (setup_vec(r, pool, F_OIF, m->woff[F_OIF], v ? *v : 0))
			return -1;
	}

	return 0;
}

/* OUTPUT REJECT replies on their way to INPUT through lo, keyed by sk_buff: INPUT sees them
 * RELATED (the kernel attaches the original's conntrack to its reply). */
struct rel_val {
	__u64 ts;
	__u32 len;   /* IP total length */
	__u32 proto;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct rel_val);
} relskb SEC(".maps");
#define REL_MAX_NS SEC_NS

/* ctforce for a packet arriving on lo: RELATED if it is a recorded REJECT reply (consume:
 * the netfilter INPUT run deletes the record). */
static __noinline __u32 rel_lookup(__u64 key, struct scratch *x, __u32 consume)
{
	struct rel_val *rv = bpf_map_lookup_elem(&relskb, &key);
	if (!rv)
		return 0;
	__u32 hit = bpf_ktime_get_ns() - rv->ts < REL_MAX_NS && rv->len == x->p.len && rv->proto == x->p.proto;
	if (consume)
		bpf_map_delete_elem(&relskb, &key);
	return hit ? CT_RELATED + 1 : 0;
}

/* Classifies the packet at x->l3off of skb from built-in chain chain0 in generation gen.
 * The caller fills x->iif / oif, x->l3off, x->dry and p->skblen / mark / pkttype. */
static __always_inline int classify(void *skb, struct sk_buff *kskb, struct cfg *cf, struct scratch *x, __u32 chain0, __u32 gen)
{
	struct pkt *p = &x->p;
	p->hook = chain0;
	x->rej = 0;
	x->abort = 0;
	if (parse(skb, x)) {
		/* Unreadable or malformed IPv4 header: the stack validated real packets before the
		 * hooks (ip_rcv), so only crafted test input gets here. Drop. */
		stat_inc(2);
		return NF_DROP;
	}

	gen &= 1;
	struct meta *m = bpf_map_lookup_elem(&meta, &gen);
	struct keymap_val *km = bpf_map_lookup_elem(&keymap, &gen);
	void *pool = bpf_map_lookup_elem(&gen_pool, &gen);
	struct run r = {};
	r.x = x;
	r.skb = skb;
	x->gen = gen;
	if (!m || !km || !pool) {
		stat_inc(3);
		return NF_ACCEPT;
	}
	/* Every field's pointers start at chunk 0 (the verifier cannot tie `present` to which
	 * pointers were set); setup_vec overrides the present fields'. */
	__u32 c0i = 0;
	__u64 *chunk0 = bpf_map_lookup_elem(pool, &c0i);
	if (!chunk0) {
		stat_inc(3);
		return NF_ACCEPT;
	}
	r.chunk0 = chunk0;
#pragma unroll
	for (int f = 0; f < NFIELDS; f++) {
		r.w[f] = chunk0;
		r.s[f] = chunk0;
		x->wb[f] = 0;
		x->sb[f] = 0;
	}
	__u32 needs = m->needs;
	x->hz = m->hz;
	if (needs & (NEED_MAC | NEED_OWNER | NEED_SUPPL | NEED_CT))
		content_prep(kskb, x, needs);
	if (needs & NEED_HDR)
		hdr_prep(skb, x);
	if (needs & NEED_REALM)
		x->h.realm = hdr_realm(kskb);
	if (needs & NEED_STRING)
		string_prep(skb, x, m);
	if (needs & NEED_U32)
		u32_prep(skb, x, m);
	if (needs & NEED_TIME) {
		x->h.tai_off = m->tai_off;
		x->h.tz_west = m->tz_west;
	}
	__u32 present = m->present;
	x->present = present;
	x->nsum = m->nsum;
	x->nsup = (m->nsum + 63) >> 6;
	x->verdict = 2;
	x->sp = 0;

	struct ct_val *ce = 0;
	int ct_new = 0;
	if ((cf->ct_on & 1) && !x->ctforce && x->relkey)
		x->ctforce = rel_lookup(x->relkey, x, x->relconsume);
	if ((cf->ct_on & 1) && x->ctforce)
		p->ctstate = (x->ctforce - 1) & 7;
	else if (cf->ct_on & 1)
		p->ctstate = ct_classify(p, &x->cp, &x->ck, &ce, &ct_new);
	else
		p->ctstate = CT_UNTRACKED;
	if (needs & NEED_CT)
		content_ct(x, ce);
	x->ctacct = cf->ct_on & CT_ACCT;
	x->ctlabels = cf->ct_on & CT_LABELS;
	x->lbnew[0] = 0;
	x->lbnew[1] = 0;
	x->lbstate = 0;
	if (needs & NEED_ACCT)
		connbytes_prep(x, ce, ct_new);
	if (needs & NEED_LABEL)
		connlabel_prep(x, ce, ct_new);

	if (setup_fields(&r, m, km, pool, gen))
		return NF_ACCEPT;
	if (m->atflags & 3)
		addrtype_prep(x, m->atflags);

	struct chain_ent *c0 = chain_at(x, chain0);
	if (!c0 || scan_reset(&r, chain0, c0->first)) {
		stat_inc(3);
		return NF_ACCEPT;
	}
	bpf_loop(MAX_STEPS, step, &r, 0);
	int verdict;
	if (x->verdict == 2) {
		/* Step budget exhausted (cannot happen for loop-free rulesets within MAX_STEPS). */
		stat_inc(0);
		verdict = NF_DROP;
	} else {
		verdict = x->verdict == NF_ACCEPT ? NF_ACCEPT : NF_DROP;
	}
	if ((cf->ct_on & 1) && !x->dry)
		ct_confirm(x, ce, ct_new, verdict);
	return verdict;
}

#include "reject.h"

SEC("netfilter")
int bpftables_filter(struct bpf_nf_ctx *ctx)
{
	__u32 zero = 0;
	struct cfg *cf = bpf_map_lookup_elem(&cfg, &zero);
	if (!cf)
		return NF_ACCEPT;
	/* NF_INET_LOCAL_IN / FORWARD / LOCAL_OUT (1..3) -> built-in chain 0..2, as a range: with
	 * one constant per hook the verifier would walk the inlined classify() three times. */
	__u32 chain0 = ctx->state->hook - 1;
	if (chain0 > 2)
		return NF_ACCEPT;
	__u32 *lvl = bpf_map_lookup_elem(&nest, &zero);
	if (!lvl)
		return NF_ACCEPT;
	__u32 l = *lvl;
	if (l >= NEST_MAX)
		return NF_DROP;
	*lvl = l + 1;
	struct scratch *x = bpf_map_lookup_elem(&scratch, &l);
	int v = NF_DROP;
	if (x) {
		struct sk_buff *skb = ctx->skb;
		/* Device names: direct (PROBE_MEM) loads through the BTF pointers. */
		struct net_device *in = ctx->state->in, *out = ctx->state->out;
		__u64 *iw = (__u64 *)x->iif, *ow = (__u64 *)x->oif;
		iw[0] = 0; iw[1] = 0; ow[0] = 0; ow[1] = 0;
		if (in) {
			iw[0] = *(__u64 *)&in->name[0];
			iw[1] = *(__u64 *)&in->name[8];
		}
		if (out) {
			ow[0] = *(__u64 *)&out->name[0];
			ow[1] = *(__u64 *)&out->name[8];
		}
		x->at_in = in ? in->ifindex : 0;
		x->at_out = out ? out->ifindex : 0;
		/* BPF_PROG_TEST_RUN leaves state->net NULL: the device's namespace is the caller's. */
		x->at_net = (__u64)ctx->state->net;
		if (!x->at_net && in)
			x->at_net = (__u64)in->nd_net.net;
		if (!x->at_net && out)
			x->at_net = (__u64)out->nd_net.net;
		x->l3off = 0;
		x->dry = 0;
		x->ctforce = 0;
		/* A REJECT reply of bpftables_tc_out arrives on lo (reject.h). */
		x->relkey = chain0 == 0 && iw[0] == 0x6f6c && !iw[1] ? (__u64)skb : 0;
		x->relconsume = 1;
		x->netp = (__u64)ctx->state->net;
		x->p.skblen = skb->len;
		x->p.mark = skb->mark;
		x->p.pkttype = BPF_CORE_READ_BITFIELD(skb, pkt_type);
		/* chain0 again as an unknown value (the relkey test above split it into 0 and 1..2,
		 * and classify() would be walked for each). */
		x->p.hook = chain0;
		v = classify(skb, skb, cf, x, *(volatile __u32 *)&x->p.hook, cf->active);
		/* OUTPUT REJECT whose reply the tc egress program sends (reject.h). */
		if (x->p.hook == 2 && v == NF_DROP && x->rej) {
			/* Re-read: `out` kept live across classify() (NULL or not) would double it too. */
			out = *(struct net_device *volatile *)&ctx->state->out;
			if (out && reject_defer(ctx, x, out))
				v = NF_ACCEPT;
		}
	}
	*lvl = l;
	return v;
}

