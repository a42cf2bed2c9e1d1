// SPDX-License-Identifier: GPL-2.0
/* Reference programs: XDP_DROP is the benchmark floor and a cheap traffic
 * sink; XDP_PASS goes on veth peers so XDP_TX frames are delivered; XDP_TX
 * bounces live frames for the BPF_PROG_TEST_RUN traffic generator. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int xdp_action(struct xdp_md *ctx)
{
	return XDP_ACTION;
}

char LICENSE[] SEC("license") = "GPL";
