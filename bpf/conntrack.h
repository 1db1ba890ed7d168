/* Conntrack in eBPF for bpftables.bpf.c (included once, after the maps).
 *
 * Model (close to nf_conntrack with its defaults):
 * - One LRU hash entry per flow, keyed direction-independently (the lower (addr, port)
 *   endpoint first); ct_val.orig_* remember the original direction.
 * - ctstate of a packet: entry found -> ESTABLISHED if a reply was ever seen, else NEW
 *   (original-direction packets before the first reply are NEW, as IP_CT_NEW);
 *   no entry -> NEW when the packet may start a flow (TCP SYN without ACK, or a bare ACK:
 *   nf_conntrack_tcp_loose=1 picks up mid-stream connections; UDP; ICMP echo/timestamp/info/
 *   mask requests; other protocols), RELATED for ICMP errors (3, 4, 5, 11, 12) whose embedded
 *   header belongs to a tracked flow, INVALID otherwise (including non-first fragments: the
 *   kernel defragments before conntrack, this datapath does not).
 * - Entries are created only when the final verdict is ACCEPT (nf_conntrack confirms at the
 *   last hook); existing entries are updated whatever the verdict (conntrack runs before the
 *   filter table in the kernel).
 * - A packet that crosses two hooks (loopback: OUTPUT then INPUT) is seen twice; the updates
 *   are idempotent for the same packet.
 * - Timeouts (seconds): TCP SYN_SENT 120, SYN_RECV 60, ESTABLISHED 432000, FIN_WAIT 120,
 *   CLOSE_WAIT 60, LAST_ACK 30, TIME_WAIT 120, CLOSE 10; UDP 30 unreplied / 120 replied;
 *   ICMP 30; other 600.
 */

#define TCPS_SYN_SENT 1
#define TCPS_SYN_RECV 2
#define TCPS_ESTABLISHED 3
#define TCPS_FIN_WAIT 4
#define TCPS_CLOSE_WAIT 5
#define TCPS_LAST_ACK 6
#define TCPS_TIME_WAIT 7
#define TCPS_CLOSE 8

#define SEC_NS 1000000000ULL


static __always_inline int icmp_is_error(__u8 t)
{
	return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

static __always_inline int icmp_is_request(__u8 t)
{
	return t == 8 || t == 13 || t == 15 || t == 17;
}

static __always_inline int icmp_is_reply(__u8 t)
{
	return t == 0 || t == 14 || t == 16 || t == 18;
}

static __always_inline void ct_parse_icmp(struct bpf_dynptr *dp, __u32 thoff, __u8 *l4, struct ct_pkt *cp)
{
	cp->icmp_type = l4[0];
	if (icmp_is_request(l4[0]) || icmp_is_reply(l4[0])) {
		__u8 b[8];
		__u8 *h = bpf_dynptr_slice(dp, thoff, b, 8);
		if (h)
			cp->icmp_id = (__u16)h[4] << 8 | h[5];
		return;
	}
	if (!icmp_is_error(l4[0]))
		return;
	__u8 ib[20];
	struct iphdr *iph = bpf_dynptr_slice(dp, thoff + 8, ib, 20);
	if (!iph || iph->version != 4 || iph->ihl < 5)
		return;
	cp->inner_proto = iph->protocol;
	cp->inner_saddr = bpf_ntohl(iph->saddr);
	cp->inner_daddr = bpf_ntohl(iph->daddr);
	__u32 ioff = thoff + 8 + iph->ihl * 4;
	__u8 pb[8];
	__u8 *ph = bpf_dynptr_slice(dp, ioff, pb, 8);
	if (!ph)
		return;
	if (iph->protocol == 1) {
		/* an error about an echo request: the flow key uses the echo id */
		cp->inner_sport = (__u16)ph[4] << 8 | ph[5];
		cp->inner_dport = cp->inner_sport;
	} else {
		cp->inner_sport = (__u16)ph[0] << 8 | ph[1];
		cp->inner_dport = (__u16)ph[2] << 8 | ph[3];
	}
	cp->inner_ok = 1;
}

static __always_inline void ct_make_key(struct ct_key *k, __u32 s, __u16 sp, __u32 d, __u16 dp, __u8 proto)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (s < d || (s == d && sp <= dp)) {
		k->a = s; k->pa = sp; k->b = d; k->pb = dp;
	} else {
		k->a = d; k->pa = dp; k->b = s; k->pb = sp;
	}
	k->proto = proto;
}

