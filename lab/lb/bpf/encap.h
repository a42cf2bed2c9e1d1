/* DSR encapsulation: VXLAN with the tenant's VNI, so the backend's server
 * decapsulates on its ordinary vx<vni> device and its tenant bridge delivers
 * the original IP packet by MAC to the backend. */
#ifndef LB_ENCAP_H
#define LB_ENCAP_H

#include "lb_common.h"

struct vxlanhdr_lb {
	__be32 flags;
	__be32 vni;
};

static __always_inline __u16 ipv4_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline void copy_mac(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, ETH_ALEN);
}

/* Returns 0 on success; the frame then starts with the outer Ethernet header. */
/* inner_len: the original frame's length (Ethernet + IP total length), taken
 * from the IP header because with multi-buffer frames (MTU 9000 on veth)
 * data_end only bounds the first buffer. */
static __always_inline int vxlan_encap(struct xdp_md *ctx, const struct backend *b,
				       const struct lb_config *cfg, __u32 hash, __u8 tos,
				       __u32 inner_len)
{
	void *data, *data_end;
	struct ethhdr *outer, *inner;
	struct iphdr *ip;
	struct udphdr *udp;
	struct vxlanhdr_lb *vx;
	__u32 frame_len;

	if (bpf_xdp_adjust_head(ctx, -(int)ENCAP_LEN))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	outer = data;
	ip = (void *)(outer + 1);
	udp = (void *)(ip + 1);
	vx = (void *)(udp + 1);
	inner = (void *)(vx + 1);
	if ((void *)(inner + 1) > data_end)
		return -1;
	frame_len = inner_len + ENCAP_LEN;

	copy_mac(inner->h_dest, b->mac);
	copy_mac(inner->h_source, b->inner_src);
	copy_mac(outer->h_dest, b->next_hop);
	copy_mac(outer->h_source, cfg->src_mac);
	outer->h_proto = bpf_htons(ETH_P_IP);

	ip->version = 4;
	ip->ihl = 5;
	ip->tos = tos;
	ip->tot_len = bpf_htons(frame_len - sizeof(*outer));
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000); /* DF: the underlay MTU is checked above */
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = cfg->src_ip;
	ip->daddr = b->underlay_ip;
	ip->check = ipv4_csum(ip);

	/* RFC 7348: source port from the inner flow hash so underlay ECMP spreads flows */
	udp->source = bpf_htons(49152 | (hash & 0x3fff));
	udp->dest = bpf_htons(VXLAN_PORT);
	udp->len = bpf_htons(frame_len - sizeof(*outer) - sizeof(*ip));
	udp->check = 0; /* optional over IPv4 */

	vx->flags = bpf_htonl(VXLAN_FLAG_VNI << 24);
	vx->vni = bpf_htonl(b->vni << 8);
	return 0;
}

#endif
