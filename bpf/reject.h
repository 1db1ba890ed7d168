/* REJECT replies for bpftables.bpf.c (included once, after classify()).
 *
 * A netfilter program can neither modify nor transmit packets, so the TCP RST / ICMP
 * destination-unreachable of `-j REJECT` is sent by two tc (tcx) programs of the same object,
 * attached by the loader to every Ethernet / loopback interface of the namespace while the
 * ruleset contains a REJECT rule:
 *
 * - bpftables_tc_in (ingress): decides INPUT vs FORWARD with bpf_fib_lookup, runs the same
 *   classification as the netfilter program as a dry run (no counters, LOG, conntrack or
 *   limit/statistic/recent state: limit peeks, recent uses private copies, recent.h). Only
 *   when the verdict is a REJECT it runs it again for real (counts exactly what the netfilter
 *   program would have counted), turns the packet into the reply in place, runs the reply
 *   through the OUTPUT chain (the kernel sends REJECT replies with ip_local_out, so iptables
 *   counts them there) and sends it back out of the same interface;
 *   the original never reaches netfilter. Any other verdict: the packet passes untouched and
 *   the netfilter program does all the work.
 * - OUTPUT: tc egress runs after NF_INET_LOCAL_OUT, so the netfilter program decides: for a
 *   REJECT of a local socket's packet whose reply can be sent and whose out device has the
 *   egress program it counts as usual, records the skb in `rejpend` and returns ACCEPT;
 *   bpftables_tc_out finds that skb (same sk_buff pointer, same destination / protocol /
 *   length, within 5 s), builds the reply, runs it through OUTPUT (oif lo) and delivers it to
 *   the local stack through lo (ingress; egress when it was leaving through lo), where INPUT
 *   sees it as the kernel's reply would be seen (RELATED: `relskb`).
 * - Replies are RELATED in their OUTPUT pass (nf_ct_attach gives them the original's
 *   conntrack).
 *
 * Replies follow net/ipv4/netfilter/nf_reject_ipv4.c and icmp_send(): RST from the original
 * destination, seq = the original's ack (ACK set) or ack = seq + SYN + FIN + payload (RST|ACK),
 * DF, TTL 64; ICMP type 3 with the rule's code, TOS (orig & 0x1e) | 0xc0, quoting the original
 * IP packet up to 576 bytes in all (548 quoted). No reply for RSTs, ICMP errors, non-first
 * fragments, broadcast / multicast or packets not addressed to this host's MAC (the kernel's
 * rules too); those REJECTs just drop. ICMP rate limiting is not emulated.
 */

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define ETH_P_IP_BE 0x0008 /* bpf_htons(0x0800) */
#define LOOPBACK_IFINDEX 1
#define REPLY_TCP_RESET 0x100 /* rule_ent.arg of A_REJECT: ICMP code, or this for tcp-reset */
#define PEND_MAX_NS (5 * SEC_NS)

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Interfaces with the tc programs attached: ifindex -> name (filled by the loader). */
struct ifname {
	char name[16];
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ifname);
} tcifs SEC(".maps");

/* OUTPUT REJECTs handed from the netfilter program to bpftables_tc_out, keyed by sk_buff. */
struct pend_val {
	__u64 ts;
	__u32 daddr; /* host order */
	__u32 len;
	__u32 proto;
	__u32 code;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct pend_val);
} rejpend SEC(".maps");

/* ICMP header + quoted data, for the checksum (tc programs do not nest on a CPU). */
struct rbuf {
	__u8 b[576];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rbuf);
} rbuf SEC(".maps");

