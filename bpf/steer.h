/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * mkdp XDP steering: the ABI shared by steer.bpf.c and user space.
 *
 * Every map of the steering program holds one of the structs below; user
 * space (bpf/steer_loader.cpp, bpftool, anything that opens the pins under
 * /sys/fs/bpf/mkdp/<ifname>/) reads and writes them as laid out here. The
 * semantics (precedence of the policies, slot scheme, counters) are in
 * docs/steering.md. Fixed-width types and explicit padding only: the layout
 * must not depend on the compiler, and padding is always written as zero
 * (hash and LPM keys compare it).
 *
 * Addresses and ports are in network byte order, as on the wire; everything
 * else is in host order.
 */
#ifndef _MKDP_STEER_H
#define _MKDP_STEER_H

#include <linux/types.h>

#ifdef __cplusplus
#define MKDP_STEER_STATIC_ASSERT(e, msg) static_assert(e, msg)
#else
#define MKDP_STEER_STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#endif

#define MKDP_STEER_ABI_VERSION		2		/* bumped on any layout change */
#define MKDP_STEER_INFO_MAGIC		0x52545353U	/* "SSTR": steer_info was written by mkdp */

#define MKDP_STEER_MAX_QUEUES		64		/* RX queues a program can steer from */
#define MKDP_STEER_MAX_PARTITIONS	16		/* partitions per interface */
#define MKDP_STEER_XSK_SLOTS		(MKDP_STEER_MAX_QUEUES * MKDP_STEER_MAX_PARTITIONS)
#define MKDP_STEER_INDIR_SIZE		128		/* flow-hash indirection table entries */
#define MKDP_STEER_MAX_EXACT_RULES	65536		/* entries of rules_exact_v4 and of _v6 */
#define MKDP_STEER_MAX_PREFIX_RULES	16384		/* entries of each prefix trie */
#define MKDP_STEER_MAX_RULES		(MKDP_STEER_MAX_EXACT_RULES + 2 * MKDP_STEER_MAX_PREFIX_RULES)	/* rule ids */
#define MKDP_STEER_MAX_IPV6_EXT		6		/* IPv6 extension headers walked before giving up */
#define MKDP_STEER_HASHED_LENS		4		/* prefix lengths per table looked up by hash, not trie */

/* The XSKMAP slot of (queue, partition): one socket per pair, since an
 * AF_XDP socket only receives frames of the queue it is bound to. */
#define MKDP_STEER_SLOT(queue, part)	((queue) * MKDP_STEER_MAX_PARTITIONS + (part))

/* queue_to_part / flow_indir value: no partition, fall through. */
#define MKDP_STEER_PART_NONE		0xffffffffU

/* mkdp_steer_config.policy: which policies decide, bits combinable. Rules
 * are consulted first, then the flow hash, then the queue map; the first
 * that names a partition wins. */
enum mkdp_steer_policy {
	MKDP_STEER_POLICY_QUEUE	= 1U << 0,	/* queue_to_part[rx queue] */
	MKDP_STEER_POLICY_HASH	= 1U << 1,	/* flow_indir[hash(5-tuple) % MKDP_STEER_INDIR_SIZE] */
	MKDP_STEER_POLICY_RULES	= 1U << 2,	/* rules_exact, then dst, then src prefixes */
};
#define MKDP_STEER_POLICY_ALL	(MKDP_STEER_POLICY_QUEUE | MKDP_STEER_POLICY_HASH | MKDP_STEER_POLICY_RULES)

/* What happens to a frame: the default action (config) is PASS or DROP; a
 * rule may also STEER to its partition. Values are not XDP verdicts. */
enum mkdp_steer_action {
	MKDP_STEER_ACT_PASS	= 0,	/* to the host stack */
	MKDP_STEER_ACT_DROP	= 1,	/* dropped, counted */
	MKDP_STEER_ACT_STEER	= 2,	/* to a partition's socket on the RX queue */
};

/*
 * Prefix rules live in two forms: an LPM trie per family (every rule, the
 * source of truth) and a hash map keyed by (side, length, address) holding
 * the same rules. A kernel LPM trie walk costs one node visit per level
 * (~50 ns for 5000 prefixes here) while a hash lookup costs ~10 ns, so for a
 * table (family x side) that uses at most MKDP_STEER_HASHED_LENS distinct
 * lengths the program probes the hash once per length, longest first, and
 * walks the trie only when more lengths are in use. The loader keeps the
 * index below in step with the maps.
 */
enum mkdp_steer_prefix_table {
	MKDP_STEER_V4_DST	= 0,	/* IPv4 destination prefixes */
	MKDP_STEER_V4_SRC	= 1,	/* IPv4 source prefixes */
	MKDP_STEER_V6_DST	= 2,	/* IPv6 destination prefixes */
	MKDP_STEER_V6_SRC	= 3,	/* IPv6 source prefixes */
	MKDP_STEER_NR_PREFIX_TABLES = 4,
};

