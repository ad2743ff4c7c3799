// SPDX-License-Identifier: BSD-2-Clause
// Volumes served by `mkdp topology up`, end to end: a client (sdp/client.h) on the
// host, the supervisor's storage plane running the volume's SDP program,
// the serving partitions' storage workers on a memory volume and on a file
// through io_uring. Data integrity with random offsets, sizes and queue
// depths; the example programs on real I/O; bad requests; a serving
// partition killed while requests are in flight.
#include "volume_bed.h"

#include <client.h>
#include <volume_io.h>

#include <sys/stat.h>

#include <atomic>
#include <random>
#include <thread>

namespace mkdp::test {
namespace {

sdp::IoJobResult io(sdp::Volume &v, uint8_t op, uint64_t off, uint64_t size, uint32_t bs, uint32_t qd, uint64_t seed,
		    bool verify = false)
{
	sdp::IoJob j;
	j.op = op;
	j.offset = off;
	j.size = size;
	j.bs = bs;
	j.qd = qd;
	j.seed = seed;
	j.verify = verify;
	j.random = true;
	return sdp::run_io(v, j, 10'000'000'000);
}

TEST(SdpVolume, RandomIoReadsBackWhatWasWrittenOnEveryBackend)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	std::mt19937_64 rng(42);
	for (const char *name : {"v0", "f0"}) {
		sdp::Volume v = sdp::Volume::open(name);
		ASSERT_GT(v.size(), 0u);
		for (int round = 0; round < 6; round++) {
			uint32_t bs = uint32_t(1 + rng() % (v.max_io() / 512)) * 512;
			uint32_t qd = std::array<uint32_t, 4>{1, 4, 16, 64}[round % 4];
			uint64_t blocks = 1 + rng() % 48;
			uint64_t size = blocks * bs;
			uint64_t off = (rng() % ((v.size() - size) / 512)) * 512;
			uint64_t seed = rng();
			auto w = io(v, SDP_OP_WRITE, off, size, bs, qd, seed);
			ASSERT_TRUE(w.errors.empty()) << name << ": write error " << w.first_error;
			auto r = io(v, SDP_OP_READ, off, size, bs, qd, seed, true);
			ASSERT_TRUE(r.errors.empty()) << name << ": read error " << r.first_error;
			EXPECT_EQ(r.mismatches, 0u) << name << " bs " << bs << " qd " << qd << " at " << off;
			EXPECT_EQ(r.checksum, w.checksum) << name;
			EXPECT_EQ(r.bytes, size);
		}
	}
	// The partitions' workers did the I/O: their counters say so.
	json st = status();
	for (const auto &p : st["partitions"])
		EXPECT_GT(p["storage"]["requests"].get<uint64_t>(), 0u) << p["partition"];
	// The file volume's bytes are in the file.
	struct stat sb {};
	ASSERT_EQ(stat(bed.image().c_str(), &sb), 0);
	EXPECT_EQ(uint64_t(sb.st_size), 32u << 20);
}

TEST(SdpVolume, ExampleProgramsJudgeRealIo)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	sdp::Volume v = sdp::Volume::open("v0");
	// Read-only [0, 2048) sectors: writes there fail with EROFS, and
	// nothing is written; outside they succeed.
	ASSERT_EQ(io(v, SDP_OP_WRITE, 0, 1 << 20, 65536, 8, 5).errors.size(), 0u);
	ProgramResult a = mkdp_cli({"sdp", "attach", "v0", MKDP_SDP_EXAMPLES "/readonly_range.bpf.o", "--map",
				    "ro_range u32:0 = u64:0 u64:2048"});
	ASSERT_EQ(a.status, 0) << a.err;
	auto w = io(v, SDP_OP_WRITE, 0, 1 << 20, 65536, 8, 6);
	EXPECT_EQ(w.errors[-EROFS], 16u);
	EXPECT_EQ(io(v, SDP_OP_READ, 0, 1 << 20, 65536, 8, 5, true).mismatches, 0u) << "a refused write wrote";
	EXPECT_TRUE(io(v, SDP_OP_WRITE, 2 << 20, 1 << 20, 65536, 8, 6).errors.empty());
	json s = volume_status("v0");
	EXPECT_EQ(s["errors_by_errno"]["EROFS"], 16);
	EXPECT_GE(s["verdicts"]["drop"].get<uint64_t>(), 16u);
	// Through the CLI too: exit 1, the errno named.
	ProgramResult cli = mkdp_cli({"sdp", "io", "v0", "--op", "write", "--size", "4k"});
	EXPECT_EQ(cli.status, 1);
	EXPECT_NE(cli.err.find("EROFS"), std::string::npos) << cli.err;

