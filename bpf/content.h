/* -m mac and -m owner for bpftables.bpf.c (included once, after struct run; its hooks:
 * content_prep() in classify(), content_res() in res_step()).
 *
 * - What a generation's rules need is meta.needs (NEED_*, set by the encoder): content_prep()
 *   reads only that, once per packet, into struct pkt (mac*, sk*, uid, gid, groups), before
 *   the scan. A generation without mac / owner rules pays one load of meta.needs.
 * - Kernel structures are read through the trusted sk_buff (the netfilter context's, or
 *   bpf_cast_to_kern_ctx() of a tc program's __sk_buff): direct BTF loads (PROBE_MEM: a fault
 *   reads 0), bpf_probe_read_kernel() only for the Ethernet bytes and supplementary groups.
 * - R_MAC (xt_mac.c): the in device (skb->dev) must be ARPHRD_ETHER and the mac header set
 *   and before the network header (xt_mac compares it with skb->data, which is the network
 *   header at the netfilter hooks; at tc ingress data is the mac header); otherwise the rule
 *   does not match, inverted or not. Loopback (ARPHRD_LOOPBACK) and locally generated
 *   packets (no mac header at LOCAL_OUT) never match.
 * - R_OWNER (xt_owner.c owner_mt(), revision 1): skb_to_full_sk() (a request socket counts
 *   as its listener, a time-wait socket as none), with a struct socket and in the hook's
 *   network namespace (x->netp; 0 in tc programs: there no socket counts), then its file's
 *   f_cred fsuid / fsgid (ids of the initial user namespace, which is where the kernel's
 *   make_kuid() maps a rule's ids for namespaces that do not have their own user namespace).
 *   res_ent: field = options given (OWNER_*), mask = options inverted, x = uid lo | hi << 32,
 *   y = gid lo | hi << 32; `invert` is 0 (each option carries its own). --suppl-groups walks
 *   group_info->gid[] (at most NGROUPS_MAX = 65536 entries) in a nested bpf_loop (in a global
 *   function, verified once).
 */

extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id__k) __ksym;

#define NEED_MAC 1
#define NEED_OWNER 2
#define NEED_SUPPL 4
#define NEED_CT 8

/* R_CT fields (bpf/loader/layout.ts CT_FIELD_NUM). */
#define CTF_PROTO 0
#define CTF_ORIGSRC 1
#define CTF_ORIGDST 2
#define CTF_REPLSRC 3
#define CTF_REPLDST 4
#define CTF_ORIGSPORT 5
#define CTF_ORIGDPORT 6
#define CTF_REPLSPORT 7
#define CTF_REPLDPORT 8
#define CTF_DIR 9
#define CTF_STATUS 10 /* ct_status_now() (conntrack.h) */
#define CTF_EXPIRE 11 /* ct_expire_now() (conntrack.h) */

#define OWNER_UID 1
#define OWNER_GID 2
#define OWNER_SOCKET 4
#define OWNER_SUPPL 8

#define ARPHRD_ETHER 1
#define SKF_SOCKET 1 /* pkt.skf: a full socket of this namespace with a struct socket */
#define SKF_FILE 2   /* ... that has a file (uid / gid valid) */
#define NGROUPS_MAX 65536