/* How the program looks a source or destination address up in one table. */
struct mkdp_steer_prefix_index {
	__u8	nr_lens;			/* distinct lengths in use; 0: table empty, no lookup */
	__u8	lens[MKDP_STEER_HASHED_LENS];	/* nr_lens <= MKDP_STEER_HASHED_LENS: the lengths, longest
						 * first, probed in the *_by_len hash; otherwise the trie */
	__u8	pad[3];				/* zero */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_prefix_index) == 8, "prefix index size");

/* What rules exist, so the program skips lookups that cannot match. */
struct mkdp_steer_rule_index {
	__u32	nr_exact_v4;	/* entries in rules_exact_v4; 0: no lookup */
	__u32	nr_exact_v6;	/* entries in rules_exact_v6; 0: no lookup */
	struct mkdp_steer_prefix_index prefix[MKDP_STEER_NR_PREFIX_TABLES];	/* by enum mkdp_steer_prefix_table */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_rule_index) == 40, "rule index size");

/* steer_config[0]: read by the program for every frame, changed live. A
 * frame that races a change may see a mix of old and new fields, which at
 * worst applies the old rule set to it. */
struct mkdp_steer_config {
	__u32	policy;		/* enum mkdp_steer_policy bits; 0 = everything to the default action */
	__u32	default_action;	/* MKDP_STEER_ACT_PASS or _DROP: non-IP, malformed, unsteered, no socket */
	__u32	nr_partitions;	/* partitions in use, 1..MKDP_STEER_MAX_PARTITIONS; larger decisions are unsteered */
	__u32	symmetric;	/* 1: the flow hash orders the endpoints, so A->B and B->A agree */
	__u32	hash_seed;	/* mixed into the flow hash */
	__u32	xsk_map_id;	/* kernel id of xsks_by_queue_part: matches redirect errors to us */
	__u32	reserved[2];	/* zero */
	struct mkdp_steer_rule_index rules;	/* written with the rule maps, never by configure */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_config) == 72, "steer config size");

/* steer_info[0]: who attached the program; written by the loader only, so
 * another process (and `mkdp steer status`) can tell mkdp's program from others. */
#define MKDP_STEER_MODE_NATIVE		1	/* driver XDP */
#define MKDP_STEER_MODE_SKB		2	/* generic XDP */
#define MKDP_STEER_ATTACH_SINGLE	1	/* the program itself is attached */
#define MKDP_STEER_ATTACH_MULTIPROG	2	/* behind libxdp's dispatcher */
#define MKDP_STEER_ATTACH_UNATTACHED	0	/* loaded only (tests, benchmarks) */

struct mkdp_steer_info {
	__u32	magic;		/* MKDP_STEER_INFO_MAGIC */
	__u32	abi_version;	/* MKDP_STEER_ABI_VERSION of the loader */
	__u32	ifindex;	/* interface the program is attached to */
	__u32	prog_id;	/* kernel id of the steering program */
	__u32	xdp_mode;	/* MKDP_STEER_MODE_* */
	__u32	attach_kind;	/* MKDP_STEER_ATTACH_* */
	__u32	owner_pid;	/* process that attached it */
	__u32	reserved;	/* zero */
	__u64	attach_time;	/* CLOCK_REALTIME seconds */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_info) == 40, "steer info size");

/* xsk_slots[slot]: the loader's record of what it put in the XSKMAP, whose
 * entries user space cannot read back (lookups from syscalls are refused). */
struct mkdp_steer_slot {
	__u32	in_use;		/* 1 after set_socket, 0 after clear_socket */
	__u32	owner_pid;	/* process that set the socket */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_slot) == 8, "steer slot size");

/* The 5-tuple the program parses from a frame (not a map key): IPv4
 * addresses take the first 4 bytes of the address fields, the rest zero.
 * Protocols without ports and non-first fragments have ports 0. */
struct mkdp_steer_flow_key {
	__u8	family;		/* 4 or 6 */
	__u8	proto;		/* IPPROTO_*: the L4 protocol after extension headers */
	__u16	pad;		/* zero */
	__be16	sport;		/* source port */
	__be16	dport;		/* destination port */
	__u8	saddr[16];	/* source address */
	__u8	daddr[16];	/* destination address */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_flow_key) == 40, "flow key size");

/* rules_exact_v4 key: 16 bytes, so the hash and compare cost a third of a
 * 40-byte key. Ports 0 match frames without ports (see above). */
struct mkdp_steer_v4_flow {
	__be32	saddr;		/* source address */
	__be32	daddr;		/* destination address */
	__be16	sport;		/* source port */
	__be16	dport;		/* destination port */
	__u8	proto;		/* IPPROTO_* */
	__u8	pad[3];		/* zero */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_v4_flow) == 16, "v4 flow key size");

