// SPDX-License-Identifier: BSD-2-Clause
// The veth testbed, driven as a user drives it (the mkdp CLI) and through
// the library: what `up` creates, that `down` removes all of it, and how a
// second or a failed `up` behaves. Every namespace here is named
// mkdp-tbt-<pid>-<n> and removed by the test, also when it fails.
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/subprocess.h>
#include <mkdp/testbed.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

using namespace mkdp;
using json = nlohmann::json;

namespace {

std::string unique_name()
{
	static int n = 0;
	return "mkdp-tbt-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

// Removes the namespace whatever happens to the test.
struct NsCleanup {
	std::string name;
	~NsCleanup() { run_program({"ip", "netns", "del", name}); }
};

ProgramResult cli(std::vector<std::string> args)
{
	args.insert(args.begin(), MKDP_CLI);
	return run_program(args);
}

size_t lines(const std::string &s)
{
	size_t n = 0;
	for (char c : s)
		n += c == '\n';
	return n;
}

bool tso_on(const std::string &ns, const char *ifname)
{
	return run_in_netns(ns, [&] {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ethtool_value ev{ETHTOOL_GTSO, 0};
		ifreq ifr{};
		std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
		ifr.ifr_data = reinterpret_cast<char *>(&ev);
		int rc = ioctl(fd, SIOCETHTOOL, &ifr);
		close(fd);
		if (rc < 0)
			throw Error("ETHTOOL_GTSO failed");
		return ev.data != 0;
	});
}

// One datagram from src to dst inside the current namespace.
bool udp_reaches(const std::string &src, const std::string &dst)
{
	bool v6 = src.find(':') != std::string::npos;
	int fam = v6 ? AF_INET6 : AF_INET;
	sockaddr_storage sa{}, da{};
	socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
	auto fill = [&](sockaddr_storage &ss, const std::string &ip, uint16_t port) {
		if (v6) {
			auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(port);
			inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr);
		} else {
			auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
			s4->sin_family = AF_INET;
			s4->sin_port = htons(port);
			inet_pton(AF_INET, ip.c_str(), &s4->sin_addr);
		}
	};
	fill(da, dst, 47000);
	fill(sa, src, 0);
	int rx = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0), tx = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	timeval tv{2, 0};
	setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	bool ok = bind(rx, reinterpret_cast<sockaddr *>(&da), len) == 0 &&
		  bind(tx, reinterpret_cast<sockaddr *>(&sa), len) == 0 &&
		  sendto(tx, "mkdp", 4, 0, reinterpret_cast<sockaddr *>(&da), len) == 4;
	char buf[8];
	ok = ok && recv(rx, buf, sizeof(buf), 0) == 4 && std::memcmp(buf, "mkdp", 4) == 0;
	close(rx);
	close(tx);
	return ok;
}

class TestbedTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (network namespaces)";
	}
};

