// SPDX-License-Identifier: BSD-2-Clause
// The frame pool as pure logic: lending to fill rings, returns and their
// checks, quotas, reclaiming a dead partition's frames, the census. No
// sockets, no root: the "kernel" and the partitions are played by the test.
#include <frame_pool.h>

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace {

using mkdp::FramePool;
using Return = FramePool::Return;

// Two partitions of 64 frames each in a 160-frame area (32 spare), both on
// queue 0 (fill ring of 32), p1 also on queue 1 (fill ring of 16).
struct Pool : ::testing::Test {
	static constexpr uint32_t kFrames = 160;
	std::vector<uint64_t> held0 = std::vector<uint64_t>(kFrames / 64 + 1, 0);
	std::vector<uint64_t> held1 = std::vector<uint64_t>(kFrames / 64 + 1, 0);
	FramePool pool{kFrames, 2};

	void SetUp() override
	{
		pool.give_range(0, 0, 64);
		pool.give_range(1, 64, 64);
		pool.set_held(0, held0.data());
		pool.set_held(1, held1.data());
		pool.add_queue(32, {0, 1});
		pool.add_queue(16, {1});
		pool.set_sources(0, {1, 0}, false);
		pool.set_sources(1, {1, 1}, false);
	}

	std::vector<uint32_t> lend(uint32_t q, uint32_t n)
	{
		std::vector<uint32_t> out(n);
		out.resize(pool.lend(q, out.data(), n));
		return out;
	}
	// The kernel delivers frame f to partition p, which holds it.
	void deliver(std::vector<uint64_t> &held, uint32_t f) { held[f / 64] |= 1ULL << (f % 64); }
	bool is_held(const std::vector<uint64_t> &held, uint32_t f) { return (held[f / 64] >> (f % 64)) & 1; }
};

TEST_F(Pool, LendsRoundRobinFromEachLendersOwnRange)
{
	std::vector<uint32_t> got = lend(0, 8);
	ASSERT_EQ(got.size(), 8u);
	for (size_t i = 0; i < got.size(); i++) {
		EXPECT_EQ(pool.owner(got[i]), i % 2) << "lender " << i % 2 << " lends its own frames";
		EXPECT_EQ(pool.state(got[i]), FramePool::FILL);
	}
	EXPECT_EQ(pool.producer(0), 8u);
	EXPECT_EQ(pool.room(0), 24u);
	// Queue 1 lends p1's frames only.
	for (uint32_t f : lend(1, 4))
		EXPECT_EQ(pool.owner(f), 1u);
}

TEST_F(Pool, NeverPostsMoreThanTheRingHolds)
{
	EXPECT_EQ(lend(0, 100).size(), 32u);
	EXPECT_EQ(pool.room(0), 0u);
	EXPECT_TRUE(lend(0, 1).empty());
	pool.consumed(0, 10);	// the kernel took ten
	EXPECT_EQ(pool.room(0), 10u);
	EXPECT_EQ(lend(0, 100).size(), 10u);
}

TEST_F(Pool, RunsOutWhenTheLendersRangesAreEmpty)
{
	// p1 alone lends on queue 1: 64 frames, then nothing.
	uint32_t total = 0;
	for (int round = 0; round < 10; round++) {
		total += uint32_t(lend(1, 16).size());
		pool.consumed(1, pool.producer(1));
	}
	EXPECT_EQ(total, 64u);
	EXPECT_EQ(pool.info(1).free, 0u);
}

TEST_F(Pool, AcceptsAReturnOfAHeldFrameOnce)
{
	std::vector<uint32_t> got = lend(0, 2);
	pool.consumed(0, 2);
	uint32_t f = got[0];
	EXPECT_EQ(pool.state(f), FramePool::OUT);
	deliver(held0, f);
	uint64_t free_before = pool.info(pool.owner(f)).free;
	EXPECT_EQ(pool.give_back(0, f), Return::accepted);
	EXPECT_EQ(pool.state(f), FramePool::FREE);
	EXPECT_FALSE(is_held(held0, f)) << "the pool clears the returner's bit";
	EXPECT_EQ(pool.info(pool.owner(f)).free, free_before + 1);
	EXPECT_EQ(pool.returned(0), 1u);
	// Twice: it is FREE now.
	EXPECT_EQ(pool.give_back(0, f), Return::not_lent);
	EXPECT_EQ(pool.info(0).refused, 1u);
	EXPECT_EQ(pool.refused(), 1u);
}

TEST_F(Pool, RefusesFramesTheReturnerDoesNotHold)
{
	std::vector<uint32_t> got = lend(0, 2);
	deliver(held1, got[0]);
	EXPECT_EQ(pool.give_back(0, got[0]), Return::not_held) << "held by p1, returned by p0";
	EXPECT_EQ(pool.give_back(0, kFrames + 7), Return::out_of_range);
	EXPECT_EQ(pool.give_back(0, kFrames - 1), Return::out_of_range) << "a spare frame is never lent";
	EXPECT_EQ(pool.state(got[0]), FramePool::FILL) << "a refused return changes nothing";
	EXPECT_EQ(pool.info(0).refused, 3u);
}

TEST_F(Pool, RefusesAFrameFromAQueueTheReturnerDoesNotReceiveFrom)
{
	std::vector<uint32_t> got = lend(1, 1);	// queue 1: p0 has no socket there
	pool.consumed(1, 1);
	deliver(held0, got[0]);
	EXPECT_EQ(pool.give_back(0, got[0]), Return::wrong_queue);
	// Unless a peer forwards to it.
	pool.set_sources(0, {1, 0}, true);
	EXPECT_EQ(pool.give_back(0, got[0]), Return::accepted);
}

TEST_F(Pool, AReturnedFrameProvesEarlierFillSlotsConsumed)
{
	std::vector<uint32_t> got = lend(0, 8);
	// The kernel published nothing yet, but frame 5 came back: slots 0..5
	// were consumed.
	deliver(held0, got[4]);
	ASSERT_EQ(pool.owner(got[4]), 0u);
	EXPECT_EQ(pool.give_back(0, got[4]), Return::accepted);
	EXPECT_EQ(pool.room(0), 32u - 8u + 5u);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(pool.state(got[i]), FramePool::OUT) << i;
	for (int i = 5; i < 8; i++)
		EXPECT_EQ(pool.state(got[i]), FramePool::FILL) << i;
}

TEST_F(Pool, ThrottlesAtTheQuotaAndReleasesAtHalf)
{
	EXPECT_EQ(pool.throttle(0, 63), FramePool::Throttle::none);
	EXPECT_EQ(pool.throttle(0, 64), FramePool::Throttle::on);
	EXPECT_TRUE(pool.throttled(0));
	EXPECT_EQ(pool.throttle(0, 64), FramePool::Throttle::none) << "once";
	EXPECT_EQ(pool.throttle(0, 33), FramePool::Throttle::none);
	EXPECT_EQ(pool.throttle(0, 32), FramePool::Throttle::off);
	EXPECT_EQ(pool.info(0).throttles, 1u);
}

TEST_F(Pool, ReclaimTakesBackWhatTheDeadHeldButNotWhatOthersHave)
{
	std::vector<uint32_t> got = lend(0, 10);
	pool.consumed(0, 10);
	// p0 died holding got[0..3]; got[4] is in its RX ring; it had
	// forwarded got[5] to p1, which holds it (p0's bit is stale).
	for (int i = 0; i < 4; i++)
		deliver(held0, got[i]);
	deliver(held0, got[5]);
	deliver(held1, got[5]);
	deliver(held1, got[6]);	// p1's own
	EXPECT_TRUE(pool.take(0, got[4]));
	EXPECT_FALSE(pool.take(0, got[4])) << "taken once";
	std::vector<uint8_t> elsewhere(kFrames, 0);
	pool.mark_held(1, elsewhere);
	EXPECT_EQ(pool.reclaim_held(0, elsewhere), 4u);
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(pool.state(got[i]), FramePool::FREE) << i;
	EXPECT_EQ(pool.state(got[5]), FramePool::OUT) << "p1 has it";
	EXPECT_EQ(pool.state(got[6]), FramePool::OUT);
	EXPECT_EQ(std::accumulate(held0.begin(), held0.end(), 0ULL), 0ULL) << "the dead one's bitmap is cleared";
	EXPECT_EQ(pool.info(0).reclaimed, 5u);
	// p1 returns what it held.
	EXPECT_EQ(pool.give_back(1, got[5]), Return::accepted);
	EXPECT_EQ(pool.give_back(1, got[6]), Return::accepted);
}

TEST_F(Pool, CensusIsExactWhenQuiet)
{
	std::vector<uint32_t> got = lend(0, 12);
	pool.consumed(0, 6);	// six out, six still on the fill ring
	deliver(held0, got[0]);
	deliver(held1, got[1]);
	// got[2] sits in p1's RX ring, got[3] on p0's forward ring to p1;
	// got[4] and got[5] are nowhere: leaked.
	FramePool::Tally t = pool.begin_tally();
	pool.mark_held(t, 0);
	pool.mark_held(t, 1);
	pool.mark(t, got[2], 1);
	pool.mark(t, got[3], 1);
	pool.mark(t, got[3], 1);	// seen twice
	pool.mark_fill_rings(t);
	pool.end_tally(t);
	EXPECT_EQ(t.spare, 32u);
	EXPECT_EQ(t.fill, 6u);
	EXPECT_EQ(t.leaked, 2u);
	EXPECT_EQ(t.seen_twice, 1u);
	EXPECT_EQ(t.in_flight, 4u);
	EXPECT_EQ(t.free, 128u - 12u);
	EXPECT_EQ(t.parts[0].in_flight, 1u);
	EXPECT_EQ(t.parts[1].in_flight, 3u);
	EXPECT_EQ(t.parts[0].fill + t.parts[1].fill, 6u);
	EXPECT_EQ(t.parts[0].leaked + t.parts[1].leaked, 2u);
}

} // namespace
