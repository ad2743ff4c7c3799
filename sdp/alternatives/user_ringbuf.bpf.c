// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Alternative 1 to the batch map (docs/sdp.md, "How a batch runs"): user
 * space submits one record per request into a BPF_MAP_TYPE_USER_RINGBUF and
 * one BPF_PROG_RUN drains it with bpf_user_ringbuf_drain, calling
 * readonly_range's request function on each record. A ring buffer's records
 * are read-only to the program, so err/target and the verdict go to `out`,
 * an mmapable array the loader reads, the batch map's way back.
 */
#include "sdp.h"
#include "../examples/readonly_range.h"
#include "user_ringbuf_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, SDP_ALT_RINGBUF_BYTES);
} reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sdp_alt_out);
} out SEC(".maps");

struct drain_ctx {
	struct sdp_alt_out *o;
	__u32 i;
};

static long judge_record(struct bpf_dynptr *rec, void *arg)
{
	struct drain_ctx *c = arg;
	struct sdp_md md;
	__u32 i = c->i;
	int v;

	if (i >= SDP_BATCH_MAX)
		return 1;
	/* The record is read-only, so a copy on the stack is judged. */
	if (bpf_dynptr_read(&md, sizeof(md), rec, 0, 0))
		v = SDP_ABORTED;
	else
		v = readonly_range_judge(&md);
	c->o->verdict[i] = v < 0 || v > SDP_ACTION_MAX ? SDP_ABORTED : v;
	c->o->res[i].err = md.err;
	c->o->res[i].target = md.target;
	c->i = i + 1;
	return 0;
}

static __always_inline int drain(__u64 flags)
{
	__u32 zero = 0;
	struct drain_ctx c = {};

	c.o = bpf_map_lookup_elem(&out, &zero);
	if (!c.o)
		return 0;
	bpf_user_ringbuf_drain(&reqs, judge_record, &c, flags);
	c.o->done = c.i;
	return 0;
}

/*
 * No producer ever waits for room here (the loader drains every batch it
 * submits), so the drain skips the wake-up: by default a drain that
 * consumed anything queues an irq_work to wake producers, a self-IPI that
 * costs microseconds in a VM. The default is kept beside it to show that.
 */
SEC("syscall") int user_ringbuf_batch(void *ctx)
{
	return drain(BPF_RB_NO_WAKEUP);
}

SEC("syscall") int user_ringbuf_batch_wakeup(void *ctx)
{
	return drain(0);
}
