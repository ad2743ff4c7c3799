// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench ring --quick --json` runs as a user runs it and prints one
// document with machine, results and ratios. Only the shape and the sanity
// of the figures are asserted, never a speed: the machine is shared.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

struct CliRun {
	int status;
	std::string out;
};

CliRun cli(const std::string &args)
{
	std::string cmd = std::string(MKDP_CLI) + " " + args;
	CliRun r{-1, {}};
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		return r;
	char buf[4096];
	while (size_t n = fread(buf, 1, sizeof(buf), p))
		r.out.append(buf, n);
	r.status = pclose(p);
	return r;
}

TEST(RingBench, QuickJsonHasMachineResultsRatios)
{
	CliRun r = cli("bench ring --quick --json");
	ASSERT_TRUE(WIFEXITED(r.status)) << r.out;
	ASSERT_EQ(WEXITSTATUS(r.status), 0) << r.out;
	nlohmann::json doc;
	ASSERT_NO_THROW(doc = nlohmann::json::parse(r.out)) << r.out;

	ASSERT_TRUE(doc.contains("machine"));
	for (const char *k : {"cpu", "cores", "kernel", "virtualised"})
		EXPECT_TRUE(doc["machine"].contains(k)) << k;

	ASSERT_TRUE(doc.contains("results"));
	for (const char *impl : {"mkdp", "libxdp_checked", "libxdp"}) {
		ASSERT_TRUE(doc["results"].contains(impl)) << impl;
		const auto &res = doc["results"][impl];
		for (const char *b : {"batch_1", "batch_16", "batch_64", "batch_256"}) {
			const auto &t = res["throughput"][b]["descs_per_s"];
			EXPECT_GT(t["median"].get<double>(), 0) << impl << " " << b;
			EXPECT_LE(t["min"].get<double>(), t["median"].get<double>());
			EXPECT_GE(t["max"].get<double>(), t["median"].get<double>());
			EXPECT_EQ(t["n"].get<int>(), doc["config"]["repetitions"].get<int>());
		}
		const auto &lat = res["latency_one_way_ns"];
		EXPECT_GT(lat["p50"]["median"].get<double>(), 0) << impl;
		EXPECT_GE(lat["p99"]["median"].get<double>(), lat["p50"]["min"].get<double>()) << impl;
	}

	// The headline compares equal work (libxdp doing the same copy and
	// checks), throughput and latency; the unchecked view is secondary.
	ASSERT_TRUE(doc.contains("ratios"));
	EXPECT_EQ(doc["ratios"]["headline"], "vs_libxdp_checked");
	for (const char *view : {"vs_libxdp_checked", "vs_libxdp_unchecked"}) {
		const auto &vs = doc["ratios"][view];
		for (const char *k : {"batch_1", "batch_16", "batch_64", "batch_256", "latency_p50", "latency_p99"}) {
			ASSERT_TRUE(vs.contains(k)) << view << " " << k;
			EXPECT_TRUE(vs[k].is_number()) << view << " " << k;
			EXPECT_GT(vs[k].get<double>(), 0) << view << " " << k;
		}
	}
}

TEST(RingBench, TableWithoutJson)
{
	CliRun r = cli("bench ring --quick -r 1");
	ASSERT_TRUE(WIFEXITED(r.status));
	ASSERT_EQ(WEXITSTATUS(r.status), 0) << r.out;
	EXPECT_NE(r.out.find("batch 256"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("p50"), std::string::npos) << r.out;
	EXPECT_LT(r.out.find("libxdp + checks"), r.out.find("libxdp unchecked"))
		<< "the equal-work comparison comes first\n" << r.out;
	EXPECT_EQ(r.out.find('{'), std::string::npos) << r.out;
}

TEST(RingBench, RefusesZeroRepetitions)
{
	CliRun r = cli("bench ring --repetitions 0 2>&1");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_NE(WEXITSTATUS(r.status), 0);
	EXPECT_NE(r.out.find("mkdp: "), std::string::npos) << r.out;
}

} // namespace
