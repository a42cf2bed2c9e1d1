// SPDX-License-Identifier: GPL-2.0
/* Traffic generator for BPF_PROG_TEST_RUN live-frames mode: restore the
 * frame's first 64 bytes from a template, then XDP_TX it. Live mode reuses
 * pages without resetting their content, and a receiver (NAT, TTL, XDP
 * encapsulation) rewrites headers in place: without the restore, later
 * frames would carry the previous one's edits. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define GEN_TEMPLATE 64

struct gen_template {
	__u8 bytes[GEN_TEMPLATE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_template);
} gen_tmpl SEC(".maps");

SEC("xdp.frags")
int xdp_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct gen_template *t = bpf_map_lookup_elem(&gen_tmpl, &zero);

	if (!t || data + GEN_TEMPLATE > data_end)
		return XDP_DROP;
	__builtin_memcpy(data, t->bytes, GEN_TEMPLATE);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