static __noinline void content_prep(struct sk_buff *skb, struct scratch *x, __u32 needs)
{
	struct pkt *p = &x->p;
	p->macok = 0;
	p->skf = 0;
	p->groups = 0;
	if (needs & NEED_MAC) {
		struct net_device *dev = skb->dev;
		__u16 mh = skb->mac_header, nh = skb->network_header;
		if (dev && dev->type == ARPHRD_ETHER && mh != 0xffff && (__u32)mh + 14 <= nh) {
			__u8 a[8] = {};
			if (!bpf_probe_read_kernel(a, 6, skb->head + mh + 6)) {
				p->mac = (__u64)a[0] << 40 | (__u64)a[1] << 32 | (__u64)a[2] << 24 | (__u64)a[3] << 16 | (__u64)a[4] << 8 | a[5];
				p->macok = 1;
			}
		}
	}
	if (needs & NEED_OWNER) {
		struct sock *sk = skb->sk;
		/* rsk_listener shares a union with skc_flags: the verifier types it as a scalar. */
		if (sk && sk->__sk_common.skc_state == TCP_NEW_SYN_RECV)
			sk = bpf_rdonly_cast((void *)sk->__sk_common.skc_listener, bpf_core_type_id_kernel(struct sock));
		if (!sk || sk->__sk_common.skc_state == TCP_NEW_SYN_RECV || sk->__sk_common.skc_state == TCP_TIME_WAIT)
			return;
		struct socket *so = sk->sk_socket;
		if (!so || !x->netp || (__u64)sk->__sk_common.skc_net.net != x->netp)
			return;
		p->skf = SKF_SOCKET;
		struct file *f = so->file;
		if (!f)
			return;
		const struct cred *cr = f->f_cred;
		if (!cr)
			return;
		p->uid = cr->fsuid.val;
		p->gid = cr->fsgid.val;
		p->skf = SKF_SOCKET | SKF_FILE;
		if (needs & NEED_SUPPL) {
			struct group_info *gi = cr->group_info;
			if (gi) {
				p->ngroups = gi->ngroups;
				p->groups = (__u64)gi + __builtin_offsetof(struct group_info, gid);
			}
		}
	}
}

/* ICMP query type of the original direction (the request) for a request or reply type. */
static __always_inline __u32 icmp_req_type(__u32 t)
{
	return t == 0 ? 8 : t == 14 ? 13 : t == 16 ? 15 : t == 18 ? 17 : t;
}

/* The packet's connection for R_CT (conntrack's tuple options), after ct_classify(): the
 * entry's original tuple (its orig_src / orig_sport endpoint and the key's other one), the
 * packet's own for a flow it starts, the embedded flow's for a RELATED ICMP error (whose
 * direction is the opposite of the embedded packet's, as nf_conntrack_inet_error). No
 * connection (ctok 0): INVALID, UNTRACKED, and REJECT replies of this datapath (ctforce).
 * The reply tuple is the reversed original (no NAT); ICMP ports are the kernel's: id, and
 * type << 8 | code (the request's type in the original tuple, the reply's in the reply one). */
static __noinline void content_ct(struct scratch *x, struct ct_val *ce)
{
	struct pkt *p = &x->p;
	struct ct_pkt *cp = &x->cp;
	p->ctok = 0;
	__u32 st = p->ctstate;
	if (x->ctforce || st == CT_INVALID || st == CT_UNTRACKED)
		return;
	__u16 sp, dp;
	ct_ports(p, cp, &sp, &dp);
	__u32 proto = p->proto, reqtype = 8;
	if (st == CT_RELATED) {
		struct ct_key ik;
		ct_make_key(&ik, cp->inner_saddr, cp->inner_sport, cp->inner_daddr, cp->inner_dport, cp->inner_proto);
		struct ct_val *v = bpf_map_lookup_elem(&ct, &ik);
		if (!v)
			return;
		int fwd = ik.a == v->orig_src && ik.pa == v->orig_sport;
		p->ct_os = v->orig_src;
		p->ct_osp = v->orig_sport;
		p->ct_od = fwd ? ik.b : ik.a;
		p->ct_odp = fwd ? ik.pb : ik.pa;
		p->ctdir = cp->inner_saddr == v->orig_src && cp->inner_sport == v->orig_sport;
		proto = cp->inner_proto;
		/* An ICMP error is not handled by the flow's protocol: its status as it is. */
		p->ct_status = 8 | (v->seen_reply ? 2 : 0) | (v->assured ? 4 : 0);
		p->ct_expire = ct_expire_now(x, v, 1);
	} else if (ce) {
		struct ct_key *k = &x->ck;
		int fwd = k->a == ce->orig_src && k->pa == ce->orig_sport;
		p->ct_os = ce->orig_src;
		p->ct_osp = ce->orig_sport;
		p->ct_od = fwd ? k->b : k->a;
		p->ct_odp = fwd ? k->pb : k->pa;
		int reply = !(p->saddr == ce->orig_src && sp == ce->orig_sport);
		if (proto == 1 && !reply && icmp_is_reply(cp->icmp_type))
			reply = 1;
		p->ctdir = reply;
		p->ct_status = ct_status_now(p, cp, ce);
		p->ct_expire = ct_expire_now(x, ce, 0);
		if (proto == 1)
			reqtype = icmp_req_type(cp->icmp_type);
	} else {
		p->ct_os = p->saddr;
		p->ct_osp = sp;
		p->ct_od = p->daddr;
		p->ct_odp = dp;
		p->ctdir = 0;
		p->ct_status = 0;
		p->ct_expire = ct_expire_now(x, 0, 0);
		if (proto == 1)
			reqtype = cp->icmp_type;
	}
	p->ct_proto = proto;
	p->ct_rsp = p->ct_odp;
	p->ct_rdp = p->ct_osp;
	if (proto == 1) {
		/* id in both source ports; type << 8 | code in the destination ones */
		p->ct_rsp = p->ct_osp;
		p->ct_odp = reqtype << 8;
		p->ct_rdp = (reqtype == 8 ? 0 : reqtype + 1) << 8;
	}
	p->ctok = 1;
}

