// SPDX-License-Identifier: GPL-2.0
/* Reference programs: XDP_DROP is the benchmark floor and a cheap traffic
 * sink; XDP_PASS goes on veth peers so XDP_TX frames are delivered; XDP_TX
 * bounces live frames for the BPF_PROG_TEST_RUN traffic generator.
 * With HEAD_SHIFT=N the program moves the head out by N bytes and back (two
 * bpf_xdp_adjust_head calls) first: the benchmark's measure of what the LB's
 * bench-only rewind call costs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int xdp_action(struct xdp_md *ctx)
{
#ifdef HEAD_SHIFT
	if (bpf_xdp_adjust_head(ctx, -(HEAD_SHIFT)))
		return XDP_ABORTED;
	if (bpf_xdp_adjust_head(ctx, HEAD_SHIFT))
		return XDP_ABORTED;
#endif
	return XDP_ACTION;
}

char LICENSE[] SEC("license") = "GPL";
