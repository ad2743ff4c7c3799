// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A per-tenant IOPS limit: each partition (the tenant that issued the
 * request) has a token bucket, `limits[part]` = {rate per second, burst}.
 * A request takes a token; with none left it fails with EAGAIN, or goes to
 * the partition `slow_part[0]` names, when one is set (a slow lane instead
 * of an error). Tenants with no limit pass. Flushes are never limited.
 */
#include "sdp.h"

#define TENANTS	64

struct limit {
	__u64 rate;	/* tokens per second */
	__u64 burst;	/* bucket size */
};

struct bucket {
	__u64 tokens;	/* scaled by 1e9: token-nanoseconds */
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TENANTS);
	__type(key, __u32);
	__type(value, struct limit);
} limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TENANTS);
	__type(key, __u32);
	__type(value, struct bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} slow_part SEC(".maps");

#define NS	1000000000ULL

SDP_PROGRAM(token_bucket)
{
	__u32 t = md->part % TENANTS, zero = 0;
	struct limit *l = bpf_map_lookup_elem(&limits, &t);
	struct bucket *b = bpf_map_lookup_elem(&buckets, &t);
	__u64 now, full;

	if (!l || !b || !l->rate || md->op == SDP_OP_FLUSH)
		return SDP_PASS;
	now = bpf_ktime_get_ns();
	full = l->burst * NS;
	if (!b->last_ns) {
		b->tokens = full;	/* a new tenant starts with a full bucket */
	} else {
		b->tokens += (now - b->last_ns) * l->rate;
		if (b->tokens > full)
			b->tokens = full;
	}
	b->last_ns = now;
	if (b->tokens >= NS) {
		b->tokens -= NS;
		return SDP_PASS;
	}
	if (bpf_map_lookup_elem(&slow_part, &zero))
		return sdp_redirect_map(md, &slow_part, zero);
	return sdp_drop(md, EAGAIN);
}