static __always_inline __u64 ct_timeout(__u8 proto, __u8 st, __u8 replied)
{
	if (proto == 6) {
		switch (st) {
		case TCPS_SYN_SENT: return 120 * SEC_NS;
		case TCPS_SYN_RECV: return 60 * SEC_NS;
		case TCPS_ESTABLISHED: return 432000ULL * SEC_NS;
		case TCPS_FIN_WAIT: return 120 * SEC_NS;
		case TCPS_CLOSE_WAIT: return 60 * SEC_NS;
		case TCPS_LAST_ACK: return 30 * SEC_NS;
		case TCPS_TIME_WAIT: return 120 * SEC_NS;
		default: return 10 * SEC_NS;
		}
	}
	if (proto == 17 || proto == 136)
		return replied ? 120 * SEC_NS : 30 * SEC_NS;
	if (proto == 1)
		return 30 * SEC_NS;
	return 600 * SEC_NS;
}

/* The timeout (seconds) conntrack's protocol handler gives the flow for this packet, before the
 * filter hooks: TCP per state (ct_timeout; the kernel's unacknowledged-data / retransmission
 * caps are not modelled, which is why the CLI refuses --ctexpire for TCP), UDP / UDP-Lite 30 s
 * unless a reply was seen before this packet and the flow is 2 s old (120 s:
 * nf_conntrack_udp_packet's stream), ICMP 30 s, others 600 s. `v`: the entry (0 for a flow
 * this packet starts), with `st` the TCP state after this packet. */
static __always_inline __u64 ct_extra_s(__u8 proto, __u8 st, struct ct_val *v, __u64 now)
{
	if (proto == 17 || proto == 136)
		return v && v->seen_reply && now - v->created_ns > 2 * SEC_NS ? 120 : 30;
	return ct_timeout(proto, st, 0) / SEC_NS;
}

/* Ports of the packet for the flow key (0 where the protocol has none). */
static __always_inline void ct_ports(struct pkt *p, struct ct_pkt *cp, __u16 *sp, __u16 *dp)
{
	*sp = 0;
	*dp = 0;
	if (p->proto == 1) {
		*sp = cp->icmp_id;
		*dp = cp->icmp_id;
	} else if (p->sport < NO_L4) {
		*sp = p->sport;
		*dp = p->dport;
	}
}

