// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The address rotator (rotate.h) for an IPv6 frame. */
#include "rotate.h"

SEC("xdp")
int rotate6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bench_addrs *a;

	if (data + IP6_SADDR + 32 > end)
		return XDP_ABORTED;
	a = next_addrs();
	if (!a)
		return XDP_ABORTED;
	__builtin_memcpy(data + IP6_SADDR, a->src, 16);
	__builtin_memcpy(data + IP6_SADDR + 16, a->dst, 16);
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
