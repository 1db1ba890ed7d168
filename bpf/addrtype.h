/* addrtype match (xt_addrtype, --src-type / --dst-type [--limit-iface-in|out]) for
 * bpftables.bpf.c: included before res_step(), which calls addrtype_check() for R_ADDRTYPE.
 *
 * The kernel decides per packet with inet_dev_addr_type(net, dev, addr):
 *   0.0.0.0/8 and 255.255.255.255 → BROADCAST, 224.0.0.0/4 → MULTICAST, otherwise the type of
 *   the route that fib_table_lookup() finds in the namespace's LOCAL table (RT_TABLE_LOCAL,
 *   255; it shares the trie with MAIN while no policy rule exists), UNICAST when there is
 *   none or it is an error route (blackhole, unreachable, prohibit, throw: the lookup fails),
 *   and UNICAST as well when a device is given (--limit-iface-*) and the route's first
 *   nexthop is on another device.
 * A netfilter program may not call bpf_fib_lookup (base helpers only), and bpf_fib_lookup
 * would not tell LOCAL from BROADCAST anyway (both are "not forwarded"). So this header
 * walks the LOCAL table's LC-trie itself, a line-by-line port of fib_table_lookup(): reads
 * go through bpf_probe_read_kernel (CO-RE offsets), under the RCU read lock every BPF
 * program runs in, so every address change is seen by the next packet, with no state kept in
 * maps. Bounded: AT_STEPS node / alias visits per lookup (a trie of 32-bit keys is at most 32
 * levels deep; backtracking strips one bit per step); running out counts stats[4] and answers
 * UNICAST. Only the addresses some rule of the generation tests are looked up (meta.atflags),
 * once per packet, before the scan.
 *
 * Not modelled: nexthop objects (`ip route ... nhid`: the route's device is taken as unknown,
 * so a --limit-iface-* check answers UNICAST), net.ipv4.conf.*.ignore_routes_with_linkdown,
 * VRF (l3mdev) tables.
 */
#ifndef ADDRTYPE_H
#define ADDRTYPE_H

#define RTN_UNICAST_ 1
#define RTN_LOCAL_ 2
#define RTN_BROADCAST_ 3
#define RTN_MULTICAST_ 5
#define RT_TABLE_LOCAL_ 255
#define FIB_TABLE_HASH_MASK 255 /* FIB_TABLE_HASHSZ - 1 (CONFIG_IP_MULTIPLE_TABLES) */
#define RTNH_F_DEAD_ 1
#define AT_STEPS 256
#define AT_NOROUTE 0xffffffffu /* at_ifx: the type did not come from a route (no device check) */

/* Kernel reads land in the scratch slot (w->tmp), not on the stack (see struct at_walk). */
#define AT_RD(w, src) ({ (w)->tmp = 0; bpf_core_read(&(w)->tmp, sizeof(*(src)), (src)); (w)->tmp; })

static __always_inline __u64 at_rd64(struct at_walk *w, __u64 addr)
{
	w->tmp = 0;
	bpf_probe_read_kernel(&w->tmp, 8, (void *)addr);
	return w->tmp;
}

static __always_inline void at_kv_read(struct at_walk *w, __u64 n)
{
	struct key_vector *k = (struct key_vector *)n;
	w->kkey = AT_RD(w, &k->key);
	w->kpos = AT_RD(w, &k->pos);
	w->kbits = AT_RD(w, &k->bits);
	w->kslen = AT_RD(w, &k->slen);
}

/* tn->tnode[i] (the union member after slen). */
static __always_inline __u64 at_child(struct at_walk *w, __u64 tn, __u64 i)
{
	return at_rd64(w, tn + bpf_core_field_offset(struct key_vector, leaf) + (i & 0xffffffffu) * 8);
}