static __noinline __u32 ct_classify(struct pkt *p, struct ct_pkt *cp, struct ct_key *k, struct ct_val **out, int *is_new)
{
	*out = 0;
	*is_new = 0;
	if (p->frag)
		return CT_INVALID;
	if ((p->proto == 6 || p->proto == 17 || p->proto == 1 || p->proto == 136 || p->proto == 132 || p->proto == 33) && !cp->l4ok)
		return CT_INVALID;
	if (p->proto == 1 && icmp_is_error(cp->icmp_type)) {
		if (!cp->inner_ok)
			return CT_INVALID;
		struct ct_key ik;
		ct_make_key(&ik, cp->inner_saddr, cp->inner_sport, cp->inner_daddr, cp->inner_dport, cp->inner_proto);
		struct ct_val *iv = bpf_map_lookup_elem(&ct, &ik);
		if (iv && iv->expires_ns > bpf_ktime_get_ns())
			return CT_RELATED;
		return CT_INVALID;
	}
	__u16 sp, dp;
	ct_ports(p, cp, &sp, &dp);
	ct_make_key(k, p->saddr, sp, p->daddr, dp, p->proto);
	struct ct_val *v = bpf_map_lookup_elem(&ct, k);
	__u64 now = bpf_ktime_get_ns();
	if (v && v->expires_ns > now) {
		*out = v;
		int reply = !(p->saddr == v->orig_src && sp == v->orig_sport);
		if (p->proto == 1 && !reply && icmp_is_reply(cp->icmp_type))
			reply = 1;
		if (p->proto == 6) {
			__u8 fl = p->tcpflags;
			if (fl & 0x04)
				return v->seen_reply || reply ? CT_ESTABLISHED : CT_NEW; /* RST: state set at update */
			if ((fl & 0x12) == 0x12 && !reply)
				return CT_INVALID; /* SYN+ACK in the original direction */
		}
		if (reply)
			return CT_ESTABLISHED;
		return v->seen_reply ? CT_ESTABLISHED : CT_NEW;
	}
	/* No (live) entry: can this packet start a flow? */
	if (p->proto == 6) {
		__u8 fl = p->tcpflags & 0x17; /* FIN SYN RST ACK */
		if (fl == 0x02 || fl == 0x10) {
			*is_new = 1;
			return CT_NEW;
		}
		return CT_INVALID;
	}
	if (p->proto == 1) {
		if (icmp_is_request(cp->icmp_type)) {
			*is_new = 1;
			return CT_NEW;
		}
		return CT_INVALID;
	}
	*is_new = 1;
	return CT_NEW;
}

static __always_inline __u8 tcp_next(__u8 st, __u8 fl, int reply)
{
	if (fl & 0x04)
		return TCPS_CLOSE;
	switch (st) {
	case TCPS_SYN_SENT:
		if (reply && (fl & 0x12) == 0x12)
			return TCPS_SYN_RECV;
		return st;
	case TCPS_SYN_RECV:
		if (!reply && (fl & 0x10) && !(fl & 0x02))
			return TCPS_ESTABLISHED;
		return st;
	case TCPS_ESTABLISHED:
		if (fl & 0x01)
			return reply ? TCPS_CLOSE_WAIT : TCPS_FIN_WAIT;
		return st;
	case TCPS_FIN_WAIT:
	case TCPS_CLOSE_WAIT:
		if (fl & 0x01)
			return TCPS_LAST_ACK;
		return st;
	case TCPS_LAST_ACK:
		if (fl & 0x10)
			return TCPS_TIME_WAIT;
		return st;
	case TCPS_CLOSE:
		if ((fl & 0x17) == 0x02)
			return TCPS_SYN_SENT; /* reopened */
		return st;
	}
	return st;
}

/* Whether the packet travels in the reply direction of entry v. */
static __always_inline int ct_is_reply(struct pkt *p, struct ct_pkt *cp, struct ct_val *v)
{
	__u16 sp, dp;
	ct_ports(p, cp, &sp, &dp);
	int reply = !(p->saddr == v->orig_src && sp == v->orig_sport);
	if (p->proto == 1 && !reply && icmp_is_reply(cp->icmp_type))
		reply = 1;
	return reply;
}

/* Whether this packet sets IPS_ASSURED (before ct_confirm() moves the TCP state), as the
 * protocol handlers do: TCP on an ESTABLISHED state reached from SYN_RECV or ESTABLISHED once a
 * reply was seen (tcp_packet()); UDP / UDP-Lite on a packet after a reply was seen, 2 s or more after the flow
 * began (udp_packet()); ICMP and other protocols never. */
static __always_inline int ct_assures(struct pkt *p, struct ct_val *v, int reply, __u64 now)
{
	if (p->proto == 6) {
		__u8 nst = tcp_next(v->state, p->tcpflags, reply);
		return v->seen_reply && (v->state == TCPS_SYN_RECV || v->state == TCPS_ESTABLISHED) && nst == TCPS_ESTABLISHED;
	}
	if (p->proto == 17 || p->proto == 136)
		return v->seen_reply && now - v->created_ns > 2 * SEC_NS;
	return 0;
}