/* rules_exact_v6 key. */
struct mkdp_steer_v6_flow {
	__u8	saddr[16];	/* source address */
	__u8	daddr[16];	/* destination address */
	__be16	sport;		/* source port */
	__be16	dport;		/* destination port */
	__u8	proto;		/* IPPROTO_* after extension headers */
	__u8	pad[3];		/* zero */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_v6_flow) == 40, "v6 flow key size");

/* Which address a prefix rule matches; the first byte of the LPM data, so
 * one trie holds both sides and the side is part of every prefix. */
enum mkdp_steer_side {
	MKDP_STEER_SIDE_DST	= 1,	/* destination address */
	MKDP_STEER_SIDE_SRC	= 2,	/* source address */
};
#define MKDP_STEER_SIDE_BITS	8	/* added to the address prefix length */

/* rules_v4_prefix key (BPF LPM trie: prefixlen, then the data it covers). */
struct mkdp_steer_v4_prefix {
	__u32	prefixlen;	/* MKDP_STEER_SIDE_BITS + address prefix length (0..32) */
	__u8	side;		/* enum mkdp_steer_side */
	__u8	addr[4];	/* IPv4 address, bits past the prefix zero */
	__u8	pad[3];		/* zero, outside every prefix */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_v4_prefix) == 12, "v4 prefix key size");

/* rules_v6_prefix key. */
struct mkdp_steer_v6_prefix {
	__u32	prefixlen;	/* MKDP_STEER_SIDE_BITS + address prefix length (0..128) */
	__u8	side;		/* enum mkdp_steer_side */
	__u8	addr[16];	/* IPv6 address, bits past the prefix zero */
	__u8	pad[3];		/* zero, outside every prefix */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_v6_prefix) == 24, "v6 prefix key size");

/* rules_v4_by_len key: the same prefixes as rules_v4_prefix, one hash entry
 * each, probed with the address masked to each length in use. */
struct mkdp_steer_v4_by_len {
	__u8	side;		/* enum mkdp_steer_side */
	__u8	len;		/* address prefix length, 0..32 */
	__u8	pad[2];		/* zero */
	__u8	addr[4];	/* IPv4 address, bits past the prefix zero */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_v4_by_len) == 8, "v4 by-length key size");

/* rules_v6_by_len key. */
struct mkdp_steer_v6_by_len {
	__u8	side;		/* enum mkdp_steer_side */
	__u8	len;		/* address prefix length, 0..128 */
	__u8	pad[2];		/* zero */
	__u8	addr[16];	/* IPv6 address, bits past the prefix zero */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_v6_by_len) == 20, "v6 by-length key size");

/* Value of every rule map. */
struct mkdp_steer_rule {
	__u32	action;		/* enum mkdp_steer_action */
	__u32	partition;	/* MKDP_STEER_ACT_STEER: target partition; otherwise 0 */
	__u32	id;		/* index into rule_stats, unique across the rule maps */
	__u32	reserved;	/* zero */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_rule) == 16, "rule size");

/* part_stats[partition], per CPU: frames the policies gave to a partition. */
struct mkdp_steer_part_stats {
	__u64	packets;	/* frames steered to the partition */
	__u64	bytes;		/* their length, all fragments of a multi-buffer frame */
	__u64	no_socket;	/* of those, no socket in the (queue, partition) slot */
	__u64	drops;		/* of the no_socket frames, dropped by the default action */
	__u64	redirect_errors;/* redirected but refused by the socket (ring full, wrong queue) */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_part_stats) == 40, "part stats size");

/* rule_stats[rule id], per CPU: frames a rule decided. */
struct mkdp_steer_rule_stats {
	__u64	packets;	/* frames matched */
	__u64	bytes;		/* their length */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_rule_stats) == 16, "rule stats size");

/* steer_stats[0], per CPU: every frame the program saw, by outcome. */
struct mkdp_steer_totals {
	__u64	packets;	/* frames seen */
	__u64	bytes;		/* their length */
	__u64	non_ip;		/* neither IPv4 nor IPv6 (ARP, LLDP, more than two VLAN tags) */
	__u64	malformed;	/* IP frames whose headers are truncated or invalid */
	__u64	unsteered;	/* IP frames no policy gave a valid partition (or queue >= MAX_QUEUES) */
	__u64	redirected;	/* XDP_REDIRECT returned */
	__u64	passed;		/* XDP_PASS returned */
	__u64	dropped;	/* XDP_DROP returned */
};
MKDP_STEER_STATIC_ASSERT(sizeof(struct mkdp_steer_totals) == 64, "totals size");

#endif /* _MKDP_STEER_H */
