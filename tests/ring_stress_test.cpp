// SPDX-License-Identifier: BSD-2-Clause
// One small ring, its two ends on two CPUs, millions of descriptors in random
// batch sizes on both sides: every descriptor must arrive exactly once and in
// order, first between two threads, then between two processes that share
// the region only through an fd passed over a socket.
//
// Each descriptor carries its sequence number in addr/len, so the consumer
// checks order without any side channel. A watchdog turns a lost descriptor
// (the consumer would wait for ever) or a dead peer into a failure. It
// measures stalls, not speed: on a loaded machine the test only runs longer.
#include <mkdp/cpu.h>
#include <mkdp/fd_passing.h>
#include <mkdp/region.h>

#include <gtest/gtest.h>

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <thread>

#include "child_process.h"

namespace {

constexpr uint32_t kFrameSize = 4096;
constexpr uint32_t kFrames = 64;
constexpr uint32_t kEntries = 256;
constexpr uint32_t kThreadTotal = 10'000'000;
constexpr uint32_t kProcessTotal = 5'000'000;
// A side that has waited this long without any progress gives up.
constexpr uint64_t kStallNs = 20'000'000'000ull;

// Sequence number <-> a frame descriptor the consumer accepts: bits 0-5 pick
// the frame, bits 6-16 the offset inside it, bits 17-27 the length - 1, so
// offset + length < kFrameSize.
constexpr uint32_t kSeqBits = 28;
static_assert(kThreadTotal < (1u << kSeqBits) && kProcessTotal < (1u << kSeqBits));

mkdp_frame_desc encode(uint32_t seq)
{
	return {uint64_t(seq & 63) * kFrameSize + ((seq >> 6) & 2047), ((seq >> 17) & 2047) + 1, 0};
}

uint32_t decode(const mkdp_frame_desc &d)
{
	return uint32_t(d.addr / kFrameSize) | uint32_t(d.addr % kFrameSize) << 6 | (d.len - 1) << 17;
}

mkdp::RegionLayout stress_layout()
{
	mkdp::RegionLayout l;
	l.area("frames", uint64_t(kFrameSize) * kFrames, kFrameSize)
		.ring("ring", MKDP_DESC_FRAME, kEntries, "frames");
	return l;
}

// xorshift64: cheap enough not to dominate the loop it drives.
struct Rng {
	uint64_t s;
	uint64_t next()
	{
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		return s;
	}
	uint32_t batch() { return 1 + uint32_t(next() % kEntries); } // 1..entries
	uint32_t below(uint32_t n) { return uint32_t(next() % n); }
};

// Why a waiting side stops waiting, besides its own stall: the other side
// gave up (threads share `abort`), or the peer process is gone.
struct Watchdog {
	std::atomic<bool> *abort;
	std::function<bool()> peer_gone; // may be empty

	bool peer_failed() const
	{
		return abort->load(std::memory_order_relaxed) || (peer_gone && peer_gone());
	}
};

// Spin politely, yielding now and then so that both ends progress even on
// one CPU or a busy machine. wait() returns false once this side has had no
// progress for kStallNs, or the watchdog says the peer failed.
class Backoff {
public:
	void progress() noexcept { spins_ = 0, stalled_since_ = 0; }

	bool wait(const Watchdog &wd)
	{
		mkdp::cpu_relax();
		if (++spins_ % 256)
			return true;
		sched_yield();
		if (spins_ % 4096)
			return true;
		uint64_t now = mkdp::now_ns();
		if (!stalled_since_)
			stalled_since_ = now;
		if (now - stalled_since_ < kStallNs && !wd.peer_failed())
			return true;
		wd.abort->store(true);
		return false;
	}

private:
	uint32_t spins_ = 0;
	uint64_t stalled_since_ = 0;
};

// Publishes sequence numbers 0..total-1, alternating at random between
// reserve/slot/submit (all or nothing) and produce() (partial).
bool produce_all(mkdp::Producer<mkdp_frame_desc> &p, uint32_t total, uint64_t seed,
		 const Watchdog &wd)
{
	Rng rng{seed};
	Backoff backoff;
	mkdp_frame_desc buf[kEntries];
	uint32_t seq = 0;
	while (seq < total) {
		uint32_t want = std::min(rng.batch(), total - seq);
		uint32_t n = 0, idx;
		if (rng.next() & 1) {
			if (p.reserve(want, &idx) == want) {
				for (uint32_t i = 0; i < want; i++)
					p.slot(idx + i) = encode(seq + i);
				p.submit(want);
				n = want;
			}
		} else {
			for (uint32_t i = 0; i < want; i++)
				buf[i] = encode(seq + i);
			n = p.produce(buf, want);
		}
		seq += n;
		if (n)
			backoff.progress();
		else if (!backoff.wait(wd))
			return false;
	}
	return true;
}

struct Verdict {
	uint64_t delivered = 0;
	uint64_t out_of_order = 0;
	uint32_t first_expected = 0, first_got = 0; // the first out-of-order pair
	uint64_t rejected = 0, corrupt = 0;
	bool timed_out = false;

