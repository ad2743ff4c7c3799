// SPDX-License-Identifier: BSD-2-Clause
// The SPSC ring ends (Producer/Consumer over struct mkdp_ring) on one
// thread: empty and full rings, all-or-nothing reserve, free-running indices
// wrapping at 2^32, batches, cancel, the need-wakeup flag, and a consumer
// that refuses hostile producer indices and hostile descriptors.
#include <mkdp/region.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <random>
#include <vector>

namespace {

using mkdp::DescError;
using mkdp::FrameAddr;

constexpr uint32_t kFrame = 2048;
constexpr uint32_t kFrames = 32;
constexpr uint64_t kBufs = 64 * 1024;
constexpr uint64_t kSeqArea = 1 << 20; // FrameAddr sequence numbers live below this

// One region with a ring of every descriptor type.
mkdp::Region make_region()
{
	return mkdp::Region::create(mkdp::RegionLayout()
					    .area("frames", kFrame * kFrames, kFrame)
					    .area("bufs", kBufs)
					    .area("seq", kSeqArea)
					    .ring("rx", MKDP_DESC_FRAME, 8, "frames")
					    .ring("fill", MKDP_DESC_ADDR, 8, "frames")
					    .ring("big", MKDP_DESC_ADDR, 512, "seq")
					    .ring("sq", MKDP_DESC_SREQ, 16, "bufs")
					    // Larger than sq on purpose: completion tags are
					    // bounded by the request ring.
					    .ring("cq", MKDP_DESC_SCPL, 64, "bufs"));
}

mkdp_ring *control(const mkdp::Region &r, const char *ring)
{
	return reinterpret_cast<mkdp_ring *>(r.base() + r.entry(ring).offset);
}

// Puts both indices of an unused ring at `start`, as a ring that has
// already carried that many descriptors would have them.
void start_at(const mkdp::Region &r, const char *ring, uint32_t start)
{
	control(r, ring)->producer = start;
	control(r, ring)->consumer = start;
}

class Ring : public ::testing::Test {
protected:
	mkdp::Region r = make_region();
};

} // namespace

TEST_F(Ring, EmptyPeekReturnsZero)
{
	auto c = r.consumer<FrameAddr>("fill");
	uint32_t idx = 12345;
	EXPECT_EQ(c.peek(1, &idx), 0u);
	EXPECT_EQ(c.peek(8, &idx), 0u);
	EXPECT_EQ(idx, 12345u) << "an empty peek leaves idx alone";
	FrameAddr out[8];
	uint32_t taken = 99;
	EXPECT_EQ(c.consume(out, 8, &taken), 0u);
	EXPECT_EQ(taken, 0u);
	EXPECT_EQ(control(r, "fill")->consumer, 0u);

	auto p = r.producer<FrameAddr>("fill");
	FrameAddr a[3] = {{1}, {2}, {3}};
	ASSERT_EQ(p.produce(a, 3), 3u);
	EXPECT_EQ(c.peek(8, &idx), 3u) << "peek returns what is there, up to nb";
	EXPECT_EQ(idx, 0u);
	EXPECT_EQ(c.peek(8, &idx), 0u);
}

TEST_F(Ring, FullRingReserveIsAllOrNothing)
{
	auto p = r.producer<FrameAddr>("fill");
	auto c = r.consumer<FrameAddr>("fill");
	ASSERT_EQ(p.entries(), 8u);
	uint32_t idx = 0;

	EXPECT_EQ(p.reserve(9, &idx), 0u) << "more than the ring holds";
	ASSERT_EQ(p.reserve(5, &idx), 5u);
	EXPECT_EQ(idx, 0u);
	EXPECT_EQ(p.reserve(4, &idx), 0u) << "only 3 left: nothing is reserved";
	ASSERT_EQ(p.reserve(3, &idx), 3u);
	EXPECT_EQ(idx, 5u);
	for (uint32_t i = 0; i < 8; i++)
		p.slot(i).addr = 100 + i;
	p.submit(8);
	EXPECT_EQ(control(r, "fill")->producer, 8u);
	EXPECT_EQ(p.reserve(1, &idx), 0u) << "exactly `entries` slots are usable";
	EXPECT_EQ(p.free_entries(1), 0u);

	// produce() is the partial variant: it copies what fits.
	FrameAddr more[4] = {{200}, {201}, {202}, {203}};
	EXPECT_EQ(p.produce(more, 4), 0u);

	// Releasing one slot frees exactly one.
	uint32_t ci;
	ASSERT_EQ(c.peek(1, &ci), 1u);
	c.release(1);
	EXPECT_EQ(p.reserve(2, &idx), 0u);
	EXPECT_EQ(p.produce(more, 4), 1u);

	// The consumer reads the producer index again only when its cached
	// view is empty, so draining may take two calls.
	FrameAddr out[16];
	uint32_t n = 0;
	for (int i = 0; i < 3 && n < 8; i++)
		n += c.consume(out + n, 16 - n);
	ASSERT_EQ(n, 8u);
	for (uint32_t i = 0; i < 7; i++)
		EXPECT_EQ(out[i].addr, 101 + i);
	EXPECT_EQ(out[7].addr, 200u);
	EXPECT_EQ(p.free_entries(8), 8u);
}

