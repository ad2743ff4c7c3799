// SPDX-License-Identifier: BSD-2-Clause
// Wake-up modes end to end: two partitions of one `mkdp topology up`, each with its
// own topology `wakeup`, get the AF_XDP socket options and the kick and
// sleep behaviour of their mode, receive every frame, and forward to each
// other through rings whose doorbells follow the consumer's mode. See
// docs/doorbells.md ("In the partition runtime").
#include "partition_harness.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <mkdp/xsk_wakeup.h>

namespace mkdp::test {
namespace {

struct SockOpts {
	int sockets = 0;	// AF_XDP sockets found
	int prefer = -1, usecs = -1;
};

// The busy-poll options of a process's AF_XDP sockets, read with
// getsockopt on copies taken with pidfd_getfd (the test runs as root).
SockOpts xsk_options(int pid)
{
	SockOpts o;
	int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
	if (pidfd < 0) {
		ADD_FAILURE() << "pidfd_open " << pid << ": " << strerror(errno);
		return o;
	}
	for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
		int target = std::stoi(e.path().filename().string());
		int fd = int(syscall(SYS_pidfd_getfd, pidfd, target, 0));
		if (fd < 0)
			continue;
		int v = 0;
		socklen_t len = sizeof(v);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0 && v == AF_XDP) {
			int prefer = -1, usecs = -1;
			len = sizeof(int);
			EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &prefer, &len), 0);
			len = sizeof(int);
			EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, &len), 0);
			// Every socket of one partition must agree.
			if (o.sockets) {
				EXPECT_EQ(prefer, o.prefer);
				EXPECT_EQ(usecs, o.usecs);
			}
			o.prefer = prefer;
			o.usecs = usecs;
			o.sockets++;
		}
		close(fd);
	}
	close(pidfd);
	return o;
}

class WakeupTest : public PartitionFixture {
protected:
	static constexpr uint64_t kDense = 20'000;	// frames per flow of the dense burst
	uint64_t lost_[2] = {};				// frames p0, p1 did not get (all counted)

