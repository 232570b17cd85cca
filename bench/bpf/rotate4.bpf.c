// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The address rotator (rotate.h) for an IPv4 frame without VLAN tags or options. */
#include "rotate.h"

SEC("xdp")
int rotate4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bench_addrs *a;

	if (data + IP4_SADDR + 8 > end)
		return XDP_ABORTED;
	a = next_addrs();
	if (!a)
		return XDP_ABORTED;
	__builtin_memcpy(data + IP4_SADDR, a->src, 4);
	__builtin_memcpy(data + IP4_SADDR + 4, a->dst, 4);
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
