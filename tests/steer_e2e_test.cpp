// SPDX-License-Identifier: BSD-2-Clause
// The steering program end to end on a real veth: a testbed of our own,
// mkdp's steering attached natively to mkdp0 through the Steering loader,
// one AF_XDP socket per queue (partition p listens on queue p), the
// generator sending tagged frames from mkdp1. For each policy every frame
// must land where the policy says (checked by content), and the program's
// counters must agree with what was sent; detach must leave no program,
// pin or map behind.
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/packet.h>
#include <mkdp/region.h>
#include <mkdp/testbed.h>
#include <mkdp/traffic_gen.h>
#include <mkdp/xsk.h>
#include <steer_loader.h>

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

using namespace mkdp;

namespace {

constexpr uint32_t kQueues = 2;	// partition p has its socket on queue p
constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kFrames = 4096;

// Where each of our tagged frames arrived: tag -> queue of the socket.
struct Arrivals {
	std::map<uint64_t, uint32_t> queue_of;
	uint64_t wrong_content = 0, duplicates = 0;
};

class SteerE2E : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (netns, XDP, AF_XDP)";
		ns_ = "mkdp-se-" + std::to_string(getpid());
		tb_ = std::make_unique<Testbed>(TestbedOptions{ns_, kQueues});
		run_in_netns(ns_, [&] {
			AttachOptions o;
			o.config.partitions = kQueues;
			o.config.policy = MKDP_STEER_POLICY_QUEUE | MKDP_STEER_POLICY_RULES;
			steer_ = std::make_unique<Steering>(Steering::attach(kTestbedRxDev, o));
			region_ = Region::create(RegionLayout().area("umem", uint64_t(kFrames) * kFrameSize, kFrameSize));
			umem_ = std::make_unique<Umem>(region_, "umem");
			for (uint32_t q = 0; q < kQueues; q++) {
				XskConfig cfg;
				cfg.tx_size = 0;
				socks_.push_back(std::make_unique<XskSocket>(*umem_, kTestbedRxDev, q, cfg));
				steer_->set_socket(q, q, socks_.back()->fd());
				socks_.back()->refill(1024);
			}
		});
	}

	void TearDown() override
	{
		if (!tb_)
			return;
		socks_.clear();
		umem_.reset();
		if (steer_) {
			steer_.reset();
			run_in_netns(ns_, [] { Steering::detach(kTestbedRxDev); });
		}
		tb_.reset();
		EXPECT_FALSE(netns_exists(ns_));
	}

	GenOptions gen_options(uint64_t first_tag, uint64_t count) const
	{
		GenOptions o;
		o.netns = ns_;
		o.ifname = kTestbedTxDev;
		o.flows = 16;
		o.count = count;
		o.rate_pps = 20000;
		o.size = 128;
		o.dst_port = 4000;
		o.first_tag = first_tag;
		return o;
	}

	// Sends, and drains every socket until all of our frames that should
	// arrive (`expect`) did, or a 3 s quiet spell after sending ends (a
	// hang guard: frames that must not arrive are waited for too).
	GenReport send_and_collect(const GenOptions &o, uint64_t expect, Arrivals &got)
	{
		GenReport sent;
		std::exception_ptr err;
		std::atomic<bool> done{false};
		std::thread gen([&] {
			try {
				sent = generate(o);
			} catch (...) {
				err = std::current_exception();
			}
			done = true;
		});
		const TestbedInfo &ti = tb_->info();
		auto quiet_since = std::chrono::steady_clock::now();
		mkdp_frame_desc d[64];
		while (true) {
			bool any = false;
			for (auto &s : socks_) {
				uint32_t n = s->rx_burst(d, 64);
				for (uint32_t i = 0; i < n; i++) {
					std::span<const uint8_t> f{umem_->data(d[i].addr), d[i].len};
					auto p = parse_frame(f);
					if (!p || !p->tag || p->tuple.dst_port != o.dst_port || *p->tag < o.first_tag ||
					    *p->tag >= o.first_tag + o.count)
						continue; // the kernel's own chatter
					uint64_t idx = *p->tag - o.first_tag;
					FrameSpec spec = gen_frame_spec(o, ti.tx.mac, ti.rx.mac, ti.tx.ip4, ti.rx.ip4, idx);
					if (p->tuple.src_port != spec.src_port || p->tuple.src != spec.src_ip)
						got.wrong_content++;
					if (!got.queue_of.emplace(*p->tag, s->queue()).second)
						got.duplicates++;
				}
				if (n) {
					s->recycle(d, n);
					any = true;
				}
			}
			auto now = std::chrono::steady_clock::now();
			if (any || !done)
				quiet_since = now;
			if (done && (got.queue_of.size() >= expect || now - quiet_since > std::chrono::seconds(3)))
				break;
			if (!any)
				std::this_thread::sleep_for(std::chrono::microseconds(200));
		}
		gen.join();
		if (err)
			std::rethrow_exception(err);
		return sent;
	}

	std::string ns_;
	std::unique_ptr<Testbed> tb_;
	std::unique_ptr<Steering> steer_;
	Region region_;
	std::unique_ptr<Umem> umem_;
	std::vector<std::unique_ptr<XskSocket>> socks_;
};

