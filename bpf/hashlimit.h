/* hashlimit.h: the hashlimit match (xt_hashlimit, revision 3 as iptables 1.8.9 sends it) for
 * bpftables.bpf.c: residual op R_HASHLIMIT.
 *
 * State (outside the generations, pinned per namespace, kept across commits):
 * - hltab: table id -> struct hl_tab, the configuration of the rule that created the table
 *          (the kernel's htable keeps its creator's cfg: later rules naming the same table use
 *          its mode, masks, rate, burst, expiry and max) prepared by the loader for this
 *          kernel's HZ, plus the entry count;
 * - hlent: (table id, masked addresses / ports per the table's mode) -> struct hl_ent;
 * - hlnm:  table name -> id, written only by the loader (ids are never reused; a name the
 *          committed ruleset no longer uses is deleted with its table and entries after the
 *          flip, as the kernel frees a table with the last rule naming it).
 *
 * Semantics are hashlimit_mt_common() (kernel 6.x), line for line on the same numbers: times
 * are jiffies (bpf_jiffies64(), the kernel's clock for this match), credits and costs the
 * kernel's (CREDITS_PER_JIFFY for HZ, user2credits(), user2credits_byte(), user2rate*()).
 * The hashing uses the TABLE's mode and masks, the match's own mode decides rate-match, byte
 * cost and inversion, as in the kernel. A packet whose ports the table hashes but cannot be
 * read, or that needs a new entry when the table holds `max` (after collecting expired ones)
 * or the map is full, is dropped without counting (hotdrop).
 *
 * Garbage collection: the kernel frees entries whose `expires` passed from a work item every
 * gc_interval, so an idle entry disappears some time in [expires, expires + gc_interval]. Here
 * an entry counts as collected from expires + gc_interval on (its bucket then starts afresh,
 * as a new kernel entry would); inside that window both outcomes happen in the kernel.
 * Collection happens when such an entry is met and, before refusing a new entry at `max`,
 * in one pass over the map.
 * Updates are not atomic across CPUs (like limit and recent).
 */
#ifndef BPFTABLES_HASHLIMIT_H
#define BPFTABLES_HASHLIMIT_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HL_TABLES);
	__type(key, __u32);
	__type(value, struct hl_tab);
} hltab SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HL_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hl_key);
	__type(value, struct hl_ent);
} hlent SEC(".maps");

struct hl_name {
	char name[HL_NAME_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HL_TABLES);
	__type(key, struct hl_name);
	__type(value, __u32);
} hlnm SEC(".maps");

/* A new entry is built here (and a dry run works on a copy here): off the tight stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hl_ent);
} hltmp SEC(".maps");

struct hl_gc_ctx {
	__u32 table;
	__u32 freed;
	__u64 now;
	__u64 gc;
};

static long hl_gc_cb(void *map, struct hl_key *k, struct hl_ent *v, struct hl_gc_ctx *g)
{
	if (k->table == g->table && g->now >= v->expires + g->gc && !bpf_map_delete_elem(map, k))
		g->freed++;
	return 0;
}

/* rateinfo_recalc() with the table's mode. */
static __always_inline void hl_recalc(struct hl_ent *d, __u64 now, __u32 tm, struct hl_tab *t)
{
	__u64 delta = now - d->prev;
	if (delta == 0)
		return;
	if (tm & HL_RATE_MATCH) {
		/* u32 * int in the kernel: interval * HZ wraps at 32 bits. */
		__u64 interval = (__u32)((__u32)d->w[0] * (__u32)t->hz);
		if (delta < interval)
			return;
		d->prev = now;
		__u64 pw = d->w[1] * interval > delta * d->w[2];
		d->w[0] = (d->w[0] & 0xffffffffULL) | pw << 32;
		d->w[1] = 0;
		return;
	}
	d->prev = now;
	__u64 cap;
	if (tm & HL_BYTES) {
		__u64 tmp = d->w[0];
		d->w[0] += t->cpjb * delta;
		cap = t->cpjb * t->hz;
		if (tmp >= d->w[0]) {
			d->w[0] = cap;
			return;
		}
	} else {
		d->w[0] += delta * t->cpj;
		cap = d->w[1];
	}
	if (d->w[0] > cap)
		d->w[0] = cap;
}

