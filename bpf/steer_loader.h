// SPDX-License-Identifier: BSD-2-Clause
// The XDP steering program from user space: load, attach to an interface
// (through libxdp), pin, re-open from the pins in another process, and the
// live configuration (queue map, indirection table, rules, sockets, stats).
//
// One interface, one steering program, one pin directory
// /sys/fs/bpf/mkdp/<ifname>/ holding its maps (named as in steer.bpf.c, so
// `bpftool map dump pinned /sys/fs/bpf/mkdp/<if>/rules_exact` works), the
// program (mkdp_steer) and the redirect-error tracepoint link. The pins are
// the state: every CLI invocation opens them anew. See docs/steering.md.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "steer.h"

struct steer;	// the libbpf skeleton (steer.skel.h)

namespace mkdp {

enum class XdpMode { native, skb };
enum class SteerAction : uint32_t {
	pass = MKDP_STEER_ACT_PASS,
	drop = MKDP_STEER_ACT_DROP,
	steer = MKDP_STEER_ACT_STEER,
};

const char *to_string(XdpMode m) noexcept;
const char *to_string(SteerAction a) noexcept;
// "queue,hash,rules" (any order, '+' or ',' separated) to MKDP_STEER_POLICY_* bits.
uint32_t parse_policy(std::string_view s);
std::string policy_string(uint32_t policy);

// What the program reads for every frame (steer_config), changeable live.
struct SteerConfig {
	uint32_t policy = MKDP_STEER_POLICY_QUEUE;	// MKDP_STEER_POLICY_* bits
	SteerAction default_action = SteerAction::pass;	// pass or drop
	uint32_t partitions = 1;			// 1..MKDP_STEER_MAX_PARTITIONS
	bool symmetric = false;				// A->B and B->A hash alike
	uint32_t hash_seed = 0;
};

struct AttachOptions {
	XdpMode mode = XdpMode::native;
	SteerConfig config;
	bool force = false;	// replace an XDP program mkdp did not attach
};

// A steering rule. Exact rules match the 5-tuple (ports 0 for protocols
// without ports and non-first fragments); prefix rules match the longest
// destination, then the longest source prefix.
struct SteerRule {
	enum class Match { exact, dst_prefix, src_prefix };
	Match match = Match::exact;
	uint8_t family = 4;			// 4 or 6
	uint8_t proto = 0;			// exact: IPPROTO_*
	uint16_t sport = 0, dport = 0;		// exact: host order
	std::array<uint8_t, 16> saddr{};	// exact: source; prefix: the prefix
	std::array<uint8_t, 16> daddr{};	// exact: destination
	uint8_t prefix_len = 0;			// prefix rules: 0..32 / 0..128
	SteerAction action = SteerAction::steer;
	uint32_t partition = 0;			// action steer
	uint32_t id = 0;			// assigned by add_rule(s)

	// "exact udp 10.0.0.1:5000 10.0.0.2:6000 part 3", "dst 10.1.0.0/16 drop",
	// "src fd00::/64 pass", "exact tcp [fd00::1]:80 [fd00::2]:9000 part 0";
	// throws mkdp::Error naming what it could not read.
	static SteerRule parse(std::string_view text);
	std::string to_string() const;	// the same syntax, with the id ("#5 ...")
	bool same_match(const SteerRule &o) const;
};

struct SteerStats {
	mkdp_steer_totals totals{};				// sums over CPUs
	std::vector<mkdp_steer_part_stats> partitions;		// [partition], sums over CPUs
	std::vector<std::pair<SteerRule, mkdp_steer_rule_stats>> rules;	// every rule, by id
};

struct SteerStatus {
	std::string ifname;
	int ifindex = 0;
	uint32_t prog_id = 0;
	bool attached = false;		// the pinned program is still the one on the interface
	XdpMode mode = XdpMode::native;
	bool multiprog = false;		// behind libxdp's dispatcher; false: attached alone
	SteerConfig config;
	uint32_t owner_pid = 0;
	uint64_t attach_time = 0;	// CLOCK_REALTIME seconds
	size_t rules = 0;
	// queue -> partitions with a socket, as recorded by set_socket
	std::vector<std::pair<uint32_t, std::vector<uint32_t>>> sockets;
};

class Steering {
public:
	// Loads and attaches to ifname, pins under pin_dir(ifname). Attaching
	// again in the same mode re-applies the configuration to the program
	// already there (idempotent); any failure leaves nothing behind.
	static Steering attach(const std::string &ifname, const AttachOptions &o);
	// The steering on ifname, from its pins (another process attached it).
	static Steering open(const std::string &ifname);
	// Loaded but neither attached nor pinned: for BPF_PROG_RUN.
	static Steering load(const SteerConfig &c);
	// Removes the program from ifname, the pins and their directory.
	static void detach(const std::string &ifname);
	static std::string pin_dir(const std::string &ifname);

	Steering(Steering &&o) noexcept;
	Steering &operator=(Steering &&o) noexcept;
	Steering(const Steering &) = delete;
	Steering &operator=(const Steering &) = delete;
	~Steering();	// closes fds; an attached program stays

	// Changing the partition count re-spreads the queue map and the
	// indirection table over the new partitions (entry i -> i % partitions);
	// rules steering beyond the new count are refused.
	void configure(const SteerConfig &c);
	SteerConfig config() const;

	// queue -> partition (MKDP_STEER_PART_NONE: fall through to the default).
	void set_queue_partition(uint32_t queue, uint32_t part);
	// The indirection table: `table` is repeated over the 128 entries, so
	// {0, 1} alternates; its size must divide MKDP_STEER_INDIR_SIZE.
	void set_indirection(std::span<const uint32_t> table);
	std::vector<uint32_t> indirection() const;

	uint32_t add_rule(SteerRule r);
	// All or nothing; assigns ids into rules[i].id.
	void add_rules(std::span<SteerRule> rules);
	void del_rule(uint32_t id);
	std::vector<SteerRule> list_rules() const;

	// The AF_XDP socket for (queue, partition); the kernel drops the entry
	// itself when the socket is closed.
	void set_socket(uint32_t queue, uint32_t part, int xsk_fd);
	void clear_socket(uint32_t queue, uint32_t part);

	SteerStats read_stats() const;
	void reset_stats();
	SteerStatus status() const;

	int prog_fd() const noexcept { return prog_fd_; }
	int xskmap_fd() const noexcept;
	const std::string &ifname() const noexcept { return ifname_; }

	// The maps, in pin/name order (steer.bpf.c).
	enum MapId {
		steer_config, steer_info, queue_to_part, flow_indir, rules_exact,
		rules_v4_prefix, rules_v6_prefix, part_stats, rule_stats, steer_stats,
		xsks_by_queue_part, xsk_slots, nr_maps
	};
	static const char *map_name(MapId m) noexcept;
	int map_fd(MapId m) const noexcept { return maps_[m]; }

private:
	Steering();
	static Steering from_object(steer *skel, const SteerConfig &c);
	void close_all() noexcept;
	void check_partition(uint32_t part) const;
	void check_queue(uint32_t queue) const;
	void write_defaults(uint32_t partitions);
	mkdp_steer_info info() const;

	std::string ifname_;	// "" when only loaded
	int ifindex_ = 0;
	int prog_fd_ = -1;
	std::array<int, nr_maps> maps_;
};

} // namespace mkdp
