/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rules' stateful tails (docs/DESIGN.md, "Rate limits and dynamic sets"):
 * membership of an address in a dynamic set, with expiry on lookup; a
 * token bucket kept as one word; bans. Only programs whose policy has a
 * tail run any of it (cfg_tails); classify.h calls tail_holds() on the
 * first rule whose stateless matches hold, and on the next while it fails.
 */
#ifndef XDPFW_LIB_LIMIT_H
#define XDPFW_LIB_LIMIT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xdpfw.h"
#include "config.h"
#include "limit_maps.h"
#include "structs.h"

#define E2BIG 7   /* a full hash */
#define ENOSPC 28 /* a full trie */
#define DYNSET_NEVER (~0ull)

/* The clock of sets, bans and roomy buckets (`fine`: of the small ones; XDPFW_FINE_CLOCK_NS). */
static __always_inline __u64 tail_now(int fine)
{
	__u32 zero = 0;
	__u64 *given;

	if (!cfg_now_given)
		return fine ? bpf_ktime_get_ns() : bpf_ktime_get_coarse_ns();
	given = bpf_map_lookup_elem(&xdpfw_now_given, &zero);
	return given ? *given : 0;
}

static __always_inline void set_stat(__u32 set, __u32 index)
{
	__u32 key = set * XDPFW_SETS_NSTATS + index;
	__u64 *n = bpf_map_lookup_elem(&xdpfw_set_stats, &key);

	if (n)
		*n += 1;
}

/*
 * The address's first `len` bits, the rest zero; IPv4 in the first 4
 * bytes. Whole words masked, not bytes: a branch per byte multiplied the
 * verifier's paths.
 */
static __always_inline __u64 high_mask(__u32 len)
{
	return len >= 64 ? ~0ull : len == 0 ? 0 : ~0ull << (64 - len);
}

static __always_inline void masked_copy(__u8 *to, const __u8 *from, __u32 family, __u32 len)
{
	__u64 hi, lo;

	if (family == XDPFW_FAMILY_IPV4) {
		__u32 w;

		__builtin_memcpy(&w, from, 4);
		w = bpf_htonl(bpf_ntohl(w) & (__u32)(high_mask(len) >> 32));
		__builtin_memset(to, 0, 16);
		__builtin_memcpy(to, &w, 4);
		return;
	}
	__builtin_memcpy(&hi, from, 8);
	__builtin_memcpy(&lo, from + 8, 8);
	hi = bpf_cpu_to_be64(bpf_be64_to_cpu(hi) & high_mask(len));
	lo = bpf_cpu_to_be64(bpf_be64_to_cpu(lo) & (len > 64 ? high_mask(len - 64) : 0));
	__builtin_memcpy(to, &hi, 8);
	__builtin_memcpy(to + 8, &lo, 8);
}

static __always_inline void *dynset(__u32 set)
{
	return bpf_map_lookup_elem(&xdpfw_dynsets, &set);
}

static __always_inline void *dynset_hosts(__u32 set)
{
	return bpf_map_lookup_elem(&xdpfw_dynset_hosts, &set);
}

/*
 * A live entry of the set contains the address: its own (the hash), else
 * a prefix of it (the trie). An expired entry is absent: the lookup that
 * finds one deletes it and looks again, since a shorter live prefix may
 * still hold the address.
 */
static __always_inline int set_has(__u32 set, __u32 family, const __u8 *addr, __u64 now,
				   struct xdpfw_tail_scratch *s)
{
	struct xdpfw_dynset_key *key = &s->set_key;
	struct xdpfw_dynset_entry *e;
	void *hosts, *trie;
	__u32 len, full = family == XDPFW_FAMILY_IPV4 ? 32 : 128;
	int i;

	key->family = family;
	key->prefixlen = 8 + full;
	masked_copy(key->addr, addr, family, 128);
	/* One map pointer live at a time: the tail check's frame is what the 512-byte chain has left. */
	hosts = dynset_hosts(set);
	if (hosts) {
		e = bpf_map_lookup_elem(hosts, key);
		if (e) {
			if (now < e->deadline)
				return 1;
			if (bpf_map_delete_elem(hosts, key) == 0)
				set_stat(set, XDPFW_SETS_EXPIRED);
		}
	}
	trie = dynset(set);
	if (!trie)
		return 0;
	for (i = 0; i < XDPFW_DYNSET_EXPIRED_RETRIES; i++) {
		key->prefixlen = 8 + full;
		e = bpf_map_lookup_elem(trie, key);
		if (!e)
			return 0;
		if (now < e->deadline)
			return 1;
		len = e->prefix_len;
		key->prefixlen = 8 + (len & 0xff); /* the trie compares only the first prefixlen bits */
		if (bpf_map_delete_elem(trie, key) == 0)
			set_stat(set, XDPFW_SETS_EXPIRED);
	}
	return 0;
}

/*
 * One bucket's token, taken with a compare-and-exchange of its one word:
 * tokens(now) = min(capacity, now - empty_at), a packet needs `cost`, and
 * taking it moves empty_at to max(empty_at, now - capacity) + cost. Times
 * are compared by signed difference, so a bucket longer than the uptime
 * (now - capacity "before boot") is right. Another CPU's write between the
 * read and the exchange sends it round again; past the last attempt the
 * packet counts as over.
 */
