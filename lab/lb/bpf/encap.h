/* DSR encapsulation: VXLAN with the tenant's VNI, so the backend's server
 * decapsulates on its ordinary vx<vni> device and its tenant bridge delivers
 * the original IP packet by MAC to the backend. */
#ifndef LB_ENCAP_H
#define LB_ENCAP_H

#include "lb_common.h"

/* Byte offsets of the per-packet fields in the encapsulated frame. */
#define OFF_IP_W0 14      /* version/IHL, TOS, total length: one 32-bit word */
#define OFF_IP_CSUM 24
#define OFF_UDP_SPORT 34
#define OFF_UDP_LEN 38

/* RFC 1071: the one's-complement sum is byte-order neutral, so the sum of the
 * header's 32-bit words as loaded (the fixed ones precomputed by the control
 * plane) folds to the checksum field as it is stored. */
static __always_inline __u16 ipv4_csum(__u32 base16, __u32 w0)
{
	__u32 sum = base16 + (w0 & 0xffff) + (w0 >> 16);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Returns 0 on success; the frame then starts with the outer Ethernet header.
 * inner_len: the original frame's length (Ethernet + IP total length), taken
 * from the IP header because with multi-buffer frames (MTU 9000 on veth)
 * data_end only bounds the first buffer. */
static __always_inline int vxlan_encap(struct xdp_md *ctx, const struct backend *b, __u32 hash,
				       __u8 tos, __u32 inner_len)
{
	const __u64 *tpl = (const __u64 *)(const void *)b->hdr;
	__u32 frame_len = inner_len + ENCAP_LEN;
	void *data, *data_end;
	__u64 *out;
	__u32 w0;

	if (bpf_xdp_adjust_head(ctx, -(int)ENCAP_LEN))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + ENCAP_HDR_LEN > data_end)
		return -1;
	out = data;
#pragma unroll
	for (int i = 0; i < ENCAP_HDR_LEN / 8; i++)
		out[i] = tpl[i];

	/* version 4, IHL 5, the inner TOS (DSCP and ECN carry over), total length */
	w0 = 0x45 | ((__u32)tos << 8) | ((__u32)bpf_htons(frame_len - sizeof(struct ethhdr)) << 16);
	*(__u32 *)(data + OFF_IP_W0) = w0;
	*(__u16 *)(data + OFF_IP_CSUM) = ipv4_csum(b->csum_base, w0);
	/* RFC 7348: source port from the inner flow hash so underlay ECMP spreads flows */
	*(__u16 *)(data + OFF_UDP_SPORT) = bpf_htons(49152 | (hash & 0x3fff));
	*(__u16 *)(data + OFF_UDP_LEN) = bpf_htons(frame_len - sizeof(struct ethhdr) -
						    sizeof(struct iphdr));
	return 0;
}

#endif
