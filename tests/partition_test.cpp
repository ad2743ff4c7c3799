// SPDX-License-Identifier: BSD-2-Clause
// Partitions end to end, through the CLI as a user runs it: `mkdp up` on a
// testbed of the test's own, real frames from the veth wire end, the
// supervisor's accounting, `mkdp down`. See docs/partitions.md.
#include "partition_harness.h"

#include <mkdp/error.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace mkdp::test {
namespace {

class PartitionTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!have_root())
			GTEST_SKIP() << "needs root (BPF, AF_XDP, network namespaces)";
		ASSERT_TRUE(nothing_left()) << "an earlier mkdp up is still around";
	}
};

std::map<std::string, std::string> proc_status(int pid)
{
	std::map<std::string, std::string> m;
	std::ifstream f("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(f, line)) {
		auto c = line.find(':');
		if (c == std::string::npos)
			continue;
		std::string v = line.substr(c + 1);
		v.erase(0, v.find_first_not_of(" \t"));
		m[line.substr(0, c)] = v;
	}
	return m;
}

// What each open fd of a process is (readlink of /proc/PID/fd/N).
std::vector<std::string> fd_targets(int pid)
{
	std::vector<std::string> out;
	for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
		std::error_code ec;
		out.push_back(std::filesystem::read_symlink(e.path(), ec).string());
	}
	return out;
}

// What a partition maps (the region and its control memfd).
std::string maps_of(int pid)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/maps");
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

