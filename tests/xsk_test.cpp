// SPDX-License-Identifier: BSD-2-Clause
// AF_XDP end to end on a real veth: a testbed in a namespace of our own,
// bpf/bare_redirect.bpf.c attached in native mode to mkdp0, one AF_XDP
// socket per RX queue on a UMEM that sits in an mkdp Region, the
// generator sending known frames from mkdp1. Every frame must arrive, by
// content, on the socket of the queue the generator chose; every UMEM frame
// must be accounted for; and nothing may remain after teardown.
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/packet.h>
#include <mkdp/region.h>
#include <mkdp/testbed.h>
#include <mkdp/traffic_gen.h>
#include <mkdp/xsk.h>

#include <bare_redirect.skel.h>

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <thread>

using namespace mkdp;

namespace {

constexpr uint32_t kQueues = 4;
constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kFrames = 4096;	// 8 MiB of UMEM
constexpr uint32_t kFillPerQueue = 512;

std::string unique_name(const char *what)
{
	return std::string("mkdp-xsk-") + what + "-" + std::to_string(getpid());
}

// The receive side inside the namespace: XDP program, UMEM, one socket per
// queue. Created and destroyed on a namespace thread; used from the test's.
struct RxSide {
	bare_redirect *skel = nullptr;
	int ifindex = 0;
	Region region;
	std::unique_ptr<Umem> umem;
	std::vector<std::unique_ptr<XskSocket>> socks;

	void setup()
	{
		ifindex = int(if_nametoindex(kTestbedRxDev));
		ASSERT_NE(ifindex, 0);
		skel = bare_redirect__open_and_load();
		ASSERT_NE(skel, nullptr) << "load bare_redirect";
		int rc = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.bare_redirect), XDP_FLAGS_DRV_MODE,
					nullptr);
		ASSERT_EQ(rc, 0) << "native XDP attach on veth: " << strerror(-rc);
		region = Region::create(RegionLayout().area("umem", uint64_t(kFrames) * kFrameSize, kFrameSize));
		umem = std::make_unique<Umem>(region, "umem");
		for (uint32_t q = 0; q < kQueues; q++) {
			XskConfig cfg;
			cfg.tx_size = 0;
			socks.push_back(std::make_unique<XskSocket>(*umem, kTestbedRxDev, q, cfg));
			int fd = socks.back()->fd();
			ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel->maps.xsks_by_queue), &q, &fd, BPF_ANY), 0);
			ASSERT_EQ(socks.back()->refill(kFillPerQueue), kFillPerQueue);
		}
	}

	void teardown()
	{
		socks.clear();
		umem.reset();
		if (skel) {
			bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr);
			bare_redirect__destroy(skel);
			skel = nullptr;
		}
	}
};

struct Received {
	std::set<uint64_t> tags;
	uint64_t wrong_queue = 0, wrong_content = 0, bad_csum = 0, duplicates = 0, foreign = 0;
};

// Drains every socket until `want` of our frames are in or the watchdog
// fires (a hang guard, not a performance assertion).
void receive(RxSide &rx, const GenOptions &o, const TestbedInfo &tb, uint64_t want, Received &got)
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	mkdp_frame_desc descs[64];
	while (got.tags.size() < want && std::chrono::steady_clock::now() < deadline) {
		bool any = false;
		for (auto &s : rx.socks) {
			uint32_t n = s->rx_burst(descs, 64);
			for (uint32_t i = 0; i < n; i++) {
				std::span<const uint8_t> f{rx.umem->data(descs[i].addr), descs[i].len};
				auto p = parse_frame(f);
				if (!p || !p->tag || p->tuple.dst_port != o.dst_port || *p->tag < o.first_tag ||
				    *p->tag >= o.first_tag + o.count) {
					got.foreign++;	// the kernel's own IPv6 chatter, say
					continue;
				}
				uint64_t idx = *p->tag - o.first_tag;
				bool v6 = o.ipv6;
				FrameSpec want_spec = gen_frame_spec(o, tb.tx.mac, tb.rx.mac, v6 ? tb.tx.ip6 : tb.tx.ip4,
								     v6 ? tb.rx.ip6 : tb.rx.ip4, idx);
				FiveTuple t{want_spec.src_ip, want_spec.dst_ip, want_spec.proto, want_spec.src_port,
					    want_spec.dst_port};
				if (p->tuple != t || p->vlan != o.vlan || descs[i].len != o.size)
					got.wrong_content++;
				if (!l3_checksum_ok(f, *p) || !l4_checksum_ok(f, *p))
					got.bad_csum++;
				if (gen_frame_queue(o, kQueues, idx) != s->queue())
					got.wrong_queue++;
				if (!got.tags.insert(*p->tag).second)
					got.duplicates++;
			}
			if (n) {
				s->recycle(descs, n);
				any = true;
			}
		}
		if (!any)
			std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
}

class XskTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (netns, XDP, AF_XDP)";
	}
};

TEST_F(XskTest, FramesArriveByContentOnTheirQueueAndNothingLeaks)
{
	const std::string ns = unique_name("rx");
	{
		Testbed tb({ns, kQueues});
		RxSide rx;
		run_in_netns(ns, [&] { rx.setup(); });
		ASSERT_FALSE(HasFatalFailure());
		EXPECT_FALSE(rx.socks[0]->zero_copy()) << "veth has no zero-copy mode";
		EXPECT_EQ(testbed_info(ns)->rx.xdp_prog, "bare_redirect");

		struct Case {
			const char *what;
			GenOptions o;
		};
		std::vector<Case> cases;
		GenOptions a;
		a.netns = ns;
		a.ifname = kTestbedTxDev;
		a.flows = 16;
		a.count = 2000;
		a.rate_pps = 20000;
		a.size = 128;
		a.dst_port = 4791;
		a.first_tag = 1000;
		cases.push_back({"udp/ipv4, flows spread over queues", a});
		GenOptions b = a;
		b.ipv6 = true;
		b.proto = L4Proto::tcp;
		b.vlan = 42;
		b.queue = 3;
		b.count = 500;
		b.size = 300;
		b.first_tag = 100000;
		cases.push_back({"tcp/ipv6/vlan, pinned to queue 3", b});

		for (const Case &c : cases) {
			SCOPED_TRACE(c.what);
			GenReport sent;
			std::exception_ptr gen_err;
			std::thread gen([&] {
				try {
					sent = generate(c.o);
				} catch (...) {
					gen_err = std::current_exception();
				}
			});
			Received got;
			receive(rx, c.o, *testbed_info(ns), c.o.count, got);
			gen.join();
			if (gen_err)
				std::rethrow_exception(gen_err);
			EXPECT_EQ(sent.frames, c.o.count);
			for (uint32_t q = 0; q < kQueues; q++) {
				uint64_t expect = 0;
				for (uint64_t i = 0; i < c.o.count; i++)
					expect += gen_frame_queue(c.o, kQueues, i) == q;
				EXPECT_EQ(sent.per_queue[q], expect) << "queue " << q;
			}
			EXPECT_EQ(got.tags.size(), c.o.count) << "frames lost on the way";
			EXPECT_EQ(got.wrong_queue, 0u);
			EXPECT_EQ(got.wrong_content, 0u);
			EXPECT_EQ(got.bad_csum, 0u);
			EXPECT_EQ(got.duplicates, 0u);
		}

		// Ownership: everything is either free or waiting in a fill ring.
		Umem &u = *rx.umem;
		EXPECT_EQ(u.count(FrameState::app), 0u);
		EXPECT_EQ(u.count(FrameState::tx), 0u);
		EXPECT_EQ(u.count(FrameState::free) + u.count(FrameState::fill), kFrames);
		EXPECT_EQ(u.ownership_errors(), 0u);
		for (auto &s : rx.socks) {
			EXPECT_EQ(s->stats().bad_desc, 0u);
			xdp_statistics ks = s->kernel_stats();
			EXPECT_EQ(ks.rx_invalid_descs, 0u);
		}
		// Closing the sockets gives their fill-ring frames back.
		run_in_netns(ns, [&] {
			rx.socks.clear();
			EXPECT_EQ(rx.umem->count(FrameState::free), kFrames);
			rx.teardown();
		});
		EXPECT_EQ(testbed_info(ns)->rx.xdp_prog, "");
	}
	EXPECT_FALSE(netns_exists(ns)) << "testbed left behind";
}

