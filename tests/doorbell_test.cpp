// SPDX-License-Identifier: BSD-2-Clause
// Doorbells: every strategy delivers every message exactly once and never
// loses a wake-up, under stress, under random producer delays around the
// adaptive poll budget, and across processes; monitor/wait detection agrees
// with CPUID.
//
// A lost wake-up shows as a consumer asleep while the ring holds work. No
// test can hang on it: every wait has a watchdog timeout, a sleep that runs
// to that timeout with work in the ring is counted (DoorbellStats::late) and
// asserted to be zero, and a whole run has an outer deadline after which
// both sides are told to stop and the test fails.
#include <mkdp/cpu.h>
#include <mkdp/cpu_features.h>
#include <mkdp/doorbell.h>
#include <mkdp/region.h>
#include <mkdp/xsk_wakeup.h>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cpuid.h>
#include <csignal>
#include <cstring>
#include <functional>
#include <linux/if_xdp.h>
#include <random>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace mkdp {
namespace {

constexpr uint64_t kWatchdogNs = 2'000'000'000;		// one wait
constexpr uint64_t kRunDeadlineNs = 120'000'000'000;	// one whole run

struct Ring {
	Region region;
	explicit Ring(uint32_t entries)
		: region(Region::create(RegionLayout().ring("r", MKDP_DESC_ADDR, entries)))
	{
	}
	Producer<FrameAddr> producer() { return region.producer<FrameAddr>("r"); }
	Consumer<FrameAddr> consumer()
	{
		auto c = region.consumer<FrameAddr>("r");
		c.bounds().area_size = UINT64_MAX; // the payload is a sequence number
		return c;
	}
	mkdp_ring *ctl() { return region.producer<FrameAddr>("r").control(); }
};

void pin(int cpu)
{
	if (std::thread::hardware_concurrency() > unsigned(cpu))
		pin_to_cpu(cpu);
}

// How a producer paces itself: batch size and the delay after a batch.
struct Pacing {
	uint32_t max_batch = 64;
	// Called after each batch; may spin. Returns false to keep going.
	std::function<void(std::mt19937_64 &)> delay;
};

struct Outcome {
	uint64_t received = 0, out_of_order = 0, rejected = 0;
	bool finished = false; // all n arrived before the run deadline
	DoorbellStats cons, prod;
};

// Produces 0..n-1 in random batches on one thread and checks them on
// another, through a doorbell of the given options on each side.
Outcome run_stress(const DoorbellOptions &o, uint64_t n, const Pacing &pace, uint32_t entries = 1024)
{
	Ring ring(entries);
	Outcome out;
	std::atomic<bool> stop{false};
	std::atomic<bool> done{false};

	std::thread producer([&] {
		pin(1);
		Producer<FrameAddr> p = ring.producer();
		Doorbell db(p, o);
		std::mt19937_64 rng(42);
		uint64_t seq = 0;
		while (seq < n && !stop.load(std::memory_order_relaxed)) {
			uint32_t b = uint32_t(std::min<uint64_t>(rng() % pace.max_batch + 1, n - seq));
			uint32_t idx = 0;
			while (!p.reserve(b, &idx))
				if (stop.load(std::memory_order_relaxed))
					break;
				else
					cpu_relax();
			if (stop.load(std::memory_order_relaxed))
				break;
			for (uint32_t i = 0; i < b; i++)
				p.slot(idx + i).addr = seq + i;
			db.submit(p, b);
			seq += b;
			if (pace.delay)
				pace.delay(rng);
		}
		out.prod = db.stats();
	});

	std::thread consumer([&] {
		pin(0);
		Consumer<FrameAddr> c = ring.consumer();
		Doorbell db(c, o);
		FrameAddr buf[256];
		uint64_t expect = 0;
		while (out.received < n && !stop.load(std::memory_order_relaxed)) {
			if (db.wait(c, kWatchdogNs) != WaitResult::ready)
				continue;
			uint32_t got = c.consume(buf, 256);
			for (uint32_t i = 0; i < got; i++) {
				if (buf[i].addr != expect)
					out.out_of_order++;
				expect = buf[i].addr + 1;
			}
			out.received += got;
		}
		out.rejected = c.rejected();
		out.cons = db.stats();
		done = true;
	});

	uint64_t deadline = now_ns() + kRunDeadlineNs;
	while (!done && now_ns() < deadline)
		usleep(10000);
	stop = true;
	producer.join();
	consumer.join();
	out.finished = out.received == n;
	return out;
}

void expect_clean(const Outcome &r, uint64_t n)
{
	EXPECT_TRUE(r.finished) << "run deadline passed: the consumer never got everything";
	EXPECT_EQ(r.received, n);
	EXPECT_EQ(r.out_of_order, 0u) << "lost or duplicated messages";
	EXPECT_EQ(r.rejected, 0u);
	EXPECT_EQ(r.cons.late, 0u) << "a sleep ran to its watchdog with work in the ring: lost wake-up";
	::testing::Test::RecordProperty("sleeps", std::to_string(r.cons.sleeps));
	::testing::Test::RecordProperty("kicks", std::to_string(r.prod.kicks));
	::testing::Test::RecordProperty("suppressed", std::to_string(r.prod.suppressed));
}

// Spins for about `ns`: sleeping would let the vCPU halt and blur the
// delays around the poll budget that this is meant to hit.
void spin_for(uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	while (now_ns() < end)
		cpu_relax();
}

constexpr uint64_t kStress = 10'000'000;

// Bursts with gaps: left alone the producer stays ahead and the consumer
// hardly ever sleeps. Gaps of 0-40 us after one batch in 32 let the
// ring drain, so the consumer keeps going to sleep (adaptive: the budget is
// 20 us) and the wake-up path races the producer thousands of times.
Pacing bursty(uint32_t max_batch)
{
	return {.max_batch = max_batch, .delay = [](std::mt19937_64 &rng) {
			if (rng() % 32 == 0)
				spin_for(rng() % 40000);
		}};
}

TEST(DoorbellStress, Polled10M)
{
	// No gaps: polled has no sleep path to race, only the ring itself.
	Outcome r = run_stress({.strategy = DoorbellStrategy::polled}, kStress, {});
	expect_clean(r, kStress);
	EXPECT_EQ(r.cons.sleeps, 0u);
}

TEST(DoorbellStress, Adaptive10M)
{
	Outcome r = run_stress({.strategy = DoorbellStrategy::adaptive}, kStress, bursty(64));
	expect_clean(r, kStress);
	EXPECT_GT(r.cons.sleeps, 0u);
}

// Interrupt-style kicks on every submit and a wake-up costs 40-75 us here
// (the idle vCPU halts to the host): batches of up to 512 keep 10^7
// messages to a few tens of thousands of kicks.
TEST(DoorbellStress, Interrupt10MBatched)
{
	Outcome r = run_stress({.strategy = DoorbellStrategy::interrupt}, kStress,
			       bursty(512), 4096);
	expect_clean(r, kStress);
	EXPECT_GT(r.cons.sleeps, 0u);
	EXPECT_GT(r.prod.kicks, 0u);
	EXPECT_EQ(r.prod.suppressed, 0u) << "interrupt-style always kicks";
}

TEST(DoorbellStress, InterruptEventfd)
{
	int efd = make_doorbell_eventfd();
	DoorbellOptions o{.strategy = DoorbellStrategy::interrupt,
			  .mechanism = WakeMechanism::eventfd, .eventfd = efd};
	Outcome r = run_stress(o, kStress, bursty(512), 4096);
	close(efd);
	expect_clean(r, kStress);
}

TEST(DoorbellStress, AdaptiveEventfd)
{
	int efd = make_doorbell_eventfd();
	DoorbellOptions o{.strategy = DoorbellStrategy::adaptive,
			  .mechanism = WakeMechanism::eventfd, .eventfd = efd};
	Outcome r = run_stress(o, kStress, bursty(64));
	close(efd);
	expect_clean(r, kStress);
}

// The adaptive protocol where it is fragile: the producer pauses for
// random times around the consumer's poll budget, so the consumer keeps
// giving up polling just before, just as, or just after the next message
// arrives, and the flag/re-check/futex steps race the producer's
// publish/fence/flag read.
void adaptive_random_delays(WakeMechanism m)
{
	constexpr uint64_t budget = 5000;
	int efd = m == WakeMechanism::eventfd ? make_doorbell_eventfd() : -1;
	DoorbellOptions o{.strategy = DoorbellStrategy::adaptive, .mechanism = m,
			  .poll_budget_ns = budget, .eventfd = efd};
	Pacing pace{.max_batch = 4, .delay = [](std::mt19937_64 &rng) {
			    static const uint64_t around[] = {
				    0,		  budget / 2,	   budget - 1000, budget - 200,
				    budget,	  budget + 200,	   budget + 1000, 2 * budget,
				    10 * budget,
			    };
			    // Now and then a long pause, so the consumer is sound
			    // asleep (its vCPU halted) when the next kick comes.
			    uint64_t d = rng() % 100 == 0 ? 200 * budget
							  : around[rng() % std::size(around)];
			    // Jitter so the edges are hit from every side.
			    spin_for(d ? d - 500 + rng() % 1000 : 0);
		    }};
	constexpr uint64_t n = 200'000; // ~80k pauses, ~2 s
	Outcome r = run_stress(o, n, pace);
	if (efd >= 0)
		close(efd);
	expect_clean(r, n);
	// The 1 ms pauses are 200 budgets long: the consumer must have
	// gone to sleep and been kicked awake.
	EXPECT_GT(r.cons.sleeps, 0u);
	EXPECT_GT(r.prod.kicks, 0u);
	EXPECT_GT(r.prod.suppressed, 0u);
}

TEST(DoorbellAdaptive, RandomDelaysAroundBudgetFutex)
{
	adaptive_random_delays(WakeMechanism::futex);
}

TEST(DoorbellAdaptive, RandomDelaysAroundBudgetEventfd)
{
	adaptive_random_delays(WakeMechanism::eventfd);
}

// ---- Ping-pong: every wake-up is necessary -------------------------------
//
// In the stress above the producer keeps submitting, so a lost wake-up is
// rescued by the next kick and shows only if the consumer sleeps a whole
// watchdog. Here side A sends message i and then waits for B's ack of i
// (over a second ring, with its own doorbell) before it sends i + 1:
// nothing else will ever wake a consumer that missed its kick. A lost
// wake-up is then a sleep that runs to its watchdog with work in the ring
// (DoorbellStats::late), which the kernel reports exactly: a futex that
// was woken, or found its word changed, returns 0 or EAGAIN however late
// the waiter runs, never ETIMEDOUT; ppoll sees a written eventfd on its
// final pass. So the watchdog's length decides only how long a failing run
// takes, never whether a correct run passes.

constexpr uint64_t kPingPongWatchdogNs = 200'000'000;

struct PingPong {
	uint64_t rounds = 0, bad = 0;
	bool finished = false;
	uint64_t late = 0, timeouts = 0, sleeps = 0, kicks = 0, dropped = 0;
};

// Random pauses before each send, around the adaptive poll budget, so the
// other side is polling, just arming, or asleep when the message lands.
void pause_around(std::mt19937_64 &rng, uint64_t budget)
{
	const uint64_t around[] = {0,	      budget / 2,     budget - 200, budget,
				   budget + 200, 2 * budget, 10 * budget};
	uint64_t d = around[rng() % std::size(around)];
	spin_for(d ? d - 300 + rng() % 600 : 0);
}

PingPong run_pingpong(DoorbellOptions o, uint64_t n, bool stop_at_late = false)
{
	Region region = Region::create(RegionLayout()
					       .ring("ping", MKDP_DESC_ADDR, 64)
					       .ring("pong", MKDP_DESC_ADDR, 64));
	int efd[2] = {-1, -1};
	if (o.mechanism == WakeMechanism::eventfd)
		for (int &fd : efd)
			fd = make_doorbell_eventfd();
	auto opts = [&](int ring) {
		DoorbellOptions r = o;
		r.eventfd = efd[ring];
		return r;
	};
	auto consumer = [&](const char *name) {
		auto c = region.consumer<FrameAddr>(name);
		c.bounds().area_size = UINT64_MAX;
		return c;
	};
	PingPong out;
	std::atomic<bool> stop{false};
	DoorbellStats sa, sb, pa, pb;
	uint64_t bad_a = 0, bad_b = 0;

	// One side: sends (A) or answers (B). Returns when n rounds are done,
	// on stop, or when the other side fell silent for 30 watchdogs.
	auto side = [&](bool is_a, int cpu) {
		pin(cpu);
		auto in = consumer(is_a ? "pong" : "ping");
		auto outp = region.producer<FrameAddr>(is_a ? "ping" : "pong");
		Doorbell din(in, opts(is_a ? 1 : 0)), dout(outp, opts(is_a ? 0 : 1));
		std::mt19937_64 rng(is_a ? 1 : 2);
		uint64_t bad = 0, silent = 0, i = 0;
		auto send = [&](uint64_t v) {
			pause_around(rng, o.poll_budget_ns);
			FrameAddr m{v};
			while (!dout.produce(outp, &m, 1))
				cpu_relax();
		};
		if (is_a)
			send(0);
		while (i < n && !stop.load(std::memory_order_relaxed) && silent < 30) {
			if (din.wait(in, kPingPongWatchdogNs) != WaitResult::ready) {
				silent++;
				continue;
			}
			silent = 0;
			FrameAddr m;
			if (!in.consume(&m, 1))
				continue;
			bad += m.addr != i;
			if (stop_at_late && din.stats().late)
				stop = true;
			i++;
			if (!is_a || i < n)
				send(is_a ? i : m.addr);
		}
		if (i < n)
			stop = true; // the other side must not wait for what will not come
		(is_a ? sa : sb) = din.stats();
		(is_a ? pa : pb) = dout.stats();
		(is_a ? bad_a : bad_b) = bad;
		if (is_a)
			out.rounds = i;
	};
	std::thread b(side, false, 0);
	std::thread a(side, true, 1);
	a.join();
	b.join();
	for (int fd : efd)
		if (fd >= 0)
			close(fd);
	out.finished = out.rounds == n;
	out.bad = bad_a + bad_b;
	out.late = sa.late + sb.late;
	out.timeouts = sa.timeouts + sb.timeouts;
	out.sleeps = sa.sleeps + sb.sleeps;
	out.kicks = pa.kicks + pb.kicks;
	out.dropped = pa.dropped + pb.dropped;
	return out;
}

void expect_no_lost_wakeup(const PingPong &r)
{
	EXPECT_EQ(r.late, 0u) << "a sleep ran to its watchdog with work in the ring: lost wake-up";
}

void expect_pingpong_clean(const PingPong &r, uint64_t n)
{
	expect_no_lost_wakeup(r);
	EXPECT_TRUE(r.finished) << r.rounds << " of " << n << " rounds";
	EXPECT_EQ(r.bad, 0u) << "lost, duplicated or reordered messages";
	::testing::Test::RecordProperty("sleeps", std::to_string(r.sleeps));
	::testing::Test::RecordProperty("kicks", std::to_string(r.kicks));
	::testing::Test::RecordProperty("timeouts", std::to_string(r.timeouts));
}

constexpr uint64_t kPingPong = 20'000;

class DoorbellPingPong : public ::testing::TestWithParam<std::pair<DoorbellStrategy, WakeMechanism>> {
protected:
	DoorbellOptions opts() const
	{
		return {.strategy = GetParam().first, .mechanism = GetParam().second, .poll_budget_ns = 5000};
	}
};

TEST_P(DoorbellPingPong, EveryWakeUpArrives)
{
	PingPong r = run_pingpong(opts(), kPingPong);
	expect_pingpong_clean(r, kPingPong);
	// The run must have exercised the sleep path, or it proves nothing.
	EXPECT_GT(r.sleeps, kPingPong / 10);
	EXPECT_GT(r.kicks, 0u);
	EXPECT_EQ(r.dropped, 0u);
}

// The detector itself: with kicks dropped (a mutation the old stress let
// through) the ping-pong must fail. The result is kept in a static so
// EXPECT_NONFATAL_FAILURE can look at it.
PingPong g_faulty;

TEST_P(DoorbellPingPong, DetectsADroppedKick)
{
	g_doorbell_faults.drop_kick_every = 10;
	g_faulty = run_pingpong(opts(), kPingPong, true);
	g_doorbell_faults = {};
	EXPECT_GT(g_faulty.dropped, 0u);
	// It stops at the first stall: only the verdict on wake-ups counts.
	EXPECT_NONFATAL_FAILURE(expect_no_lost_wakeup(g_faulty), "lost wake-up");
}

INSTANTIATE_TEST_SUITE_P(
	All, DoorbellPingPong,
	::testing::Values(std::pair{DoorbellStrategy::interrupt, WakeMechanism::futex},
			  std::pair{DoorbellStrategy::interrupt, WakeMechanism::eventfd},
			  std::pair{DoorbellStrategy::adaptive, WakeMechanism::futex},
			  std::pair{DoorbellStrategy::adaptive, WakeMechanism::eventfd}),
	[](const auto &info) {
		return std::string(to_string(info.param.first)) + "_" + to_string(info.param.second);
	});

// The consumer's re-check after raising NEED_WAKEUP (C3) is what catches a
// message that landed while it stopped polling. Without it the ping-pong
// must stall: the window is a few tens of nanoseconds, so this runs until
// the first stall (or gives up after 10^6 rounds, and fails).
TEST(DoorbellPingPongFaults, DetectsAMissingRecheck)
{
	g_doorbell_faults.skip_recheck = true;
	g_faulty = run_pingpong({.strategy = DoorbellStrategy::adaptive, .poll_budget_ns = 5000}, 1'000'000,
				true);
	g_doorbell_faults = {};
	EXPECT_NONFATAL_FAILURE(expect_no_lost_wakeup(g_faulty), "lost wake-up");
}

// The record a consumer leaves in flags is the ABI's encoding
// (MKDP_RING_WAKE_RECORD in ring_abi/mkdp_ring.h), so a side written in C
// against the header alone reads and writes the same bits.
TEST(Doorbell, RecordsTheAbiEncoding)
{
	struct Case {
		DoorbellOptions o;
		uint32_t want;
	} cases[] = {
		{{.strategy = DoorbellStrategy::polled}, MKDP_RING_WAKE_RECORD(MKDP_WAKE_POLLED, 0)},
		{{.strategy = DoorbellStrategy::interrupt}, MKDP_RING_WAKE_RECORD(MKDP_WAKE_INTERRUPT, 0)},
		{{.strategy = DoorbellStrategy::adaptive, .mechanism = WakeMechanism::eventfd, .eventfd = 0},
		 MKDP_RING_WAKE_ATTACHED | MKDP_WAKE_ADAPTIVE << MKDP_RING_WAKE_STRATEGY_SHIFT |
			 MKDP_RING_WAKE_EVENTFD},
	};
	for (const Case &k : cases) {
		Ring ring(64);
		auto c = ring.consumer();
		c.set_need_wakeup();
		ring.ctl()->flags |= 1u << 20; // a bit of a later minor version
		Doorbell db(c, k.o);
		EXPECT_EQ(ring.ctl()->flags, k.want | 1u << 20) << to_string(k.o.strategy)
			<< ": the record replaces NEED_WAKEUP and leaves unknown bits alone";
	}
}

// Both sides of a ring must agree: a polled producer never kicks, so an
// adaptive consumer would sleep through every message.
TEST(Doorbell, RefusesAStrategyMismatch)
{
	Ring ring(64);
	auto c = ring.consumer();
	auto p = ring.producer();
	Doorbell cons(c, {.strategy = DoorbellStrategy::adaptive});
	try {
		Doorbell prod(p, {.strategy = DoorbellStrategy::polled});
		ADD_FAILURE() << "a polled producer was accepted for an adaptive consumer";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("consumer waits with adaptive/futex"), std::string::npos)
			<< e.what();
	}
	// Same strategy, other mechanism: refused too.
	EXPECT_THROW(Doorbell(p, {.strategy = DoorbellStrategy::adaptive, .mechanism = WakeMechanism::eventfd,
				  .eventfd = 0}),
		     Error);
	// A producer that attached first learns it on its next notify.
	Ring ring2(64);
	auto p2 = ring2.producer();
	auto c2 = ring2.consumer();
	Doorbell prod2(p2, {.strategy = DoorbellStrategy::polled});
	FrameAddr d{1};
	prod2.produce(p2, &d, 1); // no consumer yet: nothing to compare
	Doorbell cons2(c2, {.strategy = DoorbellStrategy::interrupt});
	EXPECT_THROW(prod2.produce(p2, &d, 1), Error);
	// The consumer's record leaves NEED_WAKEUP to the protocol.
	Doorbell ok(p, {.strategy = DoorbellStrategy::adaptive});
	EXPECT_FALSE(p.submit_and_check(0).need_wakeup());
	c.set_need_wakeup();
	EXPECT_TRUE(p.submit_and_check(0).need_wakeup());
}

