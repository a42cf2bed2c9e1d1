/* Rule and backend selection: VIP rule (specific, then HA ports), the
 * connection table for affinity, and the Maglev ring for new flows.
 * lab/lb/flowhash.py implements the same hash for the tests. */
#ifndef LB_LOOKUP_H
#define LB_LOOKUP_H

#include "counters.h"
#include "parse.h"

#define HASH_SEED 0x5eed1b0bu

static __always_inline __u32 fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The words are mixed in their in-memory (network) byte order. */
static __always_inline __u32 flow_hash(const struct flow_key *k)
{
	__u32 h = HASH_SEED;

	h = fmix32(h ^ k->src);
	h = fmix32(h ^ k->dst);
	h = fmix32(h ^ (((__u32)k->sport << 16) | k->dport));
	h = fmix32(h ^ k->proto);
	return h;
}

static __always_inline struct vip_meta *find_rule(struct flow_key *f)
{
	struct vip_key key = { .addr = f->dst, .port = f->dport, .proto = f->proto };
	struct vip_meta *vip;

	vip = bpf_map_lookup_elem(&lb_vips, &key);
	if (vip)
		return vip;
	key.port = 0;
	key.proto = 0;
	return bpf_map_lookup_elem(&lb_vips, &key);
}

static __always_inline __u32 maglev_pick(const struct vip_meta *vip, __u32 hash)
{
	__u32 slot, *backend;

	if (!vip->ring_size)
		return 0;
	slot = vip->ring_off + hash % vip->ring_size;
	backend = bpf_map_lookup_elem(&lb_rings, &slot);
	return backend ? *backend : 0;
}

static __always_inline struct backend *valid_backend(__u32 id)
{
	struct backend *b;

	if (!id)
		return 0;
	b = bpf_map_lookup_elem(&lb_backends, &id);
	if (!b || !(b->flags & BACKEND_F_VALID))
		return 0;
	return b;
}

/* Established flows keep their backend; a TCP SYN always takes a fresh
 * Maglev pick so a reused 5-tuple does not inherit a stale entry. */
static __always_inline __u32 choose_backend(const struct vip_meta *vip, struct pkt *p,
					    __u32 hash, int is_syn, int affinity, int *new_flow)
{
	struct conn_val val = { .vip_id = vip->vip_id };
	struct conn_val *cv;

	if (affinity && !is_syn) {
		cv = bpf_map_lookup_elem(&lb_conn, &p->flow);
		if (cv && valid_backend(cv->backend)) {
			count_global(G_CONN_HIT);
			*new_flow = 0;
			return cv->backend;
		}
	}
	count_global(G_CONN_MISS);
	*new_flow = 1;
	val.backend = maglev_pick(vip, hash);
	if (affinity && val.backend)
		bpf_map_update_elem(&lb_conn, &p->flow, &val, BPF_ANY);
	return val.backend;
}

#endif
