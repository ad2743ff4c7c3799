// SPDX-License-Identifier: BSD-2-Clause
// Requests through the whole SDP path in one process: the front end judges
// them with a real SDP program (BPF_PROG_RUN), routes them into two
// partitions' storage rings, and storage workers (threads here; partition
// processes in mkdp topology up) serve them against one volume.
#include "partition_harness.h"	// have_root

#include <frontend.h>
#include <storage_worker.h>

#include <mkdp/region.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

namespace mkdp::test {
namespace {

using namespace mkdp::sdp;

constexpr uint32_t kEntries = 64;
constexpr uint64_t kVolume = 8 << 20;
const std::string kExamples = MKDP_SDP_EXAMPLES;

// Two partitions (0 owns the volume), each with its rings and a worker
// thread, all serving one memory volume.
struct Path {
	std::vector<uint8_t> volume = std::vector<uint8_t>(kVolume, 0);
	std::vector<Region> regions;
	std::vector<std::unique_ptr<StorageWorker>> workers;
	std::vector<std::thread> threads;
	std::atomic<bool> stop{false};
	std::unique_ptr<Program> program;
	std::unique_ptr<Frontend> fe;

	explicit Path(const std::string &prog)
	{
		if (!prog.empty())
			program = std::make_unique<Program>(Program::load(kExamples + "/" + prog + ".bpf.o"));
		std::vector<Lane> lanes;
		for (uint32_t p = 0; p < 2; p++) {
			regions.push_back(Region::create(RegionLayout()
								 .area("data", kEntries * 65536)
								 .ring("sq", MKDP_DESC_SREQ, kEntries, "data")
								 .ring("cq", MKDP_DESC_SCPL, kEntries, "data")));
			Region &r = regions.back();
			workers.push_back(std::make_unique<StorageWorker>(
				r.requests("sq", 1), r.producer<mkdp_scpl_desc>("cq"), r.area("data"),
				std::vector<Backend>{Backend{-1, volume, kVolume, false}}, 32));
			lanes.push_back({r.producer<mkdp_sreq_desc>("sq"), r.completions("cq", "sq"), r.area("data"), p});
		}
		for (auto &w : workers)
			threads.emplace_back([this, w = w.get()] {
				while (!stop.load(std::memory_order_relaxed))
					if (!w->poll())
						std::this_thread::yield();
			});
		fe = std::make_unique<Frontend>(program.get(), std::move(lanes), std::vector<VolumeInfo>{{kVolume, 0}});
	}
	~Path()
	{
		stop = true;
		for (auto &t : threads)
			t.join();
	}
	// Submits and waits for every completion; returns them by tag.
	std::map<uint32_t, Completion> run(std::vector<Request> reqs)
	{
		fe->submit(reqs);
		std::map<uint32_t, Completion> got;
		mkdp::test::spin_until([&] {
			Completion c[64];
			uint32_t n = fe->reap(c);
			for (uint32_t i = 0; i < n; i++)
				got[c[i].tag] = c[i];
			return got.size() >= reqs.size();
		});
		EXPECT_EQ(got.size(), reqs.size()) << "completions missing";
		return got;
	}
};

class SdpFrontend : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!have_root())
			GTEST_SKIP() << "needs root (BPF_PROG_RUN of a syscall program)";
	}
};

TEST_F(SdpFrontend, SteeredWritesReadBackThroughBothPartitions)
{
	Path path("sector_steer");
	uint32_t key = 1, part = 1;
	path.program->set_map("range_part", {reinterpret_cast<uint8_t *>(&key), 4}, {reinterpret_cast<uint8_t *>(&part), 4});
	std::mt19937_64 rnd(3);
	std::vector<std::vector<uint8_t>> data(48);
	std::vector<Request> writes;
	for (uint32_t i = 0; i < data.size(); i++) {
		data[i].resize(4096 * (1 + rnd() % 8));
		for (auto &b : data[i])
			b = uint8_t(rnd());
		// Stripes of 32 KiB over the first 4 MiB: ranges 0-3 (1 MiB each).
		writes.push_back({SDP_OP_WRITE, 0, 0, i, uint64_t(i) * 64, uint32_t(data[i].size()), data[i].data(), 0});
	}
	for (auto &[tag, c] : path.run(writes)) {
		EXPECT_EQ(c.status, 0) << tag;
		EXPECT_EQ(c.bytes, data[tag].size());
	}
	std::vector<std::vector<uint8_t>> back(data.size());
	std::vector<Request> reads;
	for (uint32_t i = 0; i < data.size(); i++) {
		back[i].assign(data[i].size(), 0xee);
		reads.push_back({SDP_OP_READ, 0, 0, i, uint64_t(i) * 64, uint32_t(back[i].size()), back[i].data(), 0});
	}
	for (auto &[tag, c] : path.run(reads)) {
		ASSERT_EQ(c.status, 0) << tag;
		EXPECT_EQ(back[tag], data[tag]) << "request " << tag;
		EXPECT_EQ(c.verdict, (uint64_t(tag) * 64 >> 11) % 64 == 1 ? SDP_REDIRECT : SDP_PASS) << tag;
	}
	EXPECT_GT(path.fe->stats().per_partition.at(0), 0u);
	EXPECT_GT(path.fe->stats().per_partition.at(1), 0u) << "range 1 went to partition 1";
	EXPECT_EQ(path.fe->outstanding(), 0u);
}

