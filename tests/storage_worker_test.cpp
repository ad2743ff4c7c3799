// SPDX-License-Identifier: BSD-2-Clause
// A storage worker on real rings in a real region, against memory and a
// real file through io_uring: data written comes back, and every bad request
// gets its error completion. No root needed.
#include <storage_worker.h>

#include <mkdp/region.h>

#include <gtest/gtest.h>

#include "wait_until.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

namespace {

using mkdp::sdp::Backend;
using mkdp::sdp::StorageWorker;

constexpr uint32_t kEntries = 64;
constexpr uint64_t kArea = 4 << 20;	// 64 buffers of 64 KiB
constexpr uint64_t kVolume = 8 << 20;

// A client and a worker on one pair of rings.
struct Rig {
	mkdp::Region region = mkdp::Region::create(mkdp::RegionLayout()
							   .area("data", kArea)
							   .ring("sq", MKDP_DESC_SREQ, kEntries, "data")
							   .ring("cq", MKDP_DESC_SCPL, kEntries, "data"));
	mkdp::Producer<mkdp_sreq_desc> sq = region.producer<mkdp_sreq_desc>("sq");
	mkdp::Consumer<mkdp_scpl_desc> cq = region.completions("cq", "sq");
	std::span<uint8_t> area = region.area("data");
	std::vector<uint8_t> mem = std::vector<uint8_t>(kVolume, 0);
	std::unique_ptr<StorageWorker> worker;

	explicit Rig(Backend b) : Rig(std::vector<Backend>{b}) {}
	// Volume ids index `volumes`; only the served() ones are served.
	explicit Rig(std::vector<Backend> volumes)
	{
		uint32_t n = uint32_t(volumes.size());
		worker = std::make_unique<StorageWorker>(region.requests("sq", n), region.producer<mkdp_scpl_desc>("cq"),
							 area, std::move(volumes), 32);
	}
	static Backend memory(std::vector<uint8_t> &m) { return Backend{-1, m, m.size(), false}; }

