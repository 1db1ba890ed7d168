/* recent.h: the recent match (xt_recent) for bpftables.bpf.c: residual op R_RECENT.
 *
 * State (outside the generations, so it survives every commit; pinned per namespace like the
 * other maps, so it is per network namespace as the kernel's lists are):
 * - recent:   (list id, masked address) -> entry. The address is host order, masked with the
 *             op's mask. One entry per address: a lookup with --rttl only matches entries of
 *             the same TTL (or TTL 0), and --set (the only command that creates entries) may
 *             not carry --rttl, as in the kernel, so two entries for one address never exist.
 * - recentls: list id -> number of entries (ip_list_tot = RECENT_LIST_TOT per list: the
 *             oldest entry, by last update, is evicted for a new one, as the kernel's LRU list).
 * - recentnm: list name -> list id; written only by the loader, which gives a name an id the
 *             first time a ruleset names it (ids are never reused) and deletes the name, its
 *             entries and its count when a committed ruleset no longer names it (the kernel
 *             frees a table with its last rule). The datapath never reads it.
 *
 * Semantics follow recent_mt() (net/netfilter/xt_recent.c, kernel 6.x):
 * - entries keep RECENT_NSTAMPS time stamps in a ring (index wraps at RECENT_NSTAMPS): the
 *   kernel's nstamps_max_mask is roundup_pow_of_two(ip_pkt_list_tot = 20) - 1 = 31 for hit
 *   counts below 20 (32 for up to 32: the classifier refuses larger hit counts);
 * - the TTL is the IP header's, plus one at FORWARD (the kernel adds one when there is an out
 *   device and no socket; at OUTPUT packets of local sockets have one);
 * - set: no entry -> create; entry -> new stamp. Matches.
 *   rcheck / update: matches when `hitcount` (at least one) stamps are younger than `seconds`
 *   (any age when 0); --reap then removes the list's oldest entry when its last stamp is older
 *   than `seconds` (not when that is this entry and it is about to be updated); update adds a
 *   stamp when the result, after `!`, is true. remove: deletes the entry and matches.
 *   Without an entry only set matches (before `!`).
 * Time stamps are bpf_ktime_get_ns() (the kernel's are jiffies; the window is the same).
 * Updates are not atomic across CPUs (like the limit match): two CPUs updating one entry at
 * the same instant may lose a stamp, and the per-list count may drift by the same race.
 */
#ifndef BPFTABLES_RECENT_H
#define BPFTABLES_RECENT_H

/* Constants and the entry layout: bpftables.h (struct scratch holds dry-run copies). */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECENT_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct recent_key);
	__type(value, struct recent_val);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECENT_LISTS);
	__type(key, __u32);
	__type(value, struct recent_list);
} recentls SEC(".maps");

struct recent_name {
	char name[RECENT_NAME_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECENT_LISTS);
	__type(key, struct recent_name);
	__type(value, __u32);
} recentnm SEC(".maps");

/* A zeroed entry to insert from (the entry is too large for the stack of the deepest caller). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct recent_val);
} recenttmp SEC(".maps");

/* The for_each callback's context: the list's least recently stamped entry so far (the head of
 * the kernel's LRU list). 16 bytes: the programs' combined stack is tight. */
struct recent_oldest {
	__u32 list;
	__u32 addr;  /* of the oldest entry so far */
	__u64 last;  /* its newest stamp; ~0 while none was found */
};

static long recent_oldest_cb(void *map, struct recent_key *k, struct recent_val *v, struct recent_oldest *o)
{
	if (k->list == o->list && v->last < o->last) {
		o->addr = k->addr;
		o->last = v->last;
	}
	return 0;
}

/* The loader creates a list's count when it gives the list its id (before any rule uses it). */
static __always_inline void recent_count(__u32 *list, int delta)
{
	struct recent_list *l = bpf_map_lookup_elem(&recentls, list);
	if (!l || (delta < 0 && l->count == 0))
		return;
	__sync_fetch_and_add(&l->count, delta);
}

static __always_inline void recent_stamp(struct recent_val *v, __u64 now, __u8 ttl)
{
	__u32 i = v->index & (RECENT_NSTAMPS - 1);
	v->stamps[i] = now;
	i++;
	v->index = i;
	if (i > v->nstamps)
		v->nstamps = i;
	v->prev = v->last;
	v->last = now;
	v->ttl = ttl;
}

/* bpftables_recent() results besides the match (bit 0): what bpftables_recent_evict() must do
 * next. Both run after the entry was stamped, which gives the kernel's results: a new entry is
 * the newest (so evicting after inserting it removes the entry the kernel evicts before), and
 * an entry just updated is not the oldest one --reap removes (the kernel skips it). */
#define RR_EVICT 2 /* a new entry: remove the oldest if the list is over ip_list_tot */
#define RR_REAP 4  /* --reap: remove the oldest if its last stamp is outside the window */
#define RR_UPDATED 8 /* the entry was stamped: if it was the oldest before, --reap skips it */

/* A global function of its own, called by res_step after bpftables_recent(): the for_each
 * frames stay off bpftables_recent's (the tc programs' combined stack is at the limit). */