/* ct->status as xt_conntrack reads it at the filter hooks (IPS_* bits EXPECTED 1, SEEN_REPLY
 * 2, ASSURED 4, CONFIRMED 8): conntrack already handled this packet (SEEN_REPLY on a reply,
 * ASSURED per ct_assures()); a flow this packet starts is not CONFIRMED yet (the kernel
 * confirms after the filter hooks); no expectations (no helpers). */
static __always_inline __u32 ct_status_now(struct pkt *p, struct ct_pkt *cp, struct ct_val *v)
{
	if (!v)
		return 0;
	int reply = ct_is_reply(p, cp, v);
	__u32 st = 8;
	if (v->seen_reply || reply)
		st |= 2;
	if (v->assured || ct_assures(p, v, reply, bpf_ktime_get_ns()))
		st |= 4;
	return st;
}

/* --ctexpire: nf_ct_expires(ct) / HZ at the filter hooks. The protocol handler refreshed the
 * timeout for this packet before them: a confirmed flow has the whole timeout left; the flow a
 * packet starts is unconfirmed, and its ct->timeout still holds the relative timeout, which
 * nf_ct_expires() reads against the jiffies clock ((s32)(timeout - jiffies), at least 0); an ICMP
 * error's flow (not refreshed by the error) what is left of its timer. */
static __always_inline __u32 ct_expire_now(struct scratch *x, struct ct_val *v, int related)
{
	struct pkt *p = &x->p;
	__u32 hz = x->hz;
	if (!hz)
		return 0;
	__u32 j = (__u32)bpf_jiffies64();
	if (related) {
		__s32 left = (__s32)(v->tmo_j - j);
		return left > 0 ? (__u32)left / hz : 0;
	}
	if (!v) {
		__s32 left = (__s32)((__u32)(ct_extra_s(p->proto, (p->tcpflags & 0x17) == 0x02 ? TCPS_SYN_SENT : TCPS_ESTABLISHED, 0, 0) * hz) - j);
		return left > 0 ? (__u32)left / hz : 0;
	}
	int reply = ct_is_reply(p, &x->cp, v);
	__u8 nst = p->proto == 6 ? tcp_next(v->state, p->tcpflags, reply) : v->state;
	return (__u32)ct_extra_s(p->proto, nst, v, bpf_ktime_get_ns());
}

/* A loopback packet at INPUT: conntrack counted it at LOCAL_OUT (the skb keeps its conntrack,
 * so PRE_ROUTING does not count it again). */
static __always_inline int ct_lo_in(struct scratch *x)
{
	return x->p.hook == 0 && x->iif[0] == 'l' && x->iif[1] == 'o' && x->iif[2] == 0;
}

/* The counters xt_connbytes reads at the filter hooks: conntrack accounted the packet before
 * (nf_ct_refresh_acct() in the protocol handlers at PRE_ROUTING / LOCAL_OUT), so they include
 * it; a new flow's entry holds it alone. An ICMP error (RELATED) is not accounted: the
 * embedded flow's counters as they are. No connection (INVALID, REJECT replies of this
 * datapath) or an entry created while accounting was off: cbok 0 (no match, even with `!`). */
static __noinline void connbytes_prep(struct scratch *x, struct ct_val *ce, int is_new)
{
	struct pkt *p = &x->p;
	struct ct_pkt *cp = &x->cp;
	p->cbok = 0;
	p->cbpk[0] = p->cbpk[1] = p->cbby[0] = p->cbby[1] = 0;
	__u32 st = p->ctstate;
	if (x->ctforce || st == CT_INVALID || st == CT_UNTRACKED)
		return;
	struct ct_val *v = ce;
	if (st == CT_RELATED) {
		struct ct_key ik;
		ct_make_key(&ik, cp->inner_saddr, cp->inner_sport, cp->inner_daddr, cp->inner_dport, cp->inner_proto);
		v = bpf_map_lookup_elem(&ct, &ik);
		if (!v || !v->acct)
			return;
		p->cbpk[0] = v->pk[0];
		p->cbpk[1] = v->pk[1];
		p->cbby[0] = v->by[0];
		p->cbby[1] = v->by[1];
		p->cbok = 1;
		return;
	}
	if (!v) {
		if (!is_new || !x->ctacct)
			return;
		p->cbpk[0] = 1;
		p->cbby[0] = p->skblen;
		p->cbok = 1;
		return;
	}
	if (!v->acct)
		return;
	p->cbpk[0] = v->pk[0];
	p->cbpk[1] = v->pk[1];
	p->cbby[0] = v->by[0];
	p->cbby[1] = v->by[1];
	if (!ct_lo_in(x)) {
		__u32 d = ct_is_reply(p, cp, v) & 1;
		p->cbpk[d] += 1;
		p->cbby[d] += p->skblen;
	}
	p->cbok = 1;
}

