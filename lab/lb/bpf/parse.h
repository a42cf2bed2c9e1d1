/* Packet parsing: Ethernet -> IPv4 (options allowed) -> TCP/UDP ports; the
 * common frame (no options, TCP or UDP, not a fragment) by a shortcut. */
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

/* Byte offsets in a frame of Ethernet + IPv4 without options. */
#define OFF_ETHERTYPE 12
#define OFF_TOS 15
#define OFF_TOT_LEN 16
#define OFF_FRAG 20
#define OFF_PROTO 23
#define OFF_ADDRS 26
#define OFF_PORTS 34
#define OFF_TCP_FLAGS 47

/* The common frame, read with a few wide loads and no pointer chasing:
 * Ethernet, IPv4 without options, not a fragment, TCP or UDP, at least a
 * TCP header's room. Returns 0 for anything else, which parse_ipv4 and
 * parse_l4 then judge (every check below is one of theirs, narrowed). */
static __always_inline int parse_common(void *data, void *data_end, struct pkt *p)
{
	__u16 tot;
	__u8 proto;

	if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr) > data_end)
		return 0;
	/* EtherType IPv4, version 4 and IHL 5: one load, one compare */
	if ((*(__u32 *)(data + OFF_ETHERTYPE) & bpf_htonl(0xffffff00)) != bpf_htonl(0x08004500))
		return 0;
	if (*(__u16 *)(data + OFF_FRAG) & bpf_htons(IP_MF | IP_OFFSET))
		return 0;
	proto = *(__u8 *)(data + OFF_PROTO);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	tot = bpf_ntohs(*(__u16 *)(data + OFF_TOT_LEN));
	if (tot < sizeof(struct iphdr))
		return 0;
	p->flow.addrs = *(__u64 *)(data + OFF_ADDRS);
	p->flow.ports = *(__u32 *)(data + OFF_PORTS);
	p->flow.proto = proto;
	p->tcp_flags = *(__u8 *)(data + OFF_TCP_FLAGS); /* UDP: payload, never read */
	p->tos = *(__u8 *)(data + OFF_TOS);
	p->len = sizeof(struct ethhdr) + tot;
	p->frag = 0;
	return 1;
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
