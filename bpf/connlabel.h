/* connlabel.h: the connlabel match (xt_connlabel) for bpftables.bpf.c: residual op R_CONNLABEL.
 *
 * Labels live in the conntrack entry (ct_val.labels, 128 bits). As the kernel's labels
 * extension, an entry has them only when it was created while some connlabel rule existed
 * (cfg.ct_on & CT_LABELS, set by the loader for a ruleset with one; nf_connlabels_get() counts
 * the rules); connlabel_mt(): no connection (INVALID, UNTRACKED, this datapath's REJECT
 * replies) or no labels -> false before `!`; the bit set -> true; else --set sets it -> true.
 * An ICMP error (RELATED) reads and sets its flow's labels (the kernel's ct of an error is the
 * flow's). The flow a packet starts has its labels in the scratch slot (x->lbnew) until
 * ct_confirm() creates the entry with them (the kernel sets them on the unconfirmed conntrack,
 * which an ACCEPT confirms). A dry run (tc REJECT pre-pass) that would set a bit ends: the
 * netfilter program decides. Bits are set atomically on an entry.
 */
#ifndef BPFTABLES_CONNLABEL_H
#define BPFTABLES_CONNLABEL_H

static __noinline void connlabel_prep(struct scratch *x, struct ct_val *ce, int is_new)
{
	struct pkt *p = &x->p;
	struct ct_pkt *cp = &x->cp;
	__u32 st = p->ctstate;
	if (x->ctforce || st == CT_INVALID || st == CT_UNTRACKED)
		return;
	if (st == CT_RELATED) {
		ct_make_key(&x->lbkey, cp->inner_saddr, cp->inner_sport, cp->inner_daddr, cp->inner_dport, cp->inner_proto);
		struct ct_val *v = bpf_map_lookup_elem(&ct, &x->lbkey);
		if (v && v->haslabels)
			x->lbstate = 1;
		return;
	}
	if (ce) {
		if (ce->haslabels) {
			x->lbkey = x->ck;
			x->lbstate = 1;
		}
		return;
	}
	if (is_new && x->ctlabels)
		x->lbstate = 2;
}

/* The match before `!` (res_done applies it), or -1: a dry run would set a label. */
__noinline int bpftables_connlabel(struct scratch *x, struct res_ent *e, __u32 dry)
{
	if (!x || !e)
		return 0;
	__u32 bit = (__u32)e->x & 127, w = bit >> 6;
	__u64 m = 1ULL << (bit & 63);
	__u64 *words;
	if (x->lbstate == 1) {
		struct ct_val *v = bpf_map_lookup_elem(&ct, &x->lbkey);
		if (!v || !v->haslabels)
			return 0;
		words = v->labels;
	} else if (x->lbstate == 2) {
		words = x->lbnew;
	} else {
		return 0;
	}
	if (words[w & 1] & m)
		return 1;
	if (!e->field)
		return 0;
	if (dry)
		return -1;
	__sync_fetch_and_or(&words[w & 1], m);
	return 1;
}

#endif