/* Whether the kernel would send a reply for this packet (x->p / x->cp from parse()). */
static __always_inline int reply_possible(struct scratch *x, __u32 code)
{
	struct pkt *p = &x->p;
	if (p->frag)
		return 0;
	if ((p->daddr >> 28) == 0xe || p->daddr == 0xffffffff || (p->saddr >> 28) == 0xe || p->saddr == 0xffffffff || p->saddr == 0)
		return 0;
	if (code == REPLY_TCP_RESET)
		return p->proto == 6 && x->cp.l4ok && !(p->tcpflags & 0x04);
	if (p->proto == 1) {
		__u8 t = x->cp.icmp_type;
		if (!x->cp.l4ok || t > 18 || icmp_is_error(t))
			return 0;
	}
	return 1;
}

/* Netfilter OUTPUT: hand a REJECT to the egress program. 1 = handed (return ACCEPT). */
static __always_inline int reject_defer(struct bpf_nf_ctx *ctx, struct scratch *x, struct net_device *out)
{
	__u32 code = x->rej & 0xffff;
	if (!reply_possible(x, code))
		return 0;
	/* Only packets of a local socket (whose owner the reply is for). This also keeps
	 * BPF_PROG_TEST_RUN (no socket) at plain DROP. */
	if (!ctx->skb->sk)
		return 0;
	__u32 ifi = out->ifindex;
	if (!bpf_map_lookup_elem(&tcifs, &ifi))
		return 0;
	__u64 key = (__u64)ctx->skb;
	struct pend_val v = { .ts = bpf_ktime_get_ns(), .daddr = x->p.daddr, .len = x->p.len, .proto = x->p.proto, .code = code };
	return bpf_map_update_elem(&rejpend, &key, &v, BPF_ANY) == 0;
}

static __always_inline void put16(__u8 *h, __u32 off, __u32 v)
{
	h[off] = v >> 8;
	h[off + 1] = v;
}

static __always_inline void put32(__u8 *h, __u32 off, __u32 v)
{
	h[off] = v >> 24;
	h[off + 1] = v >> 16;
	h[off + 2] = v >> 8;
	h[off + 3] = v;
}

static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* Turns the packet (Ethernet at 0, IPv4 at 14) into the reply. mode 0: back out of the same
 * interface (MACs swapped); mode 1: for lo's ingress (MACs zero). rsaddr: the ICMP source
 * (network order). Returns the reply's IP length or -1. */