	void check(uint32_t want, const mkdp_frame_desc &d)
	{
		uint32_t got = decode(d);
		if (got != want && !out_of_order++) {
			first_expected = want;
			first_got = got;
		}
		delivered++;
	}
	bool ok(uint32_t total) const
	{
		return !timed_out && delivered == total && !out_of_order && !rejected && !corrupt;
	}
	void print(const char *who) const
	{
		std::fprintf(stderr,
			     "%s: delivered %llu, out of order %llu (first: expected %u, got %u), "
			     "rejected %llu, corrupt %llu%s\n",
			     who, (unsigned long long)delivered, (unsigned long long)out_of_order,
			     first_expected, first_got, (unsigned long long)rejected,
			     (unsigned long long)corrupt, timed_out ? ", timed out" : "");
	}
};

// Takes `total` descriptors, checking each against the next sequence number,
// with the three consumer shapes: consume(), peek/fetch/release, and a peek
// whose tail is cancelled and taken again by the next call.
Verdict consume_all(mkdp::Consumer<mkdp_frame_desc> &c, uint32_t total, uint64_t seed,
		    const Watchdog &wd)
{
	Rng rng{seed};
	Backoff backoff;
	Verdict v;
	mkdp_frame_desc buf[kEntries];
	uint32_t next = 0;
	while (next < total) {
		uint32_t want = rng.batch(), n = 0, idx;
		switch (rng.below(3)) {
		case 0:
			n = c.consume(buf, want);
			for (uint32_t i = 0; i < n; i++)
				v.check(next++, buf[i]);
			break;
		case 1:
		case 2:
			n = c.peek(want, &idx);
			if (!n)
				break;
			uint32_t keep = rng.below(3) == 2 ? 1 + rng.below(n) : n;
			for (uint32_t i = 0; i < keep; i++) {
				mkdp_frame_desc d;
				if (c.fetch(idx + i, &d) == mkdp::DescError::ok)
					v.check(next, d);
				next++;
			}
			c.cancel(n - keep);
			c.release(keep);
			break;
		}
		if (n) {
			backoff.progress();
		} else if (!backoff.wait(wd)) {
			v.timed_out = true;
			break;
		}
	}
	v.rejected = c.rejected();
	v.corrupt = c.corrupt();
	return v;
}

// Both ends get a CPU of their own when the machine has two for us.
bool have_two_cpus()
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(0, &set) &&
	       CPU_ISSET(1, &set);
}

const mkdp_ring *control(const mkdp::Region &r)
{
	return reinterpret_cast<const mkdp_ring *>(r.base() + r.entry("ring").offset);
}

} // namespace

TEST(RingStressCodec, SequenceNumbersRoundTripAndAreValid)
{
	mkdp::DescBounds b{uint64_t(kFrameSize) * kFrames, kFrameSize, 0};
	for (uint32_t seq : {0u, 1u, 63u, 64u, 12345u, (1u << 17) - 1, 1u << 17, kThreadTotal - 1,
			     (1u << kSeqBits) - 1}) {
		mkdp_frame_desc d = encode(seq);
		EXPECT_EQ(decode(d), seq);
		EXPECT_EQ(mkdp::check_desc(d, b), mkdp::DescError::ok) << seq;
	}
}

