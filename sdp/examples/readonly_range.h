/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * readonly_range's request function and its map, apart from SDP_PROGRAM so
 * that the executor's alternatives (sdp/alternatives/) measure exactly the
 * code the real example runs (docs/sdp.md, "How a batch runs").
 */
#ifndef MKDP_SDP_READONLY_RANGE_H
#define MKDP_SDP_READONLY_RANGE_H

#include "sdp.h"

struct ro_range {
	__u64 first;	/* first read-only sector */
	__u64 end;	/* last read-only sector + 1; first == end: none */
};

#ifdef __bpf__

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ro_range);
} ro_range SEC(".maps");

static __always_inline int readonly_range_judge(struct sdp_md *md)
{
	__u32 zero = 0;
	struct ro_range *r = bpf_map_lookup_elem(&ro_range, &zero);

	if (!r || md->op == SDP_OP_READ || md->op == SDP_OP_FLUSH)
		return SDP_PASS;
	if (md->sector < r->end && sdp_end(md) > r->first)
		return sdp_drop(md, EROFS);
	return SDP_PASS;
}

#endif /* __bpf__ */

#endif /* MKDP_SDP_READONLY_RANGE_H */