	void submit(const mkdp_sreq_desc &r)
	{
		while (!sq.produce(&r, 1))
			worker->poll();
	}
	// Runs the worker until n completions came; returns them by tag.
	std::map<uint32_t, mkdp_scpl_desc> collect(size_t n)
	{
		std::map<uint32_t, mkdp_scpl_desc> got;
		mkdp::test::spin_until([&] {
			worker->poll();
			mkdp_scpl_desc c[kEntries];
			uint32_t k = cq.consume(c, kEntries);
			for (uint32_t i = 0; i < k; i++)
				got[c[i].tag] = c[i];
			return got.size() >= n;
		});
		EXPECT_EQ(got.size(), n) << "completions missing";
		return got;
	}
	mkdp_scpl_desc one(const mkdp_sreq_desc &r)
	{
		submit(r);
		auto got = collect(1);
		return got.empty() ? mkdp_scpl_desc{} : got.begin()->second;
	}
};

mkdp_sreq_desc req(uint16_t op, uint32_t tag, uint64_t sector, uint32_t len, uint64_t buf = 0, uint16_t flags = 0)
{
	return {op, flags, tag, sector, buf, len, 0};
}

// Random writes at queue depth up to 32, then everything read back and
// compared with what the client wrote.
void write_then_read_back(Rig &rig)
{
	std::mt19937_64 rnd(7);
	std::vector<uint8_t> shadow(kVolume, 0);
	for (int round = 0; round < 20; round++) {
		uint32_t qd = 1 + uint32_t(rnd() % 32);
		for (uint32_t t = 0; t < qd; t++) {
			// Each tag its own 64 KiB stripe of the round's 2 MiB window,
			// so the writes of one round never overlap.
			uint32_t len = 512 * uint32_t(1 + rnd() % 128);
			uint64_t window = rnd() % (kVolume / (2 << 20));
			uint64_t sector = (window * (2 << 20) + uint64_t(t) * 65536) / 512;
			uint64_t buf = uint64_t(t) * 65536;
			for (uint32_t i = 0; i < len; i++)
				rig.area[buf + i] = shadow[sector * 512 + i] = uint8_t(rnd());
			rig.submit(req(MKDP_SOP_WRITE, t, sector, len, buf, round % 3 == 0 ? MKDP_SREQ_F_FUA : 0));
		}
		for (auto &[tag, c] : rig.collect(qd)) {
			EXPECT_EQ(c.status, 0) << "tag " << tag;
			EXPECT_GT(c.bytes, 0u);
		}
	}
	ASSERT_EQ(rig.one(req(MKDP_SOP_FLUSH, 0, 0, 0)).status, 0);
	for (uint64_t off = 0; off < kVolume; off += 65536) {
		mkdp_scpl_desc c = rig.one(req(MKDP_SOP_READ, 1, off / 512, 65536, 0));
		ASSERT_EQ(c.status, 0);
		ASSERT_EQ(c.bytes, 65536u);
		ASSERT_EQ(std::memcmp(rig.area.data(), shadow.data() + off, 65536), 0) << "at byte " << off;
	}
}

// Write-zeroes in the middle of written data: zeros there, the data
// around it untouched.
void zero_a_range(Rig &rig)
{
	constexpr uint32_t kLen = 65536, kFrom = 16384, kZeroed = 16384;
	for (uint32_t i = 0; i < kLen; i++)
		rig.area[i] = uint8_t(i % 251 + 1);
	std::vector<uint8_t> data(rig.area.begin(), rig.area.begin() + kLen);
	ASSERT_EQ(rig.one(req(MKDP_SOP_WRITE, 1, 0, kLen, 0)).status, 0);
	mkdp_scpl_desc z = rig.one(req(MKDP_SOP_WRITE_ZEROES, 2, kFrom / 512, kZeroed, UINT64_MAX));
	ASSERT_EQ(z.status, 0);
	EXPECT_EQ(z.bytes, 0u) << "no data moved";
	std::memset(rig.area.data(), 0xee, kLen);
	ASSERT_EQ(rig.one(req(MKDP_SOP_READ, 3, 0, kLen, 0)).status, 0);
	for (uint32_t i = 0; i < kLen; i++) {
		bool zeroed = i >= kFrom && i < kFrom + kZeroed;
		ASSERT_EQ(rig.area[i], uint8_t(zeroed ? 0 : data[i])) << "at byte " << i;
	}
}

TEST(StorageWorker, MemoryVolumeReadsBackWhatWasWritten)
{
	std::vector<uint8_t> m(kVolume, 0);
	Rig rig(Rig::memory(m));
	write_then_read_back(rig);
}

TEST(StorageWorker, FileVolumeThroughIoUringReadsBackWhatWasWritten)
{
	std::string path = "/var/tmp/mkdp-sw-" + std::to_string(getpid());
	Backend b = Backend::open_file(path, kVolume);
	{
		Rig rig(b);
		write_then_read_back(rig);
		// Discard: the range reads as zeros afterwards.
		ASSERT_EQ(rig.one(req(MKDP_SOP_DISCARD, 2, 2048, 65536)).status, 0);
		ASSERT_EQ(rig.one(req(MKDP_SOP_READ, 3, 2048, 65536, 0)).status, 0);
		EXPECT_TRUE(std::all_of(rig.area.begin(), rig.area.begin() + 65536, [](uint8_t x) { return x == 0; }));
		EXPECT_GT(rig.worker->stats().flushes, 0u);
	}
	close(b.fd);
	unlink(path.c_str());
}

TEST(StorageWorker, WriteZeroesOnMemory)
{
	std::vector<uint8_t> m(kVolume, 0);
	Rig rig(Rig::memory(m));
	zero_a_range(rig);
}

TEST(StorageWorker, WriteZeroesOnAFile)
{
	std::string path = "/var/tmp/mkdp-sw-zero-" + std::to_string(getpid());
	Backend b = Backend::open_file(path, kVolume);
	{
		Rig rig(b);
		zero_a_range(rig);
	}
	close(b.fd);
	unlink(path.c_str());
}

// A worker is handed every volume id and serves some: the others are
// refused, the served ones still work.
TEST(StorageWorker, AVolumeNotServedIsRefusedWithEinval)
{
	std::vector<uint8_t> m(kVolume, 0);
	Rig rig(std::vector<Backend>{Backend{}, Rig::memory(m)});
	EXPECT_FALSE(Backend{}.served());
	mkdp_sreq_desc r = req(MKDP_SOP_WRITE, 1, 0, 512);
	std::memset(rig.area.data(), 0xab, 512);
	EXPECT_EQ(rig.one(r).status, -EINVAL) << "volume 0: not served";
	r.volume = 1;
	EXPECT_EQ(rig.one(r).status, 0) << "volume 1: memory";
	EXPECT_EQ(m[0], 0xab);
	EXPECT_EQ(rig.worker->stats().errors, 1u);
}

TEST(StorageWorker, BadRequestsGetTheirErrorCompletion)
{
	std::vector<uint8_t> m(kVolume, 0);
	Rig rig(Rig::memory(m));
	EXPECT_EQ(rig.one(req(MKDP_SOP_READ, 1, kVolume / 512, 512)).status, -EINVAL) << "past the end";
	EXPECT_EQ(rig.one(req(MKDP_SOP_READ, 2, kVolume / 512 - 1, 1024)).status, -EINVAL) << "crosses the end";
	EXPECT_EQ(rig.one(req(MKDP_SOP_WRITE, 3, 0, 100)).status, -EINVAL) << "not a multiple of 512";
	EXPECT_EQ(rig.one(req(MKDP_SOP_WRITE, 4, 0, 0)).status, -EINVAL) << "zero length";
	EXPECT_EQ(rig.one(req(9, 5, 0, 512)).status, -EINVAL) << "unknown op";
	EXPECT_EQ(rig.one(req(MKDP_SOP_READ, 6, 0, 4096, kArea - 512)).status, -EFAULT) << "buffer past the area";
	mkdp_sreq_desc other = req(MKDP_SOP_READ, 7, 0, 512);
	other.volume = 1;
	EXPECT_EQ(rig.one(other).status, -EINVAL) << "a volume not served";
	// A tag out of range has no one to answer: counted, nothing posted.
	rig.submit(req(MKDP_SOP_READ, kEntries, 0, 512));
	for (int i = 0; i < 100; i++)
		rig.worker->poll();
	mkdp_scpl_desc c;
	EXPECT_EQ(rig.cq.consume(&c, 1), 0u);
	EXPECT_EQ(rig.worker->stats().unanswerable, 1u);
	EXPECT_EQ(rig.worker->stats().errors, 7u);
	// Nothing was written by any of them.
	EXPECT_TRUE(std::all_of(m.begin(), m.end(), [](uint8_t x) { return x == 0; }));
}

TEST(StorageWorker, ATagAlreadyInFlightIsRefusedWithEbusy)
{
	std::string path = "/var/tmp/mkdp-sw-busy-" + std::to_string(getpid());
	Backend b = Backend::open_file(path, kVolume);
	{
		Rig rig(b);
		// Both in one pass: the first is on the backend when the second
		// comes.
		rig.submit(req(MKDP_SOP_READ, 9, 0, 65536, 0));
		rig.submit(req(MKDP_SOP_READ, 9, 128, 512, 65536));
		std::vector<mkdp_scpl_desc> got;
		mkdp::test::spin_until([&] {
			rig.worker->poll();
			mkdp_scpl_desc c;
			if (rig.cq.consume(&c, 1))
				got.push_back(c);
			return got.size() >= 2;
		});
		ASSERT_EQ(got.size(), 2u);
		EXPECT_EQ(got[0].status, -EBUSY) << "the second, refused at once";
		EXPECT_EQ(got[1].status, 0) << "the first, from the file";
	}
	close(b.fd);
	unlink(path.c_str());
}

} // namespace