// Producer and consumer words set near UINT32_MAX before the ends attach:
// full and empty must still be told apart across the wrap, and order kept.
TEST_F(Ring, FreeRunningIndicesWrapAt2To32)
{
	const uint32_t start = UINT32_MAX - 2;
	start_at(r, "fill", start);
	auto p = r.producer<FrameAddr>("fill");
	auto c = r.consumer<FrameAddr>("fill");
	uint32_t idx, ci;

	EXPECT_EQ(c.peek(1, &ci), 0u) << "equal indices: empty, even at the wrap";
	ASSERT_EQ(p.reserve(8, &idx), 8u) << "equal indices: all free, even at the wrap";
	EXPECT_EQ(idx, start);
	for (uint32_t i = 0; i < 8; i++)
		p.slot(idx + i).addr = i;
	p.submit(8);
	EXPECT_EQ(control(r, "fill")->producer, 5u) << "wrapped past 2^32";
	EXPECT_EQ(p.reserve(1, &idx), 0u) << "full across the wrap";

	ASSERT_EQ(c.peek(8, &ci), 8u);
	EXPECT_EQ(ci, start);
	for (uint32_t i = 0; i < 8; i++) {
		FrameAddr a;
		ASSERT_EQ(c.fetch(ci + i, &a), DescError::ok);
		EXPECT_EQ(a.addr, i);
	}
	c.release(8);
	EXPECT_EQ(control(r, "fill")->consumer, 5u);

	// Keep going well past the wrap with odd batches.
	uint32_t sent = 8, got = 8;
	while (got < 1000) {
		FrameAddr in[3] = {{sent}, {sent + 1}, {sent + 2}};
		sent += p.produce(in, 3);
		FrameAddr out[5];
		uint32_t n = c.consume(out, 5);
		for (uint32_t i = 0; i < n; i++)
			ASSERT_EQ(out[i].addr, got++);
	}
	EXPECT_EQ(c.rejected(), 0u);
	EXPECT_EQ(c.corrupt(), 0u);
}

// Batches of 1, 3, 16, 64, 256 and the whole ring, through both producer
// APIs and both consumer APIs, starting at 0 and just before the wrap.
class RingBatch : public ::testing::TestWithParam<std::tuple<uint32_t, uint32_t>> {};

TEST_P(RingBatch, DeliversEverythingInOrder)
{
	auto [batch, start] = GetParam();
	mkdp::Region r = make_region();
	start_at(r, "big", start);
	auto p = r.producer<FrameAddr>("big");
	auto c = r.consumer<FrameAddr>("big");
	ASSERT_LE(batch, p.entries());
	const uint32_t total = 20 * 512 + 7;
	uint32_t sent = 0, got = 0, refused = 0, rounds = 0;
	std::vector<FrameAddr> buf(batch);

	while (got < total) {
		ASSERT_LT(++rounds, 10 * total) << "no progress";
		uint32_t want = std::min(batch, total - sent);
		uint32_t idx;
		if (rounds & 1) {
			// reserve/slot/submit; a refused reserve must leave
			// nothing behind, so the next one starts at the same index.
			if (want && p.reserve(want, &idx) == want) {
				EXPECT_EQ(idx, start + sent);
				for (uint32_t i = 0; i < want; i++)
					p.slot(idx + i).addr = sent + i;
				p.submit(want);
				sent += want;
			} else if (want) {
				refused++;
			}
		} else {
			for (uint32_t i = 0; i < want; i++)
				buf[i].addr = sent + i;
			uint32_t n = p.produce(buf.data(), want);
			refused += n < want;
			sent += n;
		}
		// Drain in two different shapes, leaving the ring part full so
		// the producer meets a full ring (2/3 of the time).
		if (rounds % 3 == 0)
			continue;
		if (rounds & 2) {
			uint32_t n = c.consume(buf.data(), batch);
			for (uint32_t i = 0; i < n; i++)
				ASSERT_EQ(buf[i].addr, got++);
		} else {
			uint32_t n = c.peek(batch, &idx);
			if (n) {
				EXPECT_EQ(idx, start + got);
			}
			for (uint32_t i = 0; i < n; i++) {
				FrameAddr a;
				ASSERT_EQ(c.fetch(idx + i, &a), DescError::ok);
				ASSERT_EQ(a.addr, got++);
			}
			c.release(n);
		}
	}
	EXPECT_EQ(sent, total);
	EXPECT_EQ(control(r, "big")->producer, start + total);
	EXPECT_EQ(control(r, "big")->consumer, start + total);
	EXPECT_EQ(c.rejected(), 0u);
	EXPECT_EQ(c.corrupt(), 0u);
	EXPECT_GT(refused, 0u) << "the test never met a full ring";
}

INSTANTIATE_TEST_SUITE_P(, RingBatch,
			 ::testing::Combine(::testing::Values(1u, 3u, 16u, 64u, 256u, 512u),
					    ::testing::Values(0u, UINT32_MAX - 3000)),
			 [](const auto &info) {
				 return "batch" + std::to_string(std::get<0>(info.param)) +
					(std::get<1>(info.param) ? "_wrapping" : "");
			 });