// Single-threaded, so exact: the producer kicks only while the consumer
// asks for it.
TEST(DoorbellAdaptive, KicksOnlyWhenFlagged)
{
	Ring ring(64);
	auto p = ring.producer();
	auto c = ring.consumer();
	Doorbell prod(p, {.strategy = DoorbellStrategy::adaptive});
	FrameAddr d{1};
	ASSERT_EQ(prod.produce(p, &d, 1), 1u);
	EXPECT_EQ(prod.stats().kicks, 0u);
	EXPECT_EQ(prod.stats().suppressed, 1u);

	uint32_t before = __atomic_load_n(&p.control()->doorbell, __ATOMIC_RELAXED);
	c.set_need_wakeup();
	ASSERT_EQ(prod.produce(p, &d, 1), 1u);
	EXPECT_EQ(prod.stats().kicks, 1u);
	EXPECT_EQ(__atomic_load_n(&p.control()->doorbell, __ATOMIC_RELAXED), before + 1)
		<< "a futex kick must change the word before FUTEX_WAKE";
}

// A consumer whose ring is empty gets its timeout back, for every
// strategy and mechanism: the basis of every watchdog.
TEST(Doorbell, TimeoutOnEmptyRing)
{
	int efd = make_doorbell_eventfd();
	for (auto s : {DoorbellStrategy::polled, DoorbellStrategy::interrupt, DoorbellStrategy::adaptive})
		for (auto m : {WakeMechanism::futex, WakeMechanism::eventfd}) {
			Ring ring(64);
			auto c = ring.consumer();
			Doorbell db(c, {.strategy = s, .mechanism = m,
						  .poll_budget_ns = 100000, .eventfd = efd});
			uint64_t t0 = now_ns();
			EXPECT_EQ(db.wait(c, 3'000'000), WaitResult::timeout) << to_string(s) << "/" << to_string(m);
			EXPECT_GE(now_ns() - t0, 3'000'000u);
			EXPECT_EQ(db.stats().timeouts, 1u);
		}
	close(efd);
}