TEST_F(PartitionTest, FdHandOverAndPrivilegeDrop)
{
	PartitionBed bed;
	ProgramResult r = bed.up();
	ASSERT_EQ(r.status, 0) << r.err;
	json st = status();
	ASSERT_EQ(st["partitions"].size(), 2u);
	for (const auto &p : st["partitions"]) {
		SCOPED_TRACE(p["name"].get<std::string>());
		EXPECT_EQ(p["state"], "running");
		int pid = p["pid"];
		ASSERT_GT(pid, 0);
		auto s = proc_status(pid);
		EXPECT_EQ(s["CapEff"], "0000000000000000");
		EXPECT_EQ(s["CapPrm"], "0000000000000000");
		EXPECT_EQ(s["CapInh"], "0000000000000000");
		EXPECT_EQ(s["CapAmb"], "0000000000000000");
		EXPECT_EQ(s["NoNewPrivs"], "1");
		EXPECT_EQ(s["Cpus_allowed_list"], std::to_string(p["cpus"][0].get<int>()));
		// Exactly what it was handed: one AF_XDP socket per queue (fds it
		// keeps), the region and the control memfd (mappings; their fds
		// are closed once mapped).
		size_t sockets = 0;
		for (const std::string &t : fd_targets(pid))
			sockets += t.rfind("socket:", 0) == 0;
		EXPECT_EQ(sockets, 2u);
		std::string maps = maps_of(pid);
		EXPECT_NE(maps.find("/memfd:mkdp-umem0"), std::string::npos);
		EXPECT_NE(maps.find("/memfd:mkdp-ctl-" + p["name"].get<std::string>()), std::string::npos);
		// ...and nothing of the other partition's.
		std::string other = p["name"] == "p0" ? "p1" : "p0";
		EXPECT_EQ(maps.find("/memfd:mkdp-ctl-" + other), std::string::npos);
	}
	EXPECT_EQ(st["region"]["frames"], 8192u);
	EXPECT_EQ(st["region"]["leaked"], 0u);

	// Steering is attached with one socket per (queue, partition).
	ProgramResult s = mkdp_cli({"status", "mkdp0", "--netns", bed.netns(), "--json"});
	ASSERT_EQ(s.status, 0) << s.err;
	json sj = json::parse(s.out);
	EXPECT_EQ(sj["interfaces"][0]["sockets_by_queue"]["0"], json::array({0, 1}));
	EXPECT_EQ(sj["interfaces"][0]["sockets_by_queue"]["1"], json::array({0, 1}));
	EXPECT_EQ(sj["partitions"]["partitions"].size(), 2u);

	ProgramResult d = mkdp_cli({"down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_TRUE(nothing_left());
}

TEST_F(PartitionTest, FramesArriveInThePartitionTheRuleChose)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	// Flow A to p1, flow B to p0, both queues.
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5001 10.77.0.1:7001 part 1").status, 0);
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5002 10.77.0.1:7002 part 0").status, 0);
	VethSender tx(bed.netns(), 2);
	constexpr uint64_t n = 5000;
	std::vector<VethSender::Flow> flows{
		{tx.udp(5001, 7001), 0, 1'000'000, 0},
		{tx.udp(5002, 7002), 1, 2'000'000, 0},
	};
	tx.send_flows(flows, n, 100'000);
	json st = wait_for([&](const json &s) {
		return part(s, "p1")["tag_sum"] == tag_sum(1'000'000, n) &&
		       part(s, "p0")["tag_sum"] == tag_sum(2'000'000, n);
	});
	// By content: the tags that arrived in each partition are exactly
	// those of the flow its rule names.
	EXPECT_EQ(part(st, "p1")["tag_sum"], tag_sum(1'000'000, n));
	EXPECT_EQ(part(st, "p0")["tag_sum"], tag_sum(2'000'000, n));
	EXPECT_GE(part(st, "p1")["rx"].get<uint64_t>(), n);
	EXPECT_GE(part(st, "p0")["rx"].get<uint64_t>(), n);
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(st["region"]["refused_returns"], 0u);
}

TEST_F(PartitionTest, ForwardBetweenPartitionsIsZeroCopy)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up({"--forward-every", "4"}).status, 0);
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows;
	for (uint16_t i = 0; i < 8; i++)
		flows.push_back({tx.udp(uint16_t(6000 + i), 9000), i % 2u, uint64_t(i) << 32, 0});
	tx.send_flows(flows, 2000, 100'000);
	json st = wait_for([&](const json &s) {
		return total_rx(s) >= 16000 && part(s, "p0")["fwd"] == part(s, "p1")["fwd_rx"] &&
		       part(s, "p1")["fwd"] == part(s, "p0")["fwd_rx"] && s["region"]["in_flight"] == 0;
	});
	json p0 = part(st, "p0"), p1 = part(st, "p1");
	EXPECT_GT(p0["fwd"].get<uint64_t>(), 0u);
	EXPECT_GT(p1["fwd"].get<uint64_t>(), 0u);
	// Same count and the same UMEM addresses: the peer got the very frames.
	EXPECT_EQ(p0["fwd"], p1["fwd_rx"]);
	EXPECT_EQ(p0["fwd_addr_sum"], p1["fwd_rx_addr_sum"]);
	EXPECT_EQ(p1["fwd"], p0["fwd_rx"]);
	EXPECT_EQ(p1["fwd_addr_sum"], p0["fwd_rx_addr_sum"]);
	// Every frame's tag still arrives exactly once over both partitions.
	uint64_t want = 0;
	for (const auto &f : flows)
		want += tag_sum(f.first_tag, f.sent);
	EXPECT_EQ(p0["tag_sum"].get<uint64_t>() + p1["tag_sum"].get<uint64_t>(), want);
	EXPECT_EQ(st["region"]["leaked"], 0u);
}

// MKDP_PART_FRAMES overrides the frame count (default one million).
TEST_F(PartitionTest, FrameAccountingHasNoLeaksAfterAMillionFrames)
{
	uint64_t total = 1'000'000;
	if (const char *e = std::getenv("MKDP_PART_FRAMES"))
		total = std::stoull(e);
	PartitionBed bed;
	ASSERT_EQ(bed.up({"--forward-every", "16"}).status, 0);
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows;
	for (uint16_t i = 0; i < 16; i++)
		flows.push_back({tx.udp(uint16_t(10000 + i * 7), 4242), i % 2u, 0, 0});
	uint64_t t0 = now_ns();
	uint64_t sent = tx.send_flows(flows, total / flows.size(), 0);
	double secs = double(now_ns() - t0) / 1e9;
	json st = wait_for([&](const json &s) { return s["region"]["in_flight"] == 0 && s["region"]["leaked"] == 0; },
			   5000);
	uint64_t rx = total_rx(st);
	std::printf("sent %llu frames in %.2f s; partitions received %llu (%.1f%%)\n", (unsigned long long)sent,
		    secs, (unsigned long long)rx, 100.0 * double(rx) / double(sent));
	const json &r = st["region"];
	EXPECT_EQ(r["leaked"], 0u);
	EXPECT_EQ(r["refused_returns"], 0u);
	EXPECT_EQ(r["in_flight"], 0u);
	EXPECT_EQ(r["free"].get<uint64_t>() + r["fill"].get<uint64_t>(), r["frames"].get<uint64_t>());
	// Frames went round the pool many times over.
	EXPECT_GT(rx, 10 * r["frames"].get<uint64_t>());
	for (const auto &p : st["partitions"])
		EXPECT_EQ(p["rx"].get<uint64_t>() + p["fwd_rx"].get<uint64_t>(),
			  p["returned"].get<uint64_t>() + p["fwd"].get<uint64_t>());
}

TEST_F(PartitionTest, FailedUpLeavesNothing)
{
	// A namespace that does not exist.
	std::string file = "/tmp/mkdp-t-" + std::to_string(getpid()) + "-bad.toml";
	std::ofstream(file) << "[machine]\ninterface = \"mkdp0\"\nnetns = \"mkdp-t-" << getpid()
			    << "-none\"\n\n[[partition]]\nname = \"p0\"\ncpus = [0]\nqueues = [0]\n\n"
			       "[[region]]\nname = \"r\"\nsize = \"4MiB\"\nshared_with = [\"p0\"]\n";
	ProgramResult r = mkdp_cli({"up", file});
	std::remove(file.c_str());
	EXPECT_NE(r.status, 0);
	EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
	EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
	EXPECT_TRUE(nothing_left());

	PartitionBed bed;
	// Up twice: the second is refused while the first runs.
	ASSERT_EQ(bed.up().status, 0);
	ProgramResult again = bed.up();
	EXPECT_NE(again.status, 0);
	EXPECT_NE(again.err.find("already up"), std::string::npos) << again.err;
	EXPECT_EQ(mkdp_cli({"down"}).status, 0);
	EXPECT_TRUE(nothing_left());
}

TEST_F(PartitionTest, FailureAfterSteeringAndSocketsExistLeavesNothing)
{
	// The region, sockets and steering exist by the time the partitions
	// start; a partition that cannot join its namespace exits before it
	// is ready, and up must undo all of it.
	PartitionBed bed;
	std::string bad = bed.file() + ".bad.toml";
	{
		std::ifstream in(bed.file());
		std::stringstream ss;
		ss << in.rdbuf();
		std::string t = ss.str();
		t.insert(t.find("\n\n[[region]]"), "\nnetns = \"mkdp-t-none-" + std::to_string(getpid()) + "\"");
		std::ofstream(bad) << t;
	}
	ProgramResult r = mkdp_cli({"up", bad});
	std::remove(bad.c_str());
	EXPECT_NE(r.status, 0);
	EXPECT_NE(r.err.find("exited during start-up"), std::string::npos) << r.err;
	EXPECT_TRUE(nothing_left());
}

TEST_F(PartitionTest, DownCleansUpAfterASupervisorThatDied)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	int pid = supervisor_pid();
	ASSERT_GT(pid, 0);
	kill(pid, SIGKILL);
	for (int i = 0; i < 200 && !mkdp_processes().empty(); i++)
		usleep(10000);
	EXPECT_TRUE(mkdp_processes().empty()) << "partitions die with their supervisor";
	ProgramResult d = mkdp_cli({"down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("died"), std::string::npos) << d.out;
	EXPECT_TRUE(nothing_left());
}

} // namespace
} // namespace mkdp::test