TEST_F(Ring, CancelHandsSlotsBackForTheNextPeek)
{
	auto p = r.producer<FrameAddr>("fill");
	auto c = r.consumer<FrameAddr>("fill");
	FrameAddr in[5] = {{10}, {11}, {12}, {13}, {14}};
	ASSERT_EQ(p.produce(in, 5), 5u);

	uint32_t idx;
	ASSERT_EQ(c.peek(4, &idx), 4u);
	FrameAddr a;
	ASSERT_EQ(c.fetch(idx, &a), DescError::ok);
	ASSERT_EQ(c.fetch(idx + 1, &a), DescError::ok);
	c.cancel(2);
	c.release(2);
	EXPECT_EQ(control(r, "fill")->consumer, 2u) << "only the fetched slots are released";

	ASSERT_EQ(c.peek(8, &idx), 3u);
	EXPECT_EQ(idx, 2u);
	for (uint32_t i = 0; i < 3; i++) {
		ASSERT_EQ(c.fetch(idx + i, &a), DescError::ok);
		EXPECT_EQ(a.addr, 12 + i);
	}
	c.cancel(3);
	EXPECT_EQ(c.peek(8, &idx), 3u) << "cancelling a whole peek re-delivers it";
	c.release(3);
	EXPECT_EQ(control(r, "fill")->consumer, 5u);
}

TEST_F(Ring, ConsumeCountsAndSkipsRejected)
{
	auto p = r.producer<mkdp_frame_desc>("rx");
	auto c = r.consumer<mkdp_frame_desc>("rx");
	const mkdp_frame_desc in[7] = {
		{0, 60, 0},
		{kFrame * kFrames, 60, 0},	// outside the area
		{kFrame, 1500, MKDP_FRAME_OPT_CONTD},
		{2 * kFrame, 0, 0},		// empty
		{3 * kFrame + 100, kFrame, 0},	// crosses into the next frame
		{4 * kFrame, kFrame, 0},
		{5 * kFrame, 64, 1u << 7},	// unknown option
	};
	ASSERT_EQ(p.produce(in, 7), 7u);
	mkdp_frame_desc out[8];
	uint32_t taken = 0;
	ASSERT_EQ(c.consume(out, 8, &taken), 3u);
	EXPECT_EQ(taken, 7u) << "rejected slots are consumed too";
	EXPECT_EQ(c.rejected(), 4u);
	EXPECT_EQ(out[0].addr, 0u);
	EXPECT_EQ(out[1].addr, kFrame);
	EXPECT_EQ(out[1].options, MKDP_FRAME_OPT_CONTD);
	EXPECT_EQ(out[2].addr, 4 * kFrame);
	EXPECT_EQ(control(r, "rx")->consumer, 7u) << "and handed back to the producer";
	EXPECT_EQ(p.free_entries(8), 8u);
}

// A producer index more than `entries` ahead of the consumer (or behind it)
// is impossible: the consumer delivers nothing and counts it.
TEST_F(Ring, HostileProducerIndexIsCorruptAndDeliversNothing)
{
	mkdp_ring *ctl = control(r, "fill");
	auto c = r.consumer<FrameAddr>("fill");
	uint32_t idx;
	for (uint32_t bad : {9u, 1000u, UINT32_MAX, 0x80000000u}) {
		ctl->producer = bad;
		EXPECT_EQ(c.peek(8, &idx), 0u) << "producer " << bad;
	}
	EXPECT_EQ(c.corrupt(), 4u);
	EXPECT_EQ(ctl->consumer, 0u);

	// Exactly a ring ahead is a full ring, not corruption.
	ctl->producer = 8;
	EXPECT_EQ(c.peek(16, &idx), 8u);
	EXPECT_EQ(c.corrupt(), 4u);
	c.release(8);
}

// Slots peeked and not yet released are still the consumer's: a producer
// index a ring ahead of what was released but not of what was peeked is
// corrupt, or those slots would come out a second time as new entries
// (found by tests/fuzz ring_consumer).
TEST_F(Ring, HostileProducerIndexPastSlotsStillHeld)
{
	mkdp_ring *ctl = control(r, "fill");
	auto c = r.consumer<FrameAddr>("fill");
	uint32_t idx;
	ctl->producer = 8;
	EXPECT_EQ(c.peek(8, &idx), 8u);	// all eight held, none released
	ctl->producer = 12;
	EXPECT_EQ(c.peek(8, &idx), 0u);
	EXPECT_EQ(c.corrupt(), 1u);
	c.release(8);
	EXPECT_EQ(c.peek(8, &idx), 4u);	// sane once the slots are handed back
	EXPECT_EQ(idx, 8u);
}

TEST_F(Ring, HostileProducerIndexBeforeTheConsumerAttaches)
{
	// A consumer attaching to a ring the other side already poisoned.
	control(r, "fill")->producer = 1000;
	auto c = r.consumer<FrameAddr>("fill");
	uint32_t idx;
	EXPECT_EQ(c.peek(8, &idx), 0u);
	EXPECT_EQ(c.corrupt(), 1u);
	FrameAddr out[8];
	EXPECT_EQ(c.consume(out, 8), 0u);
	EXPECT_EQ(control(r, "fill")->consumer, 0u);

	// Once the producer index is sane again, the ring works.
	control(r, "fill")->producer = 2;
	EXPECT_EQ(c.peek(8, &idx), 2u);
}