/* R_CONNBYTES: connbytes_mt(). field: what (0 packets, 1 bytes, 2 average packet size) |
 * direction << 4 (1 original, 2 reply, 3 both); x = count.from, y = count.to. */
static __always_inline int connbytes_res(struct pkt *p, struct res_ent *e)
{
	if (!p->cbok)
		return 0;
	__u32 what = e->field & 3, dir = e->field >> 4;
	__u64 pk = dir == 1 ? p->cbpk[0] : dir == 2 ? p->cbpk[1] : p->cbpk[0] + p->cbpk[1];
	__u64 by = dir == 1 ? p->cbby[0] : dir == 2 ? p->cbby[1] : p->cbby[0] + p->cbby[1];
	__u64 v = what == 0 ? pk : what == 1 ? by : (pk ? by / pk : 0);
	if (e->y >= e->x)
		return v <= e->y && v >= e->x;
	return v < e->y || v > e->x;
}

static __noinline void ct_confirm(struct scratch *x, struct ct_val *v, int is_new, int verdict)
{
	struct pkt *p = &x->p;
	struct ct_pkt *cp = &x->cp;
	struct ct_key *k = &x->ck;
	__u64 now = bpf_ktime_get_ns();
	if (v) {
		__u16 sp, dp;
		ct_ports(p, cp, &sp, &dp);
		int reply = !(p->saddr == v->orig_src && sp == v->orig_sport);
		if (p->proto == 1 && !reply && icmp_is_reply(cp->icmp_type))
			reply = 1;
		if (ct_assures(p, v, reply, now))
			v->assured = 1;
		__u8 nst = p->proto == 6 ? tcp_next(v->state, p->tcpflags, reply) : v->state;
		__u64 extra = ct_extra_s(p->proto, nst, v, now);
		if (reply)
			v->seen_reply = 1;
		if (v->acct && !ct_lo_in(x)) {
			v->pk[reply & 1] += 1;
			v->by[reply & 1] += p->skblen;
		}
		v->state = nst;
		v->expires_ns = now + extra * SEC_NS;
		v->tmo_j = (__u32)bpf_jiffies64() + (__u32)(extra * x->hz);
		return;
	}
	if (!is_new || verdict != NF_ACCEPT)
		return;
	struct ct_val nv = {};
	__u16 sp, dp;
	ct_ports(p, cp, &sp, &dp);
	nv.orig_src = p->saddr;
	nv.orig_sport = sp;
	nv.created_ns = now;
	if (x->ctlabels) {
		nv.haslabels = 1;
		nv.labels[0] = x->lbnew[0];
		nv.labels[1] = x->lbnew[1];
	}
	if (x->ctacct) {
		nv.acct = 1;
		nv.pk[0] = 1;
		nv.by[0] = p->skblen;
	}
	if (p->proto == 6)
		nv.state = (p->tcpflags & 0x17) == 0x02 ? TCPS_SYN_SENT : TCPS_ESTABLISHED;
	__u64 extra = ct_extra_s(p->proto, nv.state, 0, now);
	nv.expires_ns = now + extra * SEC_NS;
	nv.tmo_j = (__u32)bpf_jiffies64() + (__u32)(extra * x->hz);
	bpf_map_update_elem(&ct, k, &nv, BPF_ANY);
}
