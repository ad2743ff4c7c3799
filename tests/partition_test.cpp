// SPDX-License-Identifier: BSD-2-Clause
// Partitions end to end, through the CLI as a user runs it: `mkdp topology up` on a
// testbed of the test's own, real frames from the veth wire end, the
// supervisor's accounting, `mkdp topology down`. See docs/partitions.md.
#include "partition_harness.h"

#include <mkdp/error.h>
#include <mkdp/region.h>

#include <fcntl.h>
#include <signal.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <sstream>

namespace mkdp::test {
namespace {

using PartitionTest = PartitionFixture;

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
		SCOPED_TRACE(p["partition"].get<std::string>());
		EXPECT_EQ(p["state"], "running");
		int pid = p["pid"];
		ASSERT_GT(pid, 0);
		auto s = proc_status(pid);
		EXPECT_EQ(s["CapEff"], "0000000000000000");
		EXPECT_EQ(s["CapPrm"], "0000000000000000");
		EXPECT_EQ(s["CapInh"], "0000000000000000");
		EXPECT_EQ(s["CapAmb"], "0000000000000000");
		EXPECT_EQ(s["NoNewPrivs"], "1");
		// Not root any more: it can neither signal the supervisor nor
		// (non-dumpable) be ptraced by a peer running as the same user.
		EXPECT_EQ(s["Uid"], "65534\t65534\t65534\t65534");
		EXPECT_EQ(s["Gid"], "65534\t65534\t65534\t65534");
		EXPECT_EQ(s["Groups"], "");
		EXPECT_EQ(p["uid"], 65534);
		EXPECT_EQ(s["Cpus_allowed_list"], std::to_string(p["cpus"][0].get<int>()));
		// Its cpuset cgroup, v2 or (this machine) v1, as status says.
		std::string placement = p["placement"];
		std::string name = p["partition"];
		if (placement != "affinity only") {
			std::string dir = placement.substr(placement.rfind(' ') + 1);
			EXPECT_EQ(dir.substr(dir.size() - name.size() - 6), "/mkdp/" + name);
			std::ifstream cpus(dir + "/cpuset.cpus");
			std::string c;
			cpus >> c;
			EXPECT_EQ(c, std::to_string(p["cpus"][0].get<int>()));
			std::ifstream cs("/proc/" + std::to_string(pid) + "/cpuset");
			std::string in;
			cs >> in;
			EXPECT_EQ(in, "/mkdp/" + name);
		}
		if (std::filesystem::exists("/sys/fs/cgroup/cpuset/cpuset.cpus")) {
			EXPECT_EQ(placement, "cpuset cgroup v1 /sys/fs/cgroup/cpuset/mkdp/" + name);
		}
		// Exactly what it was handed: one AF_XDP socket per queue (fds it
		// keeps), the region and the control memfd (mappings; their fds
		// are closed once mapped).
		size_t sockets = 0;
		for (const std::string &t : fd_targets(pid))
			sockets += t.rfind("socket:", 0) == 0;
		EXPECT_EQ(sockets, 2u);
		std::string maps = maps_of(pid);
		EXPECT_NE(maps.find("/memfd:mkdp-umem0"), std::string::npos);
		EXPECT_NE(maps.find("/memfd:mkdp-ctl-" + p["partition"].get<std::string>()), std::string::npos);
		// ...and nothing of the other partition's.
		std::string other = p["partition"] == "p0" ? "p1" : "p0";
		EXPECT_EQ(maps.find("/memfd:mkdp-ctl-" + other), std::string::npos);
	}
	EXPECT_EQ(st["region"]["frames"], 8192u);
	EXPECT_EQ(st["region"]["leaked"], 0u);
	// Disjoint ranges, an equal share each.
	EXPECT_EQ(part(st, "p0")["frames"]["range"], json::array({0, 4096}));
	EXPECT_EQ(part(st, "p1")["frames"]["range"], json::array({4096, 8192}));

