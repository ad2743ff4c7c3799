// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench sdp --quick --json` is complete and sane: every figure and
// ratio present and positive. Never a timing threshold.
#include "partition_harness.h"	// mkdp_cli, have_root

#include <gtest/gtest.h>

namespace mkdp::test {
namespace {

TEST(SdpBench, QuickReportHasEveryFigure)
{
	if (!have_root())
		GTEST_SKIP() << "needs root (BPF_PROG_RUN of a syscall program)";
	ProgramResult r = mkdp_cli({"bench", "sdp", "--quick", "--json", "--requests", "2000"});
	ASSERT_EQ(r.status, 0) << r.err;
	json d = json::parse(r.out);
	EXPECT_TRUE(d.contains("machine"));
	for (const char *b : {"batch_1", "batch_16", "batch_64"}) {
		EXPECT_GT(d["results"]["executor_ns_per_req"][b]["median"].get<double>(), 0) << b;
		EXPECT_GT(d["results"]["program_ns_per_req"][b]["median"].get<double>(), 0) << b;
		EXPECT_GT(d["ratios"]["executor_vs_program"][b].get<double>(), 0) << b;
	}
	// The executor's alternatives (bench/sdp_alternatives.cpp), same requests.
	const json &alt = d["results"]["alternatives"];
	for (const char *b : {"batch_1", "batch_16", "batch_64"}) {
		EXPECT_GT(alt["batch_map"][b]["median"].get<double>(), 0) << b;
		EXPECT_GT(alt["user_ringbuf"][b]["median"].get<double>(), 0) << b;
		EXPECT_GT(d["ratios"]["user_ringbuf_vs_batch_map"][b].get<double>(), 0) << b;
	}
	// The batch as context: its figures, or the verifier's reason it has none.
	ASSERT_TRUE(alt["ctx_batch"]["loads"].is_boolean());
	if (alt["ctx_batch"]["loads"].get<bool>())
		EXPECT_GT(alt["ctx_batch"]["ctx_loop"]["batch_64"]["median"].get<double>(), 0);
	else
		EXPECT_FALSE(alt["ctx_batch"]["verifier"].get<std::string>().empty());
	for (const char *k : {"randread_qd1", "randread_qd32", "randwrite_qd1", "randwrite_qd32"}) {
		EXPECT_GT(d["results"]["io"]["sdp_iops"][k]["median"].get<double>(), 0) << k;
		EXPECT_GT(d["results"]["io"]["io_uring_iops"][k]["median"].get<double>(), 0) << k;
		EXPECT_GT(d["ratios"]["vs_io_uring"][k].get<double>(), 0) << k;
	}
}

} // namespace
} // namespace mkdp::test
