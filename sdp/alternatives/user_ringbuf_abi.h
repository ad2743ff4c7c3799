/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What user_ringbuf.bpf.c and its loader (alternatives.cpp) share. */
#ifndef MKDP_SDP_ALT_USER_RINGBUF_ABI_H
#define MKDP_SDP_ALT_USER_RINGBUF_ABI_H

#include "sdp.h"

/* A power of two and whole pages: 64 records of 8 + 32 bytes fit twice. */
#define SDP_ALT_RINGBUF_BYTES	8192

/* Per request, what the batch map would have returned in place. */
struct sdp_alt_result {
	__s32	err;
	__u32	target;
};

/* The element of the mmapable `out` map: the verdicts of the last drain. */
struct sdp_alt_out {
	__u32	done;		/* records judged */
	__u32	pad;
	struct sdp_alt_result res[SDP_BATCH_MAX];
	__u8	verdict[SDP_BATCH_MAX];
};

#endif
