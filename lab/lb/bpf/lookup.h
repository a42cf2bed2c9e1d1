/* Rule and backend selection: the VIP's rules (specific, or HA ports), the
 * connection table for affinity, and the Maglev ring for new flows.
 * lab/lb/flowhash.py implements the same hash for the tests. */
#ifndef LB_LOOKUP_H
#define LB_LOOKUP_H

#include "counters.h"
#include "parse.h"

#define HASH_SEED 0x5eed1b0b5eed1b0bull
#define HASH_K1 0x9e3779b97f4a7c15ull
#define HASH_K2 0xbf58476d1ce4e5b9ull

/* The 5-tuple as two 64-bit words (addresses; ports and protocol, in their
 * in-memory network byte order), mixed by two multiply-xorshift rounds: a
 * short dependency chain (two multiplications) where four 32-bit finalisers
 * chained eight. Every input bit reaches the low bits (connection-table set)
 * and the whole word (Maglev slot, VXLAN source port). */
static __always_inline __u32 flow_hash(const struct flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = (w[0] ^ HASH_SEED) * HASH_K1;

	h ^= w[1];
	h = (h ^ (h >> 31)) * HASH_K2;
	return (__u32)(h ^ (h >> 32));
}

/* The address's index in the VIP pool; >= cfg->pool_size when outside it. */
static __always_inline __u32 pool_index(const struct lb_config *cfg, __be32 daddr)
{
	return bpf_ntohl(daddr) - cfg->pool_base;
}

/* The VIP slot of a pool index (pool_index() < cfg->pool_size). */
static __always_inline struct vip_slot *vip_slot(__u32 idx)
{
	return &lb_vips[idx & (LB_VIP_SLOTS - 1)];
}

static __always_inline struct vip_rule *find_rule(struct vip_slot *slot, const struct flow_key *f)
{
	/* port, protocol and flags are a rule's first word: one load and one
	 * compare per rule (the constants fold at build time) */
	const union rule_head want = { .port = f->dport, .proto = f->proto };
	const union rule_head match = { .port = 0xffff, .proto = 0xff };
	const union rule_head ha = { .flags = VIP_F_HA_PORTS };

#pragma unroll
	for (int i = 0; i < LB_RULES_PER_VIP; i++) {
		struct vip_rule *r = &slot->rules[i];

		if (i >= slot->n_rules)
			break;
		if ((r->head.word & match.word) == want.word || (r->head.word & ha.word))
			return r;
	}
	return 0;
}

/* The target (backend | pair << PAIR_SHIFT) of the flow's ring slot; 0 = none. */
static __always_inline __u32 maglev_pick(const struct vip_rule *rule, __u32 hash)
{
	__u32 slot;

	if (!rule->ring_size)
		return 0;
	/* hash * size / 2^32: the high bits pick the slot, uniformly, without a
	 * division (tens of cycles); the low bits pick the connection set */
	slot = rule->ring_off + (__u32)(((__u64)hash * rule->ring_size) >> 32);
	if (slot >= LB_RING_SLOTS)
		return 0;
	return lb_rings[slot];
}

static __always_inline struct backend *valid_backend(__u32 target)
{
	__u32 id = target & BACKEND_MASK;
	struct backend *b;

	if (!id)
		return 0;
	b = &lb_backends[id & (LB_MAX_BACKENDS - 1)];
	if (!(b->flags & BACKEND_F_VALID))
		return 0;
	return b;
}

static __always_inline int same_flow(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/* Binds an entry's target to its key's hash: a way torn by two CPUs writing
 * it at once fails the check and reads as a miss. */
static __always_inline __u32 conn_tag(__u32 hash, __u32 target)
{
	return hash ^ target;
}

/* The way whose key is this flow's, else NULL. Keys only: a free way's key
 * is zero, which no packet to a VIP has; the caller checks the tag. */
static __always_inline struct conn_entry *find_way(struct conn_set *set, const struct flow_key *k)
{
#pragma unroll
	for (int i = 0; i < LB_CONN_WAYS; i++)
		if (same_flow(&set->way[i].key, k))
			return &set->way[i];
	return 0;
}

/* The way to replace: a free one, else the least recently used. */
static __always_inline int lru_way(const struct conn_set *set)
{
	int victim = 0;

#pragma unroll
	for (int i = 1; i < LB_CONN_WAYS; i++) {
		if (!set->way[victim].target)
			break;
		if (!set->way[i].target || set->way[i].last_used < set->way[victim].last_used)
			victim = i;
	}
	return victim;
}

/* Stamp a way as the set's most recently used: a fresh clock value. */
static __always_inline void stamp(struct conn_set *set, struct conn_entry *e)
{
	__u32 now = set->clock + 1;

	set->clock = now;
	e->last_used = now;
}

/* The same, unless the way already holds the newest value (a burst of one
 * flow then writes nothing). */
static __always_inline void touch(struct conn_set *set, struct conn_entry *e)
{
	__u32 now = set->clock;

	if (e->last_used != now || !now)
		stamp(set, e);
}

/* An established flow's entry, found before any VIP or rule lookup (its
 * target names the pair, so the rule too): its backend, or NULL to take the
 * full path (no entry, or its backend was deleted). */
static __always_inline struct backend *established(const struct pkt *p, __u32 hash,
						   __u32 *target)
{
	struct conn_set *set = &lb_conn[hash & (LB_CONN_SETS - 1)];
	struct conn_entry *e = find_way(set, &p->flow);
	struct backend *b;

	if (!e)
		return 0;
	if (e->tag != conn_tag(hash, e->target))
		return 0;
	b = valid_backend(e->target);
	if (b) {
		touch(set, e);
		*target = e->target;
	}
	return b;
}

/* The full path, for packets the established path did not take (SYNs, no
 * entry, a deleted backend, affinity off): a fresh Maglev pick, remembered in
 * the flow's way of its set (or the least recently used one). */
static __always_inline struct backend *pick_backend(const struct vip_rule *rule, const struct pkt *p,
						    __u32 hash, int affinity, __u32 *target)
{
	__u32 picked = maglev_pick(rule, hash);
	struct backend *b = valid_backend(picked);
	struct conn_set *set = &lb_conn[hash & (LB_CONN_SETS - 1)];
	struct conn_entry *e;

	*target = picked;
	if (!b || !affinity)
		return b;
	e = find_way(set, &p->flow);
	if (!e)
		e = &set->way[lru_way(set) & (LB_CONN_WAYS - 1)];
	e->key = p->flow;
	e->target = picked;
	e->tag = conn_tag(hash, picked);
	stamp(set, e);
	return b;
}

#endif
