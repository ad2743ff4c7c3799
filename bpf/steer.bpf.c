// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mkdp_steer: XDP steering of every frame to a partition's AF_XDP socket.
 *
 * Decision, for an IPv4/IPv6 frame (docs/steering.md):
 *   1. rules (policy RULES): exact 5-tuple, else the longest destination
 *      prefix, else the longest source prefix; a rule steers, drops or
 *      passes to the host (prefixes by hash per length in use, or by
 *      LPM trie when a table uses many lengths: see steer.h);
 *   2. flow hash (policy HASH): flow_indir[hash(5-tuple) % 128];
 *   3. queue map (policy QUEUE): queue_to_part[rx queue];
 * the first that names a partition wins. The frame then goes to the socket
 * in XSKMAP slot (queue, partition). Non-IP and malformed frames, frames no
 * policy steers, and frames whose slot has no socket get the default action.
 *
 * A second program counts the redirects the kernel refused after we
 * returned XDP_REDIRECT (socket ring full, socket bound to another queue):
 * those are invisible from the XDP program itself.
 * Maps are pinned by name (LIBBPF_PIN_BY_NAME) in the loader's pin directory.
 */
#include "mkdp_bpf.h"

#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mkdp_steer_config);
} steer_config SEC(".maps");

/* Written by the loader only; never read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mkdp_steer_info);
} steer_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} queue_to_part SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_INDIR_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} flow_indir SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_EXACT_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory follows the rules loaded */
	__type(key, struct mkdp_steer_v4_flow);
	__type(value, struct mkdp_steer_rule);
} rules_exact_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_EXACT_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mkdp_steer_v6_flow);
	__type(value, struct mkdp_steer_rule);
} rules_exact_v6 SEC(".maps");

/* The prefix rules again, for tables with few distinct lengths (steer.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 2 * MKDP_STEER_MAX_PREFIX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mkdp_steer_v4_by_len);
	__type(value, struct mkdp_steer_rule);
} rules_v4_by_len SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 2 * MKDP_STEER_MAX_PREFIX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mkdp_steer_v6_by_len);
	__type(value, struct mkdp_steer_rule);
} rules_v6_by_len SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_PREFIX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* required for LPM tries */
	__type(key, struct mkdp_steer_v4_prefix);
	__type(value, struct mkdp_steer_rule);
} rules_v4_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_PREFIX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mkdp_steer_v6_prefix);
	__type(value, struct mkdp_steer_rule);
} rules_v6_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_PARTITIONS);
	__type(key, __u32);
	__type(value, struct mkdp_steer_part_stats);
} part_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_MAX_RULES);
	__type(key, __u32);
	__type(value, struct mkdp_steer_rule_stats);
} rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mkdp_steer_totals);
} steer_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_XSK_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} xsks_by_queue_part SEC(".maps");

/* Loader-maintained shadow of xsks_by_queue_part; never read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, MKDP_STEER_XSK_SLOTS);
	__type(key, __u32);
	__type(value, struct mkdp_steer_slot);
} xsk_slots SEC(".maps");

static __always_inline int default_verdict(const struct mkdp_steer_config *cfg)
{
	return cfg->default_action == MKDP_STEER_ACT_DROP ? XDP_DROP : XDP_PASS;
}

static __always_inline int count_verdict(struct mkdp_steer_totals *tot, int verdict)
{
	if (verdict == XDP_REDIRECT)
		tot->redirected++;
	else if (verdict == XDP_DROP)
		tot->dropped++;
	else
		tot->passed++;
	return verdict;
}

/* The longest IPv4 prefix of one side matching addr, by the table's index. */
static __always_inline struct mkdp_steer_rule *match_v4_prefix(const struct mkdp_steer_prefix_index *ix,
								__u8 side, const __u8 *addr)
{
	__u32 a = *(const __u32 *)addr;

	if (!ix->nr_lens)
		return NULL;
	if (ix->nr_lens > MKDP_STEER_HASHED_LENS) {
		struct mkdp_steer_v4_prefix p = {.prefixlen = MKDP_STEER_SIDE_BITS + 32, .side = side};

		__builtin_memcpy(p.addr, &a, 4);
		return bpf_map_lookup_elem(&rules_v4_prefix, &p);
	}
#pragma unroll
	for (int i = 0; i < MKDP_STEER_HASHED_LENS; i++) {
		struct mkdp_steer_v4_by_len k = {.side = side};
		struct mkdp_steer_rule *rule;
		__u32 len, masked;

		if (i >= ix->nr_lens)
			break;
		len = ix->lens[i];
		masked = len >= 32 ? a : len ? a & bpf_htonl(~0U << (32 - len)) : 0;
		k.len = len;
		__builtin_memcpy(k.addr, &masked, 4);
		rule = bpf_map_lookup_elem(&rules_v4_by_len, &k);
		if (rule)
			return rule;
	}
	return NULL;
}