static __noinline int build_reply(struct __sk_buff *skb, __u32 code, __u32 mode, __u32 rsaddr)
{
	__u8 o[36] __attribute__((aligned(4)));
	__u8 h[64] __attribute__((aligned(8)));
	if (bpf_skb_load_bytes(skb, 0, o + 2, 34))
		return -1;
	__u8 *oip = o + 16;
	__u32 ihl = (oip[0] & 0xf) * 4;
	__u32 totlen = (__u32)oip[2] << 8 | oip[3];
	__u32 have = skb->len > 14 ? skb->len - 14 : 0;
	if (totlen > have)
		totlen = have;
	if (ihl < 20 || totlen < ihl)
		return -1;
	__builtin_memset(h, 0, sizeof(h));
	/* Ethernet at h+2, IP at h+16, L4 at h+36. */
	if (mode == 0) {
		__builtin_memcpy(h + 2, o + 2 + 6, 6);
		__builtin_memcpy(h + 8, o + 2, 6);
	}
	h[14] = 0x08;
	h[15] = 0x00;
	__u8 *ip = h + 16;
	ip[0] = 0x45;
	ip[8] = 64;
	__builtin_memcpy(ip + 16, oip + 12, 4); /* daddr = original source */
	if (code == REPLY_TCP_RESET) {
		__u8 th[20];
		if (bpf_skb_load_bytes(skb, 14 + (ihl & 0x3c), th, 20))
			return -1;
		__u8 *t = h + 36;
		put16(ip, 2, 40);
		put16(ip, 6, 0x4000);
		ip[9] = 6;
		__builtin_memcpy(ip + 12, oip + 16, 4);
		t[0] = th[2];
		t[1] = th[3];
		t[2] = th[0];
		t[3] = th[1];
		if (th[13] & 0x10) {
			__builtin_memcpy(t + 4, th + 8, 4);
			t[13] = 0x04;
		} else {
			__u32 doff = (th[12] >> 4) * 4;
			__u32 seq = (__u32)th[4] << 24 | (__u32)th[5] << 16 | (__u32)th[6] << 8 | th[7];
			__u32 data = totlen > ihl + doff ? totlen - ihl - doff : 0;
			seq += data + ((th[13] >> 1) & 1) + (th[13] & 1);
			put32(t, 8, seq);
			t[13] = 0x14;
		}
		t[12] = 0x50;
		__u64 s = 0;
		__u16 *w = (__u16 *)ip;
#pragma unroll
		for (int i = 0; i < 10; i++)
			s += w[i];
		*(__u16 *)(ip + 10) = csum_fold(s);
		s = bpf_htons(6) + bpf_htons(20);
#pragma unroll
		for (int i = 6; i < 10; i++)
			s += w[i];
		w = (__u16 *)t;
#pragma unroll
		for (int i = 0; i < 10; i++)
			s += w[i];
		*(__u16 *)(t + 16) = csum_fold(s);
		if (bpf_skb_change_tail(skb, 54, 0))
			return -1;
		if (bpf_skb_store_bytes(skb, 0, h + 2, 54, 0))
			return -1;
		return 40;
	}
	__u32 n = totlen > 548 ? 548 : totlen;
	if (bpf_skb_change_tail(skb, 14 + n, 0))
		return -1;
	if (bpf_skb_adjust_room(skb, 28, BPF_ADJ_ROOM_MAC, 0))
		return -1;
	__u32 zero = 0;
	struct rbuf *b = bpf_map_lookup_elem(&rbuf, &zero);
	if (!b)
		return -1;
	n &= 1023;
	if (n < 20 || n > 548)
		return -1;
	__u8 *ic = h + 36;
	ic[0] = 3;
	ic[1] = code;
	__builtin_memset(b->b, 0, 8);
	b->b[0] = 3;
	b->b[1] = code;
	if (bpf_skb_load_bytes(skb, 42, b->b + 8, n))
		return -1;
	b->b[8 + n] = 0;
	b->b[9 + n] = 0;
	b->b[10 + n] = 0;
	__u32 len = (8 + n + 3) & ~3u;
	__u32 l1 = len > 512 ? 512 : len;
	__s64 cs = bpf_csum_diff(0, 0, (__be32 *)b->b, l1 & 0x3fc, 0);
	if (cs < 0)
		return -1;
	if (len > 512) {
		cs = bpf_csum_diff(0, 0, (__be32 *)(b->b + 512), (len - 512) & 0x3c, (__wsum)cs);
		if (cs < 0)
			return -1;
	}
	*(__u16 *)(ic + 2) = csum_fold((__u32)cs);
	ip[1] = (oip[1] & 0x1e) | 0xc0;
	put16(ip, 2, 28 + n);
	ip[9] = 1;
	*(__u32 *)(ip + 12) = rsaddr;
	__u64 s = 0;
	__u16 *w = (__u16 *)ip;
#pragma unroll
	for (int i = 0; i < 10; i++)
		s += w[i];
	*(__u16 *)(ip + 10) = csum_fold(s);
	if (bpf_skb_store_bytes(skb, 0, h + 2, 42, 0))
		return -1;
	return 28 + n;
}

/* classify() as a global function: verified once per tc program instead of once per call
 * (three inlined copies exceed the verifier's 1M-instruction budget). */
__noinline int bpftables_classify_tc(struct __sk_buff *skb, struct cfg *cf, struct scratch *x, __u32 chain0, __u32 gen)
{
	if (!skb || !cf || !x)
		return NF_DROP;
	x->netp = 0; /* content.h: no socket counts for -m owner here */
	return classify(skb, bpf_cast_to_kern_ctx(skb), cf, x, chain0, gen);
}

