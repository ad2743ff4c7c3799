// SPDX-License-Identifier: BSD-2-Clause
// "No command hurts the host" (issue 9), driven as a user drives the CLI:
// every refusal is one line on stderr with a non-zero exit, and changes
// nothing; the opt-ins and limits do what they say.
//
// Nothing here attaches to or sends on a device of the machine: eth0 and lo
// only ever meet the refusals (and those commands carry a queue map the
// loader itself would refuse before any change, in case the guard ever
// broke). The opt-in runs on a veth pair in a namespace of this test's own.
#include "partition_harness.h"

#include <mkdp/device_safety.h>
#include <mkdp/netns.h>
#include <mkdp/subprocess.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>
#include <mkdp/traffic_gen.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace mkdp;
using namespace mkdp::test;
using ::testing::HasSubstr;

namespace {

std::string unique_name(const char *prefix)
{
	static int n = 0;
	return prefix + std::to_string(getpid()) + "-" + std::to_string(n++);
}

size_t lines(const std::string &s)
{
	return size_t(std::count(s.begin(), s.end(), '\n'));
}

// Refused as a user sees it: exit status, nothing on stdout, exactly one
// line on stderr, and that line.
::testing::AssertionResult refused(const ProgramResult &r, const std::string &line, int status = 1)
{
	if (r.status != status || !r.out.empty() || r.err != line + "\n")
		return ::testing::AssertionFailure() << "status " << r.status << " (want " << status << ")\nstdout: "
						     << r.out << "\nstderr: " << r.err << "want:   " << line;
	return ::testing::AssertionSuccess();
}

// `ip -j -d link show DEV` (in namespace ns, "" = ours) mentions XDP.
bool has_xdp(const std::string &dev, const std::string &ns = {})
{
	std::vector<std::string> a{"ip"};
	if (!ns.empty())
		a.insert(a.end(), {"-n", ns});
	a.insert(a.end(), {"-j", "-d", "link", "show", dev});
	return run_checked(a, "ip link show " + dev).find("xdp") != std::string::npos;
}

uint64_t tx_packets(const std::string &ns, const std::string &dev)
{
	json j = json::parse(run_checked({"ip", "-n", ns, "-j", "-s", "link", "show", dev}, "ip -s link"));
	return j.at(0).at("stats64").at("tx").at("packets").get<uint64_t>();
}

// A fresh testbed for the generator tests, once its wire is quiet. Each end
// sends its two MLD reports at link up (docs/testbed.md, "A quiet wire"),
// and the repeat was seen leaving mkdp1 after `up` had returned: wait for
// both, so that mkdp1's TX counter moves only for what gen sends.
struct GenBed {
	Testbed tb{{unique_name("mkdp-cs-"), 2}};
	GenBed() { wait_until([&] { return tx_packets(tb.name(), kTestbedTxDev) >= 2; }, 5000); }
	const std::string &name() const { return tb.name(); }
};

// The fixed part of every host-device refusal.
std::string host_refusal(const std::string &dev)
{
	return "mkdp: refusing to use " + dev +
	       ": mkdp attaches only to a testbed device; give the testbed's namespace with --netns (mkdp testbed "
	       "up); pass --allow-host-device to use a device of this machine anyway";
}

class CliSafety : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!have_root())
			GTEST_SKIP() << "needs root (BPF, network namespaces)";
	}
};

// For the tests that run `mkdp topology up`: nothing of an earlier one around.
class CliSafetyUp : public PartitionFixture {};

// A namespace that is not a testbed, with a veth pair: a stand-in for "a
// device of the machine" the opt-in may be tried on. Its steering pins and
// the namespace go whatever happens to the test.
struct HostLikeNamespace {
	std::string name = unique_name("clisafe-");
	HostLikeNamespace()
	{
		run_checked({"ip", "netns", "add", name}, "ip netns add");
		run_checked({"ip", "-n", name, "link", "add", "csv0", "type", "veth", "peer", "name", "csv1"},
			    "veth");
		for (const char *d : {"csv0", "csv1"})
			run_checked({"ip", "-n", name, "link", "set", d, "up"}, "link up");
	}
	~HostLikeNamespace()
	{
		mkdp_cli({"steer", "detach", "csv0", "--netns", name});
		run_program({"ip", "netns", "del", name});
	}
};

} // namespace