/* Alias fa of the leaf is usable: 1 result set, 0 skip, -1 error route (lookup fails). */
static __always_inline int at_alias(struct at_walk *w, __u64 fa, __u32 leafkey)
{
	struct fib_alias *a = (struct fib_alias *)fa;
	__u32 slen = AT_RD(w, &a->fa_slen);
	if (slen < 32 && ((__u64)(w->key ^ leafkey)) >= (1ull << slen))
		return 0;
	if (AT_RD(w, &a->fa_dscp)) /* the flow's dscp is 0: only dscp-less routes match */
		return 0;
	__u32 type = AT_RD(w, &a->fa_type);
	struct fib_info *f = (struct fib_info *)AT_RD(w, &a->fa_info);
	if (!f || AT_RD(w, &f->fib_dead))
		return 0;
	/* fib_props[type].error < 0: blackhole 6, unreachable 7, prohibit 8, throw 9, nat 10, xresolve 11. */
	if (type >= 6 && type <= 11)
		return -1;
	if (AT_RD(w, &f->fib_flags) & RTNH_F_DEAD_)
		return 0;
	if (AT_RD(w, &f->nh)) {
		w->type = type;
		w->ifx = 0;
		return 1;
	}
	int nhs = AT_RD(w, &f->fib_nhs);
	__u64 nh0 = (__u64)f + bpf_core_field_offset(struct fib_info, fib_nh);
	__u32 nhsz = bpf_core_type_size(struct fib_nh);
	for (int i = 0; i < 8; i++) {
		if (i >= nhs)
			break;
		struct fib_nh_common *c = (struct fib_nh_common *)(nh0 + (__u64)i * nhsz);
		if (AT_RD(w, &c->nhc_flags) & RTNH_F_DEAD_)
			continue;
		/* inet_dev_addr_type compares the device of nexthop 0 (fib_info_nhc(fi, 0)). */
		struct fib_nh_common *c0 = (struct fib_nh_common *)nh0;
		struct net_device *dev = (struct net_device *)AT_RD(w, &c0->nhc_dev);
		w->type = type;
		w->ifx = dev ? (__u32)AT_RD(w, &dev->ifindex) : 0;
		return 1;
	}
	return 0;
}

struct at_ref {
	struct at_walk *w;
};

static long at_step(__u32 i, struct at_ref *ref)
{
	struct at_walk *w = ref->w;
	if (!w)
		return 1;
	switch (w->phase) {
	case 1: { /* Step 1: travel to the longest prefix match */
		at_kv_read(w, w->n);
		__u64 index = ((__u64)(w->key ^ w->kkey)) >> w->kpos;
		if (index >= (1ull << w->kbits)) {
			w->phase = 2;
			return 0;
		}
		if (!w->kbits) {
			w->phase = 4;
			w->fa = at_rd64(w, w->n + bpf_core_field_offset(struct key_vector, leaf));
			return 0;
		}
		if (w->kslen > w->kpos) {
			w->pn = w->n;
			w->cindex = index;
		}
		w->n = at_child(w, w->n, index);
		if (!w->n)
			w->phase = 3;
		return 0;
	}
	case 2: { /* Step 2: sort out leaves, backtrace for the longest prefix */
		at_kv_read(w, w->n);
		__u32 prefix = w->kkey;
		if (((w->key ^ prefix) & (prefix | -prefix)) || w->kslen == w->kpos) {
			w->phase = 3;
			return 0;
		}
		if (!w->kbits) {
			w->phase = 4;
			w->fa = at_rd64(w, w->n + bpf_core_field_offset(struct key_vector, leaf));
			return 0;
		}
		w->n = at_child(w, w->n, 0);
		if (!w->n)
			w->phase = 3;
		return 0;
	}
	case 3: { /* backtrace: one parent ascent or one stripped bit per step */
		if (!w->cindex) {
			at_kv_read(w, w->pn);
			if (w->kpos >= 32) { /* IS_TRIE: nothing left */
				w->phase = 0;
				return 1;
			}
			__u32 pkey = w->kkey;
			w->pn = at_rd64(w, w->pn - bpf_core_field_offset(struct tnode, kv) + bpf_core_field_offset(struct tnode, parent));
			if (!w->pn) {
				w->phase = 0;
				return 1;
			}
			at_kv_read(w, w->pn);
			w->cindex = (__u32)(((__u64)(pkey ^ w->kkey)) >> w->kpos);
			return 0;
		}
		w->cindex &= w->cindex - 1;
		w->n = at_child(w, w->pn, w->cindex);
		if (w->n)
			w->phase = 2;
		return 0;
	}
	case 4: { /* Step 3: the leaf's aliases (hlist, fa_list first), one per step */
		if (!w->fa) {
			w->phase = 3;
			return 0;
		}
		at_kv_read(w, w->n);
		int r = at_alias(w, w->fa, w->kkey);
		if (r) {
			if (r < 0)
				w->type = RTN_UNICAST_;
			w->phase = 0;
			if (r < 0)
				w->ifx = AT_NOROUTE;
			return 1;
		}
		w->fa = at_rd64(w, w->fa); /* fa_list.next */
		return 0;
	}
	}
	return 1;
}