static __always_inline struct scratch *tc_enter(void)
{
	__u32 zero = 0;
	__u32 *lvl = bpf_map_lookup_elem(&nest, &zero);
	if (!lvl || *lvl >= NEST_MAX)
		return 0;
	__u32 k = *lvl;
	struct scratch *x = bpf_map_lookup_elem(&scratch, &k);
	if (x)
		*lvl = k + 1;
	return x;
}

static __always_inline void tc_leave(void)
{
	__u32 zero = 0;
	__u32 *lvl = bpf_map_lookup_elem(&nest, &zero);
	if (lvl && *lvl)
		*lvl -= 1;
}

/* The reply's pass through the OUTPUT chain (counted as iptables counts the kernel's reply). */
static const char lo_name[16] = "lo";

static __always_inline void reply_output_prep(struct scratch *x, int rlen, const char *oif)
{
	__u64 *iw = (__u64 *)x->iif, *ow = (__u64 *)x->oif;
	iw[0] = 0;
	iw[1] = 0;
	ow[0] = *(__u64 *)&oif[0];
	ow[1] = *(__u64 *)&oif[8];
	x->l3off = 14;
	x->dry = 0;
	x->ctforce = CT_RELATED + 1; /* the kernel attaches the original's conntrack: RELATED */
	x->relkey = 0;
	/* addrtype: same namespace (at_net kept); the reply's devices are not modelled. */
	x->at_in = 0;
	x->at_out = 0;
	x->p.skblen = rlen;
	x->p.mark = 0;
	x->p.pkttype = 0;
}

/* The skb's network namespace (struct net *) for addrtype.h. */
static __always_inline __u64 tc_net(struct __sk_buff *skb)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	struct net_device *dev = k->dev;
	return dev ? (__u64)BPF_CORE_READ(dev, nd_net.net) : 0;
}

/* INPUT (0) or FORWARD (1, *oifi set) for a packet arriving on ifi; -1: neither (the kernel
 * drops it, or it is not IPv4). Separate frame: the caller's stack meets classify()'s. */
static __noinline int tc_route(struct __sk_buff *skb, __u32 ifi, __u32 *oifi, __u32 *saddr, __u32 *daddr)
{
	__u8 iph[20];
	if (bpf_skb_load_bytes(skb, 14, iph, 20) || (iph[0] >> 4) != 4)
		return -1;
	*saddr = *(__u32 *)(iph + 12);
	*daddr = *(__u32 *)(iph + 16);
	struct bpf_fib_lookup fl = {};
	fl.family = 2; /* AF_INET */
	fl.tos = iph[1];
	fl.l4_protocol = iph[9];
	fl.tot_len = (__u16)iph[2] << 8 | iph[3];
	fl.ifindex = ifi;
	fl.ipv4_src = *saddr;
	fl.ipv4_dst = *daddr;
	long rc = bpf_fib_lookup(skb, &fl, sizeof(fl), 0);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED)
		return 0;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		*oifi = fl.ifindex;
		return 1;
	}
	if (rc != BPF_FIB_LKUP_RET_FWD_DISABLED)
		return -1;
	/* Forwarding is off on this interface (bpf_fib_lookup refuses every lookup then): the
	 * kernel delivers the packet locally or drops it before any hook. Taken as INPUT; a
	 * packet for a foreign address sent to this host's MAC would be classified too. */
	return 0;
}

/* icmp_send from a router: the source address routing picks towards the sender. */
static __noinline __u32 fwd_src(struct __sk_buff *skb, __u32 ifi, __u32 to, __u32 dflt)
{
	struct bpf_fib_lookup fl = {};
	fl.family = 2;
	fl.ifindex = ifi;
	fl.ipv4_dst = to;
	if (bpf_fib_lookup(skb, &fl, sizeof(fl), BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC) == 0 && fl.ipv4_src)
		return fl.ipv4_src;
	return dflt;
}