TEST(RingStress, TwoThreadsTenMillionDescriptors)
{
	mkdp::Region r = mkdp::Region::create(stress_layout());
	auto p = r.producer<mkdp_frame_desc>("ring");
	auto c = r.consumer<mkdp_frame_desc>("ring");
	const bool pin = have_two_cpus();
	std::atomic<bool> abort{false};
	const Watchdog wd{&abort, {}};

	bool produced = false;
	Verdict v;
	uint64_t t0 = mkdp::now_ns();
	std::thread prod([&] {
		if (pin)
			mkdp::pin_to_cpu(0);
		produced = produce_all(p, kThreadTotal, 0x9e3779b97f4a7c15ull, wd);
	});
	std::thread cons([&] {
		if (pin)
			mkdp::pin_to_cpu(1);
		v = consume_all(c, kThreadTotal, 0xd1b54a32d192ed03ull, wd);
	});
	prod.join();
	cons.join();
	uint64_t ns = mkdp::now_ns() - t0;

	if (!v.ok(kThreadTotal))
		v.print("consumer thread");
	EXPECT_TRUE(produced) << "the producer gave up (watchdog)";
	EXPECT_FALSE(v.timed_out) << "the consumer gave up (watchdog): descriptors lost";
	EXPECT_EQ(v.delivered, kThreadTotal);
	EXPECT_EQ(v.out_of_order, 0u) << "first: expected " << v.first_expected << ", got "
				      << v.first_got;
	EXPECT_EQ(v.rejected, 0u);
	EXPECT_EQ(v.corrupt, 0u);
	EXPECT_EQ(control(r)->producer, kThreadTotal);
	EXPECT_EQ(control(r)->consumer, kThreadTotal);
	uint32_t idx;
	EXPECT_EQ(c.peek(1, &idx), 0u) << "nothing delivered twice";
	if (!HasFailure())
		std::fprintf(stderr,
			     "two threads%s: %u descriptors in %.2f s (%.1f ns each; informational)\n",
			     pin ? " on CPUs 0 and 1" : "", kThreadTotal, ns / 1e9,
			     double(ns) / kThreadTotal);
}

TEST(RingStress, TwoProcessesFiveMillionDescriptors)
{
	mkdp::Region r = mkdp::Region::create(stress_layout());
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	const bool pin = have_two_cpus();

	// Exit statuses of the child, by what went wrong.
	enum { kOk = 0, kOutOfOrder = 2, kRejected = 3, kTimedOut = 4, kLost = 5, kBadHandover = 6 };
	int child_sock = sv[1];
	mkdp::test::Child child([=] {
		if (pin)
			mkdp::pin_to_cpu(1);
		// The child knows the region only through the fd it receives.
		mkdp::ReceivedFds in = mkdp::recv_fds(child_sock);
		if (in.payload != "mkdp-stress" || in.fds.size() != 1)
			return int(kBadHandover);
		mkdp::Region mine = mkdp::Region::open(in.fds[0]);
		close(in.fds[0]);
		auto c = mine.consumer<mkdp_frame_desc>("ring");
		std::atomic<bool> abort{false};
		Verdict v = consume_all(c, kProcessTotal, 0x2545f4914f6cdd1dull, Watchdog{&abort, {}});
		if (!v.ok(kProcessTotal))
			v.print("consumer process");
		if (v.timed_out)
			return int(kTimedOut);
		if (v.out_of_order)
			return int(kOutOfOrder);
		if (v.rejected || v.corrupt)
			return int(kRejected);
		return int(v.delivered == kProcessTotal ? kOk : kLost);
	});
	close(sv[1]);
	const int fds[] = {r.fd()};
	mkdp::send_fds(sv[0], fds, "mkdp-stress");
	close(sv[0]);

	auto p = r.producer<mkdp_frame_desc>("ring");
	std::atomic<bool> abort{false};
	const Watchdog wd{&abort, [&child] { return child.exited(); }};
	bool produced = false;
	uint64_t t0 = mkdp::now_ns();
	// On a thread of its own so that pinning leaves the test process alone.
	std::thread prod([&] {
		if (pin)
			mkdp::pin_to_cpu(0);
		produced = produce_all(p, kProcessTotal, 0x8f3c6e2a71b5d94full, wd);
	});
	prod.join();
	// The child has at most a ring to take after the producer is done,
	// or gives up itself after a stall.
	int rc = child.wait(int(kStallNs / 1000000) + 5000);
	uint64_t ns = mkdp::now_ns() - t0;

	EXPECT_TRUE(produced) << "the producer gave up: consumer gone or stuck";
	ASSERT_NE(rc, mkdp::test::Child::kTimedOut) << "the consumer process hung";
	EXPECT_EQ(rc, kOk) << "consumer process: 2 out of order, 3 rejected/corrupt, 4 watchdog, "
			      "5 lost, 6 bad fd hand-over, 100 exception, 128+n signal n";
	EXPECT_EQ(control(r)->producer, kProcessTotal);
	EXPECT_EQ(control(r)->consumer, kProcessTotal) << "the child's releases reach us";
	if (!HasFailure())
		std::fprintf(stderr,
			     "two processes%s: %u descriptors in %.2f s (%.1f ns each; informational)\n",
			     pin ? " on CPUs 0 and 1" : "", kProcessTotal, ns / 1e9,
			     double(ns) / kProcessTotal);
}
