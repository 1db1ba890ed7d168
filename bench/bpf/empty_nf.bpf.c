// SPDX-License-Identifier: GPL-2.0
// Baseline for the ns/packet comparison: a netfilter program that accepts every packet
// (NF_ACCEPT = 1) and does nothing else. libbpf 1.1 predates SEC("netfilter"), so the
// loader sets the program type (BPF_PROG_TYPE_NETFILTER) itself before loading.
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

SEC("netfilter")
int empty_nf(void *ctx)
{
	return 1;
}

char _license[] SEC("license") = "GPL";
