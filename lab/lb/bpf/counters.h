/* Counters: per-CPU arrays, so increments need no atomics. A forwarded
 * packet updates the counter of its (rule, backend) pair only; the VIP, the
 * backend and the global TX counts are sums of pairs (maps.py), so the hot
 * path makes one counter update. */
#ifndef LB_COUNTERS_H
#define LB_COUNTERS_H

#include "maps.h"

static __always_inline void count_global(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&lb_global, &which);

	if (c)
		*c += 1;
}

static __always_inline void count_stats(void *map, __u32 idx, __u64 bytes, int new_flow)
{
	struct lb_stats *s = bpf_map_lookup_elem(map, &idx);

	if (!s)
		return;
	s->packets += 1;
	s->bytes += bytes;
	if (new_flow) /* rare: no read-modify-write for established packets */
		s->new_flows += 1;
}

#endif
