// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Alternative 2 to the batch map (docs/sdp.md, "How a batch runs"): the
 * batch, struct sdp_batch, is the SEC("syscall") program's context, which
 * BPF_PROG_RUN copies in and back. Four ways to walk it, each its own
 * program so the loader can try each alone and keep the verifier's answer:
 * a plain loop, bpf_loop, and the loop unrolled at constant offsets for 16
 * and for 64 requests. The verifier allows a syscall context only at
 * constant offsets from the unmodified context pointer, which is what the
 * loader's figures (or refusals) show.
 */
#include "sdp.h"
#include "../examples/readonly_range.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void judge(struct sdp_batch *b, __u32 i)
{
	int v = readonly_range_judge(&b->req[i]);

	b->verdict[i] = v < 0 || v > SDP_ACTION_MAX ? SDP_ABORTED : v;
}

static __always_inline __u32 count(struct sdp_batch *b, __u32 max)
{
	__u32 n = b->count;

	return n > max ? max : n;
}

SEC("syscall") int ctx_loop(struct sdp_batch *b)
{
	__u32 n = count(b, SDP_BATCH_MAX);

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < n; i++)
		judge(b, i);
	b->done = n;
	return 0;
}

struct loop_arg {
	struct sdp_batch *b;
};

static long judge_one(__u32 i, void *arg)
{
	if (i >= SDP_BATCH_MAX)
		return 1;
	judge(((struct loop_arg *)arg)->b, i);
	return 0;
}

SEC("syscall") int ctx_bpf_loop(struct sdp_batch *b)
{
	struct loop_arg a = {.b = b};

	b->done = bpf_loop(count(b, SDP_BATCH_MAX), judge_one, &a, 0);
	return 0;
}

/* Unrolled by the preprocessor, so every access is ctx + a constant. */
#define ONE(i)		if (n > (i)) judge(b, (i));
#define FOUR(i)		ONE(i) ONE((i) + 1) ONE((i) + 2) ONE((i) + 3)
#define SIXTEEN(i)	FOUR(i) FOUR((i) + 4) FOUR((i) + 8) FOUR((i) + 12)

SEC("syscall") int ctx_unrolled_16(struct sdp_batch *b)
{
	__u32 n = count(b, 16);

	SIXTEEN(0)
	b->done = n;
	return 0;
}

SEC("syscall") int ctx_unrolled_64(struct sdp_batch *b)
{
	__u32 n = count(b, 64);

	SIXTEEN(0) SIXTEEN(16) SIXTEEN(32) SIXTEEN(48)
	b->done = n;
	return 0;
}
