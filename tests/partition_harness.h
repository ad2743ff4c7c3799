// SPDX-License-Identifier: BSD-2-Clause
// What the partition and isolation tests share: a testbed of their own
// (mkdp-t-<pid>), a topology file pointing at it, `mkdp up` / `down` run as
// a user runs them, the supervisor's status, and a guard that always tears
// everything down.
#pragma once

#include <mkdp/topology.h>
#include <mkdp/cpu.h>
#include <mkdp/subprocess.h>
#include <mkdp/supervisor.h>
#include <mkdp/testbed.h>
#include <mkdp/veth_sender.h>

#include <dirent.h>
#include <unistd.h>

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
// an mkdp supervisor (they show as "mkdp up ...").
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
		std::string rest;
		std::getline(f, rest, '\0');
		if (cmd.rfind("mkdp-part-", 0) == 0 || (cmd.find("mkdp") != std::string::npos && rest == "up"))
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

// What an mkdp up left behind ("" = nothing): the supervisor's files, its
// processes, steering pins, an XDP program on the testbed's devices, cpuset
// cgroups. Waits up to 2 s for processes that are still exiting.
inline std::string leftovers(const std::string &netns = {})
{
	std::string out;
	for (int i = 0; i < 200; i++) {
		out.clear();
		if (std::filesystem::exists(kRunDir))
			out += std::string(kRunDir) + " ";
		out += pins_left();
		out += xdp_on(netns);
		for (const char *cg : {"/sys/fs/cgroup/mkdp", "/sys/fs/cgroup/cpuset/mkdp"})
			if (std::filesystem::exists(cg))
				out += std::string(cg) + " ";
		for (int pid : mkdp_processes())
			out += "pid " + std::to_string(pid) + " ";
		if (out.empty())
			break;
		usleep(10000);
	}
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
		mkdp_cli({"down"});
		std::remove(file_.c_str());
	}

	ProgramResult up(std::vector<std::string> extra = {})
	{
		std::vector<std::string> a{"up", file_};
		a.insert(a.end(), extra.begin(), extra.end());
		return mkdp_cli(a);
	}
	ProgramResult rule(const std::string &text)
	{
		std::vector<std::string> a{"rule", "add", "mkdp0", "--netns", name_};
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
		if (p["name"] == name)
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

// Sum of tags first..first+n-1.
inline uint64_t tag_sum(uint64_t first, uint64_t n)
{
	return n * first + n * (n - 1) / 2;
}

inline bool have_root()
{
	return geteuid() == 0;
}

// Tests that bring partitions up: root, and no earlier `mkdp up` around.
class PartitionFixture : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!have_root())
			GTEST_SKIP() << "needs root (BPF, AF_XDP, network namespaces)";
		ASSERT_TRUE(nothing_left()) << "an earlier mkdp up is still around";
	}
};

} // namespace mkdp::test