/* Entry work of bpftables_tc_in outside its frame (the entry's stack adds up with
 * classify()'s and the loop callbacks' under the verifier's 512-byte limit). Returns the
 * scratch slot (entered) with route, names and packet properties set, or 0: pass. */
static __noinline struct scratch *tc_in_prep(struct __sk_buff *skb, struct cfg *cf)
{
	if (skb->protocol != ETH_P_IP_BE || skb->pkt_type == 3 /* PACKET_OTHERHOST */)
		return 0;
	__u32 ifi = skb->ifindex;
	struct ifname *in = bpf_map_lookup_elem(&tcifs, &ifi);
	if (!in)
		return 0;
	struct scratch *x = tc_enter();
	if (!x)
		return 0;
	x->t_oif = 0;
	int chain0 = tc_route(skb, ifi, &x->t_oif, &x->t_saddr, &x->t_daddr);
	if (chain0 < 0)
		goto pass;
	/* Names as two u64 words (byte copies would spill registers to the stack). */
	__u64 *iw = (__u64 *)x->iif, *ow = (__u64 *)x->oif, *nw = (__u64 *)in->name;
	iw[0] = nw[0];
	iw[1] = nw[1];
	ow[0] = 0;
	ow[1] = 0;
	if (chain0 == 1) {
		struct ifname *on = bpf_map_lookup_elem(&tcifs, &x->t_oif);
		if (!on)
			goto pass;
		ow[0] = ((__u64 *)on->name)[0];
		ow[1] = ((__u64 *)on->name)[1];
	}
	x->t_pad = chain0;
	x->gen = cf->active;
	x->l3off = 14;
	x->dry = 1;
	x->rdn = 0;
	x->ctforce = 0;
	x->relkey = ifi == LOOPBACK_IFINDEX ? (__u64)bpf_cast_to_kern_ctx(skb) : 0;
	x->relconsume = 0;
	x->p.skblen = skb->len - 14;
	x->p.mark = skb->mark;
	x->p.pkttype = skb->pkt_type;
	x->at_net = tc_net(skb);
	x->at_in = ifi;
	x->at_out = chain0 == 1 ? x->t_oif : 0;
	return x;
pass:
	tc_leave();
	return 0;
}

/* After the real run of a REJECT: turns the packet into the reply and prepares x for the
 * reply's OUTPUT pass. Returns the reply's IP length, or -1 (no reply: drop). */
static __noinline int tc_in_reply(struct __sk_buff *skb, struct scratch *x)
{
	__u32 code = x->rej & 0xffff;
	if (x->p.pkttype != 0 || !reply_possible(x, code))
		return -1;
	__u32 ifi = skb->ifindex;
	struct ifname *in = bpf_map_lookup_elem(&tcifs, &ifi);
	if (!in)
		return -1;
	__u32 rsaddr = x->t_daddr;
	if (x->t_pad == 1 && code != REPLY_TCP_RESET)
		rsaddr = fwd_src(skb, ifi, x->t_saddr, x->t_daddr);
	int rlen = build_reply(skb, code, 0, rsaddr);
	if (rlen < 0)
		return -1;
	reply_output_prep(x, rlen, in->name);
	return rlen;
}

SEC("tc")
int bpftables_tc_in(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct cfg *cf = bpf_map_lookup_elem(&cfg, &zero);
	if (!cf)
		return TC_ACT_OK;
	struct scratch *x = tc_in_prep(skb, cf);
	if (!x)
		return TC_ACT_OK;
	int act = TC_ACT_OK;
	bpftables_classify_tc(skb, cf, x, x->t_pad, x->gen);
	if (!x->rej || x->abort)
		goto out;
	/* A REJECT: the real run (counters, LOG, conntrack); the netfilter program never sees it. */
	x->dry = 0;
	act = bpftables_classify_tc(skb, cf, x, x->t_pad, x->gen) == NF_ACCEPT ? TC_ACT_OK : TC_ACT_SHOT;
	if (!x->rej)
		goto out; /* cannot happen: the dry run saw the same generation */
	act = TC_ACT_SHOT;
	if (tc_in_reply(skb, x) < 0)
		goto out;
	/* The kernel sends the reply with ip_local_out: it crosses OUTPUT. */
	if (bpftables_classify_tc(skb, cf, x, 2, x->gen) != NF_ACCEPT)
		goto out;
	tc_leave();
	return bpf_redirect(skb->ifindex, 0);
out:
	tc_leave();
	return act;
}

