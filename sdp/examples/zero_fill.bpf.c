// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Zero-fill of never-written extents: a bitmap of 1 MiB extents records
 * which ones were written. A read that lies wholly in never-written extents
 * is answered by the program (SDP_COMPLETE: the client gets zeros, the
 * backend is not touched); a write, discard or write-zeroes marks its
 * extents and passes. Volumes up to 64 GiB (65536 extents).
 */
#include "sdp.h"

#define EXTENT_SHIFT	11		/* 2048 sectors: 1 MiB */
#define EXTENTS		65536
#define WORDS		(EXTENTS / 64)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WORDS);
	__type(key, __u32);
	__type(value, __u64);
} written SEC(".maps");

static __always_inline __u64 *word_of(__u64 extent)
{
	__u32 w = (__u32)(extent / 64);

	if (w >= WORDS)
		return 0;
	return bpf_map_lookup_elem(&written, &w);
}

SDP_PROGRAM(zero_fill)
{
	__u64 first = md->sector >> EXTENT_SHIFT;
	__u64 last = (sdp_end(md) - 1) >> EXTENT_SHIFT;
	__u64 *w;

	if (md->op == SDP_OP_FLUSH || !md->len)
		return SDP_PASS;
	if (last - first > 1)
		return SDP_PASS;	/* more than two extents: let the owner do it */
	if (md->op == SDP_OP_READ) {
		w = word_of(first);
		if (!w || (*w >> (first % 64)) & 1)
			return SDP_PASS;
		w = word_of(last);
		if (!w || (*w >> (last % 64)) & 1)
			return SDP_PASS;
		return SDP_COMPLETE;
	}
	w = word_of(first);
	if (w)
		__sync_fetch_and_or(w, 1ULL << (first % 64));
	w = word_of(last);
	if (w)
		__sync_fetch_and_or(w, 1ULL << (last % 64));
	return SDP_PASS;
}