/* The rest of hashlimit_mt_common() with the match's own mode rm. */
static __always_inline int hl_take(struct hl_ent *d, __u32 rm, __u32 len, struct hl_tab *t)
{
	int inv = (rm & HL_INVERT) != 0;
	if (rm & HL_RATE_MATCH) {
		d->w[1] += (rm & HL_BYTES) ? len : 1;
		if (!(d->w[0] >> 32) && d->w[1] <= d->w[3])
			return !inv;
		return inv;
	}
	__u64 cost;
	if (rm & HL_BYTES) {
		__u64 full = t->cpjb * t->hz;
		__u64 tmp = (__u64)((len >> 4) + 1) * d->w[2];
		if (tmp > full)
			tmp = full;
		if (d->w[0] < tmp && d->w[1]) {
			d->w[1]--;
			d->w[0] = full;
		}
		cost = (__u32)tmp;
	} else {
		cost = d->w[2];
	}
	if (d->w[0] >= cost) {
		d->w[0] -= cost;
		return !inv;
	}
	return inv;
}

/* Collects the expired entries of the op's table (before a new entry is refused at `max`).
 * A global function of its own, called from res_step: the for_each frame stays off
 * bpftables_hashlimit's (the tc programs' combined stack is at the limit). */
__noinline int bpftables_hl_gc(struct res_ent *e)
{
	if (!e)
		return 0;
	struct hl_gc_ctx g = { .table = (__u32)e->x, .now = bpf_jiffies64() };
	struct hl_tab *t = bpf_map_lookup_elem(&hltab, &g.table);
	if (!t)
		return 0;
	g.gc = t->gc;
	bpf_for_each_map_elem(&hlent, hl_gc_cb, &g, 0);
	if (g.freed)
		__sync_fetch_and_add(&t->count, -(__s64)g.freed);
	return 0;
}

#define HL_HOTDROP -1
#define HL_FULL -2 /* the table holds `max` entries: collect (bpftables_hl_gc) and retry once */

/* The match's result (inversion applied), or HL_HOTDROP (in a dry run: "the netfilter program
 * decides"; a dry run works on a copy: it neither creates, updates nor collects), or HL_FULL
 * (only when full_ok is 0). The bucket key is built in the scratch slot (x->hk): the stack is
 * tight. A global function: verified once. */
__noinline int bpftables_hashlimit(struct scratch *x, struct res_ent *e, __u32 dry, __u32 full_ok)
{
	if (!x || !e)
		return 0;
	struct pkt *p = &x->p;
	struct hl_key *k = &x->hk;
	__u32 id = (__u32)e->x;
	struct hl_tab *t = bpf_map_lookup_elem(&hltab, &id);
	if (!t)
		return 0;
	__u32 tm = t->mode, rm = e->field;
	__builtin_memset(k, 0, sizeof(*k));
	k->table = id;
	if (tm & HL_DIP)
		k->dst = p->daddr & t->dstmask;
	if (tm & HL_SIP)
		k->src = p->saddr & t->srcmask;
	if (tm & (HL_SPT | HL_DPT)) {
		if (!p->hlpok)
			return HL_HOTDROP;
		if (tm & HL_SPT)
			k->sport = p->hlports >> 16;
		if (tm & HL_DPT)
			k->dport = p->hlports & 0xffff;
	}
	__u64 now = bpf_jiffies64();
	__u32 z = 0;
	struct hl_ent *tmp = bpf_map_lookup_elem(&hltmp, &z);
	if (!tmp)
		return 0;
	struct hl_ent *d = bpf_map_lookup_elem(&hlent, k);
	if (d && now >= d->expires + t->gc) {
		if (!dry && !bpf_map_delete_elem(&hlent, k))
			__sync_fetch_and_add(&t->count, -1);
		d = 0;
	}
	int fresh = 0;
	if (d) {
		if (dry) {
			__builtin_memcpy(tmp, d, sizeof(*tmp));
			d = tmp;
		}
		d->expires = now + t->expire;
		hl_recalc(d, now, tm, t);
	} else {
		if (t->count >= t->max)
			return dry || full_ok ? HL_HOTDROP : HL_FULL;
		tmp->prev = now;
		tmp->expires = now + t->expire;
		tmp->w[0] = t->init[0];
		tmp->w[1] = t->init[1];
		tmp->w[2] = t->init[2];
		tmp->w[3] = t->init[3];
		d = tmp;
		fresh = !dry;
	}
	int m = hl_take(d, rm, p->skblen, t);
	if (fresh) {
		/* The map is full (all tables together): the kernel's allocation failure, a hotdrop.
		 * -EEXIST: another CPU created the entry meanwhile (its packet and this one each
		 * took from a full bucket). */
		long err = bpf_map_update_elem(&hlent, k, tmp, BPF_NOEXIST);
		if (err == -17)
			return m;
		if (err)
			return HL_HOTDROP;
		__sync_fetch_and_add(&t->count, 1);
	}
	return m;
}

#endif