TEST(Doorbell, ReadyWithoutWaitingWhenRingHoldsWork)
{
	Ring ring(64);
	auto p = ring.producer();
	auto c = ring.consumer();
	FrameAddr d{7};
	p.produce(&d, 1);
	Doorbell db(c, {.strategy = DoorbellStrategy::interrupt});
	EXPECT_EQ(db.wait(c, 0), WaitResult::ready);
	EXPECT_EQ(db.stats().waits, 0u);
}

// The futex word lives in a memfd shared by two processes: the calls must
// not be process-private. A forked producer drives the parent's consumer.
TEST(Doorbell, CrossProcessFutex)
{
	for (auto s : {DoorbellStrategy::interrupt, DoorbellStrategy::adaptive}) {
		Ring ring(1024);
		constexpr uint64_t n = 1'000'000;
		DoorbellOptions o{.strategy = s, .poll_budget_ns = 2000};
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			// Child: the mapping is MAP_SHARED, inherited from the parent.
			auto p = ring.producer();
			Doorbell db(p, o);
			std::mt19937_64 rng(7);
			for (uint64_t seq = 0; seq < n;) {
				uint32_t b = uint32_t(std::min<uint64_t>(rng() % 64 + 1, n - seq)), idx;
				while (!p.reserve(b, &idx))
					cpu_relax();
				for (uint32_t i = 0; i < b; i++)
					p.slot(idx + i).addr = seq + i;
				db.submit(p, b);
				seq += b;
				if (rng() % 64 == 0)
					usleep(100); // let the consumer fall asleep
			}
			_exit(0);
		}
		auto c = ring.consumer();
		Doorbell db(c, o);
		FrameAddr buf[256];
		uint64_t got = 0, bad = 0, idle = 0;
		while (got < n && idle < 30) {
			if (db.wait(c, kWatchdogNs) != WaitResult::ready) {
				idle++; // 60 s without a message: the child died
				continue;
			}
			uint32_t k = c.consume(buf, 256);
			for (uint32_t i = 0; i < k; i++)
				bad += buf[i].addr != got + i;
			got += k;
		}
		int status = 0;
		if (got < n)
			kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		EXPECT_EQ(got, n) << to_string(s);
		EXPECT_EQ(bad, 0u) << to_string(s);
		EXPECT_EQ(db.stats().late, 0u) << to_string(s);
		EXPECT_GT(db.stats().sleeps, 0u) << to_string(s) << ": the cross-process wake path was not used";
	}
}

