/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The address rotator of the in-kernel bench: BPF_PROG_TEST_RUN repeats one
 * frame, which measures a cache-hot path. This program, run in its place,
 * writes the next source and destination address of a table into the frame
 * and tail-calls the program under test (slot 0 of bench_target), so each of
 * a million repeats looks up a different address. Its own cost is measured
 * by tail-calling the bare XDP_DROP program instead.
 *
 * rotate4.bpf.c: IPv4 frame without VLAN tags or options; rotate6.bpf.c:
 * IPv6 frame. One program an object, as the loader takes them.
 */
#ifndef BENCH_ROTATE_H
#define BENCH_ROTATE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* rotation table size - 1 (a power of two minus one) */
const volatile __u32 cfg_mask = 0;

struct bench_addrs {
	__u8 src[16];
	__u8 dst[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_addrs);
} bench_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_cursor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

#define ETH_LEN 14
#define IP4_SADDR (ETH_LEN + 12)
#define IP6_SADDR (ETH_LEN + 8)

static __always_inline struct bench_addrs *next_addrs(void)
{
	__u32 zero = 0, slot;
	__u32 *cursor = bpf_map_lookup_elem(&bench_cursor, &zero);

	if (!cursor)
		return 0;
	slot = (*cursor)++ & cfg_mask;
	return bpf_map_lookup_elem(&bench_addrs, &slot);
}

#endif /* BENCH_ROTATE_H */