/* The pending OUTPUT REJECT of this skb, if any, turned into its reply. Returns the reply's
 * IP length, 0 when the skb is not a pending REJECT (pass), -1 to drop. */
static __noinline int tc_out_reply(struct __sk_buff *skb)
{
	if (skb->protocol != ETH_P_IP_BE)
		return 0;
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	__u64 key = (__u64)k;
	struct pend_val *pv = bpf_map_lookup_elem(&rejpend, &key);
	if (!pv)
		return 0;
	struct pend_val pend = *pv;
	bpf_map_delete_elem(&rejpend, &key);
	if (bpf_ktime_get_ns() - pend.ts > PEND_MAX_NS)
		return 0;
	__u8 iph[20];
	if (bpf_skb_load_bytes(skb, 14, iph, 20))
		return 0;
	__u32 daddr = (__u32)iph[16] << 24 | (__u32)iph[17] << 16 | (__u32)iph[18] << 8 | iph[19];
	if (iph[9] != pend.proto || daddr != pend.daddr || ((__u32)iph[2] << 8 | iph[3]) != pend.len)
		return 0;
	/* The original was counted by the netfilter program; from here on it is the reply. Its
	 * source is the original destination: icmp_send's own choice (the local address itself)
	 * would be dropped as a local source by lo's input route check (rp_filter), as the
	 * redirected skb has no route attached. */
	int rlen = build_reply(skb, pend.code, 1, *(__u32 *)(iph + 16));
	return rlen > 0 ? rlen : -1;
}

static __noinline void rel_record(struct __sk_buff *skb, int rlen)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	__u64 key = (__u64)k;
	struct rel_val v = { .ts = bpf_ktime_get_ns(), .len = rlen, .proto = 0 };
	__u8 proto = 0;
	if (bpf_skb_load_bytes(skb, 14 + 9, &proto, 1))
		return;
	v.proto = proto;
	bpf_map_update_elem(&relskb, &key, &v, BPF_ANY);
}

SEC("tc")
int bpftables_tc_out(struct __sk_buff *skb)
{
	int rlen = tc_out_reply(skb);
	if (rlen == 0)
		return TC_ACT_OK;
	if (rlen < 0)
		return TC_ACT_SHOT;
	__u32 zero = 0;
	struct cfg *cf = bpf_map_lookup_elem(&cfg, &zero);
	if (!cf)
		return TC_ACT_SHOT;
	struct scratch *x = tc_enter();
	if (!x)
		return TC_ACT_SHOT;
	x->at_net = tc_net(skb);
	reply_output_prep(x, rlen, lo_name);
	int v = bpftables_classify_tc(skb, cf, x, 2, cf->active);
	tc_leave();
	if (v != NF_ACCEPT)
		return TC_ACT_SHOT;
	rel_record(skb, rlen);
	/* To the local socket. Leaving through lo: out of lo again, keeping the skb's route (a
	 * local one, whose input is local delivery: loopback needs no source check, and every
	 * address there is local). Otherwise: lo's ingress (dst MAC 00:00:00:00:00:00 = lo's
	 * address), where the redirect drops the outgoing route and the input route is looked up. */
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return bpf_redirect(LOOPBACK_IFINDEX, 0);
	return bpf_redirect(LOOPBACK_IFINDEX, BPF_F_INGRESS);
}