// AF_XDP TX on mkdp1 queue q reaches mkdp0 RX queue q: the TX and
// completion half of the wrapper, and veth's queue mapping.
TEST_F(XskTest, TransmitAndCompleteReachThePeerQueue)
{
	const std::string ns = unique_name("tx");
	Testbed tb({ns, kQueues});
	RxSide rx;
	run_in_netns(ns, [&] { rx.setup(); });
	ASSERT_FALSE(HasFatalFailure());

	constexpr uint32_t kTxFrames = 256, kQ = 2, kN = 100;
	void *mem = mmap(nullptr, kTxFrames * kFrameSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(mem, MAP_FAILED);
	{
		std::unique_ptr<Umem> txu;
		std::unique_ptr<XskSocket> txs;
		run_in_netns(ns, [&] {
			txu = std::make_unique<Umem>(std::span<uint8_t>(static_cast<uint8_t *>(mem), kTxFrames * kFrameSize),
						     UmemConfig{kFrameSize});
			XskConfig cfg;
			cfg.rx_size = 0;
			txs = std::make_unique<XskSocket>(*txu, kTestbedTxDev, kQ, cfg);
		});
		const TestbedInfo &ti = tb.info();
		GenOptions o;
		o.netns = ns;
		o.ifname = kTestbedTxDev;
		o.count = kN;
		o.queue = kQ;
		o.dst_port = 7777;
		o.first_tag = 42;
		o.size = 100;
		uint64_t addrs[kN];
		ASSERT_EQ(txu->alloc(addrs, kN), kN);
		std::vector<mkdp_frame_desc> d(kN);
		for (uint32_t i = 0; i < kN; i++) {
			FrameSpec s = gen_frame_spec(o, ti.tx.mac, ti.rx.mac, ti.tx.ip4, ti.rx.ip4, i);
			d[i] = {addrs[i], uint32_t(build_frame(s, {txu->data(addrs[i]), kFrameSize})), 0};
		}
		uint32_t queued = 0;
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		while ((queued < kN || txu->count(FrameState::tx)) && std::chrono::steady_clock::now() < deadline) {
			queued += txs->tx_burst(d.data() + queued, kN - queued);
			txs->complete();
		}
		EXPECT_EQ(queued, kN);
		EXPECT_EQ(txu->count(FrameState::free), kTxFrames) << "completions missing";

		Received got;
		receive(rx, o, ti, kN, got);
		EXPECT_EQ(got.tags.size(), kN);
		EXPECT_EQ(got.wrong_queue, 0u);
		EXPECT_EQ(got.wrong_content, 0u);
		EXPECT_EQ(got.bad_csum, 0u);

		// Wrong-state frames are refused, not lost or double-queued.
		uint64_t a;
		ASSERT_EQ(txu->alloc(&a, 1), 1u);
		EXPECT_EQ(txu->free(&a, 1), 1u);
		EXPECT_EQ(txu->free(&a, 1), 0u);
		mkdp_frame_desc stale{a, 60, 0};
		EXPECT_EQ(txs->tx_burst(&stale, 1), 0u);
		EXPECT_EQ(txu->ownership_errors(), 2u);
		txs.reset();
		txu.reset();
	}
	munmap(mem, kTxFrames * kFrameSize);
	run_in_netns(ns, [&] { rx.teardown(); });
}

TEST_F(XskTest, RefusesBadAreasAndDevicesOutsideTheNamespace)
{
	void *mem = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(mem, MAP_FAILED);
	auto *p = static_cast<uint8_t *>(mem);
	EXPECT_THROW(Umem({p + 64, 4096 * 4}), Error) << "unaligned";
	EXPECT_THROW(Umem({p, 4096 * 4 + 100}), Error) << "partial frame";
	EXPECT_THROW(Umem({p, 4096 * 4}, UmemConfig{1000}), Error) << "frame size";
	{
		Umem u({p, 1 << 20});
		// mkdp0 exists only inside testbed namespaces, never here.
		EXPECT_THROW(XskSocket(u, "mkdp-no-such-dev", 0), Error);
		EXPECT_EQ(u.count(FrameState::free), u.frames());
	}
	munmap(mem, 1 << 20);
}

} // namespace
