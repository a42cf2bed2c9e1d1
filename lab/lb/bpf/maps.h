/* The load balancer's state, pinned by the loader under
 * /sys/fs/bpf/stacklab/<lab>/lb_maps/<name>.
 *
 * The tables the datapath reads on every packet are globals, each in its own
 * .data.<name> section: libbpf makes each a one-element array map that user
 * space can mmap (pinned as _data_<name>; bpfsys.GlobalTable). The program
 * reaches a record by address, with no bpf_map_lookup_elem: the verifier
 * inlines array lookups, but clang still compiles each one as a call that
 * clobbers r1-r5, so values live across it were spilled to the stack and read
 * back. Their sizes are powers of two so that an index is bounded by one AND.
 * The counters stay per-CPU array maps (no atomics); names stay below 16
 * characters. */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include "lb_common.h"

/* one per (rule, backend) pair: lb_common.h, PAIR_SHIFT */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_PAIRS);
	__type(key, __u32);
	__type(value, struct lb_stats);
} lb_pair_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, G_NUM);
	__type(key, __u32);
	__type(value, __u64);
} lb_global SEC(".maps");

#define LB_TABLE(name) __attribute__((section(".data." name), aligned(8)))

_Static_assert((LB_VIP_SLOTS & (LB_VIP_SLOTS - 1)) == 0, "LB_VIP_SLOTS: a power of two");
_Static_assert((LB_MAX_BACKENDS & (LB_MAX_BACKENDS - 1)) == 0, "LB_MAX_BACKENDS: a power of two");
_Static_assert((LB_CONN_SETS & (LB_CONN_SETS - 1)) == 0, "LB_CONN_SETS: a power of two");

struct lb_config lb_config LB_TABLE("config");
/* indexed by address - pool base */
struct vip_slot lb_vips[LB_VIP_SLOTS] LB_TABLE("vips");
struct backend lb_backends[LB_MAX_BACKENDS] LB_TABLE("backends");
/* all Maglev rings, back to back; each rule owns [ring_off, ring_off + ring_size) */
__u32 lb_rings[LB_RING_SLOTS] LB_TABLE("rings");
struct conn_set lb_conn[LB_CONN_SETS] LB_TABLE("conn");
/* the control plane's record of what each pair id stands for */
struct pair lb_pairs[LB_MAX_PAIRS] LB_TABLE("pairs");

#endif