	// Sector steering: 1 MiB range 1 to p1, the rest to the owner p0.
	ASSERT_EQ(mkdp_cli({"sdp", "detach", "v0"}).status, 0);
	a = mkdp_cli({"sdp", "attach", "v0", MKDP_SDP_EXAMPLES "/sector_steer.bpf.o", "--map", "range_part u32:1 = u32:1"});
	ASSERT_EQ(a.status, 0) << a.err;
	json before = volume_status("v0");
	ASSERT_TRUE(io(v, SDP_OP_WRITE, 0, 4 << 20, 131072, 16, 9).errors.empty());
	auto r = io(v, SDP_OP_READ, 0, 4 << 20, 131072, 16, 9, true);
	EXPECT_EQ(r.mismatches, 0u);
	json after = volume_status("v0");
	auto served = [&](const char *p) {
		return after["requests_by_partition"].value(p, 0ULL) - before["requests_by_partition"].value(p, 0ULL);
	};
	EXPECT_EQ(served("p1"), 16u);	// 8 writes + 8 reads of 128 KiB in range 1
	EXPECT_EQ(served("p0"), 48u);
	EXPECT_EQ(after["verdicts"]["redirect"].get<uint64_t>() - before["verdicts"]["redirect"].get<uint64_t>(), 16u);

