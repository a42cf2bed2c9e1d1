/* The maps of the load balancer; pinned by the loader under
 * /sys/fs/bpf/stacklab/<lab>/lb_maps/<name>. Names stay below 16 characters.
 * Hot-path maps are arrays: the verifier inlines their lookups, while a hash
 * lookup is a kernel function call (expensive under return-thunk mitigations). */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include "lb_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_VIP_SLOTS);
	__type(key, __u32);
	__type(value, struct vip_slot);
} lb_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} lb_backends SEC(".maps");

/* All Maglev rings, back to back; each rule owns [ring_off, ring_off + ring_size). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_RING_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} lb_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_CONN_SETS);
	__type(key, __u32);
	__type(value, struct conn_set);
} lb_conn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_stats);
} lb_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_stats);
} lb_be_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, G_NUM);
	__type(key, __u32);
	__type(value, __u64);
} lb_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} lb_config SEC(".maps");

#endif