TEST_F(SteerE2E, QueuePolicyDeliversEachFrameToItsQueuesPartition)
{
	SteerStats before = steer_->read_stats();
	GenOptions o = gen_options(1000, 2000);
	Arrivals got;
	GenReport sent = send_and_collect(o, o.count, got);
	SteerStats after = steer_->read_stats();

	ASSERT_EQ(sent.frames, o.count);
	EXPECT_EQ(got.queue_of.size(), o.count) << "frames lost";
	EXPECT_EQ(got.duplicates, 0u);
	EXPECT_EQ(got.wrong_content, 0u);
	for (auto [tag, q] : got.queue_of)
		ASSERT_EQ(q, gen_frame_queue(o, kQueues, tag - o.first_tag)) << "tag " << tag;
	for (uint32_t p = 0; p < kQueues; p++) {
		// Our frames, plus whatever the kernel itself sent meanwhile.
		uint64_t steered = after.partitions[p].packets - before.partitions[p].packets;
		EXPECT_GE(steered, sent.per_queue[p]) << "partition " << p;
		EXPECT_LE(steered, sent.per_queue[p] + 10) << "partition " << p;
		EXPECT_EQ(after.partitions[p].no_socket, before.partitions[p].no_socket);
		EXPECT_EQ(after.partitions[p].redirect_errors, 0u);
	}
	EXPECT_EQ(umem_->ownership_errors(), 0u);
}

TEST_F(SteerE2E, ExactRuleWinsAndCountsNoSocketThenDefaultDrop)
{
	// Every frame leaves on queue 0, but a rule sends flow 3 to partition 1,
	// which has no socket on queue 0: no_socket, then the default action.
	GenOptions o = gen_options(5000, 800);
	o.queue = 0;
	o.flows = 4;
	const TestbedInfo &ti = tb_->info();
	FrameSpec f3 = gen_frame_spec(o, ti.tx.mac, ti.rx.mac, ti.tx.ip4, ti.rx.ip4, 3);
	SteerRule r = SteerRule::parse("exact udp " + f3.src_ip.str() + ":" + std::to_string(f3.src_port) + " " +
				       f3.dst_ip.str() + ":" + std::to_string(f3.dst_port) + " part 1");
	uint32_t id = steer_->add_rule(r);

	for (SteerAction dflt : {SteerAction::pass, SteerAction::drop}) {
		SCOPED_TRACE(to_string(dflt));
		SteerConfig c = steer_->config();
		c.default_action = dflt;
		steer_->configure(c);
		SteerStats before = steer_->read_stats();
		Arrivals got;
		GenReport sent = send_and_collect(o, o.count * 3 / 4, got);
		SteerStats after = steer_->read_stats();
		ASSERT_EQ(sent.frames, o.count);

		uint64_t flow3 = o.count / 4;
		EXPECT_EQ(got.queue_of.size(), o.count - flow3);
		for (auto [tag, q] : got.queue_of) {
			EXPECT_EQ(q, 0u);
			EXPECT_NE((tag - o.first_tag) % o.flows, 3u) << "flow 3 reached a socket";
		}
		auto rule = std::find_if(after.rules.begin(), after.rules.end(),
					 [&](auto &x) { return x.first.id == id; });
		auto rule0 = std::find_if(before.rules.begin(), before.rules.end(),
					  [&](auto &x) { return x.first.id == id; });
		ASSERT_NE(rule, after.rules.end());
		EXPECT_EQ(rule->second.packets - rule0->second.packets, flow3);
		EXPECT_EQ(after.partitions[1].no_socket - before.partitions[1].no_socket, flow3);
		EXPECT_EQ(after.partitions[1].drops - before.partitions[1].drops,
			  dflt == SteerAction::drop ? flow3 : 0);
		EXPECT_GE(after.partitions[0].packets - before.partitions[0].packets, o.count - flow3);
	}
}