static __always_inline struct mkdp_steer_rule *match_v6_prefix(const struct mkdp_steer_prefix_index *ix,
								__u8 side, const __u8 *addr)
{
	const __u32 *a = (const __u32 *)addr;

	if (!ix->nr_lens)
		return NULL;
	if (ix->nr_lens > MKDP_STEER_HASHED_LENS) {
		struct mkdp_steer_v6_prefix p = {.prefixlen = MKDP_STEER_SIDE_BITS + 128, .side = side};

		__builtin_memcpy(p.addr, addr, 16);
		return bpf_map_lookup_elem(&rules_v6_prefix, &p);
	}
#pragma unroll
	for (int i = 0; i < MKDP_STEER_HASHED_LENS; i++) {
		struct mkdp_steer_v6_by_len k __attribute__((aligned(4))) = {.side = side};
		struct mkdp_steer_rule *rule;
		__u32 *w = (__u32 *)k.addr;
		__u32 len;

		if (i >= ix->nr_lens)
			break;
		len = ix->lens[i];
		k.len = len;
#pragma unroll
		for (int j = 0; j < 4; j++) {
			__u32 bits = len > 32 * j ? len - 32 * j : 0;

			w[j] = bits >= 32 ? a[j] : bits ? a[j] & bpf_htonl(~0U << (32 - bits)) : 0;
		}
		rule = bpf_map_lookup_elem(&rules_v6_by_len, &k);
		if (rule)
			return rule;
	}
	return NULL;
}

/* Exact 5-tuple, then destination prefix, then source prefix; lookups in
 * tables the index says are empty are skipped. */
static __always_inline struct mkdp_steer_rule *match_rule(const struct mkdp_steer_rule_index *ix,
							  const struct mkdp_steer_flow_key *key)
{
	struct mkdp_steer_rule *rule;

	if (key->family == 4) {
		if (ix->nr_exact_v4) {
			struct mkdp_steer_v4_flow k = {
				.sport = key->sport,
				.dport = key->dport,
				.proto = key->proto,
			};

			__builtin_memcpy(&k.saddr, key->saddr, 4);
			__builtin_memcpy(&k.daddr, key->daddr, 4);
			rule = bpf_map_lookup_elem(&rules_exact_v4, &k);
			if (rule)
				return rule;
		}
		rule = match_v4_prefix(&ix->prefix[MKDP_STEER_V4_DST], MKDP_STEER_SIDE_DST, key->daddr);
		if (rule)
			return rule;
		return match_v4_prefix(&ix->prefix[MKDP_STEER_V4_SRC], MKDP_STEER_SIDE_SRC, key->saddr);
	}
	if (ix->nr_exact_v6) {
		struct mkdp_steer_v6_flow k = {
			.sport = key->sport,
			.dport = key->dport,
			.proto = key->proto,
		};

		__builtin_memcpy(k.saddr, key->saddr, 16);
		__builtin_memcpy(k.daddr, key->daddr, 16);
		rule = bpf_map_lookup_elem(&rules_exact_v6, &k);
		if (rule)
			return rule;
	}
	rule = match_v6_prefix(&ix->prefix[MKDP_STEER_V6_DST], MKDP_STEER_SIDE_DST, key->daddr);
	if (rule)
		return rule;
	return match_v6_prefix(&ix->prefix[MKDP_STEER_V6_SRC], MKDP_STEER_SIDE_SRC, key->saddr);
}

static __always_inline __u32 lookup_part(void *map, __u32 index)
{
	__u32 *part = bpf_map_lookup_elem(map, &index);

	return part ? *part : MKDP_STEER_PART_NONE;
}