// Task 1: attach, rule and stats refuse any device but a testbed's unless
// --allow-host-device; nothing is attached, pinned or changed by a refusal.
TEST_F(CliSafety, HostDevicesAreRefusedWithoutTheOptIn)
{
	const bool eth0 = std::filesystem::exists("/sys/class/net/eth0");
	ASSERT_FALSE(has_xdp("lo")) << "lo carries XDP before the test";
	if (eth0) {
		ASSERT_FALSE(has_xdp("eth0")) << "eth0 carries XDP before the test";
	}
	const std::string host_pins = "/sys/fs/bpf/mkdp/host";
	ASSERT_FALSE(std::filesystem::exists(host_pins + "/lo"));
	ASSERT_FALSE(std::filesystem::exists(host_pins + "/eth0"));

	// "0=5" with 2 partitions: Steering::attach would refuse it before any
	// change, so even a broken guard could not attach here.
	const std::vector<std::string> guard_net = {"--partitions", "2", "--queue-map", "0=5"};
	struct Case {
		std::vector<std::string> args;
		std::string dev;
	};
	std::vector<Case> cases = {
		{{"steer", "attach", "lo", "--mode", "skb"}, "lo"},
		{{"steer", "attach", "eth0", "--default", "drop"}, "eth0"},
		{{"steer", "rule", "add", "lo", "exact", "udp", "10.0.0.1:1", "10.0.0.2:2", "drop"}, "lo"},
		{{"steer", "rule", "add", "eth0", "dst", "0.0.0.0/0", "drop"}, "eth0"},
		{{"steer", "rule", "del", "eth0", "0"}, "eth0"},
		{{"steer", "rule", "list", "lo"}, "lo"},
		{{"steer", "stats", "eth0", "--count", "1"}, "eth0"},
		{{"steer", "stats", "lo", "--count", "1", "--json"}, "lo"},
	};
	for (Case &c : cases) {
		if (c.args[1] == "attach")
			c.args.insert(c.args.end(), guard_net.begin(), guard_net.end());
		EXPECT_TRUE(refused(mkdp_cli(c.args), host_refusal(c.dev))) << c.args[1] << " " << c.args[2];
	}
	EXPECT_FALSE(has_xdp("lo"));
	if (eth0) {
		EXPECT_FALSE(has_xdp("eth0"));
	}
	EXPECT_FALSE(std::filesystem::exists(host_pins + "/lo"));
	EXPECT_FALSE(std::filesystem::exists(host_pins + "/eth0"));

	// A testbed namespace does not make its other devices fair game, nor
	// an absent namespace anything.
	Testbed tb({unique_name("mkdp-cs-"), 2});
	// Steering attached below goes before the namespace, also on failure
	// (pins outlive a deleted namespace).
	struct Detach {
		std::string ns;
		~Detach() { mkdp_cli({"steer", "detach", "mkdp0", "--netns", ns}); }
	} detach{tb.name()};
	std::vector<std::string> a = {"steer", "attach", "lo", "--netns", tb.name()};
	a.insert(a.end(), guard_net.begin(), guard_net.end());
	EXPECT_TRUE(refused(mkdp_cli(a), "mkdp: refusing to use lo: not a testbed device (mkdp sends only on mkdp0 "
					 "and mkdp1 of a testbed namespace, e.g. mkdp testbed gen mkdp1 --netns " +
					 tb.name() + "); pass --allow-host-device to use a device of this machine anyway"));
	EXPECT_FALSE(has_xdp("lo", tb.name()));
	EXPECT_TRUE(refused(mkdp_cli({"steer", "stats", "mkdp0", "--netns", "mkdp-cs-absent", "--count", "1"}),
			    "mkdp: refusing to use mkdp0: network namespace mkdp-cs-absent does not exist (run 'mkdp "
			    "testbed up --name mkdp-cs-absent' first); pass --allow-host-device to use a device of "
			    "this machine anyway"));

	// The testbed's own devices pass without the opt-in.
	ProgramResult r = mkdp_cli({"steer", "attach", "mkdp0", "--netns", tb.name(), "--policy", "rules"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(mkdp_cli({"steer", "rule", "add", "mkdp0", "--netns", tb.name(), "dst", "10.9.0.0/16", "drop"}).status, 0);
	EXPECT_EQ(mkdp_cli({"steer", "stats", "mkdp0", "--netns", tb.name(), "--count", "1", "-i", "0.05"}).status, 0);
	// Without --netns (the usual slip) the refusal says where mkdp0 is.
	r = mkdp_cli({"steer", "rule", "list", "mkdp0"});
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_THAT(r.err, ::testing::StartsWith("mkdp: refusing to use mkdp0: mkdp attaches only to a testbed "
						 "device; give the testbed's namespace with --netns (mkdp0 has mkdp "
						 "steering in "));
	EXPECT_THAT(r.err, HasSubstr("--netns " + tb.name()));
	EXPECT_THAT(r.err, ::testing::EndsWith("); pass --allow-host-device to use a device of this machine anyway\n"));
	EXPECT_EQ(mkdp_cli({"steer", "detach", "mkdp0", "--netns", tb.name()}).status, 0);
	EXPECT_FALSE(has_xdp("mkdp0", tb.name()));
}

// The opt-in: a device that is not a testbed's is refused without it, and
// attach, rule and stats work on it with it (here a veth of our own in a
// namespace that is no testbed: nothing of the machine's).
TEST_F(CliSafety, AllowHostDeviceIsAnExplicitOptIn)
{
	HostLikeNamespace ns;
	const std::string tail = "; pass --allow-host-device to use a device of this machine anyway";
	const std::string not_tb = "mkdp: refusing to use csv0: not a testbed device (mkdp sends only on mkdp0 and "
				   "mkdp1 of a testbed namespace, e.g. mkdp testbed gen mkdp1 --netns " +
				   ns.name + ")" + tail;
	EXPECT_TRUE(refused(mkdp_cli({"steer", "attach", "csv0", "--netns", ns.name}), not_tb));
	EXPECT_FALSE(has_xdp("csv0", ns.name));
	EXPECT_FALSE(std::filesystem::exists("/sys/fs/bpf/mkdp/" + ns.name));

	ProgramResult r = mkdp_cli({"steer", "attach", "csv0", "--netns", ns.name, "--allow-host-device", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["result"], "attached");
	EXPECT_TRUE(has_xdp("csv0", ns.name));

	const std::vector<std::string> rule = {"steer", "rule", "add", "csv0", "--netns", ns.name, "dst", "10.9.0.0/16", "drop"};
	EXPECT_TRUE(refused(mkdp_cli(rule), not_tb));
	std::vector<std::string> with = rule;
	with.push_back("--allow-host-device");
	EXPECT_EQ(mkdp_cli(with).status, 0);
	r = mkdp_cli({"steer", "rule", "list", "csv0", "--netns", ns.name, "--allow-host-device", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["rules"].size(), 1u);
	EXPECT_TRUE(refused(mkdp_cli({"steer", "stats", "csv0", "--netns", ns.name, "--count", "1"}), not_tb));
	r = mkdp_cli({"steer", "stats", "csv0", "--netns", ns.name, "--count", "1", "-i", "0.05", "--json",
		      "--allow-host-device"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["interface"], "csv0");

	// Removing mkdp's own program needs no opt-in: it is the way back.
	r = mkdp_cli({"steer", "detach", "csv0", "--netns", ns.name});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_FALSE(has_xdp("csv0", ns.name));
	EXPECT_FALSE(std::filesystem::exists("/sys/fs/bpf/mkdp/" + ns.name + "/csv0"));
}

// Task 2: while `mkdp topology up` runs partitions on a testbed, neither `detach` nor
// `testbed down` may pull the interface from under them; the partitions
// keep running and receiving.
TEST_F(CliSafetyUp, DetachAndTestbedDownWaitForDown)
{
	PartitionBed bed;
	ProgramResult r = bed.up();
	ASSERT_EQ(r.status, 0) << r.err;
	int pid = supervisor_pid();
	ASSERT_GT(pid, 0);
	const std::string why = ": the partitions of 'mkdp topology up' (supervisor " + std::to_string(pid) +
				") receive from mkdp0 in " + bed.netns() + "; run 'mkdp topology down' first";

	EXPECT_TRUE(refused(mkdp_cli({"steer", "detach", "mkdp0", "--netns", bed.netns()}),
			    "mkdp: refusing to detach from mkdp0" + why));
	EXPECT_TRUE(refused(mkdp_cli({"steer", "detach", "mkdp0", "--netns", bed.netns(), "--json"}),
			    "mkdp: refusing to detach from mkdp0" + why));
	EXPECT_TRUE(refused(mkdp_cli({"testbed", "down", "--name", bed.netns()}),
			    "mkdp: refusing to remove testbed " + bed.netns() + why));

	// Nothing changed: the namespace, the program, the supervisor and its
	// partitions, which still receive.
	EXPECT_TRUE(netns_exists(bed.netns()));
	EXPECT_TRUE(has_xdp("mkdp0", bed.netns()));
	EXPECT_EQ(supervisor_pid(), pid);
	json st = status();
	for (const char *p : {"p0", "p1"})
		EXPECT_EQ(part(st, p).value("state", ""), "running") << p;
	uint64_t before = total_rx(st);
	r = mkdp_cli({"testbed", "gen", kTestbedTxDev, "--netns", bed.netns(), "--flows", "16", "--count", "400"});
	ASSERT_EQ(r.status, 0) << r.err;
	st = wait_for([&](const json &s) { return total_rx(s) >= before + 400; });
	EXPECT_EQ(total_rx(st), before + 400) << st.dump();

	// After `mkdp topology down` both are allowed again.
	ASSERT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	r = mkdp_cli({"testbed", "down", "--name", bed.netns()});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_FALSE(netns_exists(bed.netns()));
	EXPECT_TRUE(nothing_left(bed.netns()));
}

// Task 3: every out-of-range number is refused in one line before anything
// is sent, and nothing wraps (a negative count into 2^64 - 5, source ports
// past 65535 into 0..).
TEST_F(CliSafety, GenRefusesNumbersOutOfRange)
{
	GenBed tb;
	const std::vector<std::string> base = {"testbed", "gen", kTestbedTxDev, "--netns", tb.name()};
	auto gen = [&](std::vector<std::string> extra) {
		std::vector<std::string> a = base;
		a.insert(a.end(), extra.begin(), extra.end());
		return mkdp_cli(a);
	};
	auto parse_error = [](const std::string &what) { return "mkdp: " + what + " (try 'mkdp testbed gen --help')"; };
	const uint64_t sent_before = tx_packets(tb.name(), kTestbedTxDev);

	struct Case {
		std::vector<std::string> args;
		std::string line;
		int status;
	};
	const std::vector<Case> cases = {
		{{"--count", "-5"}, parse_error("--count: '-5' is out of range, expected 1..1000000000000"), 2},
		{{"--count", "99999999999999999999"},
		 parse_error("--count: '99999999999999999999' is out of range, expected 1..1000000000000"), 2},
		{{"--count", "0"}, parse_error("--count: '0' is out of range, expected 1..1000000000000"), 2},
		{{"--rate", "99999999999999999999"},
		 parse_error("--rate: '99999999999999999999' is out of range, expected 0..100000000"), 2},
		{{"--rate", "-1"}, parse_error("--rate: '-1' is out of range, expected 0..100000000"), 2},
		{{"--flows", "0"}, parse_error("--flows: '0' is out of range, expected 1..1000000"), 2},
		{{"--flows", "-1"}, parse_error("--flows: '-1' is out of range, expected 1..1000000"), 2},
		{{"--sport", "70000"}, parse_error("--sport: '70000' is out of range, expected 0..65535"), 2},
		{{"--dport", "-1"}, parse_error("--dport: '-1' is out of range, expected 0..65535"), 2},
		{{"--duration", "-1"}, parse_error("--duration: '-1' is out of range, expected 0.001..1000000"), 2},
		{{"--duration", "nan"}, "mkdp: gen: --duration must be 0..1000000 seconds", 1},
		{{"--sport", "65530", "--flows", "16"},
		 "mkdp: gen: --sport 65530 with --flows 16 needs source ports up to 65545, past 65535 (at most --sport "
		 "65520 for these flows)",
		 1},
	};
	for (const Case &c : cases)
		EXPECT_TRUE(refused(gen(c.args), c.line, c.status)) << c.args[1] << " " << c.args[2];
	EXPECT_EQ(tx_packets(tb.name(), kTestbedTxDev), sent_before) << "a refused gen sent frames";

	// The edge that fits: 16 flows from port 65520 end at 65535.
	ProgramResult r = gen({"--sport", "65520", "--flows", "16", "--count", "32", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["frames"], 32);
	EXPECT_EQ(tx_packets(tb.name(), kTestbedTxDev), sent_before + 32);
}

// --duration stops the generator (alone: no frame limit; with --count:
// whichever comes first), and the report says which.
TEST_F(CliSafety, GenDurationStopsIt)
{
	GenBed tb;
	ProgramResult r = mkdp_cli({"testbed", "gen", kTestbedTxDev, "--netns", tb.name(), "--rate", "2000", "--duration", "0.5",
				    "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(j["stopped_by"], "duration");
	EXPECT_EQ(j["interrupted"], false);
	EXPECT_GE(j["duration_seconds"].get<double>(), 0.5);
	EXPECT_LT(j["duration_seconds"].get<double>(), 10.0);
	uint64_t frames = j["frames"];
	EXPECT_GT(frames, 0u);
	// Paced: at most the rate for the time it ran, plus the first batch.
	EXPECT_LE(double(frames), 2000 * j["duration_seconds"].get<double>() + 64);
	EXPECT_EQ(j["frames_per_queue"][0].get<uint64_t>() + j["frames_per_queue"][1].get<uint64_t>(), frames);

	r = mkdp_cli({"testbed", "gen", kTestbedTxDev, "--netns", tb.name(), "--count", "100", "--duration", "600", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	j = json::parse(r.out);
	EXPECT_EQ(j["stopped_by"], "count");
	EXPECT_EQ(j["frames"], 100);

	r = mkdp_cli({"testbed", "gen", kTestbedTxDev, "--netns", tb.name(), "--rate", "1000", "--duration", "0.2"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_THAT(r.out, HasSubstr("\n  stopped after --duration 0.2 s\n"));
}

// SIGINT or SIGTERM stops gen; it prints what it sent until then, in text
// and as the usual JSON document plus "interrupted": true, and exits 130 or
// 143. What it reports is what left the device.
TEST_F(CliSafety, GenInterruptedReportsWhatItSent)
{
	GenBed tb;
	for (bool as_json : {true, false}) {
		int sig = as_json ? SIGINT : SIGTERM;
		uint64_t before = tx_packets(tb.name(), kTestbedTxDev);
		std::vector<std::string> a = {MKDP_CLI, "testbed", "gen", kTestbedTxDev, "--netns",	 tb.name(),
					      "--rate",	  "5000",   "--duration",  "120", "--flows", "4"};
		if (as_json)
			a.push_back("--json");
		RunningProgram gen(a);
		// Signal it once frames have left (its handler is in place by
		// then), so there is something to report.
		ASSERT_TRUE(wait_until([&] { return tx_packets(tb.name(), kTestbedTxDev) >= before + 50; }, 10000))
			<< "gen sent nothing";
		ASSERT_EQ(kill(gen.pid(), sig), 0);
		std::optional<ProgramResult> r = gen.wait(10000);
		ASSERT_TRUE(r) << "gen did not stop on signal " << sig;
		EXPECT_EQ(r->status, 128 + sig) << r->err;
		EXPECT_EQ(r->err, "");
		uint64_t sent = tx_packets(tb.name(), kTestbedTxDev) - before;
		if (as_json) {
			json j = json::parse(r->out);
			EXPECT_EQ(j["interrupted"], true);
			EXPECT_EQ(j["stopped_by"], "signal");
			EXPECT_EQ(j["signal"], "INT");
			EXPECT_EQ(j["frames"].get<uint64_t>(), sent);
			EXPECT_EQ(j["bytes"].get<uint64_t>(), sent * 64);
			EXPECT_GT(j["duration_seconds"].get<double>(), 0);
			EXPECT_GT(j["rate_pps"].get<double>(), 0);
			uint64_t q = 0;
			for (const auto &n : j["frames_per_queue"])
				q += n.get<uint64_t>();
			EXPECT_EQ(q, sent);
		} else {
			std::istringstream in(r->out);
			std::string first;
			std::getline(in, first);
			EXPECT_THAT(first, ::testing::StartsWith("gen mkdp1 in " + tb.name() + ": " +
								 std::to_string(sent) + " frames, " +
								 std::to_string(sent * 64) + " bytes, 4 flows"));
			EXPECT_THAT(r->out, HasSubstr("\n  interrupted by SIGTERM: the figures above are what was "
						      "sent until then\n"));
			EXPECT_EQ(lines(r->out), 3u) << r->out;
		}
	}
}

// Task 4: `topology default` is a file `up` accepts, and `topology check`
// refuses what `up` would: a region beyond the ring ABI or the machine's
// memory, each named with its line; `up` refuses the same and leaves
// nothing behind.
TEST_F(CliSafetyUp, TopologyCheckRefusesWhatUpWould)
{
	PartitionBed bed;
	// The default as printed names mkdp-tb; --netns names this test's.
	ProgramResult def = mkdp_cli({"topology", "default"});
	ASSERT_EQ(def.status, 0) << def.err;
	ProgramResult mine = mkdp_cli({"topology", "default", "--netns", bed.netns()});
	ASSERT_EQ(mine.status, 0) << mine.err;
	std::string expect = def.out;
	for (size_t at; (at = expect.find(kTestbedDefaultName)) != std::string::npos;)
		expect.replace(at, std::string(kTestbedDefaultName).size(), bed.netns());
	EXPECT_EQ(mine.out, expect) << "--netns changes the namespace only";

	const std::string file = "/tmp/" + bed.netns() + "-default.toml";
	struct Rm {
		std::string f;
		~Rm() { std::remove(f.c_str()); }
	} rm{file};
	std::ofstream(file) << mine.out;
	ProgramResult r = mkdp_cli({"topology", "check", file});
	EXPECT_EQ(r.status, 0) << r.err;
	r = mkdp_cli({"topology", "up", file});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_GT(supervisor_pid(), 0);
	r = mkdp_cli({"topology", "down"});
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_TRUE(nothing_left(bed.netns()));

	// The UMEM beyond the ring ABI: 2^29 frames, each return ring would
	// need as many slots.
	std::string text = mine.out;
	text.replace(text.find("\"16MiB\""), 7, "\"1024GiB\"");
	std::ofstream(file) << text;
	uint32_t line = 1 + uint32_t(std::count(text.begin(), text.begin() + text.find("[[region]]"), '\n'));
	const std::string rings = file + ":" + std::to_string(line) +
				  ": region 'umem0': 1 TiB holds 536870912 frames of 2048 B, more than a ring can "
				  "return (16777216, the ring ABI's MKDP_RING_MAX): at most 32 GiB with this frame size";
	r = mkdp_cli({"topology", "check", file});
	EXPECT_EQ(r.status, 1);
	EXPECT_THAT(r.err, HasSubstr(rings + "\n"));
	EXPECT_THAT(r.err, HasSubstr(file + ":" + std::to_string(line) + ": region 'umem0' needs 1 TiB, more than "
								       "the machine's memory ("));
	EXPECT_TRUE(refused(mkdp_cli({"topology", "up", file}), "mkdp: " + rings));
	EXPECT_EQ(supervisor_pid(), 0);
	EXPECT_TRUE(nothing_left(bed.netns()));

	// A region beyond the machine's memory (no rings: any size is in the
	// ABI), a GiB more than MemTotal.
	MachineFacts facts = probe_machine(Topology::builtin());
	ASSERT_TRUE(facts.mem_total);
	uint64_t gib = *facts.mem_total / (1ull << 30) + 1;
	text = mine.out + "\n[[region]]\nname = \"big\"\nsize = \"" + std::to_string(gib) +
	       "GiB\"\nshared_with = [\"p0\"]\n";
	std::ofstream(file) << text;
	line = 1 + uint32_t(std::count(text.begin(), text.begin() + text.rfind("[[region]]"), '\n'));
	r = mkdp_cli({"topology", "check", file, "--json"});
	EXPECT_EQ(r.status, 1);
	json j = json::parse(r.out);
	ASSERT_EQ(j["conflicts"].size(), 1u) << j.dump();
	EXPECT_EQ(j["conflicts"][0]["line"], line);
	std::string memory = j["conflicts"][0]["conflict"];
	EXPECT_THAT(memory, ::testing::StartsWith("region 'big' needs " + std::to_string(gib)));
	EXPECT_THAT(memory, HasSubstr(" GiB, more than the machine's memory ("));
	EXPECT_TRUE(refused(mkdp_cli({"topology", "up", file}), "mkdp: " + file + ":" + std::to_string(line) + ": " + memory));
	EXPECT_EQ(supervisor_pid(), 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}
