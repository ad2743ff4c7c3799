// SPDX-License-Identifier: BSD-2-Clause
// What the partition and isolation tests share: a testbed of their own
// (mkdp-t-<pid>), a topology file pointing at it, `mkdp topology up` / `down` run as
// a user runs them, the supervisor's status, and a guard that always tears
// everything down.
#pragma once

#include <mkdp/topology.h>
#include <mkdp/cpu.h>
#include <mkdp/subprocess.h>
#include <mkdp/supervisor.h>
#include <mkdp/testbed.h>
#include <mkdp/veth_sender.h>
#include <steer_loader.h>

#include "wait_until.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mkdp::test {

using json = nlohmann::json;

inline ProgramResult mkdp_cli(std::vector<std::string> args)
{
	args.insert(args.begin(), MKDP_CLI);
	return run_program(args);
}

// PIDs of processes whose command line starts with "mkdp-part-" or that are
// an mkdp supervisor (they show as "mkdp topology up ...").
inline std::vector<int> mkdp_processes()
{
	std::vector<int> out;
	for (const auto &e : std::filesystem::directory_iterator("/proc")) {
		std::string n = e.path().filename();
		if (n.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::ifstream f(e.path() / "cmdline");
		std::string cmd;
		std::getline(f, cmd, '\0');
		std::string noun, verb;
		std::getline(f, noun, '\0');
		std::getline(f, verb, '\0');
		if (cmd.rfind("mkdp-part-", 0) == 0 ||
		    (cmd.find("mkdp") != std::string::npos && noun == "topology" && verb == "up"))
			if (std::stoi(n) != getpid())
				out.push_back(std::stoi(n));
	}
	return out;
}

// An XDP program on a device of namespace `netns` ("" when none).
inline std::string xdp_on(const std::string &netns)
{
	if (netns.empty() || !std::filesystem::exists("/run/netns/" + netns))
		return {};
	ProgramResult r = run_program({"ip", "-n", netns, "-j", "-d", "link", "show"});
	std::string out;
	if (r.status)
		return "(ip link show failed) ";
	for (const auto &l : json::parse(r.out))
		if (l.contains("xdp"))
			out += "xdp on " + l.value("ifname", "?") + " ";
	return out;
}

// Steering pins for a testbed device, wherever the pin layout puts them.
inline std::string pins_left()
{
	std::string out;
	std::error_code ec;
	for (auto it = std::filesystem::recursive_directory_iterator("/sys/fs/bpf/mkdp", ec);
	     !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
		if (it->path().string().find("mkdp0") != std::string::npos) {
			out += it->path().string() + " ";
			break;
		}
	return out;
}

constexpr const char *kCgroupDirs[] = {"/sys/fs/cgroup/mkdp", "/sys/fs/cgroup/cpuset/mkdp"};

// What an mkdp topology up left behind, as it is now ("" = nothing).
inline std::string leftovers_now(const std::string &netns = {})
{
	std::string out;
	if (std::filesystem::exists(kRunDir))
		out += std::string(kRunDir) + " ";
	out += pins_left();
	out += xdp_on(netns);
	for (const char *cg : kCgroupDirs)
		if (std::filesystem::exists(cg))
			out += std::string(cg) + " ";
	for (int pid : mkdp_processes())
		out += "pid " + std::to_string(pid) + " ";
	return out;
}

// What an mkdp topology up left behind ("" = nothing): the supervisor's files, its
// processes, steering pins, an XDP program on the testbed's devices, cpuset
// cgroups. Waits up to 5 s for processes and cgroups that are still going
// away (a killed partition's cgroup is removable only once it has exited).
inline std::string leftovers(const std::string &netns = {})
{
	std::string out;
	wait_until([&] { return (out = leftovers_now(netns)).empty(); }, 5000);
	return out;
}

inline bool nothing_left(const std::string &netns = {})
{
	std::string l = leftovers(netns);
	if (!l.empty())
		std::fprintf(stderr, "left behind: %s\n", l.c_str());
	return l.empty();
}

// A private testbed and a topology on it; `down` and testbed removal on
// destruction whatever happened.
class PartitionBed {
public:
	explicit PartitionBed(uint32_t queues = 2)
		: name_("mkdp-t-" + std::to_string(getpid())), bed_(TestbedOptions{name_, queues})
	{
		file_ = "/tmp/" + name_ + ".toml";
		std::ofstream(file_) << Topology::testbed_toml(name_);
	}
	~PartitionBed()
	{
		mkdp_cli({"topology", "down"});
		std::remove(file_.c_str());
	}

	ProgramResult up(std::vector<std::string> extra = {})
	{
		// The tests count frames by their tags: partitions read them.
		std::vector<std::string> a{"topology", "up", file_, "--verify-tags"};
		a.insert(a.end(), extra.begin(), extra.end());
		return mkdp_cli(a);
	}
	ProgramResult rule(const std::string &text)
	{
		std::vector<std::string> a{"steer", "rule", "add", "mkdp0", "--netns", name_};
		std::string w;
		for (char ch : text + " ") {
			if (ch == ' ') {
				if (!w.empty())
					a.push_back(w);
				w.clear();
			} else {
				w += ch;
			}
		}
		return mkdp_cli(a);
	}
	// The two flows most tests send: UDP 5001->7001 ruled to p0, 5002->7002
	// to p1. True when both rules were added.
	bool rule_one_flow_per_partition()
	{
		return rule("exact udp 10.77.0.2:5001 10.77.0.1:7001 part 0").status == 0 &&
		       rule("exact udp 10.77.0.2:5002 10.77.0.1:7002 part 1").status == 0;
	}
	const std::string &netns() const { return name_; }
	const std::string &file() const { return file_; }

private:
	std::string name_;
	Testbed bed_;
	std::string file_;
};

inline json status()
{
	return supervisor_request({{"cmd", "status"}});
}

inline json part(const json &st, const std::string &name)
{
	for (const auto &p : st["partitions"])
		if (p["partition"] == name)
			return p;
	return json::object();
}

inline uint64_t total_rx(const json &st)
{
	uint64_t n = 0;
	for (const auto &p : st["partitions"])
		n += p["rx"].get<uint64_t>();
	return n;
}

// Waits until `done(status)` holds, or until the counters stop moving for
// a while after `timeout_ms`; returns the last status.
template <class F> json wait_for(F done, int timeout_ms = 15000)
{
	json st = status();
	uint64_t end = now_ns() + uint64_t(timeout_ms) * 1'000'000;
	while (!done(st) && now_ns() < end) {
		usleep(20000);
		st = status();
	}
	return st;
}

// Frames the testbed's veth pair dropped (the sender's end on transmit, the
// receiving end on receive): losses before XDP.
inline uint64_t veth_drops(const std::string &netns)
{
	ProgramResult r = run_program({"ip", "-n", netns, "-j", "-s", "link", "show"});
	uint64_t n = 0;
	if (r.status)
		return 0;
	for (const auto &l : json::parse(r.out)) {
		const json &st = l.value("stats64", json::object());
		if (l.value("ifname", "") == kTestbedRxDev)
			n += st.value("rx", json::object()).value("dropped", 0ULL);
		if (l.value("ifname", "") == kTestbedTxDev)
			n += st.value("tx", json::object()).value("dropped", 0ULL);
	}
	return n;
}

// Frames partition `p` (its status object) did not get that a counter
// explains: its AF_XDP sockets' drops (RX ring full, no frame in the fill
// ring), which the steering program also sees as redirect errors (the same
// frames: counted once), and the steering program's own (its slots cleared
// while over its frame quota, the drop action). On a loaded machine these
// happen; a loss beyond them is a bug.
inline uint64_t counted_losses(const json &p)
{
	uint64_t n = p["xsk"]["rx_dropped"].get<uint64_t>() + p["xsk"]["rx_ring_full"].get<uint64_t>();
	if (p.contains("steering")) {
		const json &s = p["steering"];
		n = std::max<uint64_t>(n, s["redirect_errors"]) + s["no_socket"].get<uint64_t>() +
		    s["drops"].get<uint64_t>();
	}
	return n;
}

// What a partition had received and lost at some point, and the testbed's
// veth drops then: the start of a later delivery check.
struct Seen {
	uint64_t rx = 0, counted = 0, veth = 0;
};

inline Seen seen(const json &st, const std::string &name, const std::string &netns)
{
	json p = part(st, name);
	return {p["rx"].get<uint64_t>(), counted_losses(p), veth_drops(netns)};
}

// Waits until partition `name` received `sent` more frames than `before`,
// or until what it lacks is counted (counted_losses, veth drops), and it
// holds no frame. Asserts that every missing frame is explained and that
// no tag arrived twice; prints the loss if there was one. Returns the last
// status; `lost` (if given) gets the number of frames it did not receive.
inline json expect_delivered_or_counted(const std::string &name, uint64_t sent, const std::string &netns,
					 Seen before = {}, uint64_t *lost_out = nullptr)
{
	auto now = [&](const json &st) {
		Seen s = seen(st, name, netns);
		return Seen{s.rx - before.rx, s.counted - before.counted, s.veth - before.veth};
	};
	json st = wait_for([&](const json &st) {
		Seen d = now(st);
		return part(st, name)["frames"]["in_flight"] == 0 && (d.rx >= sent || d.rx + d.counted + d.veth >= sent);
	});
	Seen d = now(st);
	uint64_t lost = d.rx < sent ? sent - d.rx : 0;
	if (lost)
		std::printf("%s: %llu of %llu frames lost, counted: %llu by AF_XDP and steering (%s), %llu by veth\n",
			    name.c_str(), (unsigned long long)lost, (unsigned long long)sent,
			    (unsigned long long)d.counted, part(st, name)["xsk"].dump().c_str(),
			    (unsigned long long)d.veth);
	EXPECT_LE(lost, d.counted + d.veth) << name << ": frames lost that no counter explains";
	EXPECT_EQ(part(st, name)["tag_order_errors"], 0u) << name << ": a tag arrived twice";
	if (lost_out)
		*lost_out = lost;
	return st;
}

// The flow bit of a tag (see the runtime's rx_flows).
inline uint64_t flow_bit(uint64_t tag)
{
	return 1ULL << ((tag >> 32) % 64);
}

// Sum of tags first..first+n-1.
inline uint64_t tag_sum(uint64_t first, uint64_t n)
{
	return n * first + n * (n - 1) / 2;
}

inline bool have_root()
{
	return geteuid() == 0;
}

// A testbed namespace of a test process that is gone (mkdp-t-PID).
inline bool orphan_testbed(const std::string &ns)
{
	if (ns.rfind("mkdp-t-", 0) != 0)
		return false;
	std::string pid = ns.substr(7, ns.find_first_not_of("0123456789", 7) - 7);
	return !pid.empty() && std::stoi(pid) != getpid() && kill(std::stoi(pid), 0) != 0 && errno == ESRCH;
}

// Removes what an earlier test (or a crashed one) left: its `mkdp topology up`, the
// supervisor's and partitions' processes, cgroups, the testbeds of test
// processes that are gone and their pins. Says what it found. One leftover
// must cost one test, not every test after it.
inline void clean_leftovers()
{
	std::string found = leftovers_now();
	std::vector<std::string> orphans;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator("/run/netns", ec))
		if (orphan_testbed(e.path().filename()))
			orphans.push_back(e.path().filename());
	if (found.empty() && orphans.empty())
		return;
	std::fprintf(stderr, "cleaning what an earlier test left: %s", found.c_str());
	for (const std::string &ns : orphans)
		std::fprintf(stderr, "testbed %s ", ns.c_str());
	std::fprintf(stderr, "\n");
	mkdp_cli({"topology", "down"});
	for (int pid : mkdp_processes())
		kill(pid, SIGKILL);
	wait_until([] { return mkdp_processes().empty(); }, 5000);
	for (const std::string &ns : orphans)
		testbed_down(ns);
	// Pins of namespaces that are gone (the product's own clean-up).
	std::vector<std::pair<std::string, std::string>> stale;	// (namespace, device)
	for (const auto &e : std::filesystem::directory_iterator("/sys/fs/bpf/mkdp", ec)) {
		std::string ns = e.path().filename();
		if (e.is_directory() && ns != "host" && !std::filesystem::exists("/run/netns/" + ns))
			for (const auto &dev : std::filesystem::directory_iterator(e.path(), ec))
				stale.emplace_back(ns, dev.path().filename());
	}
	for (const auto &[ns, dev] : stale)
		Steering::remove_stale(ns, dev);
	// A cgroup is removable once its last task has exited.
	for (const char *cg : kCgroupDirs) {
		wait_until([&] {
			std::error_code e2;
			for (const auto &d : std::filesystem::directory_iterator(cg, e2))
				if (d.is_directory())
					::rmdir(d.path().c_str());
			::rmdir(cg);
			return !std::filesystem::exists(cg);
		}, 5000);
	}
}

// Tests that bring partitions up: root, and nothing left from an earlier
// `mkdp topology up` (removed, and said, if there was).
class PartitionFixture : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!have_root())
			GTEST_SKIP() << "needs root (BPF, AF_XDP, network namespaces)";
		clean_leftovers();
		ASSERT_TRUE(nothing_left()) << "what an earlier mkdp topology up left could not be removed";
	}
};

} // namespace mkdp::test