	// Steering is attached with one socket per (queue, partition).
	ProgramResult s = mkdp_cli({"steer", "status", "mkdp0", "--netns", bed.netns(), "--json"});
	ASSERT_EQ(s.status, 0) << s.err;
	json sj = json::parse(s.out);
	const json &socks = sj["interfaces"][0]["sockets"];
	ASSERT_EQ(socks.size(), 2u) << sj.dump();
	EXPECT_EQ(socks[0], json({{"queue", 0}, {"partition_indexes", {0, 1}}}));
	EXPECT_EQ(socks[1], json({{"queue", 1}, {"partition_indexes", {0, 1}}}));
	EXPECT_EQ(sj["interfaces"][0]["partition_names"], json::array({"p0", "p1"}));
	ProgramResult ts = mkdp_cli({"topology", "status", "-j"});
	ASSERT_EQ(ts.status, 0) << ts.err;
	EXPECT_EQ(json::parse(ts.out)["partitions"].size(), 2u) << ts.out;

	ProgramResult d = mkdp_cli({"topology", "down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_TRUE(nothing_left(bed.netns()));
}

TEST_F(PartitionTest, FramesArriveInThePartitionTheRuleChose)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	// Flow A to p1, flow B to p0, both queues.
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5001 10.77.0.1:7001 part 1").status, 0);
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5002 10.77.0.1:7002 part 0").status, 0);
	VethSender tx(bed.netns(), 2);
	constexpr uint64_t n = 5000, a = (1ULL << 32) + 1, b = (2ULL << 32) + 1;	// tags: flows 1 and 2
	std::vector<VethSender::Flow> flows{
		{tx.udp(5001, 7001), 0, a, 0},
		{tx.udp(5002, 7002), 1, b, 0},
	};
	tx.send_flows(flows, n, 100'000);
	uint64_t lost0 = 0, lost1 = 0;
	expect_delivered_or_counted("p1", n, bed.netns(), {}, &lost1);
	json st = expect_delivered_or_counted("p0", n, bed.netns(), {}, &lost0);
	// By content: the tags that arrived in each partition are those of
	// the flow its rule names (all of them when nothing was lost).
	EXPECT_EQ(part(st, "p1")["rx_flows"], flow_bit(a));
	EXPECT_EQ(part(st, "p0")["rx_flows"], flow_bit(b));
	if (!lost1) {
		EXPECT_EQ(part(st, "p1")["tag_sum"], tag_sum(a, n));
	}
	if (!lost0) {
		EXPECT_EQ(part(st, "p0")["tag_sum"], tag_sum(b, n));
	}
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
	// Flows alternate between the queues, and hashing spreads them over
	// the partitions: each partition's share is what its rx_flows says.
	auto share = [&](const json &st, const std::string &name) {
		uint64_t n = 0, bits = part(st, name)["rx_flows"];
		for (const auto &f : flows)
			n += (bits & flow_bit(f.first_tag + 1)) ? f.sent : 0;
		return n;
	};
	json st = wait_for([&](const json &s) {
		return total_rx(s) + counted_losses(part(s, "p0")) + counted_losses(part(s, "p1")) >= 16000 &&
		       s["region"]["in_flight"] == 0;
	});
	uint64_t lost0 = 0, lost1 = 0;
	expect_delivered_or_counted("p0", share(st, "p0"), bed.netns(), {}, &lost0);
	st = expect_delivered_or_counted("p1", share(st, "p1"), bed.netns(), {}, &lost1);
	json p0 = part(st, "p0"), p1 = part(st, "p1");
	EXPECT_EQ(p0["rx_flows"].get<uint64_t>() | p1["rx_flows"].get<uint64_t>(), 0xffu) << "every flow arrived";
	EXPECT_EQ(p0["rx_flows"].get<uint64_t>() & p1["rx_flows"].get<uint64_t>(), 0u) << "a flow reached both";
	EXPECT_GT(p0["fwd"].get<uint64_t>(), 0u);
	EXPECT_GT(p1["fwd"].get<uint64_t>(), 0u);
	// Same count and the same UMEM addresses: the peer got the very frames.
	EXPECT_EQ(p0["fwd"], p1["fwd_rx"]);
	EXPECT_EQ(p0["fwd_addr_sum"], p1["fwd_rx_addr_sum"]);
	EXPECT_EQ(p1["fwd"], p0["fwd_rx"]);
	EXPECT_EQ(p1["fwd_addr_sum"], p0["fwd_rx_addr_sum"]);
	// With nothing lost, every frame's tag arrived exactly once over both.
	if (!lost0 && !lost1) {
		uint64_t want = 0;
		for (const auto &f : flows)
			want += tag_sum(f.first_tag, f.sent);
		EXPECT_EQ(p0["tag_sum"].get<uint64_t>() + p1["tag_sum"].get<uint64_t>(), want);
	}
	EXPECT_EQ(st["region"]["leaked"], 0u);
}

// MKDP_PART_FRAMES overrides the frame count (default one million),
// MKDP_PART_PPS the send rate (default 200 000 frames/s: paced so that
// the partitions, sharing two CPUs with the sender and the supervisor,
// keep up; unpaced, a burst overflows RX rings while a partition is
// descheduled and the test would measure the scheduler).
TEST_F(PartitionTest, FrameAccountingHasNoLeaksAfterAMillionFrames)
{
	uint64_t total = 1'000'000, pps = 200'000;
	if (const char *e = std::getenv("MKDP_PART_FRAMES"))
		total = std::stoull(e);
	if (const char *e = std::getenv("MKDP_PART_PPS"))
		pps = std::stoull(e);
	PartitionBed bed;
	ASSERT_EQ(bed.up({"--forward-every", "16"}).status, 0);
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows;
	for (uint16_t i = 0; i < 16; i++)
		flows.push_back({tx.udp(uint16_t(10000 + i * 7), 4242), i % 2u, uint64_t(i) << 32, 0});
	uint64_t t0 = now_ns();
	uint64_t sent = tx.send_flows(flows, total / flows.size(), pps);
	double secs = double(now_ns() - t0) / 1e9;
	json st = wait_for([&](const json &s) {
		uint64_t got = total_rx(s) + counted_losses(part(s, "p0")) + counted_losses(part(s, "p1"));
		return got >= sent && s["region"]["in_flight"] == 0 && s["region"]["leaked"] == 0;
	});
	uint64_t rx = total_rx(st), counted = 0, xsk = 0, fill_empty = 0, veth = veth_drops(bed.netns());
	for (const auto &p : st["partitions"]) {
		counted += counted_losses(p);
		xsk += p["xsk"]["rx_dropped"].get<uint64_t>() + p["xsk"]["rx_ring_full"].get<uint64_t>();
	}
	for (const auto &q : st["queues"])
		fill_empty += q["fill_ring_empty"].get<uint64_t>();
	// Every frame sent reached a partition's RX ring, or the kernel says
	// why not: an RX ring full (the partition was descheduled), no frame
	// in the fill ring (rx_dropped, fill_ring_empty), or the partition was
	// over its frame quota (its frames took the default action).
	// The wire is the namespace's own: its stack may add a frame or two
	// (neighbour discovery), which the steering program hands out too.
	uint64_t lost = sent > rx ? sent - rx : 0;
	std::printf("sent %llu frames in %.2f s; partitions received %llu (%.3f%%); lost %llu: "
		    "%llu counted by AF_XDP (RX ring full or no fill frame; fill ring empty %llu times), "
		    "%llu dropped by the veth pair, %llu not given to a socket by steering (over quota)\n",
		    (unsigned long long)sent, secs, (unsigned long long)rx, 100.0 * double(rx) / double(sent),
		    (unsigned long long)lost, (unsigned long long)xsk, (unsigned long long)fill_empty,
		    (unsigned long long)veth, (unsigned long long)(counted - std::min(counted, xsk)));
	// Nothing vanished: every frame not received is one the kernel
	// counted. How many that is depends on the machine's load (none on a
	// quiet machine; 0.7-2% with builds running on this 2-CPU VM, nearly
	// all fill_ring_empty: the supervisor was not scheduled in time), so
	// the bound on the rate is loose and the test asserts the explanation.
	EXPECT_LE(lost, counted + veth) << "frames lost that no counter explains; status: " << st.dump()
					<< "\nlinks: " << run_program({"ip", "-n", bed.netns(), "-s", "-s", "link"}).out
					<< "\nsteering: "
					<< mkdp_cli({"steer", "stats", "mkdp0", "--netns", bed.netns(), "--json"}).out;
	EXPECT_GE(rx * 10, sent * 9) << "more than 10% lost";
	const json &r = st["region"];
	EXPECT_EQ(r["leaked"], 0u);
	EXPECT_EQ(r["seen_twice"], 0u);
	EXPECT_EQ(r["refused_returns"], 0u);
	EXPECT_EQ(r["in_flight"], 0u);
	EXPECT_EQ(r["free"].get<uint64_t>() + r["fill"].get<uint64_t>(), r["frames"].get<uint64_t>());
	uint64_t fwd = 0, fwd_rx = 0;
	for (const auto &p : st["partitions"]) {
		EXPECT_EQ(p["frames"]["leaked"], 0u);
		EXPECT_EQ(p["rx"].get<uint64_t>() + p["fwd_rx"].get<uint64_t>(),
			  p["returned"].get<uint64_t>() + p["fwd"].get<uint64_t>());
		fwd += p["fwd"].get<uint64_t>();
		fwd_rx += p["fwd_rx"].get<uint64_t>();
	}
	// Every forwarded frame arrived.
	EXPECT_EQ(fwd, fwd_rx);
	EXPECT_GT(fwd, 0u);
	// No frame was lent twice, lost frames or not: a frame read twice
	// repeats a tag, which shows as a sequence that did not grow within
	// its flow (one partition) or as a flow seen by both partitions.
	json p0 = part(st, "p0"), p1 = part(st, "p1");
	EXPECT_EQ(p0["tag_order_errors"], 0u);
	EXPECT_EQ(p1["tag_order_errors"], 0u);
	uint64_t flows0 = p0["rx_flows"], flows1 = p1["rx_flows"];
	EXPECT_EQ(flows0 & flows1, 0u) << "a flow reached both partitions";
	EXPECT_EQ(flows0 | flows1, 0xffffu) << "every flow arrived somewhere";
	// With nothing lost, the tags received are exactly those sent.
	// (Frames of the namespace's stack carry no tag.)
	if (lost == 0) {
		uint64_t want = 0;
		for (const auto &f : flows)
			want += tag_sum(f.first_tag, f.sent);
		EXPECT_EQ(p0["tag_sum"].get<uint64_t>() + p1["tag_sum"].get<uint64_t>(), want);
	}
}

TEST_F(PartitionTest, FailedUpLeavesNothing)
{
	// A namespace that does not exist.
	std::string file = "/tmp/mkdp-t-" + std::to_string(getpid()) + "-bad.toml";
	std::ofstream(file) << "[machine]\ninterface = \"mkdp0\"\nnetns = \"mkdp-t-" << getpid()
			    << "-none\"\n\n[[partition]]\nname = \"p0\"\ncpus = [0]\nqueues = [0]\n\n"
			       "[[region]]\nname = \"r\"\nsize = \"4MiB\"\nshared_with = [\"p0\"]\n";
	ProgramResult r = mkdp_cli({"topology", "up", file});
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
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
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
	ProgramResult r = mkdp_cli({"topology", "up", bad});
	std::remove(bad.c_str());
	EXPECT_NE(r.status, 0);
	EXPECT_NE(r.err.find("exited during start-up"), std::string::npos) << r.err;
	EXPECT_TRUE(nothing_left(bed.netns()));
}

TEST_F(PartitionTest, DownCleansUpAfterASupervisorThatDied)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	int pid = supervisor_pid();
	ASSERT_GT(pid, 0);
	kill(pid, SIGKILL);
	EXPECT_TRUE(wait_until([] { return mkdp_processes().empty(); }, 5000)) << "partitions die with their supervisor";
	ProgramResult d = mkdp_cli({"topology", "down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("died"), std::string::npos) << d.out;
	EXPECT_TRUE(nothing_left(bed.netns()));
}

// Network safety: an interface that is not a testbed veth is refused by
// `topology check` (a named conflict) and by `up`, before anything exists.
TEST_F(PartitionTest, CheckAndUpRefuseAnInterfaceOutsideATestbed)
{
	PartitionBed bed;	// a testbed exists; the files below do not name it
	std::string file = "/tmp/mkdp-t-" + std::to_string(getpid()) + "-eth0.toml";
	for (std::string iface : {"eth0", "mkdp0"}) {
		SCOPED_TRACE(iface);
		std::ofstream(file) << "[machine]\ninterface = \"" << iface
				    << "\"\n\n[[partition]]\nname = \"p0\"\ncpus = [0]\nqueues = [0]\n\n"
				       "[[region]]\nname = \"r\"\nsize = \"4MiB\"\nshared_with = [\"p0\"]\n";
		ProgramResult c = mkdp_cli({"topology", "check", file});
		EXPECT_NE(c.status, 0);
		EXPECT_NE(c.err.find("[machine] interface: refusing to use " + iface), std::string::npos) << c.err;
		ProgramResult u = mkdp_cli({"topology", "up", file});
		EXPECT_NE(u.status, 0);
		EXPECT_NE(u.err.find("refusing to use " + iface), std::string::npos) << u.err;
		EXPECT_EQ(std::count(u.err.begin(), u.err.end(), '\n'), 1) << u.err;
		EXPECT_TRUE(nothing_left(bed.netns()));
		EXPECT_EQ(supervisor_pid(), 0);
	}
	// The queue count is read inside the testbed's namespace when the
	// file does not pin it: a queue beyond the device is a conflict there.
	std::ofstream(file) << "[machine]\ninterface = \"mkdp0\"\nnetns = \"" << bed.netns()
			    << "\"\n\n[[partition]]\nname = \"p0\"\ncpus = [0]\nqueues = [0, 3]\n\n"
			       "[[region]]\nname = \"r\"\nsize = \"4MiB\"\nshared_with = [\"p0\"]\n";
	ProgramResult c = mkdp_cli({"topology", "check", file});
	EXPECT_NE(c.status, 0);
	EXPECT_NE(c.err.find("partition 'p0': queue 3 is beyond the device (2 queues)"), std::string::npos) << c.err;
	ProgramResult u = mkdp_cli({"topology", "up", file});
	EXPECT_NE(u.status, 0);
	EXPECT_NE(u.err.find("queue 3 is beyond the device"), std::string::npos) << u.err;
	EXPECT_TRUE(nothing_left(bed.netns()));
	std::remove(file.c_str());
}

// The topology's file with `extra` appended to the [[region]] table and
// `edit` applied to the text.
std::string variant(const PartitionBed &bed, const std::string &suffix, const std::function<void(std::string &)> &edit)
{
	std::ifstream in(bed.file());
	std::stringstream ss;
	ss << in.rdbuf();
	std::string t = ss.str();
	edit(t);
	std::string f = bed.file() + "." + suffix + ".toml";
	std::ofstream(f) << t;
	return f;
}

// A region goes to the partitions named for it and to no other: the UMEM
// only to p0 (the only one receiving), "scratch" only to p1, "both" to both.
TEST_F(PartitionTest, RegionsGoOnlyToThePartitionsNamedForThem)
{
	PartitionBed bed;
	std::string f = variant(bed, "regions", [](std::string &t) {
		t.replace(t.find("queues = [0, 1]", t.find("name = \"p1\"")), 15, "queues = []");
		t.replace(t.find("shared_with = [\"p0\", \"p1\"]"), 26, "shared_with = [\"p0\"]");
		t += "\n[[region]]\nname = \"scratch\"\nsize = \"1MiB\"\nshared_with = [\"p1\"]\n"
		     "\n[[region]]\nname = \"both\"\nsize = \"2MiB\"\nshared_with = [\"p0\", \"p1\"]\n";
	});
	ProgramResult r = mkdp_cli({"topology", "up", f});
	std::remove(f.c_str());
	ASSERT_EQ(r.status, 0) << r.err;
	json st = status();
	std::string m0 = maps_of(part(st, "p0")["pid"]), m1 = maps_of(part(st, "p1")["pid"]);
	EXPECT_NE(m0.find("/memfd:mkdp-umem0"), std::string::npos);
	EXPECT_NE(m0.find("/memfd:mkdp-both"), std::string::npos);
	EXPECT_EQ(m0.find("/memfd:mkdp-scratch"), std::string::npos);
	EXPECT_EQ(m1.find("/memfd:mkdp-umem0"), std::string::npos);
	EXPECT_NE(m1.find("/memfd:mkdp-scratch"), std::string::npos);
	EXPECT_NE(m1.find("/memfd:mkdp-both"), std::string::npos);
	ASSERT_EQ(st["regions"].size(), 2u);
	EXPECT_EQ(st["regions"][0]["region"], "scratch");
	EXPECT_EQ(st["regions"][0]["shared_with"], json::array({"p1"}));
	EXPECT_EQ(st["regions"][1]["shared_with"], json::array({"p0", "p1"}));
	// The UMEM is p0's alone: all of it is its range.
	EXPECT_EQ(part(st, "p0")["frames"]["range"], json::array({0, 8192}));
	EXPECT_EQ(part(st, "p1")["frames"]["quota"], 0);
	// p0 still receives (rules send both flows to it).
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5001 10.77.0.1:7001 part 0").status, 0);
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5002 10.77.0.1:7002 part 0").status, 0);
	VethSender tx(bed.netns(), 2);
	// Two flows (tags of flows 1 and 2), one per queue.
	std::vector<VethSender::Flow> flows{{tx.udp(5001, 7001), 0, (1ULL << 32) + 1, 0},
					    {tx.udp(5002, 7002), 1, (2ULL << 32) + 1, 0}};
	tx.send_flows(flows, 1000, 100'000);
	st = expect_delivered_or_counted("p0", 2000, bed.netns());
	EXPECT_EQ(part(st, "p1")["rx"], 0u);
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

// The region a partition maps, opened from outside through
// /proc/PID/map_files (root may): what a hostile partition could write.
Region region_of(int pid, const std::string &memfd_name)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/maps");
	std::string line;
	while (std::getline(f, line)) {
		std::string tag = "/memfd:" + memfd_name;
		if (line.find(tag + " ") == std::string::npos &&
		    (line.size() < tag.size() || line.compare(line.size() - tag.size(), tag.size(), tag)))
			continue;
		std::string range = line.substr(0, line.find(' '));
		int fd = ::open(("/proc/" + std::to_string(pid) + "/map_files/" + range).c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0)
			throw Error("open map_files of " + memfd_name);
		Region r = Region::open(fd);
		close(fd);
		return r;
	}
	throw Error("no mapping of " + memfd_name + " in pid " + std::to_string(pid));
}

// A partition gives back only what it was lent: returns of frames it does
// not hold (free ones, ones in a fill ring or another partition's range)
// and of addresses outside the area are refused, and the pool stays whole.
TEST_F(PartitionTest, ReturnsOfFramesNotLentAreRefused)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	int victim = part(status(), "p1")["pid"];
	ASSERT_EQ(kill(victim, SIGSTOP), 0);	// we write its return ring now
	{
		Region umem = region_of(victim, "mkdp-umem0");
		Producer<FrameAddr> ret = umem.producer<FrameAddr>("ret1");
		std::vector<FrameAddr> bogus;
		for (uint64_t f = 0; f < 8192; f += 128)	// both ranges; fill-ring and free frames
			bogus.push_back({f * 2048});
		bogus.push_back({uint64_t(1) << 40});	// outside the area
		ASSERT_EQ(ret.produce(bogus.data(), uint32_t(bogus.size())), bogus.size());
		json st = wait_for([&](const json &s) { return s["region"]["refused_returns"] == bogus.size(); }, 5000);
		EXPECT_EQ(st["region"]["refused_returns"], bogus.size());
		EXPECT_EQ(part(st, "p1")["frames"]["refused_returns"], bogus.size());
		EXPECT_EQ(st["region"]["leaked"], 0u);
		EXPECT_EQ(st["region"]["seen_twice"], 0u);
		EXPECT_EQ(st["region"]["free"].get<uint64_t>() + st["region"]["fill"].get<uint64_t>(), 8192u);
	}
	// Killed from outside with its return ring in our hands: reclaimed,
	// restarted, and both partitions receive every frame, once.
	ASSERT_EQ(kill(victim, SIGKILL), 0);
	json dead = wait_for([](const json &s) { return part(s, "p1")["state"] == "stopped"; }, 5000);
	ASSERT_EQ(part(dead, "p1")["state"], "stopped");
	ASSERT_EQ(mkdp_cli({"part", "start", "p1"}).status, 0);
	ASSERT_TRUE(bed.rule_one_flow_per_partition());
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows{{tx.udp(5001, 7001), 0, 1, 0}, {tx.udp(5002, 7002), 1, 1'000'000, 0}};
	json before = status();
	tx.send_flows(flows, 20'000, 100'000);
	uint64_t lost0 = 0, lost1 = 0;
	expect_delivered_or_counted("p0", 20'000, bed.netns(), seen(before, "p0", bed.netns()), &lost0);
	json st = expect_delivered_or_counted("p1", 20'000, bed.netns(), seen(before, "p1", bed.netns()), &lost1);
	if (!lost0) {
		EXPECT_EQ(part(st, "p0")["tag_sum"].get<uint64_t>() - part(before, "p0")["tag_sum"].get<uint64_t>(),
			  tag_sum(1, 20'000));
	}
	if (!lost1) {
		EXPECT_EQ(part(st, "p1")["tag_sum"], tag_sum(1'000'000, 20'000));
	}
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(st["region"]["seen_twice"], 0u);
	EXPECT_EQ(st["region"]["refused_returns"], 65u);
}

// The window the audit found: frames on the return ring, still held, when
// the partition dies. The runtime's fault hook SIGKILLs p1 right after a
// return; the supervisor takes those frames back (and refills) while it
// waits to reclaim. Reclaim must not free them a second time: afterwards no
// frame is lent twice and both flows arrive whole.
TEST_F(PartitionTest, KillRightAfterAReturnDoesNotLendAFrameTwice)
{
	PartitionBed bed;
	setenv("MKDP_PARTITION_FAULT", "p1:kill-after-return:3000", 1);
	ProgramResult r = bed.up();
	unsetenv("MKDP_PARTITION_FAULT");
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_TRUE(bed.rule_one_flow_per_partition());
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows{{tx.udp(5001, 7001), 0, 1, 0}, {tx.udp(5002, 7002), 0, 1'000'000, 0}};
	tx.send_flows(flows, 10'000, 50'000);
	json st = wait_for([&](const json &s) { return part(s, "p1")["state"] == "stopped"; });
	EXPECT_EQ(part(st, "p1")["last_exit"], 128 + SIGKILL);
	EXPECT_GE(part(st, "p1")["returned"].get<uint64_t>(), 3000u);
	// The survivor on the same queue lost nothing (or, on a loaded
	// machine, only frames the kernel counted as dropped for it).
	uint64_t lost = 0;
	st = expect_delivered_or_counted("p0", 10'000, bed.netns(), {}, &lost);
	if (!lost) {
		EXPECT_EQ(part(st, "p0")["tag_sum"], tag_sum(1, 10'000));
	}
	st = wait_for([](const json &s) { return s["region"]["in_flight"] == 0; });
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(st["region"]["seen_twice"], 0u);
	EXPECT_EQ(st["region"]["refused_returns"], 0u);
	EXPECT_EQ(st["region"]["free"].get<uint64_t>() + st["region"]["fill"].get<uint64_t>(), 8192u);
	// Restarted (the hook fires only in the first incarnation), both
	// partitions see each of their frames exactly once: a frame lent twice
	// would be overwritten under one of them.
	ASSERT_EQ(mkdp_cli({"part", "start", "p1"}).status, 0);
	json before = status();
	uint64_t t0 = part(before, "p0")["tag_sum"], t1 = part(before, "p1")["tag_sum"];
	for (auto &f : flows)
		f.first_tag += 5'000'000;
	tx.send_flows(flows, 20'000, 40'000);
	uint64_t lost0 = 0, lost1 = 0;
	expect_delivered_or_counted("p0", 20'000, bed.netns(), seen(before, "p0", bed.netns()), &lost0);
	st = expect_delivered_or_counted("p1", 20'000, bed.netns(), seen(before, "p1", bed.netns()), &lost1);
	if (!lost0) {
		EXPECT_EQ(part(st, "p0")["tag_sum"].get<uint64_t>() - t0, tag_sum(5'000'001, 20'000)) << st.dump();
	}
	if (!lost1) {
		EXPECT_EQ(part(st, "p1")["tag_sum"].get<uint64_t>() - t1, tag_sum(6'000'000, 20'000));
	}
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(st["region"]["seen_twice"], 0u);
}

// A stuck partition (alive, not looping: SIGSTOP) cannot take more than its
// quota: over it, its slots are cleared, and the other keeps receiving.
TEST_F(PartitionTest, AStuckPartitionIsHeldToItsQuota)
{
	PartitionBed bed;
	std::string f = variant(bed, "quota", [](std::string &t) {
		t.replace(t.find("frame_size = 2048"), 0, "frames_per_partition = 1024\n");
	});
	ProgramResult r = mkdp_cli({"topology", "up", f, "--verify-tags"});
	std::remove(f.c_str());
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_TRUE(bed.rule_one_flow_per_partition());
	json st = status();
	EXPECT_EQ(st["region"]["spare"], 8192 - 2048);
	EXPECT_EQ(part(st, "p1")["frames"]["quota"], 1024);
	int stuck = part(st, "p1")["pid"];
	ASSERT_EQ(kill(stuck, SIGSTOP), 0);
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows{{tx.udp(5001, 7001), 0, 1, 0}, {tx.udp(5002, 7002), 1, 1'000'000, 0}};
	tx.send_flows(flows, 8000, 40'000);
	// p0 gets its frames: all of them, or (on a loaded machine) all but
	// ones the kernel counted as dropped for p0 itself.
	st = expect_delivered_or_counted("p0", 8000, bed.netns());
	json p1 = part(st, "p1");
	std::printf("stuck p1: %llu frames charged, quota 1024, steering no_socket %llu\n",
		    (unsigned long long)p1["frames"]["in_flight"], (unsigned long long)p1["steering"]["no_socket"]);
	if (part(st, "p0")["rx"] == 8000) {
		EXPECT_EQ(part(st, "p0")["tag_sum"], tag_sum(1, 8000));
	}
	EXPECT_TRUE(p1["frames"]["throttled"].get<bool>());
	EXPECT_LE(p1["frames"]["in_flight"].get<uint64_t>(), 1024u + 256u);
	EXPECT_GT(p1["steering"]["no_socket"].get<uint64_t>(), 0u);
	// Running again, it gives its frames back and is let in again.
	ASSERT_EQ(kill(stuck, SIGCONT), 0);
	st = wait_for([](const json &s) { return !part(s, "p1")["frames"]["throttled"].get<bool>(); }, 5000);
	EXPECT_FALSE(part(st, "p1")["frames"]["throttled"].get<bool>());
	Seen before = seen(st, "p1", bed.netns());
	std::vector<VethSender::Flow> again{{tx.udp(5002, 7002), 1, 2'000'000, 0}};
	tx.send_flows(again, 1000, 40'000);
	st = expect_delivered_or_counted("p1", 1000, bed.netns(), before);
	EXPECT_GT(part(st, "p1")["rx"].get<uint64_t>(), before.rx) << "p1 receives again";
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(st["region"]["seen_twice"], 0u);
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

} // namespace
} // namespace mkdp::test
