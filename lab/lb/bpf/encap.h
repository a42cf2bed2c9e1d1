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

/* RFC 1071 checksum of a 20-byte IPv4 header given as its five 32-bit words
 * (as loaded from memory): the one's-complement sum is byte-order neutral, so
 * 32-bit words folded to 16 bits give the same result as 16-bit words. Built
 * from registers, not re-read from the packet just written. */
static __always_inline __u16 ipv4_csum_words(__u32 w0, __u32 w1, __u32 w2, __u32 w3, __u32 w4)
{
	__u64 sum = (__u64)w0 + w1 + w2 + w3 + w4;

	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Word copies: a byte-wise memcpy (what clang emits for __u8 arrays) costs
 * twelve instructions a MAC. x86 loads and stores unaligned words at full
 * speed, and the verifier allows it there. */
static __always_inline void copy_mac(__u8 *dst, const __u8 *src)
{
	*(__u32 *)dst = *(const __u32 *)src;
	*(__u16 *)(dst + 4) = *(const __u16 *)(src + 4);
}

/* Inner destination then source: adjacent in struct backend, as in the frame.
 * Through void *: a cast of a packed struct's field keeps its 1-byte
 * alignment, and clang then splits each word into byte stores. */
static __always_inline void copy_inner_macs(void *inner, const struct backend *b)
{
	*(__u64 *)inner = *(const __u64 *)(const void *)b->mac;
	*(__u32 *)(inner + 8) = *(const __u32 *)(const void *)(b->mac + 8);
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

	copy_inner_macs(inner, b);
	copy_mac(outer->h_dest, b->next_hop);
	copy_mac(outer->h_source, cfg->src_mac);
	*(__be16 *)((void *)outer + 12) = bpf_htons(ETH_P_IP); /* not a packed-field byte pair */

	{
		/* version 4, IHL 5, TOS | total length; id 0, DF (the underlay MTU is
		 * checked by the caller); TTL 64, UDP, checksum 0 */
		__u32 w0 = 0x45 | ((__u32)tos << 8) |
			   ((__u32)bpf_htons(frame_len - sizeof(*outer)) << 16);
		__u32 w1 = (__u32)bpf_htons(0x4000) << 16;
		__u32 w2 = 64 | (IPPROTO_UDP << 8);
		__u32 *words = (__u32 *)ip;

		words[0] = w0;
		words[1] = w1;
		words[2] = w2;
		ip->saddr = cfg->src_ip;
		ip->daddr = b->underlay_ip;
		ip->check = ipv4_csum_words(w0, w1, w2, cfg->src_ip, b->underlay_ip);
	}

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
