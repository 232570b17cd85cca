/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The address tables' lookup (xdpfw.h, "Address lookups"): the class of
 * the longest prefix containing an address, at a cost that does not grow
 * with the set.
 */
#ifndef XDPFW_LIB_ADDR_TABLE_H
#define XDPFW_LIB_ADDR_TABLE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xdpfw.h"
#include "bits.h"
#include "config.h"
#include "maps.h"
#include "structs.h"

/* The class of the /16 an address lies in; XDPFW_DEEPER when longer prefixes lie inside it. */
static __always_inline __u32 l16_class(void *l16, __u32 top16)
{
	__u32 row = top16 / XDPFW_CLASS_ROW;
	struct xdpfw_class_row *r = bpf_map_lookup_elem(l16, &row);

	return r ? r->cls[top16 % XDPFW_CLASS_ROW] : XDPFW_NO_CLASS;
}

#define XDPFW_NO_RANK 0xffffffffu

/*
 * The rank of a marked bucket among the marked ones (the index of its
 * record): the rank of its bitmap row plus the marked buckets before it in
 * the row. XDPFW_NO_RANK when the bucket is not marked.
 */
static __always_inline __u32 bucket_rank(void *bkt, void *rank, __u32 bucket)
{
	__u32 row = bucket / (64 * XDPFW_BUCKET_ROW_WORDS), word = (bucket / 64) % XDPFW_BUCKET_ROW_WORDS;
	__u32 rank_row = row / XDPFW_CLASS_ROW, at, j;
	const struct xdpfw_class_row *ranks;
	const struct xdpfw_bucket_row *r;
	__u64 bits;

	r = bpf_map_lookup_elem(bkt, &row);
	if (!r)
		return XDPFW_NO_RANK;
	bits = r->bits[word];
	if (!((bits >> (bucket % 64)) & 1))
		return XDPFW_NO_RANK;
	ranks = bpf_map_lookup_elem(rank, &rank_row);
	if (!ranks)
		return XDPFW_NO_RANK;
	at = ranks->cls[row % XDPFW_CLASS_ROW] + __builtin_popcountll(bits & ((1ULL << (bucket % 64)) - 1));
#pragma unroll
	for (j = 0; j < XDPFW_BUCKET_ROW_WORDS - 1; j++)
		if (j < word)
			at += __builtin_popcountll(r->bits[j]);
	return at;
}

/*
 * Whether marked bucket `at`'s quick byte answers for the `eighth` of the
 * bucket an address lies in: the /16's class, no record read.
 */
static __always_inline int quick_answers(void *quick, __u32 at, __u32 eighth)
{
	__u32 row = at / XDPFW_QUICK_ROW;
	const struct xdpfw_quick_row *q = bpf_map_lookup_elem(quick, &row);

	return q && !((q->q[at % XDPFW_QUICK_ROW] >> eighth) & 1);
}

/*
 * An address table's answer for an IPv4 address (host order): the /16
 * class; for a marked /24, that class still when its quick byte says so,
 * else its record's class; when the address's /30 meets a longer prefix,
 * `host` if it is the record's inline host, else the hash, for the lengths
 * the record lists.
 */
static __always_inline __u32 table_class4(void *l16, void *bkt, void *rank, void *quick, void *rec,
					  void *hash, __u32 host, __u32 addr)
{
	const struct xdpfw_bucket4_row *row;
	const struct xdpfw_bucket4 *b;
	__u32 cls, at, lens, i;

	cls = l16_class(l16, addr >> 16);
	if (cls == XDPFW_NO_CLASS || !(cls & XDPFW_DEEPER))
		return cls;
	cls &= ~XDPFW_DEEPER;
	at = bucket_rank(bkt, rank, addr >> 8);
	if (at == XDPFW_NO_RANK || quick_answers(quick, at, (addr >> 5) & 7))
		return cls;
	i = at / XDPFW_BUCKET4_ROW;
	row = bpf_map_lookup_elem(rec, &i);
	if (!row)
		return cls;
	b = &row->rec[at % XDPFW_BUCKET4_ROW];
	if (!((b->cover >> ((addr >> 2) & 63)) & 1))
		return b->cls;
	if ((b->lens & XDPFW_HOST4) && ((b->lens >> XDPFW_HOST4_SHIFT) & 0xff) == (addr & 0xff))
		return host; /* a /32: nothing is longer */
	lens = b->lens & 0xff;
	for (i = 0; i < 8 && lens; i++) {
		struct xdpfw_lpm4_key key;
		__u32 shift = lowest_bit(lens), *hit; /* length 32 - shift: the longest left */

		lens &= lens - 1;
		key.prefixlen = 32 - shift;
		*(__be32 *)key.addr = bpf_htonl(addr & (__u32)(~0ULL << shift));
		hit = bpf_map_lookup_elem(hash, &key);
		if (hit)
			return *hit;
	}
	return b->cls;
}