static __always_inline __u32 content_ctval(struct pkt *p, __u8 f)
{
	switch (f) {
	case CTF_PROTO: return p->ct_proto;
	case CTF_ORIGSRC: return p->ct_os;
	case CTF_ORIGDST: return p->ct_od;
	case CTF_REPLSRC: return p->ct_od;
	case CTF_REPLDST: return p->ct_os;
	case CTF_ORIGSPORT: return p->ct_osp;
	case CTF_ORIGDPORT: return p->ct_odp;
	case CTF_REPLSPORT: return p->ct_rsp;
	case CTF_REPLDPORT: return p->ct_rdp;
	case CTF_DIR: return p->ctdir;
	case CTF_STATUS: return p->ct_status;
	case CTF_EXPIRE: return p->ct_expire;
	}
	return 0;
}

struct suppl_ctx {
	__u64 gids;
	__u32 n;
	__u32 lo;
	__u32 hi;
	__u32 g;   /* read buffer: suppl_step keeps no stack of its own */
};

static long suppl_step(__u32 i, struct suppl_ctx *c)
{
	if (i >= c->n)
		return 1;
	if (bpf_probe_read_kernel(&c->g, sizeof(c->g), (void *)(c->gids + 4ull * i)))
		return 1;
	if (c->g >= c->lo && c->g <= c->hi) {
		c->n = 0; /* found */
		return 1;
	}
	return 0;
}

/* Whether one of the n gids at address gids lies in [lo, hi]. A global function: verified once,
 * not again for every path of res_step() that reaches it (it cost ~30k verified insns). */
__noinline int content_suppl(__u64 gids, __u32 n, __u32 lo, __u32 hi)
{
	struct suppl_ctx c = { .gids = gids, .n = n, .lo = lo, .hi = hi };
	bpf_loop(NGROUPS_MAX, suppl_step, &c, 0);
	return n && !c.n;
}

/* R_MAC / R_OWNER before res_done()'s `invert` (R_MAC: a packet without an Ethernet header
 * fails either way, so it returns `invert` there). */
static __always_inline int content_res(struct pkt *p, struct res_ent *e)
{
	if (e->kind == R_MAC)
		return p->macok ? p->mac == e->x : e->invert;
	__u32 match = e->field, inv = e->mask;
	if (!(p->skf & SKF_SOCKET))
		return (match ^ inv) == 0;
	if (match & inv & OWNER_SOCKET)
		return 0;
	if (!(p->skf & SKF_FILE))
		return ((match ^ inv) & (OWNER_UID | OWNER_GID)) == 0;
	if (match & OWNER_UID) {
		__u32 in = p->uid >= (__u32)e->x && p->uid <= (__u32)(e->x >> 32);
		if (in == !!(inv & OWNER_UID))
			return 0;
	}
	if (match & OWNER_GID) {
		__u32 lo = (__u32)e->y, hi = (__u32)(e->y >> 32);
		__u32 in = p->gid >= lo && p->gid <= hi;
		if (!in && (match & OWNER_SUPPL) && p->groups)
			in = content_suppl(p->groups, p->ngroups, lo, hi);
		if (in == !!(inv & OWNER_GID))
			return 0;
	}
	return 1;
}
