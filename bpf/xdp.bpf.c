// SPDX-License-Identifier: GPL-2.0
/* bpftables XDP fast path (pcn-iptables-init-xdp): drops at the driver the packets that the
 * head of INPUT or FORWARD would drop by source prefix alone (classifier/xdp.ts), and counts
 * them on the same per-rule counters the netfilter program uses. It never changes a verdict:
 * a packet it is not sure about passes (XDP_PASS) and the netfilter program decides as always.
 *
 * A packet is dropped here only if it would reach the INPUT / FORWARD hook, so that iptables
 * would count it too. It passes (to the stack) when:
 * - it is not IPv4 in Ethernet, or not addressed to the interface's own MAC (broadcast,
 *   multicast and other-host frames: the kernel drops or handles those differently);
 * - its IP header has options, is truncated, has a bad checksum, or it is a fragment (the
 *   kernel may reassemble before the hooks and count one packet);
 * - its source is martian (0/8, 127/8, multicast, limited broadcast, a local address) or its
 *   destination is 0/8, 127/8, multicast or limited broadcast: ip_route_input drops those;
 * - routing does not deliver it to INPUT or FORWARD (no route, blackhole, prohibit, TTL ≤ 1 or
 *   fragmentation needed when forwarding); with forwarding disabled on the interface
 *   (bpf_fib_lookup refuses all lookups then), only destinations in `xdplocal` are INPUT;
 * - the interface has strict reverse-path filtering (rp_filter=1): not emulated here;
 * - conntrack is on and the packet belongs to a tracked flow (conntrack updates the entry
 *   before the filter table whatever the verdict; the netfilter program does that);
 * - the active generation has no head prefix containing its source.
 * `xdpifs` (MAC, rp_filter) and `xdplocal` (the namespace's local and broadcast addresses) are
 * written by the loader at each commit: an address or MAC changed later is seen from the next
 * commit on (until then a packet may pass that could have been dropped, or, for an address
 * removed since, be counted as the rule's although the kernel would drop it unrouted).
 *
 * Maps shared with bpftables.bpf.c (the loader hands over the pinned fds before load):
 * cfg, counters, ct.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpftables.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800

#include "shared_maps.h"

/* Head prefixes of both generations: data = gen, chain, source address (network order). */
struct xdp_key {
	__u32 prefixlen; /* 16 + source prefix length */
	__u8 gen;
	__u8 chain;
	__u8 addr[4];
	__u8 pad[2];
};
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct xdp_key);
	__type(value, __u32); /* counter slot */
} xdpdrop SEC(".maps");

struct xdp_if {
	__u8 mac[6];
	__u8 rp_strict;
	__u8 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct xdp_if);
} xdpifs SEC(".maps");

/* Local (1) and broadcast (2) addresses of the namespace, network order. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} xdplocal SEC(".maps");

/* [0] packets dropped here, [1] packets passed to the stack (tests and status). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} xdpstats SEC(".maps");

static __always_inline int pass(void)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&xdpstats, &k);
	if (v)
		*v += 1;
	return XDP_PASS;
}

static __always_inline int ip_csum_ok(const __u16 *h)
{
	__u32 s = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		s += h[i];
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static __always_inline int martian_src(__u32 s)
{
	return (s >> 24) == 0 || (s >> 24) == 127 || (s >> 28) == 0xe || s == 0xffffffff;
}

static __always_inline int martian_dst(__u32 d)
{
	return (d >> 24) == 0 || (d >> 24) == 127 || (d >> 28) == 0xe || d == 0xffffffff;
}

static __always_inline int icmp_query(__u8 t)
{
	return t == 0 || t == 8 || t == 13 || t == 14 || t == 15 || t == 16 || t == 17 || t == 18;
}

/* Whether conntrack has an entry for this packet's flow (bpf/conntrack.h's key); -1: cannot
 * tell (pass). */
