/* connlimit.h: the connlimit match (xt_connlimit over nf_conncount) for bpftables.bpf.c:
 * residual op R_CONNLIMIT.
 *
 * As the kernel, each rule (op) has its own lists: (rule op, masked source or destination
 * address of the packet) -> the connections (conntrack keys) this rule has seen, in the order
 * it saw them (clist). __nf_conncount_add(), line for line: walk the list; an entry whose
 * connection is gone (no live entry in `ct`) is dropped when this CPU added it or it is two
 * jiffies old (else it may be a flow about to be confirmed on another CPU: kept, and if it is
 * this packet's connection nothing is added); an entry of this packet's connection ends the
 * walk (nothing added); a TCP connection in TIME_WAIT or CLOSE is dropped; at most 9 entries
 * are dropped per walk (CONNCOUNT_GC_MAX_NODES); then this packet's connection is appended.
 * The count is the list's length; the match is count > limit, `!` for --connlimit-upto.
 * The connection is the packet's conntrack (the flow an ICMP error belongs to for RELATED),
 * else the packet's own tuple. Bound: CL_MAX connections per address and rule; a packet that
 * would add one more is dropped uncounted (the kernel's allocation-failure hotdrop). A tc
 * REJECT dry run computes the count without changing the list.
 */
#ifndef BPFTABLES_CONNLIMIT_H
#define BPFTABLES_CONNLIMIT_H

#define CL_MAX 64
#define CL_GC_MAX 8
#define CL_DADDR 1

struct cl_ent {
	struct ct_key k;
	__u32 cpu;
	__u32 j32;   /* (u32)jiffies when added */
};
struct cl_list {
	__u32 n;
	__u32 pad;
	struct cl_ent e[CL_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cl_key);
	__type(value, struct cl_list);
} clist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cl_list);
} cltmp SEC(".maps");

static __always_inline int cl_keq(struct ct_key *a, struct ct_key *b)
{
	return a->a == b->a && a->b == b->b && a->pa == b->pa && a->pb == b->pb && a->proto == b->proto;
}

/* One entry of the walk (a bpf_loop step; the walk's state is in the scratch slot, x->cw: the
 * tc programs' combined stack has no room for it). */
static long cl_step(__u32 i, struct scratch **xp)
{
	struct scratch *x = *xp;
	struct cl_walk *cw = &x->cw;
	if (i >= cw->n || i >= CL_MAX)
		return 1;
	struct cl_list *l = bpf_map_lookup_elem(&clist, &cw->lk);
	if (!l)
		return 1;
	struct cl_ent *c = &l->e[i & (CL_MAX - 1)];
	__u32 keep = 1;
	if (!cw->found && cw->collect <= CL_GC_MAX) {
		struct ct_val *v = bpf_map_lookup_elem(&ct, &c->k);
		__u32 eq = cl_keq(&c->k, &x->clt);
		if (!v || v->expires_ns <= cw->kt) {
			if (c->cpu == cw->cpu || cw->now32 - c->j32 >= 2)
				keep = 0;
			else if (eq)
				cw->found = 1;
		} else if (eq) {
			cw->found = 1;
		} else if (c->k.proto == 6 && (v->state == TCPS_TIME_WAIT || v->state == TCPS_CLOSE)) {
			keep = 0;
		}
		cw->collect += 1 - keep;
	}
	if (keep) {
		__u32 w = cw->w & (CL_MAX - 1);
		if (!cw->dry && w != i)
			l->e[w] = *c;
		cw->w++;
	}
	return 0;
}

/* First half of the match: the packet's connection (x->clt) and list key; a rule's first
 * connection from the address creates its list. Returns the count when that settles it (1), 0
 * for a hotdrop, or CL_WALK: bpftables_cl_walk() decides (separate frames: the walk's
 * bpf_loop frame must not stack on this one). */
#define CL_WALK 0xffffffffu
__noinline __u32 bpftables_cl_begin(struct scratch *x, struct res_ent *e, __u32 ruleop, __u32 dry)
{
	if (!x || !e)
		return 0;
	struct pkt *p = &x->p;
	struct ct_pkt *cp = &x->cp;
	struct ct_key *t = &x->clt;
	struct cl_walk *cw = &x->cw;
	__u32 st = p->ctstate;
	if (st == CT_RELATED) {
		ct_make_key(t, cp->inner_saddr, cp->inner_sport, cp->inner_daddr, cp->inner_dport, cp->inner_proto);
	} else if ((st == CT_NEW || st == CT_ESTABLISHED) && !x->ctforce) {
		*t = x->ck;
	} else {
		/* No conntrack: nf_ct_get_tuplepr() of the packet. */
		__u16 sp, dp;
		ct_ports(p, cp, &sp, &dp);
		ct_make_key(t, p->saddr, sp, p->daddr, dp, p->proto);
	}
	cw->lk.rule = ruleop;
	cw->lk.addr = ((e->field & CL_DADDR) ? p->daddr : p->saddr) & e->mask;
	cw->now32 = (__u32)bpf_jiffies64();
	cw->cpu = bpf_get_smp_processor_id();
	cw->kt = bpf_ktime_get_ns();
	cw->dry = dry;
	cw->w = 0;
	cw->collect = 0;
	cw->found = 0;
	struct cl_list *l = bpf_map_lookup_elem(&clist, &cw->lk);
	if (l) {
		cw->n = l->n;
		return CL_WALK;
	}
	if (dry)
		return 1;
	__u32 z = 0;
	struct cl_list *tmp = bpf_map_lookup_elem(&cltmp, &z);
	if (!tmp)
		return 0;
	tmp->n = 1;
	tmp->e[0].k = *t;
	tmp->e[0].cpu = cw->cpu;
	tmp->e[0].j32 = cw->now32;
	if (bpf_map_update_elem(&clist, &cw->lk, tmp, BPF_NOEXIST))
		return 0;
	return 1;
}

/* Second half: walk the list (cl_step), then append this packet's connection unless it was
 * there. The count, or 0 (hotdrop: the list is full). */
__noinline __u32 bpftables_cl_walk(struct scratch *x)
{
	if (!x)
		return 0;
	struct scratch *xs = x;
	bpf_loop(CL_MAX, cl_step, &xs, 0);
	struct cl_walk *cw = &x->cw;
	struct cl_list *l = bpf_map_lookup_elem(&clist, &cw->lk);
	if (!l)
		return 0;
	__u32 w = cw->w;
	if (cw->found) {
		if (!cw->dry)
			l->n = w;
		return w;
	}
	if (w >= CL_MAX)
		return 0;
	if (cw->dry)
		return w + 1;
	struct cl_ent *c = &l->e[w & (CL_MAX - 1)];
	c->k = x->clt;
	c->cpu = cw->cpu;
	c->j32 = cw->now32;
	l->n = w + 1;
	return w + 1;
}

#endif
