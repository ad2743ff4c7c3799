// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A read-only range: writes, discards and write-zeroes that touch sectors
 * [first, end) of any volume fail with EROFS; everything else passes to the
 * volume's owner. The range is the map's one element, so it changes live:
 *
 *	bpftool map update name ro_range key 0 0 0 0 value hex ...
 */
#include "sdp.h"

struct ro_range {
	__u64 first;	/* first read-only sector */
	__u64 end;	/* last read-only sector + 1; first == end: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ro_range);
} ro_range SEC(".maps");

SDP_PROGRAM(readonly_range)
{
	__u32 zero = 0;
	struct ro_range *r = bpf_map_lookup_elem(&ro_range, &zero);

	if (!r || md->op == SDP_OP_READ || md->op == SDP_OP_FLUSH)
		return SDP_PASS;
	if (md->sector < r->end && sdp_end(md) > r->first)
		return sdp_drop(md, EROFS);
	return SDP_PASS;
}
