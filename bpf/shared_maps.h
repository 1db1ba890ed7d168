/* Maps that bpftables.bpf.c and xdp.bpf.c both use: the XDP object is loaded with the netfilter
 * object's pinned fds for these (bpf_map__reuse_fd, bpf/loader/xdp.ts), so both must declare
 * them identically. Included once per object, after bpftables.h. */
#ifndef BPFTABLES_SHARED_MAPS_H
#define BPFTABLES_SHARED_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cfg);
} cfg SEC(".maps");

/* Not per generation: indexed by counterId. Size set by the loader before load. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << 18);
	__type(key, __u32);
	__type(value, struct counter_val);
} counters SEC(".maps");

/* Conntrack entries (conntrack.h). Size set by the loader before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct_key);
	__type(value, struct ct_val);
} ct SEC(".maps");

#endif