/* What the IPv6 probe loop carries from one length to the next. */
struct probe6 {
	__u64 hi, lo; /* the address, host order */
	__u64 m0, m1; /* lengths still to probe: struct xdpfw_bucket6's lens[] */
	__u32 slot;   /* XDPFW_ADDR_SRC6 or XDPFW_ADDR_DST6: which hash */
	__u32 cls;    /* the hit's class, or XDPFW_NO_CLASS */
};

/* One probe, for the longest length left: 1 when done (a hit, or no length left). */
static __always_inline int probe6(struct probe6 *p)
{
	struct xdpfw_lpm6_key key;
	__u64 mhi = ~0ULL, mlo = 0;
	__u32 len, *hit;

	if (p->m0) { /* lengths 65..128, longest first */
		len = 128 - lowest_bit(p->m0);
		p->m0 &= p->m0 - 1;
		mlo = ~0ULL << ((128 - len) & 63);
	} else if (p->m1) { /* lengths 25..64 */
		len = 64 - lowest_bit(p->m1);
		p->m1 &= p->m1 - 1;
		mhi = ~0ULL << ((64 - len) & 63);
	} else {
		return 1;
	}
	key.prefixlen = len;
	((__be32 *)key.addr)[0] = bpf_htonl((p->hi & mhi) >> 32);
	((__be32 *)key.addr)[1] = bpf_htonl(p->hi & mhi);
	((__be32 *)key.addr)[2] = bpf_htonl((p->lo & mlo) >> 32);
	((__be32 *)key.addr)[3] = bpf_htonl(p->lo & mlo);
	if (p->slot == XDPFW_ADDR_SRC6)
		hit = bpf_map_lookup_elem(&xdpfw_src6_hash, &key);
	else
		hit = bpf_map_lookup_elem(&xdpfw_dst6_hash, &key);
	if (!hit)
		return 0;
	p->cls = *hit;
	return 1;
}

/*
 * The same as a bpf_loop callback: the verifier checks it once, not for each
 * of up to 104 lengths (in line, the lengths' paths multiplied the states
 * reaching the word loop: ~100k instructions processed instead of ~22k).
 */
static int probe6_next(__u32 i, struct probe6 *p)
{
	return probe6(p);
}

/*
 * The same for an IPv6 address (hi and lo: its halves, host order), with
 * the buckets after the first cfg_addr_shift bits.
 */
static __always_inline __u32 table_class6(__u32 slot, void *l16, void *bkt, void *rank, void *quick,
					  void *rec, __u64 hi, __u64 lo)
{
	__u32 shift = cfg_addr_shift[slot], cls, at, i;
	const struct xdpfw_bucket6_row *row;
	const struct xdpfw_bucket6 *b;
	struct probe6 p;
	__u64 window;

	cls = l16_class(l16, hi >> 48);
	if (cls == XDPFW_NO_CLASS || !(cls & XDPFW_DEEPER))
		return cls;
	cls &= ~XDPFW_DEEPER;
	if (shift && (hi >> (64 - shift)) != cfg_addr_base[slot])
		return cls;
	window = hi << shift; /* bucket bits first, then the 6 bits of its 64ths */
	at = bucket_rank(bkt, rank, window >> (64 - XDPFW_BUCKET_BITS));
	if (at == XDPFW_NO_RANK || quick_answers(quick, at, (window >> (64 - XDPFW_BUCKET_BITS - 3)) & 7))
		return cls;
	i = at / XDPFW_BUCKET6_ROW;
	row = bpf_map_lookup_elem(rec, &i);
	if (!row)
		return cls;
	b = &row->rec[at % XDPFW_BUCKET6_ROW];
	if (!((b->cover >> ((window >> (64 - XDPFW_BUCKET_BITS - 6)) & 63)) & 1))
		return b->cls;
	p = (struct probe6){ .hi = hi, .lo = lo, .m0 = b->lens[0], .m1 = b->lens[1], .slot = slot,
			     .cls = XDPFW_NO_CLASS };
	bpf_loop(104, probe6_next, &p, 0);
	return p.cls != XDPFW_NO_CLASS ? p.cls : b->cls;
}

static __always_inline __u64 be64_at(const __u8 *bytes)
{
	const __be32 *w = (const __be32 *)bytes;

	return ((__u64)bpf_ntohl(w[0]) << 32) | bpf_ntohl(w[1]);
}

#endif /* XDPFW_LIB_ADDR_TABLE_H */
