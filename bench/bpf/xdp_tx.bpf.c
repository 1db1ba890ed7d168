// SPDX-License-Identifier: GPL-2.0
// Bench-only load generator: run with BPF_PROG_TEST_RUN in live-frames mode
// (BPF_F_TEST_XDP_LIVE_FRAMES) on the sender's veth; every frame is XDP_TX'd, which the
// kernel turns into a redirect out of that veth; the peer receives it through its NAPI
// (which exists only while GRO or an XDP program is enabled on the peer).
//
// Why the template copy: live-frames mode recycles its pages without re-copying the frame,
// and the DUT's stack writes into the frame in place (forwarding rewrites the MAC addresses
// and decrements the TTL), so after the first lap the frames would be addressed to the sink's
// MAC and dropped as PACKET_OTHERHOST. Rewriting the frame from `tmpl` on every run keeps
// every transmitted frame identical.
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define FRAME_LEN 60
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

struct frame { unsigned char b[64]; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame);
} tmpl SEC(".maps");

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	struct frame *f;

	if (data + FRAME_LEN > data_end)
		return XDP_DROP;
	f = bpf_map_lookup_elem(&tmpl, &key);
	if (!f)
		return XDP_DROP;
	__builtin_memcpy(data, f->b, FRAME_LEN);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
