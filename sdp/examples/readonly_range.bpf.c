// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A read-only range: writes, discards and write-zeroes that touch sectors
 * [first, end) of any volume fail with EROFS; everything else passes to the
 * volume's owner. The range is the map's one element, so it changes live:
 *
 *	bpftool map update name ro_range key 0 0 0 0 value hex ...
 *
 * The request function lives in readonly_range.h, which the executor's
 * alternatives (sdp/alternatives/) share.
 */
#include "sdp.h"
#include "readonly_range.h"

SDP_PROGRAM(readonly_range)
{
	return readonly_range_judge(md);
}
