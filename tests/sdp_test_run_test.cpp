// SPDX-License-Identifier: BSD-2-Clause
// SDP programs judged by the running kernel: the example programs on their
// request fixtures through `mkdp sdp test-run`, the executor's batches
// through the library, and what bad input gets.
#include "partition_harness.h"	// mkdp_cli, have_root

#include <executor.h>
#include <request_text.h>
#include <test_run.h>

#include <mkdp/error.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

namespace mkdp::test {
namespace {

const std::string kExamples = MKDP_SDP_EXAMPLES;
const std::string kFixtures = MKDP_SDP_FIXTURES;

class SdpTestRun : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!have_root())
			GTEST_SKIP() << "needs root (BPF_PROG_RUN of a syscall program)";
	}
};

// The verdicts test-run prints for an example's fixture, in order.
std::vector<std::string> verdicts_of(const std::string &ex)
{
	ProgramResult r = mkdp_cli({"sdp", "test-run", kExamples + "/" + ex + ".bpf.o", "--requests",
				    kFixtures + "/" + ex + ".req", "--json"});
	EXPECT_EQ(r.status, 0) << r.err;
	std::vector<std::string> v;
	json out = json::parse(r.out);
	for (const auto &q : out["results"])
		v.push_back(q["verdict"]);
	return v;
}

TEST_F(SdpTestRun, ReadOnlyRangeFailsWritesInsideWithErofs)
{
	using V = std::vector<std::string>;
	EXPECT_EQ(verdicts_of("readonly_range"), (V{"drop", "pass", "drop", "pass", "drop", "pass", "pass"}));
	ProgramResult r = mkdp_cli({"sdp", "test-run", kExamples + "/readonly_range.bpf.o", "--requests",
				    kFixtures + "/readonly_range.req", "--json"});
	json out = json::parse(r.out);
	json first = out["results"][0];
	EXPECT_EQ(first["errno"], EROFS);
	EXPECT_EQ(first["errno_name"], "EROFS");
}

TEST_F(SdpTestRun, SectorSteerRedirectsByRange)
{
	using V = std::vector<std::string>;
	EXPECT_EQ(verdicts_of("sector_steer"), (V{"pass", "redirect", "redirect", "redirect", "pass", "redirect"}));
	ProgramResult r = mkdp_cli({"sdp", "test-run", kExamples + "/sector_steer.bpf.o", "--requests",
				    kFixtures + "/sector_steer.req", "--json"});
	json out = json::parse(r.out);
	const json &q = out["results"];
	EXPECT_EQ(q[1]["partition_index"], 1);
	EXPECT_EQ(q[2]["partition_index"], 2);
	EXPECT_EQ(q[5]["partition_index"], 1);
}

TEST_F(SdpTestRun, ZeroFillCompletesReadsOfNeverWrittenExtents)
{
	using V = std::vector<std::string>;
	EXPECT_EQ(verdicts_of("zero_fill"), (V{"complete", "pass", "pass", "complete", "pass", "pass", "pass"}));
}

TEST_F(SdpTestRun, TokenBucketLimitsATenantThenSendsItToTheSlowLane)
{
	using V = std::vector<std::string>;
	EXPECT_EQ(verdicts_of("token_bucket"), (V{"pass", "pass", "pass", "drop", "pass", "pass", "drop"}));
	// With a slow lane, the excess goes there instead of failing.
	std::string file = "/tmp/mkdp-sdp-tb-" + std::to_string(getpid()) + ".req";
	std::ofstream(file) << "map limits u32:1 = u64:1 u64:1\nmap slow_part u32:0 = u32:3\n"
			       "read 0 512 part=1\nread 0 512 part=1\n";
	ProgramResult r = mkdp_cli(
		{"sdp", "test-run", kExamples + "/token_bucket.bpf.o", "--requests", file, "--json"});
	std::remove(file.c_str());
	ASSERT_EQ(r.status, 0) << r.err;
	json out = json::parse(r.out);
	EXPECT_EQ(out["results"][0]["verdict"], "pass");
	EXPECT_EQ(out["results"][1]["verdict"], "redirect");
	EXPECT_EQ(out["results"][1]["partition_index"], 3);
}

// More requests than one batch holds, through the library: every request
// judged, in order, each by its own fields.
TEST_F(SdpTestRun, ExecutorRunsManyBatchesInOrder)
{
	sdp::Program p = sdp::Program::load(kExamples + "/readonly_range.bpf.o");
	EXPECT_EQ(p.name(), "readonly_range");
	uint32_t key = 0;
	uint64_t range[2] = {1000, 2000};
	p.set_map("ro_range", {reinterpret_cast<uint8_t *>(&key), sizeof(key)},
		  {reinterpret_cast<uint8_t *>(range), sizeof(range)});
	std::vector<sdp_md> reqs(3 * SDP_BATCH_MAX + 7);
	for (size_t i = 0; i < reqs.size(); i++) {
		reqs[i].op = i % 3 == 0 ? SDP_OP_READ : SDP_OP_WRITE;
		reqs[i].sector = i * 10;
		reqs[i].len = 512;
		reqs[i].tag = uint16_t(i);
	}
	std::vector<uint8_t> v(reqs.size(), 0xff);
	p.run(reqs, v.data());
	for (size_t i = 0; i < reqs.size(); i++) {
		bool ro = reqs[i].op == SDP_OP_WRITE && reqs[i].sector >= 1000 && reqs[i].sector < 2000;
		ASSERT_EQ(v[i], ro ? SDP_DROP : SDP_PASS) << "request " << i;
		if (ro) {
			EXPECT_EQ(reqs[i].err, EROFS) << "request " << i;
		}
		EXPECT_EQ(reqs[i].tag, uint16_t(i)) << "the program does not reorder";
	}
}

TEST_F(SdpTestRun, BadInputIsRefusedWithItsLine)
{
	EXPECT_THROW(sdp::Program::load("/nonexistent.bpf.o"), Error);
	std::string file = "/tmp/mkdp-sdp-" + std::to_string(getpid()) + ".req";
	auto refused = [&](const std::string &text, const std::string &want) {
		std::ofstream(file) << text;
		ProgramResult r = mkdp_cli({"sdp", "test-run", kExamples + "/zero_fill.bpf.o", "--requests", file});
		EXPECT_NE(r.status, 0) << text;
		EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
		EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
	};
	refused("read 0 512\nscribble 1 2\n", file + ":2: unknown operation 'scribble'");
	refused("write 0\n", file + ":1: write needs a sector and a length");
	refused("read 0 512 tag=70000\n", file + ":1: 'tag=70000'");
	refused("map nosuch u32:0 = u64:1\n", file + ":1: program zero_fill has no map 'nosuch'");
	refused("map written u32:0 = u32:1\n", file + ":1: map written takes 4-byte keys and 8-byte values");
	std::remove(file.c_str());
	// Not an SDP program: a BPF object without SDP_PROGRAM.
	ProgramResult r = mkdp_cli({"sdp", "test-run", std::string(MKDP_SDP_EXAMPLES) + "/../bpf/steer.bpf.o",
				    "--requests", kFixtures + "/zero_fill.req"});
	EXPECT_NE(r.status, 0);
	EXPECT_NE(r.err.find("is not an SDP program"), std::string::npos) << r.err;
}

} // namespace
} // namespace mkdp::test
