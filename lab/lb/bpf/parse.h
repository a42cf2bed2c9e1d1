/* Packet parsing: Ethernet -> IPv4 (options allowed) -> TCP/UDP ports. */
#ifndef LB_PARSE_H
#define LB_PARSE_H

#include "lb_common.h"

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

enum parse_result { P_OK = 0, P_NOT_IPV4, P_MALFORMED };

struct pkt {
	struct flow_key flow;
	__u16 frag;      /* MF | offset bits, host order */
	__u8 tcp_flags;  /* byte 13 of the TCP header */
	__u8 tos;
	__u32 len;       /* frame length before encapsulation (from the IP header) */
};

static __always_inline int parse_l4(void *l4, void *data_end, struct pkt *p)
{
	if (p->flow.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return P_MALFORMED;
		p->flow.ports = *(__u32 *)l4;
		p->tcp_flags = ((__u8 *)tcp)[13];
	} else if (p->flow.proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return P_MALFORMED;
		p->flow.ports = *(__u32 *)l4;
	}
	/* ICMP and other protocols hash on addresses and protocol only */
	return P_OK;
}

/* Fills p->flow addresses/protocol; ports only when the packet is not a fragment. */
static __always_inline int parse_ipv4(struct xdp_md *ctx, struct pkt *p, void **l4)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl_bytes;

	/* one 16-bit load: through the packed struct, clang reads two bytes */
	if ((void *)(eth + 1) > data_end || *(__be16 *)(data + 12) != bpf_htons(ETH_P_IP))
		return P_NOT_IPV4;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return P_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return P_MALFORMED;
	ihl_bytes = ip->ihl * 4;
	if ((void *)ip + ihl_bytes > data_end || bpf_ntohs(ip->tot_len) < ihl_bytes)
		return P_MALFORMED;
	p->flow.addrs = *(__u64 *)((void *)ip + 12); /* saddr then daddr (void *: one load) */
	p->flow.proto = ip->protocol;
	p->frag = bpf_ntohs(ip->frag_off) & (IP_MF | IP_OFFSET);
	p->tos = ip->tos;
	p->len = sizeof(*eth) + bpf_ntohs(ip->tot_len);
	*l4 = (void *)ip + ihl_bytes;
	return P_OK;
}

#endif
