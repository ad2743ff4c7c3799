// SPDX-License-Identifier: BSD-2-Clause
// The XDP steering program from user space: load, attach to an interface
// (through libxdp), pin, re-open from the pins in another process, and the
// live configuration (queue map, indirection table, rules, sockets, stats).
// The umbrella header: the rule grammar (steer_rule.h) and the
// configuration (steer_config.h) are pure and usable on their own.
//
// One interface, one steering program, one pin directory
// /sys/fs/bpf/mkdp/<netns>/<ifname>/ holding its maps (pinned by libbpf by
// their names in steer.bpf.c, so `bpftool map dump pinned /sys/fs/bpf/mkdp/host/eth1/rules_exact_v4`
// works), the program (mkdp_steer) and the redirect-error tracepoint link.
// <netns> is "host" for the initial network namespace, the iproute2 name of
// a named one (/run/netns/NAME), else "netns-<inode>": bpffs is shared by
// every namespace, interface names are not. The pins are the state: every
// CLI invocation opens them anew. See docs/steering.md.
//
// The implementation, one concept a file: steer_loader.cpp (life cycle:
// load, open, attach, detach), steer_pins.cpp, xdp_attach.cpp, netdev.cpp,
// steer_tables.cpp, steer_rule_maps.cpp, steer_slots.cpp, steer_stats.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "steer.h"
#include "steer_config.h"
#include "steer_rule.h"

struct steer;	// the libbpf skeleton (steer.skel.h)

namespace mkdp {

struct SteerStats {
	mkdp_steer_totals totals{};				// sums over CPUs
	std::vector<mkdp_steer_part_stats> partitions;		// [partition], sums over CPUs
	std::vector<std::pair<SteerRule, mkdp_steer_rule_stats>> rules;	// every rule, by id
};

struct SteerStatus {
	std::string netns;		// the pin directory's namespace label
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
	uint32_t rx_queues = 0;		// as the driver reports them (0: unknown)
	std::vector<uint32_t> queue_map;	// per RX queue (all 64 when unknown)
	std::vector<uint32_t> indirection;	// the 128 entries
	// queue -> partitions with a socket, as recorded by set_socket
	std::vector<std::pair<uint32_t, std::vector<uint32_t>>> sockets;
};

// A pin directory, as found under /sys/fs/bpf/mkdp.
struct SteerPins {
	std::string netns;	// label: "host", a /run/netns name, "netns-<inode>"
	std::string ifname;
	std::string dir;
	bool netns_gone = false;	// a name no longer under /run/netns: stale pins
};

struct DetachResult {
	std::string pins;		// the directory removed
	std::string detached_from;	// interface the program was taken off; "" when it
					// was no longer attached (only stale pins removed)
};

class Steering {
public:
	// Everything below works in the calling thread's network namespace.

	// Loads and attaches to ifname, pins under pin_dir(ifname). Attaching
	// again in the same mode changes the given fields on the program already
	// there (idempotent); any failure or refusal changes nothing.
	static Steering attach(const std::string &ifname, const AttachOptions &o);
	// The steering on ifname, from its pins (another process attached it).
	static Steering open(const std::string &ifname);
	// Loaded but neither attached nor pinned: for BPF_PROG_RUN.
	static Steering load(const SteerConfig &c);
	// Removes the program from the interface it is attached to (found by
	// the ifindex it was attached with, so a renamed interface is found
	// too), then the pins and their directory. Refuses, changing nothing,
	// when there are no pins for ifname in this namespace (the message says
	// in which namespaces there are).
	static DetachResult detach(const std::string &ifname);
	// The namespace `netns` is gone, its virtual devices with it: removes
	// the pins left for ifname. A physical device returns to the initial
	// namespace still carrying the program: looked for here, and detached.
	// Refuses when the namespace exists.
	static DetachResult remove_stale(const std::string &netns, const std::string &ifname);

	// The calling thread's namespace label, and the pin directories.
	static std::string netns_label();
	// The label of the namespace `--netns NAME` names ("" = the initial one).
	static std::string netns_label(const std::string &netns);
	static std::string pin_dir(const std::string &ifname);
	static std::string pin_dir(const std::string &netns, const std::string &ifname);
	// Every pin directory, all namespaces.
	static std::vector<SteerPins> list_pins();

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
	std::vector<uint32_t> queue_map() const;	// all MKDP_STEER_MAX_QUEUES entries

	uint32_t add_rule(SteerRule r);
	// All or nothing; assigns ids into rules[i].id.
	void add_rules(std::span<SteerRule> rules);
	void del_rule(uint32_t id);
	std::vector<SteerRule> list_rules() const;

	// The AF_XDP socket for (queue, partition); the kernel drops the entry
	// itself when the socket is closed.
	void set_socket(uint32_t queue, uint32_t part, int xsk_fd);
	void clear_socket(uint32_t queue, uint32_t part);
	// queue -> partitions with a socket, as recorded by set_socket.
	std::vector<std::pair<uint32_t, std::vector<uint32_t>>> sockets() const;

	SteerStats read_stats() const;
	void reset_stats();
	SteerStatus status() const;

	int prog_fd() const noexcept { return prog_fd_; }
	int xskmap_fd() const noexcept;
	const std::string &ifname() const noexcept { return ifname_; }

	// The program's maps, by name: skel().maps.rules_exact_v4 (include
	// steer.skel.h). Only the maps: a Steering opened from pins has not
	// loaded the object's programs.
	const steer &skel() const noexcept { return *skel_; }

private:
	explicit Steering(steer *skel) noexcept : skel_(skel) {}
	static Steering from_object(steer *skel, const SteerConfig &c);
	void close_all() noexcept;
	void check_partition(uint32_t part) const;
	void check_queue(uint32_t queue) const;
	void apply_tables(const AttachOptions &o);
	void write_defaults(uint32_t partitions);
	int write_rule(const SteerRule &r, const mkdp_steer_rule &v);
	int erase_rule(const SteerRule &r);
	void write_rule_index(const std::vector<SteerRule> &rules);
	mkdp_steer_info info() const;

	std::string ifname_;	// "" when only loaded
	std::string netns_;	// label of the pins' namespace
	int ifindex_ = 0;
	int prog_fd_ = -1;
	steer *skel_ = nullptr;	// owned: loaded, or opened with its maps from the pins
};

} // namespace mkdp
