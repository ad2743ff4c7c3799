// SPDX-License-Identifier: BSD-2-Clause
// What the files of the steering loader share (not for its users: they
// include steer_loader.h). One concept per file:
//   steer_util.cpp       diagnostics, the pin lock, ids and names
//   steer_pins.cpp       bpffs, pin directories, loading, opening from pins
//   xdp_attach.cpp       attach and detach (libxdp), replacing a program
//   steer_config.cpp     configuration, queue map, indirection, ethtool queues
//   steer_rule_text.cpp  the rule grammar (no BPF)
//   steer_rule_maps.cpp  rules in maps, all-or-nothing batches
//   steer_stats.cpp      XSKMAP slots, counters, status
#pragma once

#include "steer_loader.h"

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mkdp/error.h>
#include <xdp/libxdp.h>

namespace mkdp::steer_detail {

inline constexpr const char *kBpffs = "/sys/fs/bpf";
inline constexpr const char *kPinRoot = "/sys/fs/bpf/mkdp";
inline constexpr const char *kProgPin = "mkdp_steer";
inline constexpr const char *kLinkPin = "redirect_err_link";
inline constexpr const char *kHostLabel = "host";	// the initial network namespace

// An owned file descriptor for the set-up paths.
class Fd {
public:
	explicit Fd(int fd = -1) noexcept : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(o.release()) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(o.release());
		return *this;
	}
	~Fd() { reset(); }
	int get() const noexcept { return fd_; }
	int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_;
};

// libbpf and libxdp print their diagnostics to stderr; while one of these
// lives, mkdp keeps the last line instead, for the one-line reason of its
// errors (why()). Restored after.
class QuietLibs {
public:
	QuietLibs();
	~QuietLibs();
	static std::string why();	// " (last diagnostic)" or ""

private:
	libbpf_print_fn_t bpf_;
	libxdp_print_fn_t xdp_;
};

// Serialises every change of mkdp's pins, between processes.
class PinLock {
public:
	PinLock();

private:
	Fd fd_;
};

int ifindex_of(const std::string &ifname);	// throws for an unknown one
std::string ifname_of(int ifindex);		// "ifindex N" when it has none
uint32_t prog_id_of(int fd);
uint32_t map_id_of(int fd);

// steer_pins.cpp
void ensure_bpffs();
void remove_pins(const std::string &dir);
void check_ifname(const std::string &ifname);
std::optional<mkdp_steer_info> pinned_info(const std::string &dir);
Fd pinned_prog(const std::string &dir);
std::string no_pins(const std::string &label, const std::string &ifname);
// The loaded object, kept only while attach needs the tracepoint program.
struct Loaded {
	steer *skel = nullptr;
	~Loaded();
};
// Opens and loads the object; with a pin_dir, its maps are pinned there.
void load_skeleton(Loaded &l, const std::string &pin_dir);

// xdp_attach.cpp: the programs on ifindex, the single one or the
// dispatcher's components.
struct Attached {
	std::vector<std::pair<uint32_t, std::string>> progs;	// id, name
	bool multiprog = false;
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
};
Attached attached_on(int ifindex);
bool has_prog(const Attached &a, uint32_t id);

// steer_config.cpp
uint32_t rx_queues_of(const std::string &ifname);
void check_queue_on(const std::string &ifname, uint32_t queue);
std::string part_range(uint32_t n);
void check_tables(const std::string &ifname, const AttachOptions &o, uint32_t partitions);
SteerConfig merge(const SteerConfig &old, const SteerConfig &given, uint32_t fields);
void validate(const SteerConfig &c);
mkdp_steer_config to_abi(const SteerConfig &c, uint32_t xsk_map_id);

// Per-CPU maps: one value per possible CPU.
inline int possible_cpus()
{
	int n = libbpf_num_possible_cpus();
	if (n < 0)
		throw Error("cannot count possible CPUs", -n);
	return n;
}

template <class T>
void zero_percpu(int fd, uint32_t key, int ncpus)
{
	std::vector<T> zero{size_t(ncpus)};
	if (bpf_map_update_elem(fd, &key, zero.data(), BPF_ANY))
		throw_errno("reset per-CPU counters");
}

} // namespace mkdp::steer_detail