// The detection must say exactly what CPUID says.
TEST(DoorbellMonitor, DetectionAgreesWithCpuid)
{
	unsigned a, b, c, d;
	bool waitpkg = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 5));
	bool monitorx = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 29));
	EXPECT_EQ(cpu_features().waitpkg, waitpkg);
	EXPECT_EQ(cpu_features().monitorx, monitorx);
	EXPECT_EQ(doorbell_available(DoorbellStrategy::monitor), waitpkg || monitorx);
	if (!(waitpkg || monitorx)) {
		Ring ring(64);
		auto c = ring.consumer();
		try {
			Doorbell db(c, {.strategy = DoorbellStrategy::monitor});
			ADD_FAILURE() << "monitor doorbell built on a CPU without monitor/wait";
		} catch (const Error &e) {
			EXPECT_NE(std::string(e.what()).find("unavailable"), std::string::npos) << e.what();
		}
	}
}

TEST(DoorbellMonitor, Stress)
{
	if (!doorbell_available(DoorbellStrategy::monitor))
		GTEST_SKIP() << "monitor/wait " << user_monitor_description();
	constexpr uint64_t n = kStress;
	Pacing pace{.max_batch = 16, .delay = [](std::mt19937_64 &rng) {
			    if (rng() % 256 == 0)
				    spin_for(50000);
		    }};
	Outcome r = run_stress({.strategy = DoorbellStrategy::monitor}, n, pace);
	expect_clean(r, n);
}

