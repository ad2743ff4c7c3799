// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Steering by sector range: the volume is cut into ranges of 2^shift
 * sectors (2^shift = 2048: 1 MiB), range i goes to the partition that
 * `range_part` holds at i % 64, as XDP steers a flow to the socket its
 * XSKMAP slot holds. A range with no partition set is served by the
 * volume's owner. A request that crosses a range boundary goes where its
 * first sector does.
 */
#include "sdp.h"

#define RANGE_SHIFT	11	/* 2048 sectors */
#define RANGES		64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RANGES);
	__type(key, __u32);
	__type(value, __u32);
} range_part SEC(".maps");

SDP_PROGRAM(sector_steer)
{
	__u32 range = (__u32)(md->sector >> RANGE_SHIFT) % RANGES;

	if (md->op == SDP_OP_FLUSH)
		return SDP_PASS;	/* the owner orders flushes */
	if (!bpf_map_lookup_elem(&range_part, &range))
		return SDP_PASS;
	return sdp_redirect_map(md, &range_part, range);
}