static __always_inline int bucket_take(__u64 *empty_at, __u64 now, __u64 cost, __u64 capacity)
{
	__u64 full = now - capacity, old, base;
	__s64 tokens;
	int i;

	for (i = 0; i < XDPFW_BUCKET_RETRIES; i++) {
		old = *(volatile __u64 *)empty_at;
		tokens = (__s64)(now - old);
		if (tokens > (__s64)capacity)
			tokens = capacity;
		if (tokens < (__s64)cost)
			return 0;
		base = (__s64)(old - full) > 0 ? old : full;
		if (__sync_val_compare_and_swap(empty_at, old, base + cost) == old)
			return 1;
	}
	return 0;
}

/* The rule's bucket for this packet: one per rule, or per masked address of the per field. */
static __always_inline void meter_key(struct xdpfw_meter_key *k, const struct xdpfw_tail *t,
				      const struct xdpfw_tail_scratch *s)
{
	const __u8 *addr;
	__u32 len;

	k->limit_id = t->limit_id;
	if (!(t->flags & (XDPFW_TAIL_PER_SRC | XDPFW_TAIL_PER_DST)))
		return;
	addr = t->flags & XDPFW_TAIL_PER_SRC ? s->src : s->dst;
	len = s->family == XDPFW_FAMILY_IPV4 ? t->per_len4 : t->per_len6;
	k->family = s->family;
	k->prefix_len = len;
	masked_copy(k->addr, addr, s->family, len);
}

/* A token of the packet's bucket was found (and taken); a new bucket starts full. */
static __always_inline int meter_take(const struct xdpfw_tail *t, __u64 now, struct xdpfw_tail_scratch *s)
{
	struct xdpfw_meter_key *k = &s->meter_key;
	struct xdpfw_meter *m;
	int taken;

	__builtin_memset(k, 0, sizeof(*k));
	meter_key(k, t, s);
	m = bpf_map_lookup_elem(&xdpfw_meters, k);
	if (m)
		return bucket_take(&m->empty_at, now, t->cost_ns, t->capacity_ns);
	taken = t->capacity_ns >= t->cost_ns;
	s->meter.empty_at = now - t->capacity_ns + (taken ? t->cost_ns : 0);
	if (bpf_map_update_elem(&xdpfw_meters, k, &s->meter, BPF_NOEXIST) == 0)
		return taken;
	m = bpf_map_lookup_elem(&xdpfw_meters, k); /* another CPU created it first */
	return m ? bucket_take(&m->empty_at, now, t->cost_ns, t->capacity_ns) : 0;
}

static __always_inline void count_over(__u32 rule)
{
	__u64 *n = bpf_map_lookup_elem(&xdpfw_limit_counters, &rule);

	if (n)
		*n += 1;
}

/* The rule's tail holds for the packet: its sets, then its limit, in that order. */
static __always_inline int tail_holds(const struct xdpfw_tail *t, __u32 rule, struct xdpfw_tail_scratch *s)
{
	__u64 now = s->now;
	__u32 flags = t->flags;
	int token;

	if (flags & XDPFW_TAIL_SRC_SET) {
		if (set_has(t->src_set, s->family, s->src, now, s) == !!(flags & XDPFW_TAIL_SRC_NOT))
			return 0;
	}
	if (flags & XDPFW_TAIL_DST_SET) {
		if (set_has(t->dst_set, s->family, s->dst, now, s) == !!(flags & XDPFW_TAIL_DST_NOT))
			return 0;
	}
	if (!(flags & XDPFW_TAIL_LIMIT))
		return 1;
	if (t->capacity_ns < XDPFW_FINE_CLOCK_NS) {
		if (!s->now_fine)
			s->now_fine = tail_now(1);
		now = s->now_fine;
	}
	token = meter_take(t, now, s);
	if (!token)
		count_over(rule);
	return token != !!(flags & XDPFW_TAIL_OVER);
}

/*
 * The deciding rule bans: its per prefix of the packet's address (else the
 * source) enters the set (a whole address its hash, a prefix its trie) until now + ban_ns, unless a live entry for that
 * very prefix already lasts to within XDPFW_BAN_SLACK_NS of it. A full set
 * refuses (counted); it never drops a live entry.
 */
static __always_inline void ban(const struct xdpfw_tail *t, struct xdpfw_tail_scratch *s)
{
	__u64 now = s->now;
	__u32 family = s->family;
	struct xdpfw_dynset_key *key = &s->set_key;
	struct xdpfw_dynset_entry *entry = &s->entry, *e;
	void *map;
	const __u8 *addr = t->flags & XDPFW_TAIL_PER_DST ? s->dst : s->src;
	__u32 full = family == XDPFW_FAMILY_IPV4 ? 32 : 128;
	__u32 len = full;
	long err;

	if (t->flags & (XDPFW_TAIL_PER_SRC | XDPFW_TAIL_PER_DST))
		len = family == XDPFW_FAMILY_IPV4 ? t->per_len4 : t->per_len6;
	if (len > full)
		len = full;
	map = len == full ? dynset_hosts(t->ban_set) : dynset(t->ban_set);
	if (!map)
		return;
	key->prefixlen = 8 + len;
	key->family = family;
	masked_copy(key->addr, addr, family, len);
	entry->deadline = now + t->ban_ns;
	entry->origin = t->origin;
	entry->prefix_len = len;
	e = bpf_map_lookup_elem(map, key);
	if (e && e->prefix_len == len && now < e->deadline && e->deadline >= entry->deadline - XDPFW_BAN_SLACK_NS)
		return;
	err = bpf_map_update_elem(map, key, entry, BPF_ANY);
	if (err == 0)
		set_stat(t->ban_set, XDPFW_SETS_ADDED);
	else if (err == -ENOSPC || err == -E2BIG)
		set_stat(t->ban_set, XDPFW_SETS_FULL);
}

#endif /* XDPFW_LIB_LIMIT_H */