TEST_F(SteerE2E, PrefixDropRuleStopsEverything)
{
	steer_->add_rule(SteerRule::parse("src " + tb_->info().tx.ip4.str() + "/32 drop"));
	SteerStats before = steer_->read_stats();
	GenOptions o = gen_options(9000, 500);
	Arrivals got;
	GenReport sent = send_and_collect(o, 0, got);
	SteerStats after = steer_->read_stats();
	ASSERT_EQ(sent.frames, o.count);
	EXPECT_TRUE(got.queue_of.empty());
	EXPECT_EQ(after.totals.dropped - before.totals.dropped, o.count);
}

TEST_F(SteerE2E, FlowHashSpreadsFlowsAndEveryFrameIsAccountedFor)
{
	SteerConfig c = steer_->config();
	c.policy = MKDP_STEER_POLICY_HASH;
	steer_->configure(c);
	SteerStats before = steer_->read_stats();
	GenOptions o = gen_options(20000, 1600);
	o.flows = 32;
	Arrivals got;
	GenReport sent = send_and_collect(o, 1, got);
	SteerStats after = steer_->read_stats();
	ASSERT_EQ(sent.frames, o.count);

	// A flow's frames all hash to one partition; they arrive only when that
	// partition has a socket on the queue the flow came in on.
	uint64_t steered = 0, no_socket = 0;
	for (uint32_t p = 0; p < kQueues; p++) {
		steered += after.partitions[p].packets - before.partitions[p].packets;
		no_socket += after.partitions[p].no_socket - before.partitions[p].no_socket;
	}
	EXPECT_GE(steered, o.count);
	// Every frame of ours arrived or found no socket; the kernel's own
	// chatter may add a few steered frames on top.
	EXPECT_GE(got.queue_of.size() + no_socket, o.count);
	EXPECT_LE(got.queue_of.size() + no_socket, steered);
	EXPECT_GT(got.queue_of.size(), 0u);
	EXPECT_GT(no_socket, 0u) << "32 flows over 2 partitions never crossed queues?";
	std::map<uint32_t, std::set<uint32_t>> queues_of_flow;
	for (auto [tag, q] : got.queue_of)
		queues_of_flow[(tag - o.first_tag) % o.flows].insert(q);
	for (auto &[flow, qs] : queues_of_flow)
		EXPECT_EQ(qs.size(), 1u) << "flow " << flow;
}

TEST(SteerDetach, LeavesNoProgramPinOrMapBehind)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root (netns, XDP)";
	std::string ns = "mkdp-sd-" + std::to_string(getpid());
	Testbed tb({ns, 2});
	std::vector<uint32_t> map_ids;
	uint32_t prog_id = 0;
	run_in_netns(ns, [&] {
		Steering s = Steering::attach(kTestbedRxDev, {});
		prog_id = s.status().prog_id;
		for (int m = 0; m < Steering::nr_maps; m++) {
			bpf_map_info info{};
			uint32_t len = sizeof(info);
			ASSERT_EQ(bpf_obj_get_info_by_fd(s.map_fd(Steering::MapId(m)), &info, &len), 0);
			map_ids.push_back(info.id);
		}
		// Attaching twice is idempotent: same program.
		EXPECT_EQ(Steering::attach(kTestbedRxDev, {}).status().prog_id, prog_id);
	});
	ASSERT_NE(prog_id, 0u);
	EXPECT_TRUE(std::filesystem::exists(Steering::pin_dir(kTestbedRxDev)));
	run_in_netns(ns, [&] {
		Steering::detach(kTestbedRxDev);
		uint32_t id = 1;
		ASSERT_EQ(bpf_xdp_query_id(int(if_nametoindex(kTestbedRxDev)), 0, &id), 0);
		EXPECT_EQ(id, 0u) << "an XDP program is still attached";
	});
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir(kTestbedRxDev)));
	// Nothing of ours may still hold the program or a map.
	for (auto &e : std::filesystem::directory_iterator("/proc/self/fd")) {
		std::error_code ec;
		std::string target = std::filesystem::read_symlink(e.path(), ec).string();
		EXPECT_EQ(target.find("bpf"), std::string::npos) << "fd " << e.path().filename() << " -> " << target;
	}
	// Freed maps and programs go away after an RCU grace period: poll.
	auto gone = [](auto get) {
		for (int i = 0; i < 200; i++) {
			int fd = get();
			if (fd < 0 && errno == ENOENT)
				return true;
			if (fd >= 0)
				close(fd);
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		return false;
	};
	EXPECT_TRUE(gone([&] { return bpf_prog_get_fd_by_id(prog_id); })) << "program " << prog_id;
	for (uint32_t id : map_ids)
		EXPECT_TRUE(gone([&] { return bpf_map_get_fd_by_id(id); })) << "map " << id;
}

} // namespace
