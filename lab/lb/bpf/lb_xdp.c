// SPDX-License-Identifier: GPL-2.0
/* stacklab SLB MUX: XDP direct-server-return load balancer.
 *
 * VIP traffic is matched against the rules (secure by default: a VIP port
 * without a rule is dropped), pinned to a backend (connection table, else
 * Maglev), VXLAN-encapsulated to the backend's server and sent back out the
 * same NIC (XDP_TX). Replies go from the backend straight to the client.
 * Packets of established flows are looked up in the connection table first:
 * its entry holds the backend and the (rule, backend) pair the flow counts under.
 * Built with -DLB_BENCH_REWIND for the benchmark only: the encapsulation is
 * undone after it is built so BPF_PROG_TEST_RUN's `repeat` sees the original
 * packet every time (it re-runs on the modified buffer otherwise).
 */
#include "lb_common.h"
#include "maps.h"
#include "counters.h"
#include "parse.h"
#include "lookup.h"
#include "encap.h"

#define TCP_SYN 0x02
#define TCP_ACK 0x10

static __always_inline int is_syn(const struct pkt *p)
{
	return p->flow.proto == IPPROTO_TCP && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

/* Encapsulate to backend b and count: the pair counters' packets add up to
 * G_TX (see counters.h), so they are counted once the frame is built. */
static __always_inline int send(struct xdp_md *ctx, const struct pkt *p, const struct lb_config *cfg,
				const struct backend *b, __u32 hash, __u32 target, int counted_new)
{
	if (cfg->max_frame && p->len + ENCAP_LEN > cfg->max_frame) {
		count_global(G_TOO_BIG_DROP);
		return XDP_DROP;
	}
	if (vxlan_encap(ctx, b, hash, p->tos, p->len)) {
		count_global(G_ENCAP_ERR);
		return XDP_DROP;
	}
	count_stats(&lb_pair_stats, target >> PAIR_SHIFT, p->len, counted_new);
#ifdef LB_BENCH_REWIND
	if (bpf_xdp_adjust_head(ctx, (int)ENCAP_LEN))
		return XDP_ABORTED;
#endif
	return XDP_TX;
}

/* A packet that matched a rule and had no usable connection-table entry:
 * a new flow (a SYN, the first packet of a UDP/ICMP flow) or one that lost
 * its entry (evicted, backend deleted, affinity off). */
static __always_inline int forward(struct xdp_md *ctx, struct pkt *p, struct vip_rule *rule,
				   const struct lb_config *cfg, __u32 hash, int syn)
{
	__u32 target = 0;
	struct backend *b = pick_backend(rule, p, hash, !(cfg->flags & CFG_F_NO_AFFINITY), &target);

	if (!syn)
		count_global(G_CONN_MISS);
	if (!b) {
		count_global(G_NO_BACKEND_DROP);
		return XDP_DROP;
	}
	return send(ctx, p, cfg, b, hash, target, syn || p->flow.proto != IPPROTO_TCP);
}

/* Everything after parsing. Inlined at both call sites below, so the copy
 * for the common frame loses the checks that cannot fail there (fragment,
 * L4 header) and keeps its values in registers rather than merging them with
 * the full parser's. */
static __always_inline int steer(struct xdp_md *ctx, struct pkt *p, int l4_rc)
{
	const struct lb_config *cfg = &lb_config;
	struct vip_slot *slot;
	struct vip_rule *rule;
	int syn = is_syn(p);
	__u32 idx;

	/* established flow to a VIP: its entry names backend and pair (so rule), so
	 * no VIP or rule lookup (a removed rule's entries are removed too) */
	if (!p->frag && l4_rc == P_OK && !syn && !(cfg->flags & CFG_F_NO_AFFINITY) &&
	    pool_index(cfg, p->flow.dst) < cfg->pool_size) {
		__u32 hash = flow_hash(&p->flow), target = 0;
		struct backend *b = established(p, hash, &target);

		if (b)
			return send(ctx, p, cfg, b, hash, target, 0);
	}
	idx = pool_index(cfg, p->flow.dst);
	slot = vip_slot(idx);
	if (idx >= cfg->pool_size || !slot->n_rules) {
		count_global(G_NON_VIP_PASS);
		return XDP_PASS;
	}
	if (p->frag) {
		count_global(G_FRAG_DROP);
		return XDP_DROP;
	}
	if (l4_rc != P_OK) {
		count_global(G_MALFORMED_DROP);
		return XDP_DROP;
	}
	rule = find_rule(slot, &p->flow);
	if (!rule) {
		count_global(G_NO_RULE_DROP);
		return XDP_DROP;
	}
	return forward(ctx, p, rule, cfg, flow_hash(&p->flow), syn);
}

SEC("xdp.frags")
int lb_xdp(struct xdp_md *ctx)
{
	struct pkt p = {};
	void *l4 = 0;
	int rc, l4_rc = P_OK;

	if (parse_common((void *)(long)ctx->data, (void *)(long)ctx->data_end, &p))
		return steer(ctx, &p, P_OK);
	rc = parse_ipv4(ctx, &p, &l4);
	if (rc == P_NOT_IPV4) {
		count_global(G_NON_IPV4_PASS);
		return XDP_PASS;
	}
	if (rc == P_MALFORMED) {
		count_global(G_MALFORMED_DROP);
		return XDP_DROP;
	}
	if (!p.frag)
		l4_rc = parse_l4(l4, (void *)(long)ctx->data_end, &p);
	return steer(ctx, &p, l4_rc);
}

char LICENSE[] SEC("license") = "GPL";
