/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SDP, the storage data path: what an SDP program sees and returns.
 *
 * An SDP program is one C function per storage request, in the XDP manner:
 *
 *	#include "sdp.h"
 *
 *	SDP_PROGRAM(readonly_low)
 *	{
 *		if (md->op == SDP_OP_WRITE && md->sector < 2048)
 *			return sdp_drop(md, EROFS);
 *		return SDP_PASS;
 *	}
 *
 * compiled by clang (-target bpf), verified and JIT-compiled by the running
 * kernel, with ordinary BPF maps. The kernel has no storage hook, so
 * SDP_PROGRAM also generates the batch entry point the executor runs
 * through BPF_PROG_RUN: a SEC("syscall") program that walks the batch map
 * (below) with bpf_loop and calls the request function once per request.
 * One system call per batch of up to SDP_BATCH_MAX requests; see
 * docs/sdp.md for why this shape and what it costs.
 *
 * This header is the ABI between SDP programs and the executor
 * (sdp/executor.h): layouts are fixed, fields are fixed-width, padding is
 * explicit.
 */
#ifndef MKDP_SDP_H
#define MKDP_SDP_H

#include <linux/types.h>

/* Request operations (sdp_md.op): the ring ABI's MKDP_SOP_* values
 * (WRITE_ZEROES since its minor 1; sdp/frontend.cpp asserts they match). */
#define SDP_OP_READ		0	/* read len bytes at sector */
#define SDP_OP_WRITE		1	/* write len bytes at sector */
#define SDP_OP_FLUSH		2	/* make earlier writes durable; sector, len 0 */
#define SDP_OP_DISCARD		3	/* the range's contents may be dropped */
#define SDP_OP_WRITE_ZEROES	4	/* the range reads as zeros afterwards */
#define SDP_OP_MAX		SDP_OP_WRITE_ZEROES

/* Request flags (sdp_md.flags). */
#define SDP_F_FUA		(1U << 0)	/* write: durable before completion */

/* Verdicts: what the request function returns. */
enum sdp_action {
	SDP_ABORTED = 0,	/* program error: the request fails with EIO, counted apart */
	SDP_DROP = 1,		/* fail the request with md->err (sdp_drop()) */
	SDP_PASS = 2,		/* to the volume's owner partition */
	SDP_REDIRECT = 3,	/* to partition md->target (sdp_redirect_map()) */
	SDP_COMPLETE = 4,	/* answered by the program: reads return zeros */
	SDP_ACTION_MAX = SDP_COMPLETE,
};

#define SECTOR_SHIFT_SDP	9	/* sectors are 512 bytes */

/*
 * One request, 32 bytes. The executor fills the first six fields; the
 * program reads them and may write only `err` and `target`.
 */
struct sdp_md {
	__u8	op;		/* SDP_OP_* */
	__u8	flags;		/* SDP_F_* */
	__u16	volume;		/* volume id from the topology */
	__u16	queue;		/* submission queue of the client */
	__u16	tag;		/* the client's tag, unique among its requests in flight */
	__u64	sector;		/* first 512-byte sector */
	__u32	len;		/* bytes; a multiple of 512 except for FLUSH (0) */
	__u32	part;		/* partition that issued the request */
	__s32	err;		/* out, SDP_DROP: a positive errno (EROFS, EAGAIN, ...) */
	__u32	target;		/* out, SDP_REDIRECT: the partition that serves it */
};

/* sdp_md.part of a request from a client outside the partitions (the host). */
#define SDP_PART_HOST	0xffffffffU

/* Requests per BPF_PROG_RUN. */
#define SDP_BATCH_MAX	64

/*
 * The batch: the single element of the program's BPF_F_MMAPABLE array map
 * `sdp_batch`. The executor writes count and req[] through its mapping,
 * runs the program, and reads verdict[] (and err/target) back: no copy in
 * or out of the kernel beyond the run itself.
 */
struct sdp_batch {
	__u32	count;			/* requests in req[], <= SDP_BATCH_MAX */
	__u32	done;			/* out: requests the program judged */
	struct sdp_md req[SDP_BATCH_MAX];
	__u8	verdict[SDP_BATCH_MAX];	/* out: enum sdp_action per request */
};

#ifdef __bpf__	/* ---- the BPF side ------------------------------------ */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef EROFS
#define EIO	5
#define EAGAIN	11
#define EINVAL	22
#define ENOSPC	28
#define EROFS	30
#endif

/* Fail the request with errno `e` (positive). */
static __always_inline int sdp_drop(struct sdp_md *md, int e)
{
	md->err = e;
	return SDP_DROP;
}

/*
 * To the partition that `map` (an array or hash of __u32 partition
 * numbers) holds at `key`, as XDP's bpf_redirect_map() sends a frame to the
 * socket an XSKMAP holds; SDP_ABORTED when there is none.
 */
static __always_inline int sdp_redirect_map(struct sdp_md *md, void *map, __u32 key)
{
	__u32 *part = bpf_map_lookup_elem(map, &key);

	if (!part)
		return SDP_ABORTED;
	md->target = *part;
	return SDP_REDIRECT;
}

/* The request's last sector + 1. */
static __always_inline __u64 sdp_end(const struct sdp_md *md)
{
	return md->sector + (md->len >> SECTOR_SHIFT_SDP);
}

/*
 * SDP_PROGRAM(name) { ... return SDP_PASS; }: the body is the request
 * function, with `md` the request. It generates the batch map, the license
 * and the SEC("syscall") program `name` the executor runs (one per object); the verifier checks the
 * request function once (bpf_loop's callback), whatever the batch size.
 */
#define SDP_PROGRAM(name)                                                          \
	char LICENSE[] SEC("license") = "Dual BSD/GPL";                            \
	struct {                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                  \
		__uint(max_entries, 1);                                            \
		__uint(map_flags, BPF_F_MMAPABLE);                                 \
		__type(key, __u32);                                                \
		__type(value, struct sdp_batch);                                   \
	} sdp_batch SEC(".maps");                                                  \
	static __always_inline int name##_request(struct sdp_md *md);              \
	struct name##_loop { struct sdp_batch *b; };                               \
	static long name##_one(__u32 i, void *ctx)                                 \
	{                                                                          \
		struct sdp_batch *b = ((struct name##_loop *)ctx)->b;              \
		int v;                                                             \
		if (i >= SDP_BATCH_MAX)                                            \
			return 1;                                                  \
		v = name##_request(&b->req[i]);                                    \
		b->verdict[i] = v < 0 || v > SDP_ACTION_MAX ? SDP_ABORTED : v;     \
		return 0;                                                          \
	}                                                                          \
	SEC("syscall") int name(void *ctx)                                         \
	{                                                                          \
		__u32 zero = 0, n;                                                 \
		struct name##_loop l;                                              \
		struct sdp_batch *b = bpf_map_lookup_elem(&sdp_batch, &zero);      \
		if (!b)                                                            \
			return 0;                                                  \
		l.b = b; /* bpf_loop's context lives on the stack */               \
		n = b->count;                                                      \
		if (n > SDP_BATCH_MAX)                                             \
			n = SDP_BATCH_MAX;                                         \
		b->done = bpf_loop(n, name##_one, &l, 0);                          \
		return 0;                                                          \
	}                                                                          \
	static __always_inline int name##_request(struct sdp_md *md)

#endif /* __bpf__ */

#endif /* MKDP_SDP_H */