TEST_F(SdpFrontend, ReadOnlyRangeRefusesWritesWithErofsAndWritesNothing)
{
	Path path("readonly_range");
	uint32_t key = 0;
	uint64_t range[2] = {0, 2048};
	path.program->set_map("ro_range", {reinterpret_cast<uint8_t *>(&key), 4}, {reinterpret_cast<uint8_t *>(range), 16});
	std::vector<uint8_t> buf(4096, 0x5a);
	auto got = path.run({{SDP_OP_WRITE, 0, 0, 1, 8, 4096, buf.data(), 0},
			     {SDP_OP_WRITE, 0, 0, 2, 4096, 4096, buf.data(), 0}});
	EXPECT_EQ(got[1].status, -EROFS);
	EXPECT_EQ(got[1].verdict, SDP_DROP);
	EXPECT_EQ(got[2].status, 0);
	EXPECT_TRUE(std::all_of(path.volume.begin(), path.volume.begin() + 2048 * 512, [](uint8_t b) { return !b; }))
		<< "the refused write reached the volume";
	EXPECT_EQ(path.volume[4096 * 512], 0x5a);
	EXPECT_EQ(path.fe->stats().per_errno.at(-EROFS), 1u);
}

TEST_F(SdpFrontend, NeverWrittenReadsCompleteInTheProgramWithZeros)
{
	Path path("zero_fill");
	std::fill(path.volume.begin(), path.volume.end(), 0x77);	// what a backend read would return
	std::vector<uint8_t> buf(4096, 0xee);
	auto got = path.run({{SDP_OP_READ, 0, 0, 1, 0, 4096, buf.data(), 0}});
	EXPECT_EQ(got[1].status, 0);
	EXPECT_EQ(got[1].verdict, SDP_COMPLETE);
	EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return !b; }));
	EXPECT_TRUE(path.fe->stats().per_partition.empty()) << "no partition saw it";
}

// A request outside its volume fails with EINVAL before the program sees
// it: zero_fill used to answer a read past the end with zeros and status 0
// (found by tests/fuzz sdp_request).
TEST_F(SdpFrontend, RequestsOutsideTheVolumeFailUnjudged)
{
	Path path("zero_fill");
	std::vector<uint8_t> buf(4096, 0xee), last(4096, 0xee);
	uint64_t end = kVolume / 512;
	auto got = path.run({{SDP_OP_READ, 0, 0, 1, end, 4096, buf.data(), 0},		// past the end
			     {SDP_OP_READ, 0, 0, 2, end - 1, 1024, buf.data(), 0},	// across it
			     {SDP_OP_READ, 0, 0, 3, 0, 100, buf.data(), 0},		// partial sector
			     {SDP_OP_READ, 0, 1, 4, 0, 512, buf.data(), 0},		// no such volume
			     {SDP_OP_READ, 0, 0, 5, end - 8, 4096, last.data(), 0}});	// the last 4 KiB
	for (uint32_t tag = 1; tag <= 4; tag++)
		EXPECT_EQ(got[tag].status, -EINVAL) << "tag " << tag;
	EXPECT_EQ(path.fe->stats().invalid, 4u);
	EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0xee; }))
		<< "nothing was written to the refused requests' buffer";
	EXPECT_EQ(got[5].status, 0);
	EXPECT_EQ(got[5].verdict, SDP_COMPLETE);
}

// Write-zeroes goes to the owner's ring like any other op (it used to be
// answered EIO in the front end) and zeroes the range on the volume.
TEST_F(SdpFrontend, WriteZeroesPassesToTheOwnersWorker)
{
	Path path("");
	std::fill(path.volume.begin(), path.volume.end(), 0x77);
	auto got = path.run({{SDP_OP_WRITE_ZEROES, 0, 0, 1, 8, 8192, nullptr, 0}});
	EXPECT_EQ(got[1].status, 0);
	EXPECT_EQ(got[1].verdict, SDP_PASS);
	EXPECT_TRUE(std::all_of(path.volume.begin() + 8 * 512, path.volume.begin() + 8 * 512 + 8192,
				[](uint8_t b) { return !b; }));
	EXPECT_EQ(path.volume[8 * 512 - 1], 0x77);
	EXPECT_EQ(path.volume[8 * 512 + 8192], 0x77);
	EXPECT_EQ(path.fe->stats().per_partition.at(0), 1u);
}

} // namespace
} // namespace mkdp::test