	// Brings up the testbed topology with p0's and p1's `wakeup` lines
	// (extra keys included) put in, forwarding every 4th frame; sends two
	// flows, one ruled to each partition, and waits until every frame is
	// accounted for.
	json run(PartitionBed &bed, const std::string &p0, const std::string &p1)
	{
		std::string t = Topology::testbed_toml(bed.netns());
		auto put = [&](const std::string &name, const std::string &lines) {
			std::string at = "name = \"" + name + "\"\n";
			t.insert(t.find(at) + at.size(), lines);
		};
		put("p0", p0);
		put("p1", p1);
		std::ofstream(bed.file()) << t;
		ProgramResult r = bed.up({"--forward-every", "4"});
		EXPECT_EQ(r.status, 0) << r.err;
		if (r.status)
			return json::object();
		EXPECT_TRUE(bed.rule_one_flow_per_partition());
		VethSender tx(bed.netns(), 2);
		std::vector<VethSender::Flow> flows{
			{tx.udp(5001, 7001), 0, 1'000'000, 0},
			{tx.udp(5002, 7002), 1, 2'000'000, 0},
		};
		// Bursts with pauses, so an interrupt or adaptive partition goes
		// to sleep between them and is woken by frames and doorbells:
		// after each burst, wait until every partition that may sleep
		// has slept again.
		auto slept_since = [](const json &a, const json &b) {
			for (const auto &q : a["partitions"])
				if (q["wakeup"] != "polled" && part(b, q["partition"])["sleeps"] == q["sleeps"])
					return false;
			return true;
		};
		uint64_t rx_want = 0;
		for (int burst = 0; burst < 20; burst++) {
			std::vector<VethSender::Flow> b = flows;
			for (auto &f : b)
				f.first_tag += uint64_t(burst) * 250;
			tx.send_flows(b, 250, 50'000);
			rx_want += 2 * 250;
			auto arrived = [&](const json &st) {
				return total_rx(st) + counted_losses(part(st, "p0")) + counted_losses(part(st, "p1")) >=
				       rx_want;
			};
			json got = wait_for(arrived, 5000);
			EXPECT_TRUE(arrived(got)) << "burst " << burst << " did not arrive";
			// (An idle partition wakes every 100 ms to sleep again, so
			// one that was already asleep counts another sleep too.)
			json idle = wait_for([&](const json &st) { return slept_since(got, st); }, 5000);
			EXPECT_TRUE(slept_since(got, idle)) << "a partition did not go to sleep after burst " << burst;
		}
		// Then one dense burst: partitions stay busy through it, so an
		// adaptive consumer does not ask for wake-ups and its producer's
		// doorbell is suppressed (the point of adaptive).
		std::vector<VethSender::Flow> dense = flows;
		for (auto &f : dense)
			f.first_tag += 20 * 250;
		tx.send_flows(dense, kDense, 150'000);
		// Every frame arrives (on a loaded machine: or is counted lost).
		expect_delivered_or_counted("p0", 5000 + kDense, bed.netns(), {}, &lost_[0]);
		json st = expect_delivered_or_counted("p1", 5000 + kDense, bed.netns(), {}, &lost_[1]);
		st = wait_for([](const json &s) { return s["region"]["in_flight"] == 0; });
		for (const char *n : {"p0", "p1"}) {
			json q = part(st, n);
			std::printf("%s %s: rx %llu fwd %llu fwd_rx %llu kicks %llu sleeps %llu doorbell_kicks %llu\n", n,
				    q["wakeup"].get<std::string>().c_str(), (unsigned long long)q["rx"].get<uint64_t>(),
				    (unsigned long long)q["fwd"].get<uint64_t>(),
				    (unsigned long long)q["fwd_rx"].get<uint64_t>(),
				    (unsigned long long)q["kicks"].get<uint64_t>(),
				    (unsigned long long)q["sleeps"].get<uint64_t>(),
				    (unsigned long long)q["doorbell_kicks"].get<uint64_t>());
		}
		return st;
	}

	// Every frame arrived exactly once (or was counted lost), forwards
	// matched, nothing leaked.
	void expect_delivered(const json &st)
	{
		json p0 = part(st, "p0"), p1 = part(st, "p1");
		if (!lost_[0]) {
			EXPECT_EQ(p0["tag_sum"], tag_sum(1'000'000, 5000 + kDense));
		}
		if (!lost_[1]) {
			EXPECT_EQ(p1["tag_sum"], tag_sum(2'000'000, 5000 + kDense));
		}
		EXPECT_EQ(p0["tag_order_errors"], 0u);
		EXPECT_EQ(p1["tag_order_errors"], 0u);
		EXPECT_GT(p0["fwd"].get<uint64_t>(), 0u);
		EXPECT_GT(p1["fwd"].get<uint64_t>(), 0u);
		EXPECT_EQ(p0["fwd"], p1["fwd_rx"]);
		EXPECT_EQ(p1["fwd"], p0["fwd_rx"]);
		EXPECT_EQ(p0["fwd_addr_sum"], p1["fwd_rx_addr_sum"]);
		EXPECT_EQ(p1["fwd_addr_sum"], p0["fwd_rx_addr_sum"]);
		EXPECT_EQ(st["region"]["leaked"], 0u);
	}
};

TEST_F(WakeupTest, PolledAndInterrupt)
{
	PartitionBed bed;
	json st = run(bed, "wakeup = \"polled\"\nbusy_poll_usecs = 30\nbusy_poll_budget = 16\n",
		      "wakeup = \"interrupt\"\n");
	ASSERT_FALSE(st.empty());
	expect_delivered(st);
	json p0 = part(st, "p0"), p1 = part(st, "p1");
	EXPECT_EQ(p0["wakeup"], "polled");
	EXPECT_EQ(p1["wakeup"], "interrupt");

	// Busy polling on p0's sockets only, with the topology's values.
	SockOpts o0 = xsk_options(p0["pid"]), o1 = xsk_options(p1["pid"]);
	EXPECT_EQ(o0.sockets, 2);
	EXPECT_EQ(o0.prefer, 1);
	EXPECT_EQ(o0.usecs, 30);
	EXPECT_EQ(o1.sockets, 2);
	EXPECT_EQ(o1.prefer, 0);
	EXPECT_EQ(o1.usecs, 0);

	// Polled: kicks (recvfrom runs the busy poll) and never sleeps.
	// Interrupt: kicks on every empty pass and sleeps in poll().
	EXPECT_GT(p0["kicks"].get<uint64_t>(), 0u);
	EXPECT_EQ(p0["sleeps"], 0u);
	EXPECT_GT(p1["kicks"].get<uint64_t>(), 0u);
	EXPECT_GT(p1["sleeps"].get<uint64_t>(), 0u);
	// Forward doorbells follow the consumer: p0 -> p1 (interrupt) kicks
	// on every submit, p1 -> p0 (polled) never.
	EXPECT_GT(p0["doorbell_kicks"].get<uint64_t>(), 0u);
	EXPECT_EQ(p1["doorbell_kicks"], 0u);
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left());
}

TEST_F(WakeupTest, AdaptiveAndInterrupt)
{
	PartitionBed bed;
	json st = run(bed, "wakeup = \"adaptive\"\n", "wakeup = \"interrupt\"\n");
	ASSERT_FALSE(st.empty());
	expect_delivered(st);
	json p0 = part(st, "p0"), p1 = part(st, "p1");
	SockOpts o0 = xsk_options(p0["pid"]);
	EXPECT_EQ(o0.sockets, 2);
	EXPECT_EQ(o0.prefer, 0);
	EXPECT_EQ(o0.usecs, 0);
	// Adaptive kicks only when the kernel flags the ring; on RX the
	// kernel flags the fill ring (the supervisor's), never the RX ring,
	// so the partition never kicks. It sleeps once its budget is spent.
	EXPECT_EQ(p0["kicks"], 0u);
	EXPECT_GT(p0["sleeps"].get<uint64_t>(), 0u);
	EXPECT_GT(p1["kicks"].get<uint64_t>(), 0u);
	// p0 -> p1 (interrupt) kicks on every submit, never suppressed.
	EXPECT_GT(p0["doorbell_kicks"].get<uint64_t>(), 0u);
	EXPECT_EQ(p0["doorbell_suppressed"], 0u);
	// p1 -> p0 (adaptive) kicks only while p0 asked for it: p0 slept
	// between the bursts and was woken (kicks), and while it was busy the
	// doorbell stayed silent (suppressed).
	EXPECT_GT(p1["doorbell_kicks"].get<uint64_t>(), 0u);
	EXPECT_GT(p1["doorbell_suppressed"].get<uint64_t>(), 0u);
	EXPECT_LE(p1["doorbell_kicks"].get<uint64_t>() + p1["doorbell_suppressed"].get<uint64_t>(),
		  p1["fwd"].get<uint64_t>());
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left());
}

TEST_F(WakeupTest, BusyPollKeysNeedPolled)
{
	PartitionBed bed;
	std::string t = Topology::testbed_toml(bed.netns());
	t.insert(t.find("name = \"p0\"\n") + 12, "busy_poll_usecs = 30\n");
	std::ofstream(bed.file()) << t;
	ProgramResult r = bed.up();
	EXPECT_NE(r.status, 0);
	EXPECT_NE(r.err.find("needs wakeup = \"polled\""), std::string::npos) << r.err;
	EXPECT_TRUE(nothing_left());
}

} // namespace
} // namespace mkdp::test