// The mirror image: the producer refuses a consumer index that moved
// backwards or past what was published. Trusting one written backwards by a
// ring would make ~2^32 slots look free and overwrite unread ones.
TEST_F(Ring, HostileConsumerIndexIsCorruptAndReservesNothing)
{
	mkdp_ring *ctl = control(r, "fill");
	auto p = r.producer<FrameAddr>("fill");
	FrameAddr in[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
	ASSERT_EQ(p.produce(in, 8), 8u);
	auto c = r.consumer<FrameAddr>("fill");
	uint32_t idx, ci;
	ASSERT_EQ(c.peek(3, &ci), 3u);
	c.release(3); // consumer = 3: three slots are free

	FrameAddr more[8] = {{100}, {101}, {102}, {103}, {104}, {105}, {106}, {107}};
	ASSERT_EQ(p.produce(more, 1), 1u); // producer = 9, consumer seen = 3
	uint64_t corrupt = 0;
	// Backwards (by one, by a ring, to 2^32 - 1), ahead of the producer.
	for (uint32_t bad : {2u, 0u, UINT32_MAX, 10u, 1000u, 0x80000000u}) {
		ctl->consumer = bad;
		EXPECT_EQ(p.reserve(3, &idx), 0u) << "consumer " << bad;
		EXPECT_EQ(p.produce(more, 8), 0u) << "consumer " << bad;
		EXPECT_EQ(p.free_entries(8), 0u) << "consumer " << bad;
		corrupt += 3;
		EXPECT_EQ(p.corrupt(), corrupt) << "consumer " << bad;
	}
	EXPECT_EQ(ctl->producer, 9u) << "nothing was published";
	// The unread slots still hold what was written before.
	ctl->consumer = 3;
	c = r.consumer<FrameAddr>("fill");
	FrameAddr out[8];
	ASSERT_EQ(c.consume(out, 8), 6u);
	for (uint32_t i = 0; i < 5; i++)
		EXPECT_EQ(out[i].addr, 3 + i);
	EXPECT_EQ(out[5].addr, 100u);

	// A sane index again: all of it is free, and the count stays.
	EXPECT_EQ(p.reserve(8, &idx), 8u);
	EXPECT_EQ(idx, 9u);
	EXPECT_EQ(p.corrupt(), corrupt);
	// Exactly `entries` behind the producer is a full ring, not corruption.
	p.submit(8);
	EXPECT_EQ(p.free_entries(1), 0u);
	EXPECT_EQ(p.corrupt(), corrupt);
}

TEST_F(Ring, HostileConsumerIndexBeforeTheProducerAttaches)
{
	// A producer attaching to a ring the other side already poisoned:
	// consumer ahead of producer would otherwise read as 1000 free slots.
	control(r, "fill")->consumer = 1000;
	auto p = r.producer<FrameAddr>("fill");
	uint32_t idx;
	EXPECT_EQ(p.reserve(1, &idx), 0u);
	EXPECT_EQ(p.corrupt(), 1u);
	EXPECT_EQ(control(r, "fill")->producer, 0u);

	// Once the consumer index is sane again, the ring works.
	control(r, "fill")->consumer = 0;
	EXPECT_EQ(p.reserve(8, &idx), 8u);
	EXPECT_EQ(idx, 0u);
	EXPECT_EQ(p.corrupt(), 1u);
}

TEST_F(Ring, AttachToRingInUseStartsFromSharedIndices)
{
	{
		auto p = r.producer<FrameAddr>("fill");
		FrameAddr in[3] = {{7}, {8}, {9}};
		ASSERT_EQ(p.produce(in, 3), 3u);
	}
	// A restarted producer continues where the last one stopped.
	auto p = r.producer<FrameAddr>("fill");
	EXPECT_EQ(p.free_entries(8), 5u);
	FrameAddr x{10};
	ASSERT_EQ(p.produce(&x, 1), 1u);
	auto c = r.consumer<FrameAddr>("fill");
	FrameAddr out[8];
	ASSERT_EQ(c.consume(out, 8), 4u);
	EXPECT_EQ(out[0].addr, 7u);
	EXPECT_EQ(out[3].addr, 10u);
}

TEST_F(Ring, NeedWakeupSeenByProducer)
{
	auto p = r.producer<FrameAddr>("fill");
	auto c = r.consumer<FrameAddr>("fill");
	EXPECT_FALSE(p.submit_and_check(0).need_wakeup());
	c.set_need_wakeup();
	EXPECT_TRUE(p.submit_and_check(0).need_wakeup());
	EXPECT_EQ(control(r, "fill")->flags, MKDP_RING_NEED_WAKEUP);
	c.set_need_wakeup();
	EXPECT_TRUE(p.submit_and_check(0).need_wakeup()) << "setting twice is harmless";
	c.clear_need_wakeup();
	EXPECT_FALSE(p.submit_and_check(0).need_wakeup());
	EXPECT_EQ(control(r, "fill")->flags, 0u);

	// Unknown flag bits belong to future ABI versions: clearing ours
	// leaves them alone.
	control(r, "fill")->flags = 1u << 5;
	EXPECT_FALSE(p.submit_and_check(0).need_wakeup());
	c.set_need_wakeup();
	EXPECT_TRUE(p.submit_and_check(0).need_wakeup());
	c.clear_need_wakeup();
	EXPECT_EQ(control(r, "fill")->flags, 1u << 5);
}

// ------------------------------------------------------------ descriptor checks

namespace {

template <class D> struct Verdict {
	const char *what;
	D desc;
	DescError want;
};

// Pushes every case through a real ring and checks what the consumer
// says about each, and that exactly the refused ones are counted.
template <class D>
void expect_verdicts(mkdp::Producer<D> &p, mkdp::Consumer<D> &c, const std::vector<Verdict<D>> &cases)
{
	uint64_t refused = c.rejected();
	for (const auto &v : cases) {
		ASSERT_EQ(p.produce(&v.desc, 1), 1u);
		uint32_t idx = 0;
		ASSERT_EQ(c.peek(1, &idx), 1u);
		D out;
		DescError got = c.fetch(idx, &out);
		EXPECT_EQ(got, v.want) << v.what << ": got '" << mkdp::to_string(got) << "', want '"
				       << mkdp::to_string(v.want) << "'";
		EXPECT_EQ(std::memcmp(&out, &v.desc, sizeof(D)), 0) << v.what << ": fetch copies";
		c.release(1);
		if (v.want != DescError::ok)
			refused++;
	}
	EXPECT_EQ(c.rejected(), refused);
}

} // namespace

TEST_F(Ring, FrameDescriptorChecks)
{
	auto p = r.producer<mkdp_frame_desc>("rx");
	auto c = r.consumer<mkdp_frame_desc>("rx");
	const uint64_t area = kFrame * kFrames;
	expect_verdicts<mkdp_frame_desc>(
		p, c,
		{
			{"whole first frame", {0, kFrame, 0}, DescError::ok},
			{"tail of last frame", {area - 1, 1, 0}, DescError::ok},
			{"continued", {kFrame + 14, 1500, MKDP_FRAME_OPT_CONTD}, DescError::ok},
			{"addr at end of area", {area, 1, 0}, DescError::out_of_area},
			{"addr far outside", {area * 1000, 64, 0}, DescError::out_of_area},
			{"addr+len overflows", {UINT64_MAX - 10, 100, 0}, DescError::out_of_area},
			{"addr+len overflows to 0", {UINT64_MAX, 1, 0}, DescError::out_of_area},
			{"crosses a frame", {kFrame - 10, 11, 0}, DescError::crosses_frame},
			{"longer than a frame", {0, kFrame + 1, 0}, DescError::crosses_frame},
			{"len 0", {kFrame, 0, 0}, DescError::bad_len},
			{"unknown option", {0, 64, 1u << 1}, DescError::bad_flags},
			{"all options", {0, 64, UINT32_MAX}, DescError::bad_flags},
		});
}

TEST_F(Ring, FrameAddrChecks)
{
	auto p = r.producer<FrameAddr>("fill");
	auto c = r.consumer<FrameAddr>("fill");
	const uint64_t area = kFrame * kFrames;
	expect_verdicts<FrameAddr>(p, c,
				   {
					   {"first", {0}, DescError::ok},
					   {"inside a frame", {kFrame + 17}, DescError::ok},
					   {"last byte", {area - 1}, DescError::ok},
					   {"end of area", {area}, DescError::out_of_area},
					   {"huge", {UINT64_MAX}, DescError::out_of_area},
				   });
}

TEST_F(Ring, StorageRequestChecks)
{
	auto p = r.producer<mkdp_sreq_desc>("sq");
	auto c = r.requests("sq", 4); // the worker serves volumes 0..3
	ASSERT_EQ(c.bounds().max_tag, 16u) << "tags bounded by the ring size";
	ASSERT_EQ(c.bounds().max_volume, 4u);
	using S = mkdp_sreq_desc;
	auto rq = [](uint16_t op, uint16_t flags, uint32_t tag, uint64_t buf, uint32_t len,
		     uint32_t vol) { return S{op, flags, tag, 1234, buf, len, vol}; };
	expect_verdicts<S>(
		p, c,
		{
			{"read", rq(MKDP_SOP_READ, 0, 0, 0, 4096, 0), DescError::ok},
			{"write fua", rq(MKDP_SOP_WRITE, MKDP_SREQ_F_FUA, 15, kBufs - 512, 512, 3),
			 DescError::ok},
			{"flush ignores buf and len", rq(MKDP_SOP_FLUSH, 0, 1, UINT64_MAX, 0, 0), DescError::ok},
			{"discard", rq(MKDP_SOP_DISCARD, 0, 2, UINT64_MAX, 1 << 20, 0), DescError::ok},
			{"write zeroes ignores buf", rq(MKDP_SOP_WRITE_ZEROES, 0, 3, UINT64_MAX, 1 << 20, 1),
			 DescError::ok},
			{"write zeroes len 0", rq(MKDP_SOP_WRITE_ZEROES, 0, 3, 0, 0, 0), DescError::ok},
			{"write zeroes fua", rq(MKDP_SOP_WRITE_ZEROES, MKDP_SREQ_F_FUA, 3, 0, 512, 0), DescError::ok},
			{"op past max", rq(MKDP_SOP_MAX + 1, 0, 0, 0, 512, 0), DescError::bad_op},
			{"op 0xffff", rq(0xffff, 0, 0, 0, 512, 0), DescError::bad_op},
			{"unknown flag", rq(MKDP_SOP_READ, 1u << 3, 0, 0, 512, 0), DescError::bad_flags},
			{"tag == entries", rq(MKDP_SOP_READ, 0, 16, 0, 512, 0), DescError::bad_tag},
			{"tag huge", rq(MKDP_SOP_READ, 0, UINT32_MAX, 0, 512, 0), DescError::bad_tag},
			{"volume == max", rq(MKDP_SOP_READ, 0, 0, 0, 512, 4), DescError::bad_volume},
			{"read len 0", rq(MKDP_SOP_READ, 0, 0, 0, 0, 0), DescError::bad_len},
			{"write len 0", rq(MKDP_SOP_WRITE, 0, 0, 0, 0, 0), DescError::bad_len},
			{"read len 1000", rq(MKDP_SOP_READ, 0, 0, 0, 1000, 0), DescError::bad_len},
			{"write len 513", rq(MKDP_SOP_WRITE, 0, 0, 0, 513, 0), DescError::bad_len},
			{"discard len 100", rq(MKDP_SOP_DISCARD, 0, 0, 0, 100, 0), DescError::bad_len},
			{"write zeroes len 513", rq(MKDP_SOP_WRITE_ZEROES, 0, 0, 0, 513, 0), DescError::bad_len},
			{"buf past area", rq(MKDP_SOP_READ, 0, 0, kBufs - 512, 1024, 0), DescError::out_of_area},
			{"buf at end", rq(MKDP_SOP_WRITE, 0, 0, kBufs, 512, 0), DescError::out_of_area},
			{"buf+len overflows", rq(MKDP_SOP_WRITE, 0, 0, UINT64_MAX - 511, 1024, 0),
			 DescError::out_of_area},
		});
}

TEST_F(Ring, StorageCompletionChecks)
{
	auto p = r.producer<mkdp_scpl_desc>("cq");
	auto c = r.completions("cq", "sq");
	ASSERT_EQ(c.entries(), 64u);
	ASSERT_EQ(c.bounds().max_tag, 16u) << "tags of the request ring, not of cq";
	using C = mkdp_scpl_desc;
	expect_verdicts<C>(p, c,
			   {
				   {"success", C{0, 0, 4096, 0}, DescError::ok},
				   {"EIO", C{15, -5, 0, 0}, DescError::ok},
				   {"largest errno", C{3, -4095, 0, 0}, DescError::ok},
				   {"tag == request entries", C{16, 0, 0, 0}, DescError::bad_tag},
				   {"tag < cq entries", C{63, 0, 0, 0}, DescError::bad_tag},
				   {"tag huge", C{UINT32_MAX, 0, 0, 0}, DescError::bad_tag},
				   {"positive status", C{0, 1, 0, 0}, DescError::bad_status},
				   {"status -4096", C{0, -4096, 0, 0}, DescError::bad_status},
				   {"status INT_MIN", C{0, INT32_MIN, 0, 0}, DescError::bad_status},
				   {"reserved set", C{0, 0, 0, 1}, DescError::bad_flags},
			   });
}

// The storage limits are not in the region table. A consumer must be told
// them, and one that was not refuses everything rather than anything goes.
TEST_F(Ring, StorageLimitsComeFromTheCallerAndFailClosed)
{
	const mkdp_sreq_desc read0{MKDP_SOP_READ, 0, 0, 0, 0, 512, 0};
	EXPECT_EQ(mkdp::check_desc(read0, mkdp::DescBounds{}), DescError::bad_tag);
	mkdp::DescBounds b = r.bounds(r.entry("sq"));
	EXPECT_EQ(b.max_tag, 16u);
	EXPECT_EQ(mkdp::check_desc(read0, b), DescError::bad_volume)
		<< "no volumes configured: no volume is valid";
	EXPECT_EQ(r.bounds(r.entry("cq")).max_tag, 0u) << "unpaired completion ring";
	const mkdp_scpl_desc done{0, 0, 512, 0};
	EXPECT_EQ(mkdp::check_desc(done, r.bounds(r.entry("cq"))),
		  DescError::bad_tag);

	auto msg = [](auto &&fn) -> std::string {
		try {
			fn();
		} catch (const mkdp::Error &e) {
			return e.what();
		}
		return "(no error)";
	};
	EXPECT_NE(msg([&] { r.requests("sq", 0); }).find("at least one volume"), std::string::npos);
	EXPECT_NE(msg([&] { r.requests("cq", 1); }).find("holds descriptor type 3, not 2"),
		  std::string::npos);
	EXPECT_NE(msg([&] { r.completions("cq", "rx"); }).find("ring 'rx' holds descriptor type 1, not 2"),
		  std::string::npos)
		<< "completions answer a request ring";
	EXPECT_NE(msg([&] { r.completions("sq", "sq"); }).find("holds descriptor type 2, not 3"),
		  std::string::npos);
}

// Each descriptor type has one rule, DescTraits<D>::faults(), written
// without a branch per test so that fetch_batch() can judge a whole batch
// with one test. The rules below are the spec (docs/ring-abi.md, section 3)
// written the plain way, one branch per sentence; the branch-free rule must
// give the same verdict, and the same first error, on every descriptor:
// edge values around every bound, overflows, and random ones, under several
// bounds. A descriptor the branch-free rule passed by mistake would be
// delivered unchecked.
namespace {

DescError spec_frame(const mkdp_frame_desc &d, const mkdp::DescBounds &b)
{
	if (d.options & ~MKDP_FRAME_OPT_CONTD)
		return DescError::bad_flags;
	if (d.len == 0)
		return DescError::bad_len;
	if (!mkdp::in_area(d.addr, d.len, b.area_size))
		return DescError::out_of_area;
	if (b.frame_size && (d.addr & (b.frame_size - 1)) + d.len > b.frame_size)
		return DescError::crosses_frame;
	return DescError::ok;
}

DescError spec_sreq(const mkdp_sreq_desc &d, const mkdp::DescBounds &b)
{
	if (d.op > MKDP_SOP_MAX)
		return DescError::bad_op;
	if (d.flags & ~MKDP_SREQ_F_FUA)
		return DescError::bad_flags;
	if (d.tag >= b.max_tag)
		return DescError::bad_tag;
	if (d.volume >= b.max_volume)
		return DescError::bad_volume;
	if (d.op == MKDP_SOP_READ || d.op == MKDP_SOP_WRITE) {
		if (d.len == 0 || d.len % MKDP_SECTOR_SIZE)
			return DescError::bad_len;
		if (!mkdp::in_area(d.buf, d.len, b.area_size))
			return DescError::out_of_area;
	} else if ((d.op == MKDP_SOP_DISCARD || d.op == MKDP_SOP_WRITE_ZEROES) && d.len % MKDP_SECTOR_SIZE) {
		return DescError::bad_len;
	}
	return DescError::ok;
}

DescError spec_scpl(const mkdp_scpl_desc &d, const mkdp::DescBounds &b)
{
	if (d.reserved)
		return DescError::bad_flags;
	if (d.tag >= b.max_tag)
		return DescError::bad_tag;
	if (d.status > 0 || d.status < -4095)
		return DescError::bad_status;
	return DescError::ok;
}

// Values a hostile or buggy producer would try around `bound`.
void edges(std::vector<uint64_t> &v, uint64_t bound)
{
	for (uint64_t d : {0ull, 1ull, 2ull, 63ull, 64ull})
		v.insert(v.end(), {bound + d, bound - d});
}

// Counts cases and refusals; reports the first disagreement.
struct Agreement {
	uint64_t cases = 0, refused = 0;
	template <class D, class Spec>
	bool operator()(const D &d, const mkdp::DescBounds &b, Spec spec, const std::string &what)
	{
		DescError want = spec(d, b), got = mkdp::check_desc(d, b);
		cases++;
		refused += want != DescError::ok;
		if (want != got)
			ADD_FAILURE() << what << ": the spec says " << to_string(want) << ", check_desc() "
				      << to_string(got);
		return want == got;
	}
};

std::string describe(const mkdp_frame_desc &d, const mkdp::DescBounds &b)
{
	return "addr " + std::to_string(d.addr) + " len " + std::to_string(d.len) + " options " +
	       std::to_string(d.options) + " area " + std::to_string(b.area_size) + " frame " +
	       std::to_string(b.frame_size);
}

} // namespace

TEST(DescRule, FrameRuleMatchesTheSpec)
{
	const mkdp::DescBounds all[] = {
		{kFrame * kFrames, kFrame},
		{kBufs, 0},
		{4096, 4096},
		{UINT64_MAX, 0},
		{UINT64_MAX & ~uint64_t(4095), 4096},
		{uint64_t(1) << 40, 1u << 31},
		{0, 0},
		{0, 2048},
	};
	std::mt19937_64 rng{0x9e3779b97f4a7c15ull};
	Agreement agree;
	for (const mkdp::DescBounds &b : all) {
		std::vector<uint64_t> addrs, lens;
		for (uint64_t x : {uint64_t(0), b.area_size, uint64_t(b.frame_size), uint64_t(UINT32_MAX),
				   uint64_t(1) << 32, uint64_t(1) << 63, uint64_t(UINT64_MAX)})
			edges(addrs, x);
		for (uint64_t k = 1; k < 4; k++)
			edges(addrs, b.area_size - k * b.frame_size);
		for (uint64_t x : {uint64_t(0), uint64_t(b.frame_size), uint64_t(60), uint64_t(UINT32_MAX)})
			edges(lens, x);
		const uint32_t opts[] = {0, MKDP_FRAME_OPT_CONTD, 2, 1u << 31, UINT32_MAX};
		auto one = [&](const mkdp_frame_desc &d) { return agree(d, b, spec_frame, describe(d, b)); };
		// Every combination of edge values ...
		for (uint64_t a : addrs)
			for (uint64_t l : lens)
				for (uint32_t o : opts)
					ASSERT_TRUE(one({a, uint32_t(l), o}));
		// ... then random ones, half of them near the edges.
		for (int i = 0; i < 200000; i++) {
			uint64_t a = rng(), l = rng();
			if (i & 1) {
				a = addrs[a % addrs.size()] + (int64_t(rng() % 129) - 64);
				l = lens[l % lens.size()] + (int64_t(rng() % 129) - 64);
			} else if (i & 2) {
				a %= b.area_size + 1 ? b.area_size + 1 : UINT64_MAX;
				l %= uint64_t(b.frame_size) + 2;
			}
			uint32_t o = (rng() & 7) ? 0 : uint32_t(rng());
			ASSERT_TRUE(one({a, uint32_t(l), o}));
		}
	}
	// Both verdicts must have been exercised in bulk.
	EXPECT_GT(agree.refused, agree.cases / 10);
	EXPECT_LT(agree.refused, agree.cases - agree.cases / 10);
}

TEST(DescRule, StorageRulesMatchTheSpec)
{
	const mkdp::DescBounds all[] = {
		{kBufs, 0, 16, 2},
		{UINT64_MAX, 0, UINT32_MAX, UINT32_MAX},
		{0, 0, 0, 0},
	};
	std::mt19937_64 rng{7};
	// Near a bound, or anything.
	auto near = [&](uint64_t bound) { return rng() & 1 ? bound + (int64_t(rng() % 5) - 2) : rng(); };
	Agreement agree;
	for (const mkdp::DescBounds &b : all) {
		for (int i = 0; i < 200000; i++) {
			mkdp_sreq_desc q{};
			q.op = uint16_t(rng() & 3 ? rng() % (MKDP_SOP_MAX + 1) : rng());
			q.flags = uint16_t(rng() & 3 ? rng() & MKDP_SREQ_F_FUA : rng());
			q.tag = uint32_t(near(b.max_tag));
			q.volume = uint32_t(near(b.max_volume));
			q.len = uint32_t(rng() & 1 ? (rng() % 16) * MKDP_SECTOR_SIZE : near(MKDP_SECTOR_SIZE));
			q.buf = near(b.area_size - q.len);
			q.sector = rng();
			ASSERT_TRUE(agree(q, b, spec_sreq, "sreq op " + std::to_string(q.op) + " len " +
								   std::to_string(q.len) + " buf " + std::to_string(q.buf)));
			mkdp_scpl_desc c{};
			c.tag = uint32_t(near(b.max_tag));
			c.status = int32_t(rng() & 1 ? -int64_t(rng() % 5000) : int64_t(near(0)));
			c.bytes = uint32_t(rng());
			c.reserved = rng() & 7 ? 0 : uint32_t(rng());
			ASSERT_TRUE(agree(c, b, spec_scpl, "scpl status " + std::to_string(c.status)));
		}
	}
	EXPECT_GT(agree.refused, agree.cases / 10);
	EXPECT_LT(agree.refused, agree.cases - agree.cases / 10);
}

// The same rule through a real ring: fetch_batch() (one test per batch,
// then one per descriptor when the batch holds a bad one) delivers exactly
// the descriptors check_desc() accepts, in order, and counts the others, for
// random batches that mix valid and hostile descriptors.
TEST_F(Ring, FetchBatchDeliversExactlyWhatCheckAccepts)
{
	auto p = r.producer<mkdp_frame_desc>("rx");
	auto c = r.consumer<mkdp_frame_desc>("rx");
	const mkdp::DescBounds b = c.bounds();
	const uint64_t area = kFrame * kFrames;
	std::mt19937_64 rng{42};
	uint64_t want_rejected = 0, delivered = 0;
	for (int round = 0; round < 20000; round++) {
		mkdp_frame_desc in[8];
		uint32_t n = 1 + uint32_t(rng() % 8);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t x = rng();
			switch (x % 6) {
			case 0: // hostile: anything at all
				in[i] = {rng(), uint32_t(rng()), uint32_t(rng() & 3)};
				break;
			case 1: // near the end of the area, maybe past it
				in[i] = {area - rng() % 256, uint32_t(1 + rng() % 256), 0};
				break;
			case 2: // near a frame end, maybe across it
				in[i] = {(rng() % kFrames) * kFrame + kFrame - rng() % 128,
					 uint32_t(rng() % 256), 0};
				break;
			default: // valid
				in[i] = {(rng() % kFrames) * kFrame, uint32_t(1 + rng() % kFrame),
					 uint32_t(rng() & MKDP_FRAME_OPT_CONTD)};
			}
		}
		ASSERT_EQ(p.produce(in, n), n);
		std::vector<mkdp_frame_desc> want;
		for (uint32_t i = 0; i < n; i++)
			if (mkdp::check_desc(in[i], b) == DescError::ok)
				want.push_back(in[i]);
			else
				want_rejected++;
		uint32_t idx = 0;
		ASSERT_EQ(c.peek(8, &idx), n);
		mkdp_frame_desc out[8];
		uint32_t got = c.fetch_batch(idx, n, out);
		c.release(n);
		ASSERT_EQ(got, want.size()) << "round " << round;
		for (uint32_t i = 0; i < got; i++)
			ASSERT_EQ(std::memcmp(&out[i], &want[i], sizeof(out[i])), 0) << "round " << round;
		ASSERT_EQ(c.rejected(), want_rejected) << "round " << round;
		delivered += got;
	}
	EXPECT_GT(delivered, 0u);
	EXPECT_GT(want_rejected, 0u);
}

TEST(DescError, EveryErrorHasItsOwnText)
{
	std::set<std::string> seen;
	for (auto e : {DescError::ok, DescError::out_of_area, DescError::crosses_frame,
		       DescError::bad_len, DescError::bad_op, DescError::bad_flags, DescError::bad_tag,
		       DescError::bad_status, DescError::bad_volume}) {
		std::string s = mkdp::to_string(e);
		EXPECT_FALSE(s.empty());
		EXPECT_NE(s, "unknown");
		EXPECT_TRUE(seen.insert(s).second) << s;
	}
}