SEC("xdp.frags")
int mkdp_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* aligned: the hash reads the addresses as words, and stack accesses must be aligned */
	struct mkdp_steer_flow_key key __attribute__((aligned(8))) = {};
	struct mkdp_steer_part_stats *ps;
	struct mkdp_steer_config *cfg;
	struct mkdp_steer_totals *tot;
	__u32 queue = ctx->rx_queue_index;
	__u32 part = MKDP_STEER_PART_NONE;
	__u32 zero = 0, slot;
	__u64 len;
	int rc, verdict, need_flow;

	cfg = bpf_map_lookup_elem(&steer_config, &zero);
	tot = bpf_map_lookup_elem(&steer_stats, &zero);
	if (!cfg || !tot)
		return XDP_ABORTED;	/* cannot happen: single-entry arrays */
	len = bpf_xdp_get_buff_len(ctx);
	tot->packets++;
	tot->bytes += len;

	/* The queue map needs no flow key: it only checks that the frame is IP. */
	need_flow = cfg->policy & (MKDP_STEER_POLICY_RULES | MKDP_STEER_POLICY_HASH);
	rc = need_flow ? mkdp_parse_flow(data, data_end, &key) : mkdp_parse_l2_class(data, data_end);
	if (rc != MKDP_PARSE_OK) {
		if (rc == MKDP_PARSE_NON_IP)
			tot->non_ip++;
		else
			tot->malformed++;
		return count_verdict(tot, default_verdict(cfg));
	}

	if (cfg->policy & MKDP_STEER_POLICY_RULES) {
		struct mkdp_steer_rule *rule = match_rule(&cfg->rules, &key);

		if (rule) {
			struct mkdp_steer_rule_stats *rs;
			__u32 id = rule->id;

			rs = bpf_map_lookup_elem(&rule_stats, &id);
			if (rs) {
				rs->packets++;
				rs->bytes += len;
			}
			if (rule->action == MKDP_STEER_ACT_DROP)
				return count_verdict(tot, XDP_DROP);
			if (rule->action != MKDP_STEER_ACT_STEER)
				return count_verdict(tot, XDP_PASS);
			part = rule->partition;
		}
	}
	if (part == MKDP_STEER_PART_NONE && (cfg->policy & MKDP_STEER_POLICY_HASH)) {
		__u32 h = mkdp_flow_hash(&key, cfg->hash_seed, cfg->symmetric);

		part = lookup_part(&flow_indir, h % MKDP_STEER_INDIR_SIZE);
	}
	if (part == MKDP_STEER_PART_NONE && (cfg->policy & MKDP_STEER_POLICY_QUEUE))
		part = lookup_part(&queue_to_part, queue);

	if (part >= cfg->nr_partitions || queue >= MKDP_STEER_MAX_QUEUES) {
		tot->unsteered++;
		return count_verdict(tot, default_verdict(cfg));
	}
	ps = bpf_map_lookup_elem(&part_stats, &part);
	if (!ps)
		return XDP_ABORTED;	/* cannot happen: part < nr_partitions <= max */
	ps->packets++;
	ps->bytes += len;

	/* The default verdict is the fallback when the slot is empty: one lookup. */
	slot = MKDP_STEER_SLOT(queue, part);
	verdict = bpf_redirect_map(&xsks_by_queue_part, slot, default_verdict(cfg));
	if (verdict != XDP_REDIRECT) {
		ps->no_socket++;
		if (verdict == XDP_DROP)
			ps->drops++;
	}
	return count_verdict(tot, verdict);
}

/*
 * xdp:xdp_redirect_err, typed by the kernel's BTF (include/trace/events/xdp.h,
 * xdp_redirect_template; only pointers to the structs, so no layouts needed).
 * It fires on the CPU that ran mkdp_steer: the per-CPU counter is its own.
 */
struct net_device;
struct bpf_prog;

SEC("tp_btf/xdp_redirect_err")
int BPF_PROG(mkdp_steer_redirect_err, const struct net_device *dev, const struct bpf_prog *xdp,
	     const void *tgt, int err, enum bpf_map_type map_type, __u32 map_id, __u32 index)
{
	struct mkdp_steer_part_stats *ps;
	struct mkdp_steer_config *cfg;
	__u32 zero = 0, part;

	cfg = bpf_map_lookup_elem(&steer_config, &zero);
	if (!cfg || !cfg->xsk_map_id || map_id != cfg->xsk_map_id)
		return 0;
	/* index is the XSKMAP slot, MKDP_STEER_SLOT(queue, partition) */
	part = index % MKDP_STEER_MAX_PARTITIONS;
	ps = bpf_map_lookup_elem(&part_stats, &part);
	if (ps)
		ps->redirect_errors++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