	// Zero fill: reads of never-written extents complete in the program.
	ASSERT_EQ(mkdp_cli({"sdp", "detach", "v0"}).status, 0);
	ASSERT_EQ(mkdp_cli({"sdp", "attach", "v0", MKDP_SDP_EXAMPLES "/zero_fill.bpf.o"}).status, 0);
	before = volume_status("v0");
	std::vector<uint8_t> buf(65536, 0xee);
	sdp::IoJob j;
	j.op = SDP_OP_READ;
	j.offset = 8 << 20;
	j.size = buf.size();
	j.bs = 65536;
	j.data = buf;
	ASSERT_TRUE(sdp::run_io(v, j).errors.empty());
	EXPECT_EQ(std::count(buf.begin(), buf.end(), 0), 65536);
	after = volume_status("v0");
	EXPECT_EQ(after["verdicts"]["complete"].get<uint64_t>() - before["verdicts"]["complete"].get<uint64_t>(), 1u);
}

TEST(SdpVolume, BadRequestsCompleteWithTheirErrnoAndWriteNothing)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	sdp::Volume v = sdp::Volume::open("v0");
	ASSERT_TRUE(io(v, SDP_OP_WRITE, 0, 1 << 20, 65536, 4, 11).errors.empty());
	uint64_t sectors = v.size() / 512;
	uint64_t area = uint64_t(v.depth()) * v.max_io();
	struct Case {
		const char *what;
		mkdp_sreq_desc d;
		int32_t want;
	} cases[] = {
		{"sector past the end", {MKDP_SOP_WRITE, 0, 0, sectors, 0, 4096, v.id()}, -EINVAL},
		{"range past the end", {MKDP_SOP_WRITE, 0, 1, sectors - 4, 65536, 4096, v.id()}, -EINVAL},
		{"zero length", {MKDP_SOP_WRITE, 0, 2, 0, 2 * 131072, 0, v.id()}, -EINVAL},
		{"misaligned length", {MKDP_SOP_WRITE, 0, 3, 0, 3 * 131072, 1000, v.id()}, -EINVAL},
		{"unknown op", {9, 0, 4, 0, 4 * 131072, 4096, v.id()}, -EINVAL},
		{"unknown flag", {MKDP_SOP_WRITE, 0x80, 5, 0, 5 * 131072, 4096, v.id()}, -EINVAL},
		{"another volume", {MKDP_SOP_WRITE, 0, 6, 0, 6 * 131072, 4096, v.id() + 1}, -EINVAL},
		{"buffer outside the area", {MKDP_SOP_WRITE, 0, 7, 0, area - 512, 4096, v.id()}, -EFAULT},
		{"longer than a buffer", {MKDP_SOP_WRITE, 0, 8, 0, 0, 2 * 131072, v.id()}, -EINVAL},
	};
	for (const Case &c : cases) {
		ASSERT_EQ(v.submit_descs({&c.d, 1}), 1u);
		sdp::IoResult r{};
		ASSERT_EQ(v.reap({&r, 1}, 5'000'000'000), 1u) << c.what << ": no completion";
		EXPECT_EQ(r.tag, c.d.tag) << c.what;
		EXPECT_EQ(r.status, c.want) << c.what;
	}
	// The same tag twice in one batch: the second is refused, EBUSY.
	mkdp_sreq_desc twice[2] = {{MKDP_SOP_READ, 0, 9, 0, 9 * 131072, 4096, v.id()},
				   {MKDP_SOP_READ, 0, 9, 8, 9 * 131072, 4096, v.id()}};
	ASSERT_EQ(v.submit_descs(twice), 2u);
	std::vector<int32_t> got;
	sdp::IoResult r[2];
	ASSERT_TRUE(wait_until([&] {
		uint32_t n = v.reap(std::span(r).first(2 - got.size()), 100'000'000);
		for (uint32_t i = 0; i < n; i++)
			got.push_back(r[i].status);
		return got.size() == 2;
	}, 5000));
	std::sort(got.begin(), got.end());
	EXPECT_EQ(got, (std::vector<int32_t>{-EBUSY, 0}));
	// Nothing was written, and each refusal was counted.
	EXPECT_EQ(io(v, SDP_OP_READ, 0, 1 << 20, 65536, 4, 11, true).mismatches, 0u);
	EXPECT_GE(volume_status("v0")["bad_requests"].get<uint64_t>(), 4u);
}

TEST(SdpVolume, PartitionKilledMidFlightFailsItsRequestsThenServesAgain)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	sdp::Volume v = sdp::Volume::open("f0");	// owned by p1
	// Acknowledged by a flush before the kill: must survive it.
	sdp::IoJob j;
	j.op = SDP_OP_WRITE;
	j.offset = 0;
	j.size = 4 << 20;
	j.bs = 131072;
	j.qd = 8;
	j.seed = 21;
	j.flush = true;
	ASSERT_TRUE(sdp::run_io(v, j).errors.empty());

	// A writer keeps 32 requests in flight on another range until told.
	std::atomic<bool> stop{false}, started{false};
	std::atomic<uint64_t> eio{0}, rounds{0}, clean{0};
	std::thread writer([&] {
		sdp::Volume w = sdp::Volume::open("f0");
		while (!stop) {
			sdp::IoJobResult last = io(w, SDP_OP_WRITE, 8 << 20, 8 << 20, 65536, 32, 22);
			eio += last.errors.count(-EIO) ? last.errors.at(-EIO) : 0;
			clean += last.errors.empty();
			rounds++;
			started = true;
		}
	});
	struct Join {
		std::atomic<bool> &stop;
		std::thread &t;
		~Join()
		{
			stop = true;
			t.join();
		}
	} join{stop, writer};
	ASSERT_TRUE(wait_until([&] { return started.load(); }, 10000));
	ProgramResult k = mkdp_cli({"part", "kill", "p1"});
	EXPECT_EQ(k.status, 0) << k.err;
	// The writer is not stuck: it finishes rounds, its requests failing.
	ASSERT_TRUE(wait_until([&] { return eio > 0; }, 10000)) << "no EIO after the kill";
	uint64_t r0 = rounds;
	ASSERT_TRUE(wait_until([&] { return rounds > r0 + 1; }, 10000)) << "the writer hangs";
	json s = volume_status("f0");
	EXPECT_EQ(s["partitions"][0]["lane"], "down");
	// Restart: the volume serves again, and the flushed data is intact.
	ProgramResult st = mkdp_cli({"part", "start", "p1"});
	EXPECT_EQ(st.status, 0) << st.err;
	uint64_t c0 = clean;
	ASSERT_TRUE(wait_until([&] { return clean > c0 + 1; }, 10000)) << "writes still fail after the restart";
	auto r = io(v, SDP_OP_READ, 0, 4 << 20, 131072, 8, 21, true);
	EXPECT_TRUE(r.errors.empty());
	EXPECT_EQ(r.mismatches, 0u) << "data acknowledged by a flush was lost";
	EXPECT_EQ(volume_status("f0")["partitions"][0]["lane"], "up");
}

TEST(SdpVolume, NoVolumeNoSuchPartitionClearErrors)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	try {
		sdp::Volume::open("nope");
		FAIL() << "opened a volume that does not exist";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("volumes: v0, f0"), std::string::npos) << e.what();
	}
	ProgramResult r = mkdp_cli({"sdp", "attach", "v0", "nothing-loaded"});
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.err.find("no program 'nothing-loaded'"), std::string::npos) << r.err;
	r = mkdp_cli({"sdp", "io", "v0", "--op", "read", "--offset", "100"});
	EXPECT_EQ(r.status, 1);
	EXPECT_NE(r.err.find("multiples of 512"), std::string::npos) << r.err;
}

} // namespace
} // namespace mkdp::test