TEST(Doorbell, StrategyNames)
{
	for (auto s : {DoorbellStrategy::polled, DoorbellStrategy::interrupt, DoorbellStrategy::adaptive,
		       DoorbellStrategy::monitor})
		EXPECT_EQ(parse_doorbell_strategy(to_string(s)), s);
	EXPECT_THROW(parse_doorbell_strategy("ipi"), Error);
}

TEST(Doorbell, EventfdMechanismNeedsAnEventfd)
{
	Ring ring(64);
	auto c = ring.consumer();
	EXPECT_THROW(Doorbell(c, {.strategy = DoorbellStrategy::adaptive,
					   .mechanism = WakeMechanism::eventfd}),
		     Error);
}

// The AF_XDP mapping sets real socket options on a real AF_XDP socket.
TEST(XskWakeMode, AppliesBusyPollOptions)
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		GTEST_SKIP() << "no AF_XDP sockets: " << strerror(errno);
	auto get = [fd](int opt) {
		int v = -1;
		socklen_t len = sizeof(v);
		EXPECT_EQ(getsockopt(fd, SOL_SOCKET, opt, &v, &len), 0) << strerror(errno);
		return v;
	};
	apply_xsk_wake_mode(fd, XskWakeMode::polled, {.usecs = 30, .budget = 32});
	EXPECT_EQ(get(69), 1);	// SO_PREFER_BUSY_POLL
	EXPECT_EQ(get(46), 30); // SO_BUSY_POLL
	// SO_BUSY_POLL_BUDGET (70) has no getsockopt: that it was accepted is
	// all there is to see.
	apply_xsk_wake_mode(fd, XskWakeMode::adaptive);
	EXPECT_EQ(get(69), 0);
	EXPECT_EQ(get(46), 0);
	close(fd);
	EXPECT_EQ(xsk_bind_flags(XskWakeMode::interrupt), 0u);
	EXPECT_EQ(xsk_bind_flags(XskWakeMode::adaptive), uint32_t(XDP_USE_NEED_WAKEUP));
	EXPECT_TRUE(xsk_should_kick(XskWakeMode::interrupt, false));
	EXPECT_FALSE(xsk_should_kick(XskWakeMode::adaptive, false));
	EXPECT_TRUE(xsk_should_kick(XskWakeMode::adaptive, true));
	// Busy polling: the syscall is what runs NAPI, so every empty pass kicks.
	EXPECT_TRUE(xsk_should_kick(XskWakeMode::polled, false));
}

} // namespace
} // namespace mkdp
