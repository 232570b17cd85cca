// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Token buckets per IPv4 source, kept four ways, for bench:meters
 * (bench/meters.ts): which one the data plane's `limit` should use is
 * decided by their cost and by how well they hold the rate on two CPUs.
 *
 *   METER_cas      one u64 `empty_at` per source in an LRU hash, taken by
 *                  compare-and-exchange (docs/DESIGN.md, "Token bucket");
 *   METER_racy     the same with a plain read and write: racy, the floor
 *                  of what a shared bucket can cost;
 *   METER_lock     nft_limit's {tokens, last} under a bpf_spin_lock, in a
 *                  plain hash: the kernel refuses spin locks in LRU values;
 *   METER_lock_lru the same in an LRU hash, built only to show that refusal;
 *   METER_percpu   `empty_at` in an LRU per-CPU hash, no atomics: each CPU
 *                  has its own bucket (the bench gives it rate R/ncpus);
 *   METER_lookup   the LRU hash lookup alone, the baseline of the others;
 *   METER_clock    the lookup and bpf_ktime_get_ns(), which every bucket reads.
 *
 * The loader takes one XDP program an object, so bench/bpf/Makefile builds
 * this file once per scheme (meter-cas.bpf.o, ...). The rate and burst are
 * load-time constants in nanoseconds of tokens, as in the product: a packet
 * costs cfg_cost_ns and a bucket holds cfg_burst_ns. A bucket of all zeroes
 * is full (for GCRA, empty since time 0; for nft_limit, refilled since 0),
 * so every scheme creates a missing bucket the same way.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 cfg_cost_ns = 1;
const volatile __u32 cfg_burst_ns = 5;
/* 1: record each CPU's first and last packet time and its silences (the
 * accuracy runs' T, and the time when no CPU offered a packet) */
const volatile __u32 cfg_record_span = 0;
/* a silence this long (B x cost of the whole bucket) overflows the bucket */
const volatile __u32 cfg_silence_ns = 0;

#define MAX_CAS_TRIES 4

enum meter_counter {
	METER_PASSED,
	METER_DROPPED,
	METER_CAS_RETRIES, /* compare-and-exchange lost to the other CPU */
	METER_CAS_GAVE_UP, /* lost MAX_CAS_TRIES times: counted as dropped too */
	METER_NCOUNTERS,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, METER_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} meter_counters SEC(".maps");

struct meter_span {
	__u64 first;
	__u64 last;
	__u64 silences;
};

#define MAX_SILENCES 16384

struct meter_silence {
	__u64 from;
	__u64 to;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SILENCES);
	__type(key, __u32);
	__type(value, struct meter_silence);
} meter_silences SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct meter_span);
} meter_spans SEC(".maps");

#if defined(METER_lock) || defined(METER_lock_lru)
struct bucket {
	struct bpf_spin_lock lock;
	__u64 tokens; /* ns of tokens at `last` */
	__u64 last;
};
#else
struct bucket {
	__u64 empty_at;
};
#endif

struct {
#if defined(METER_lock)
	__uint(type, BPF_MAP_TYPE_HASH);
#elif defined(METER_percpu)
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
#else
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
#endif
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct bucket);
} meter_buckets SEC(".maps");

static __always_inline int count(enum meter_counter which, int verdict)
{
	__u32 key = which;
	__u64 *n = bpf_map_lookup_elem(&meter_counters, &key);

	if (n)
		(*n)++;
	return verdict;
}

#if !defined(METER_lookup)
static __always_inline void record_span(__u64 now)
{
	__u32 zero = 0;
	struct meter_span *s = bpf_map_lookup_elem(&meter_spans, &zero);

	if (!s)
		return;
	if (!s->first) {
		s->first = now;
	} else if (now - s->last > cfg_silence_ns) {
		__u32 i = s->silences++;
		struct meter_silence *gap = bpf_map_lookup_elem(&meter_silences, &i);

		if (gap) {
			gap->from = s->last;
			gap->to = now;
		}
	}
	s->last = now;
}
#endif

static __always_inline struct bucket *bucket_of(__u32 *src)
{
	struct bucket *b = bpf_map_lookup_elem(&meter_buckets, src);
	struct bucket full = {};

	if (b)
		return b;
	/* EEXIST when the other CPU created it first: either way it is there now */
	bpf_map_update_elem(&meter_buckets, src, &full, BPF_NOEXIST);
	return bpf_map_lookup_elem(&meter_buckets, src);
}

#if defined(METER_lock) || defined(METER_lock_lru)
static __always_inline int take(struct bucket *b, __u64 now)
{
	__u64 tokens;
	int found;

	/* nft_limit_eval, with the clock read before the lock (no helper call
	 * may be made under it): a CPU that read an older time than the last
	 * holder refills nothing rather than going back in time */
	bpf_spin_lock(&b->lock);
	tokens = b->tokens;
	if (now > b->last) {
		tokens += now - b->last;
		b->last = now;
	}
	if (tokens > cfg_burst_ns)
		tokens = cfg_burst_ns;
	found = tokens >= cfg_cost_ns;
	b->tokens = found ? tokens - cfg_cost_ns : tokens;
	bpf_spin_unlock(&b->lock);
	return found ? count(METER_PASSED, XDP_PASS) : count(METER_DROPPED, XDP_DROP);
}
#elif defined(METER_cas)
static __always_inline int take(struct bucket *b, __u64 now)
{
	int i;

	for (i = 0; i < MAX_CAS_TRIES; i++) {
		__u64 seen = *(volatile __u64 *)&b->empty_at;
		__u64 floor = now - cfg_burst_ns;

		/* signed: the other CPU may have moved empty_at past our (older) now */
		if ((__s64)(now - seen) < (__s64)cfg_cost_ns)
			return count(METER_DROPPED, XDP_DROP);
		if (__sync_val_compare_and_swap(&b->empty_at, seen, ((__s64)(seen - floor) > 0 ? seen : floor) + cfg_cost_ns) == seen)
			return count(METER_PASSED, XDP_PASS);
		count(METER_CAS_RETRIES, 0);
	}
	count(METER_CAS_GAVE_UP, 0);
	return count(METER_DROPPED, XDP_DROP);
}
#elif defined(METER_racy) || defined(METER_percpu)
static __always_inline int take(struct bucket *b, __u64 now)
{
	__u64 seen = b->empty_at;
	__u64 floor = now - cfg_burst_ns;

	if ((__s64)(now - seen) < (__s64)cfg_cost_ns)
		return count(METER_DROPPED, XDP_DROP);
	b->empty_at = ((__s64)(seen - floor) > 0 ? seen : floor) + cfg_cost_ns;
	return count(METER_PASSED, XDP_PASS);
}
#endif

SEC("xdp")
int meter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct bucket *b;
	__u32 src;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_ABORTED;
	src = ip->saddr;
	b = bucket_of(&src);
	if (!b)
		return XDP_ABORTED;
#if defined(METER_lookup)
	return count(METER_PASSED, XDP_PASS);
#else
	{
		__u64 now = bpf_ktime_get_ns();

		if (cfg_record_span)
			record_span(now);
#if defined(METER_clock)
		return count(METER_PASSED, now ? XDP_PASS : XDP_DROP);
#else
		return take(b, now);
#endif
	}
#endif
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