TEST_F(TestbedTest, UpCreatesNamespaceAndMultiQueueVeth)
{
	NsCleanup ns{unique_name()};
	ProgramResult r = cli({"testbed", "up", "--name", ns.name, "--queues", "3", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(j["netns"], ns.name);
	EXPECT_EQ(j["result"], "created");
	EXPECT_EQ(j["queues"], 3);
	ASSERT_TRUE(netns_exists(ns.name));

	// Check with iproute2 itself, not with our own parser.
	json links = json::parse(run_checked({"ip", "-n", ns.name, "-j", "-d", "addr", "show"}, "ip"));
	std::map<std::string, json> by_name;
	for (const json &l : links)
		by_name[l["ifname"]] = l;
	ASSERT_EQ(by_name.size(), 3u) << links.dump();
	for (const char *dev : {kTestbedRxDev, kTestbedTxDev}) {
		ASSERT_TRUE(by_name.count(dev)) << dev;
		const json &l = by_name[dev];
		EXPECT_EQ(l["linkinfo"]["info_kind"], "veth");
		EXPECT_EQ(l["num_rx_queues"], 3);
		EXPECT_EQ(l["num_tx_queues"], 3);
		EXPECT_EQ(l["operstate"], "UP");
		EXPECT_FALSE(tso_on(ns.name, dev)) << dev;
		std::string filters = run_checked(
			{"ip", "netns", "exec", ns.name, "tc", "filter", "show", "dev", dev, "egress"}, "tc");
		EXPECT_NE(filters.find("mkdp_txq_select"), std::string::npos) << filters;
	}
	std::string addrs = by_name[kTestbedRxDev]["addr_info"].dump();
	EXPECT_NE(addrs.find("10.77.0.1"), std::string::npos) << addrs;
	EXPECT_NE(addrs.find("fd77::1"), std::string::npos) << addrs;
	addrs = by_name[kTestbedTxDev]["addr_info"].dump();
	EXPECT_NE(addrs.find("10.77.0.2"), std::string::npos) << addrs;
	EXPECT_NE(addrs.find("fd77::2"), std::string::npos) << addrs;
	// A quiet wire: no link-local address (no DAD, no router solicitations).
	for (const char *dev : {kTestbedRxDev, kTestbedTxDev}) {
		EXPECT_EQ(by_name[dev]["addr_info"].dump().find("fe80"), std::string::npos) << dev;
	}

	// The two ends reach each other inside the namespace (UDP, both families).
	for (const char *pair : {"10.77.0.1 10.77.0.2", "fd77::1 fd77::2"}) {
		std::string a(pair), dst = a.substr(0, a.find(' ')), src = a.substr(a.find(' ') + 1);
		EXPECT_TRUE(run_in_netns(ns.name, [&] { return udp_reaches(src, dst); })) << src << " -> " << dst;
	}

	// Nothing of ours in the namespace we run in.
	ProgramResult here = run_program({"ip", "link", "show", "dev", kTestbedRxDev});
	EXPECT_NE(here.status, 0) << "mkdp0 leaked into the caller's namespace";

	r = cli({"testbed", "down", "--name", ns.name});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_FALSE(netns_exists(ns.name));
	for (const std::string &n : netns_list())
		EXPECT_NE(n, ns.name);
}

TEST_F(TestbedTest, SecondUpIsIdempotentAndConflictsAreOneLineErrors)
{
	NsCleanup ns{unique_name()};
	ASSERT_EQ(cli({"testbed", "up", "--name", ns.name, "--queues", "2"}).status, 0);
	ProgramResult again = cli({"testbed", "up", "--name", ns.name, "--queues", "2"});
	EXPECT_EQ(again.status, 0) << again.err;
	EXPECT_NE(again.out.find("already up"), std::string::npos) << again.out;

	ProgramResult other = cli({"testbed", "up", "--name", ns.name, "--queues", "4"});
	EXPECT_EQ(other.status, 1);
	EXPECT_EQ(lines(other.err), 1u) << other.err;
	EXPECT_EQ(other.err.rfind("mkdp: ", 0), 0u) << other.err;
	// The conflicting call changed nothing.
	std::optional<TestbedInfo> info = testbed_info(ns.name);
	ASSERT_TRUE(info);
	EXPECT_EQ(info->queues, 2u);

	EXPECT_EQ(cli({"testbed", "down", "--name", ns.name}).status, 0);
	ProgramResult down2 = cli({"testbed", "down", "--name", ns.name});
	EXPECT_EQ(down2.status, 0);
	EXPECT_NE(down2.out.find("was not up"), std::string::npos);
	ProgramResult show = cli({"testbed", "show", "--name", ns.name});
	EXPECT_EQ(show.status, 1);
}

TEST_F(TestbedTest, BadNamesAndQueueCountsAreRefused)
{
	for (const char *bad : {"eth0", "default", "mkdp/../x", "", "mkdp tb"}) {
		ProgramResult r = cli({"testbed", "up", "--name", bad});
		EXPECT_NE(r.status, 0) << bad;
		EXPECT_EQ(lines(r.err), 1u) << r.err;
		EXPECT_FALSE(netns_exists(bad)) << bad;
	}
	NsCleanup ns{unique_name()};
	EXPECT_NE(cli({"testbed", "up", "--name", ns.name, "--queues", "0"}).status, 0);
	EXPECT_NE(cli({"testbed", "up", "--name", ns.name, "--queues", "65"}).status, 0);
	EXPECT_FALSE(netns_exists(ns.name));
}

// A tool failing half-way (here `ip addr add`, through a wrapper in front of
// the real ip in PATH) must leave nothing behind.
TEST_F(TestbedTest, FailedUpRollsBack)
{
	NsCleanup ns{unique_name()};
	std::string real_ip;
	for (const char *p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
		if (access(p, X_OK) == 0) {
			real_ip = p;
			break;
		}
	ASSERT_FALSE(real_ip.empty());
	std::string dir = "/tmp/mkdp-tbt-ipwrap-" + std::to_string(getpid());
	run_checked({"mkdir", "-p", dir}, "mkdir");
	{
		std::ofstream w(dir + "/ip");
		w << "#!/bin/sh\n"
		  << "for a in \"$@\"; do [ \"$a\" = addr ] && { echo 'injected failure' >&2; exit 2; }; done\n"
		  << "exec " << real_ip << " \"$@\"\n";
	}
	run_checked({"chmod", "+x", dir + "/ip"}, "chmod");
	std::string path = dir + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
	ProgramResult r = run_program({"env", "PATH=" + path, MKDP_CLI, "testbed", "up", "--name", ns.name});
	run_program({"rm", "-rf", dir});
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.err.find("injected failure"), std::string::npos) << r.err;
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_FALSE(netns_exists(ns.name)) << "failed up left the namespace behind";
}

TEST_F(TestbedTest, LibraryRaiiAndDeviceSafetyChecks)
{
	std::string name = unique_name();
	NsCleanup guard{name};
	{
		Testbed tb({name, 2});
		EXPECT_EQ(tb.info().queues, 2u);
		EXPECT_EQ(tb.info().rx.ifname, kTestbedRxDev);
		EXPECT_THROW(Testbed({name, 2}), Error) << "a second RAII testbed must not adopt the first";

		EXPECT_NO_THROW(require_testbed_device(name, kTestbedTxDev));
		EXPECT_THROW(require_testbed_device(name, "eth0"), Error);
		EXPECT_THROW(require_testbed_device(name, "lo"), Error);
		EXPECT_THROW(require_testbed_device("mkdp-tbt-nonexistent", kTestbedTxDev), Error);
		EXPECT_THROW(require_testbed_device("eth0", kTestbedTxDev), Error);

		// A namespace holding anything else is not a testbed.
		run_checked({"ip", "-n", name, "link", "add", "mkdpx", "type", "veth", "peer", "name", "mkdpy"},
			    "extra veth");
		EXPECT_THROW(require_testbed_device(name, kTestbedTxDev), Error);
	}
	EXPECT_FALSE(netns_exists(name));
}

// The generator, as a user runs it: it reports what it sent per queue and
// refuses, in one line and before sending, anything but a testbed veth.
TEST_F(TestbedTest, GenSendsOnlyOnTestbedVeths)
{
	NsCleanup ns{unique_name()};
	ASSERT_EQ(cli({"testbed", "up", "--name", ns.name, "--queues", "4"}).status, 0);

	ProgramResult r = cli({"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--flows", "8", "--count", "800",
			       "--size", "100", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(j["frames"], 800);
	EXPECT_EQ(j["bytes"], 800 * 100);
	EXPECT_EQ(j["flows"], 8);
	EXPECT_EQ(j["frames_per_queue"], json::array({200, 200, 200, 200}));

	r = cli({"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--queue", "1", "--count", "10", "--ipv6",
		 "--proto", "tcp", "--vlan", "7", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["frames_per_queue"], json::array({0, 10, 0, 0}));

	const std::vector<std::vector<std::string>> refused = {
		{"testbed", "gen", "eth0", "--netns", ns.name},
		{"testbed", "gen", "lo", "--netns", ns.name},
		{"testbed", "gen", kTestbedTxDev, "--netns", "default"},
		{"testbed", "gen", kTestbedTxDev, "--netns", "mkdp-tbt-does-not-exist"},
		{"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--queue", "4"},
		{"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--size", "20"},
		{"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--size", "1515"},	// MTU 1500 + 14
		{"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--size", "1519", "--vlan", "5"},
	};
	for (const auto &args : refused) {
		ProgramResult e = cli(args);
		EXPECT_EQ(e.status, 1) << args[1] << " " << args[3];
		EXPECT_EQ(lines(e.err), 1u) << e.err;
		EXPECT_EQ(e.out, "");
	}
	ProgramResult eth0 = cli({"testbed", "gen", "eth0", "--netns", ns.name});
	EXPECT_NE(eth0.err.find("eth0: not a testbed device"), std::string::npos) << eth0.err;
	// The largest frames the device takes, with and without a tag.
	for (std::vector<std::string> ok : {std::vector<std::string>{"--size", "1514"},
					    std::vector<std::string>{"--size", "1518", "--vlan", "5"}}) {
		std::vector<std::string> args = {"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--count", "3"};
		args.insert(args.end(), ok.begin(), ok.end());
		r = cli(args);
		EXPECT_EQ(r.status, 0) << r.err;
	}
	// A namespace that holds anything but the pair is no testbed.
	run_checked({"ip", "-n", ns.name, "link", "add", "mkdpx", "type", "veth", "peer", "name", "mkdpy"}, "veth");
	EXPECT_EQ(cli({"testbed", "gen", kTestbedTxDev, "--netns", ns.name, "--count", "1"}).status, 1);
}

TEST_F(TestbedTest, RunInNetnsSeesOnlyTheNamespace)
{
	NsCleanup ns{unique_name()};
	Testbed tb({ns.name, 1});
	uint64_t outside = current_netns_id();
	unsigned idx = run_in_netns(ns.name, [] { return if_nametoindex(kTestbedRxDev); });
	EXPECT_NE(idx, 0u);
	EXPECT_EQ(current_netns_id(), outside) << "run_in_netns moved the caller";
	{
		NetNsGuard g(ns.name);
		EXPECT_EQ(current_netns_id(), netns_id(ns.name));
		EXPECT_EQ(current_netns_name(), ns.name);
	}
	EXPECT_EQ(current_netns_id(), outside);
	EXPECT_THROW(run_in_netns(ns.name, [] { throw Error("inside"); }), Error);
}

} // namespace