static __always_inline int ct_tracked(struct iphdr *ip, void *end)
{
	__u32 s = bpf_ntohl(ip->saddr), d = bpf_ntohl(ip->daddr);
	__u16 sp = 0, dp = 0;
	__u8 proto = ip->protocol;
	void *l4 = (void *)(ip + 1);
	if (proto == 6 || proto == 17) {
		__u8 *ph = l4;
		if ((void *)(ph + (proto == 6 ? 20 : 8)) > end)
			return -1;
		sp = (__u16)ph[0] << 8 | ph[1];
		dp = (__u16)ph[2] << 8 | ph[3];
	} else if (proto == 1) {
		__u8 *ih = l4;
		if ((void *)(ih + 8) > end || !icmp_query(ih[0]))
			return -1; /* errors may be RELATED: the netfilter program decides */
		sp = (__u16)ih[4] << 8 | ih[5];
		dp = sp;
	} else if (proto == 136 || proto == 132 || proto == 33) {
		return -1;
	}
	struct ct_key k;
	__builtin_memset(&k, 0, sizeof(k));
	if (s < d || (s == d && sp <= dp)) {
		k.a = s; k.pa = sp; k.b = d; k.pb = dp;
	} else {
		k.a = d; k.pa = dp; k.b = s; k.pb = sp;
	}
	k.proto = proto;
	return bpf_map_lookup_elem(&ct, &k) != 0;
}

SEC("xdp")
int bpftables_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return pass();
	__u32 ifi = ctx->ingress_ifindex;
	struct xdp_if *xi = bpf_map_lookup_elem(&xdpifs, &ifi);
	if (!xi || xi->rp_strict)
		return pass();
	if (*(__u32 *)&eth->h_dest[0] != *(__u32 *)&xi->mac[0] || *(__u16 *)&eth->h_dest[4] != *(__u16 *)&xi->mac[4])
		return pass();
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5)
		return pass();
	__u32 tot = bpf_ntohs(ip->tot_len);
	if (tot < 20 || (void *)ip + tot > end)
		return pass();
	if (ip->frag_off & bpf_htons(0x3fff))
		return pass();
	if (!ip_csum_ok((const __u16 *)ip))
		return pass();
	__u32 s = bpf_ntohl(ip->saddr), d = bpf_ntohl(ip->daddr);
	if (martian_src(s) || martian_dst(d))
		return pass();
	__u32 sn = ip->saddr, dn = ip->daddr;
	if (bpf_map_lookup_elem(&xdplocal, &sn))
		return pass();

	struct bpf_fib_lookup fl = {};
	fl.family = 2; /* AF_INET */
	fl.tos = ip->tos;
	fl.l4_protocol = ip->protocol;
	fl.tot_len = tot;
	fl.ifindex = ifi;
	fl.ipv4_src = sn;
	fl.ipv4_dst = dn;
	long rc = bpf_fib_lookup(ctx, &fl, sizeof(fl), 0);
	__u8 chain;
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED) {
		chain = 0;
	} else if (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		if (ip->ttl <= 1)
			return pass();
		chain = 1;
	} else if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED) {
		if (!bpf_map_lookup_elem(&xdplocal, &dn))
			return pass();
		chain = 0;
	} else {
		return pass();
	}

	__u32 zero = 0;
	struct cfg *cf = bpf_map_lookup_elem(&cfg, &zero);
	if (!cf)
		return pass();
	struct xdp_key k = {};
	k.prefixlen = 48;
	k.gen = cf->active & 1;
	k.chain = chain;
	__builtin_memcpy(k.addr, &sn, 4);
	__u32 *id = bpf_map_lookup_elem(&xdpdrop, &k);
	if (!id)
		return pass();
	__u32 cid = *id;
	if (cf->ct_on && ct_tracked(ip, end) != 0)
		return pass();
	struct counter_val *c = bpf_map_lookup_elem(&counters, &cid);
	if (c) {
		c->packets += 1;
		c->bytes += tot;
	}
	__u32 k0 = 0;
	__u64 *st = bpf_map_lookup_elem(&xdpstats, &k0);
	if (st)
		*st += 1;
	return XDP_DROP;
}