__noinline int bpftables_recent_evict(struct pkt *p, struct res_ent *e, __u32 what)
{
	if (!p || !e)
		return 0;
	/* o starts with (list, addr): it is also the key of the entry to delete. */
	struct recent_oldest o = { .list = (__u32)e->x, .addr = 0, .last = ~0ULL };
	if (what & RR_EVICT) {
		struct recent_list *l = bpf_map_lookup_elem(&recentls, &o.list);
		if (!l || l->count <= RECENT_LIST_TOT)
			return 0;
	}
	bpf_for_each_map_elem(&recent, recent_oldest_cb, &o, 0);
	if (o.last == ~0ULL)
		return 0;
	if (what & RR_REAP) {
		__u64 span = e->y * 1000000000ULL, now = bpf_ktime_get_ns();
		if (o.last + span >= now)
			return 0;
		if (what & RR_UPDATED) {
			/* The kernel reaps before stamping and skips the entry being updated when it is
			 * the oldest: then it reaps nothing. */
			struct recent_key k = { .list = o.list, .addr = ((e->field & RC_DEST) ? p->daddr : p->saddr) & e->mask };
			struct recent_val *w = bpf_map_lookup_elem(&recent, &k);
			if (w && w->prev <= o.last)
				return 0;
		}
	}
	if (!bpf_map_delete_elem(&recent, &o))
		recent_count(&o.list, -1);
	return 0;
}

/* The match's result before `!` in bit 0 (the caller applies `!`), plus RR_* work for
 * bpftables_recent_evict(). dry (the tc REJECT pre-pass): the ops act on private copies of the
 * entries in x->rdry, so later rules of the same dry run see what earlier ones would have done
 * and the lists stay untouched; --reap, or more than RECENT_DRY entries, returns -1 (the dry
 * run ends and the netfilter program decides, as for limit). A global function: verified
 * once, not at each of classify()'s call sites (the tc programs call it three times). */
__noinline int bpftables_recent(struct scratch *x, struct res_ent *e, __u32 dry)
{
	if (!x || !e)
		return 0;
	struct pkt *p = &x->p;
	__u32 flags = e->field, cmd = flags & RC_CMD;
	if (dry && (flags & RC_REAP))
		return -1;
	struct recent_key k = { .list = (__u32)e->x, .addr = ((flags & RC_DEST) ? p->daddr : p->saddr) & e->mask };
	__u8 ttl = (__u8)p->ttl;
	if (p->hook == 1) /* FORWARD: the TTL as seen before forwarding */
		ttl++;
	__u64 now = bpf_ktime_get_ns();

	struct recent_dry *d = 0;
	struct recent_val *v;
	if (dry) {
		__u32 n = x->rdn;
		for (__u32 i = 0; i < RECENT_DRY; i++) {
			if (i < n && x->rdry[i].key.list == k.list && x->rdry[i].key.addr == k.addr) {
				d = &x->rdry[i];
				break;
			}
		}
		if (!d) {
			if (n >= RECENT_DRY)
				return -1;
			d = &x->rdry[n & (RECENT_DRY - 1)];
			d->key = k;
			struct recent_val *real = bpf_map_lookup_elem(&recent, &k);
			d->present = real != 0;
			if (real)
				__builtin_memcpy(&d->val, real, sizeof(d->val));
			x->rdn = n + 1;
		}
		v = d->present ? &d->val : 0;
	} else {
		v = bpf_map_lookup_elem(&recent, &k);
	}
	if (v && (flags & RC_RTTL) && ttl && v->ttl && v->ttl != ttl)
		v = 0;
	if (!v) {
		if (cmd != RC_SET)
			return 0;
		if (d) {
			/* A dry-run copy is replaced as a new entry would be. */
			__builtin_memset(&d->val, 0, sizeof(d->val));
			recent_stamp(&d->val, now, ttl);
			d->present = 1;
			return 1;
		}
		__u32 z = 0;
		struct recent_val *t = bpf_map_lookup_elem(&recenttmp, &z);
		if (!t)
			return 1;
		__builtin_memset(t, 0, sizeof(*t));
		recent_stamp(t, now, ttl);
		/* BPF_NOEXIST: another CPU may have created it meanwhile; then only count once. */
		if (bpf_map_update_elem(&recent, &k, t, BPF_NOEXIST))
			return 1;
		recent_count(&k.list, 1);
		return 1 | RR_EVICT;
	}

	int hit = 0, more = 0;
	if (cmd == RC_SET) {
		hit = 1;
	} else if (cmd == RC_REMOVE) {
		if (d)
			d->present = 0;
		else if (!bpf_map_delete_elem(&recent, &k))
			recent_count(&k.list, -1);
		return 1;
	} else {
		__u64 seconds = e->y, span = seconds * 1000000000ULL;
		__u64 from = now > span ? now - span : 0;
		/* The kernel counts stamps in the window until `hitcount` (at least one): the same as
		 * counting them all. Branch-free (comparisons from the sign of differences; stamps and
		 * `from` are below 2^63 ns): a compare per stamp would fork the verifier's state on
		 * every iteration. */
		__u32 hits = 0, n = v->nstamps, hitcount = (__u32)(e->x >> 32);
		__u64 anyage = seconds == 0;
		for (__u32 i = 0; i < RECENT_NSTAMPS; i++) {
			__u64 lt = ((__u64)i - n) >> 63;
			__u64 ge = 1 - ((v->stamps[i] - from) >> 63);
			hits += (__u32)(lt & (anyage | ge));
		}
		hit = hits >= (hitcount ? hitcount : 1);
		if (flags & RC_REAP)
			more = RR_REAP;
	}
	if (cmd == RC_SET || (cmd == RC_UPDATE && (hit ^ (e->invert & 1)))) {
		recent_stamp(v, now, ttl);
		more |= RR_UPDATED;
	}
	return hit | more;
}

#endif
