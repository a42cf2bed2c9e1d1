/* The maps of the load balancer; pinned by the loader under
 * /sys/fs/bpf/stacklab/<lab>/maps/<name>. Names stay below 16 characters. */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include "lb_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct vip_key);
	__type(value, struct vip_meta);
} lb_vips SEC(".maps");

/* VIP address -> number of rules on it: tells "a VIP with no rule for this
 * port" (drop) from "not a VIP at all" (pass to the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __be32);
	__type(value, __u32);
} lb_vip_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} lb_backends SEC(".maps");

/* All Maglev rings, back to back; each VIP owns [ring_off, ring_off + ring_size). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_RING_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} lb_rings SEC(".maps");

/* Flow affinity: per-CPU values and per-CPU LRU lists, no cross-CPU locking. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, LB_CONN_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct flow_key);
	__type(value, struct conn_val);
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