/* inet_dev_addr_type without the device: the type, and in w->ifx the route's device. */
static __always_inline __u32 addrtype_lookup(struct at_walk *w, __u64 net, __u32 addr)
{
	w->ifx = AT_NOROUTE;
	if ((addr >> 24) == 0 || addr == 0xffffffffu)
		return RTN_BROADCAST_;
	if ((addr >> 28) == 0xe)
		return RTN_MULTICAST_;
	if (!net)
		return RTN_UNICAST_;
	struct net *nt = (struct net *)net;
	__u64 hash = (__u64)AT_RD(w, &nt->ipv4.fib_table_hash);
	if (!hash)
		return RTN_UNICAST_;
	__u64 tb = at_rd64(w, hash + 8 * (RT_TABLE_LOCAL_ & FIB_TABLE_HASH_MASK)); /* hlist first */
	__u64 data = 0;
	for (int i = 0; i < 8 && tb; i++) {
		struct fib_table *t = (struct fib_table *)tb; /* tb_hlist is the first member */
		if (AT_RD(w, &t->tb_id) == RT_TABLE_LOCAL_) {
			data = AT_RD(w, &t->tb_data);
			break;
		}
		tb = at_rd64(w, tb);
	}
	if (!data)
		return RTN_UNICAST_;
	w->key = addr;
	w->pn = data; /* struct trie: kv[0] first */
	w->n = at_child(w, data, 0);
	w->type = RTN_UNICAST_;
	w->fa = 0;
	w->cindex = 0;
	if (!w->n)
		return RTN_UNICAST_;
	w->phase = 1;
	struct at_ref ref = { .w = w };
	bpf_loop(AT_STEPS, at_step, &ref, 0);
	if (w->phase) {
		stat_inc(4);
		w->ifx = AT_NOROUTE;
		return RTN_UNICAST_;
	}
	return w->type;
}

/* Looks up the address types the generation's rules test (meta.atflags), before the scan:
 * a call from res_step() would nest the walk's frames under classify → step → res_step and
 * exceed the verifier's 512-byte combined stack in bpftables_tc_in. */
static __noinline void addrtype_prep(struct scratch *x, __u32 flags)
{
	if (!x)
		return;
	if (flags & 1) {
		x->at_type[0] = addrtype_lookup(&x->at_w, x->at_net, x->p.saddr);
		x->at_ifx[0] = x->at_w.ifx;
	}
	if (flags & 2) {
		x->at_type[1] = addrtype_lookup(&x->at_w, x->at_net, x->p.daddr);
		x->at_ifx[1] = x->at_w.ifx;
	}
}

/* One R_ADDRTYPE op: e->field 0 source / 1 destination, e->mask the accepted types
 * (1 << RTN_*), e->x 0 any device / 1 --limit-iface-in / 2 --limit-iface-out. */
static __always_inline int addrtype_check(struct scratch *x, struct res_ent *e)
{
	__u32 which = e->field & 1;
	__u32 t = x->at_type[which];
	__u32 dev = e->x == 1 ? x->at_in : e->x == 2 ? x->at_out : 0;
	if (dev && x->at_ifx[which] != AT_NOROUTE && x->at_ifx[which] != dev)
		t = RTN_UNICAST_;
	return t < 32 && ((e->mask >> t) & 1);
}

#endif
