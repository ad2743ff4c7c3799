// SPDX-License-Identifier: BSD-2-Clause
// Fault isolation: SIGKILL one partition while traffic flows. The other
// keeps receiving every frame steered to it; the dead one's traffic takes
// the default action (no_socket) until `restart`; its frames come back.
// Three ways: `mkdp part kill` (the supervisor clears the victim's XSKMAP
// slots before the signal), `kill -9` from outside (the supervisor learns
// of it from SIGCHLD, with frames in flight towards the victim), and the
// latter with survivor and victim on the same queue (one fill ring).
#include "partition_harness.h"

#include <signal.h>

#include <cerrno>
#include <thread>

namespace mkdp::test {
namespace {

enum class Kill { cli, external };

using IsolationTest = PartitionFixture;

void kill_one_under_traffic(Kill how, bool shared_queue)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	ASSERT_TRUE(bed.rule_one_flow_per_partition());
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows{
		{tx.udp(5001, 7001), 0, 1, 0},
		{tx.udp(5002, 7002), shared_queue ? 0u : 1u, 1ULL << 40, 0},
	};
	constexpr uint64_t per_flow = 60'000;
	constexpr uint64_t pps = 40'000;	// both flows: ~3 s of traffic
	std::thread sender([&] { tx.send_flows(flows, per_flow, pps); });

	// Kill it in the middle of its flow, once it has received some.
	json before = wait_for([](const json &st) { return part(st, "p1")["rx"].get<uint64_t>() >= 5000; }, 10000);
	ASSERT_GE(part(before, "p1")["rx"].get<uint64_t>(), 5000u) << "no traffic reached p1";
	int victim = part(before, "p1")["pid"];
	ASSERT_GT(victim, 0);
	if (how == Kill::cli) {
		ProgramResult k = mkdp_cli({"part", "kill", "p1"});
		EXPECT_EQ(k.status, 0) << k.err;
	} else {
		ASSERT_EQ(kill(victim, SIGKILL), 0);
	}
	json dead = wait_for([](const json &s) { return part(s, "p1")["state"] == "stopped"; }, 5000);
	// The supervisor reaped it: no such process any more (not even a zombie).
	errno = 0;
	EXPECT_EQ(kill(victim, 0), -1);
	EXPECT_EQ(errno, ESRCH) << "the killed partition is gone";
	EXPECT_EQ(part(dead, "p1")["state"], "stopped");
	EXPECT_EQ(part(dead, "p1")["last_exit"], 128 + SIGKILL);
	EXPECT_EQ(part(dead, "p1")["frames"]["in_flight"], 0u) << "its frames were reclaimed";

	// Dead, its traffic takes the default action: wait until some has.
	json gone = wait_for([](const json &st) { return part(st, "p1")["steering"]["no_socket"].get<uint64_t>() >= 100; },
			     10000);
	uint64_t rx_before = part(gone, "p1")["rx"];
	uint64_t t0 = now_ns();
	ProgramResult rs = mkdp_cli({"part", "restart", "p1"});
	EXPECT_EQ(rs.status, 0) << rs.err;
	json back = wait_for([&](const json &s) { return part(s, "p1")["rx"].get<uint64_t>() > rx_before; }, 5000);
	double recovery_ms = double(now_ns() - t0) / 1e6;
	EXPECT_GT(part(back, "p1")["rx"].get<uint64_t>(), rx_before) << "the restarted partition receives again";
	EXPECT_NE(part(back, "p1")["pid"], victim);
	sender.join();

	// The survivor gets every frame of its flow, or (on a loaded machine)
	// all but ones the kernel counted as dropped for it: never one lost
	// to the victim's death without a trace.
	json st = expect_delivered_or_counted("p0", per_flow, bed.netns());
	json p0 = part(st, "p0"), p1 = part(st, "p1");
	std::printf("survivor received %llu/%llu (its RX rings overflowed %llu times, no fill frame %llu times), "
		    "victim %llu (no_socket while dead %llu), recovery %.1f ms\n",
		    (unsigned long long)p0["rx"], (unsigned long long)per_flow,
		    (unsigned long long)p0["xsk"]["rx_ring_full"], (unsigned long long)p0["xsk"]["rx_dropped"],
		    (unsigned long long)p1["rx"], (unsigned long long)p1["steering"]["no_socket"], recovery_ms);
	// Zero loss for the survivor when nothing was counted: every tag of
	// its flow arrived, once.
	if (counted_losses(p0) == 0) {
		EXPECT_EQ(p0["rx"], per_flow);
		EXPECT_EQ(p0["tag_sum"], tag_sum(1, per_flow));
	}
	// A redirect error for the survivor is only ever its own socket's
	// counted drop (ring full, no fill frame), never a broken slot.
	EXPECT_LE(p0["steering"]["redirect_errors"].get<uint64_t>(),
		  p0["xsk"]["rx_dropped"].get<uint64_t>() + p0["xsk"]["rx_ring_full"].get<uint64_t>());
	// The victim's frames while it was dead took the default action.
	EXPECT_GT(p1["steering"]["no_socket"].get<uint64_t>(), 0u);
	EXPECT_LT(p1["rx"].get<uint64_t>(), per_flow);
	EXPECT_EQ(st["region"]["leaked"], 0u);
	EXPECT_EQ(st["region"]["seen_twice"], 0u);
	EXPECT_EQ(st["region"]["refused_returns"], 0u);
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

TEST_F(IsolationTest, PartKillUnderTrafficThenRestart)
{
	kill_one_under_traffic(Kill::cli, false);
}

TEST_F(IsolationTest, KillDashNineFromOutsideThenRestart)
{
	kill_one_under_traffic(Kill::external, false);
}

TEST_F(IsolationTest, KillDashNineWithSurvivorOnTheSameQueue)
{
	kill_one_under_traffic(Kill::external, true);
}

TEST_F(IsolationTest, StopStartAndBadNames)
{
	PartitionBed bed;
	ASSERT_EQ(bed.up().status, 0);
	EXPECT_EQ(mkdp_cli({"part", "stop", "p0"}).status, 0);
	EXPECT_EQ(part(status(), "p0")["state"], "stopped");
	// Stopping a stopped partition: nothing to do, said so, exit 0.
	ProgramResult again = mkdp_cli({"part", "stop", "p0"});
	EXPECT_EQ(again.status, 0) << again.err;
	EXPECT_NE(again.out.find("already stopped; nothing to do"), std::string::npos) << again.out;
	EXPECT_EQ(mkdp_cli({"part", "start", "p0"}).status, 0);
	EXPECT_EQ(part(status(), "p0")["state"], "running");
	EXPECT_NE(mkdp_cli({"part", "kill", "nosuch"}).status, 0);
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

} // namespace
} // namespace mkdp::test
