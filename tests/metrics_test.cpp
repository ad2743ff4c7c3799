// SPDX-License-Identifier: BSD-2-Clause
// The exporter's text exposition (loader/metrics.h) and the SDP latency
// histogram it exports, without HTTP: escapes, HELP and TYPE once per
// family, histogram buckets cumulative and ending in +Inf = _count. When
// promtool (Debian's prometheus) is installed, it lints the text too.
#include <latency_histogram.h>
#include <metrics.h>
#include <metrics_collect.h>

#include <mkdp/error.h>
#include <mkdp/subprocess.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace mkdp::metrics {
namespace {

size_t count_of(const std::string &text, const std::string &what)
{
	size_t n = 0;
	for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
		n++;
	return n;
}

TEST(Metrics, LabelValuesAndHelpAreEscaped)
{
	EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
	EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");	// quotes stay in HELP
	Exposition e;
	e.counter("mkdp_x_total", "Help with a \\ and a\nnewline", {{"rule", "exact \"udp\"\\ \n"}}, 3);
	EXPECT_EQ(e.text(), "# HELP mkdp_x_total Help with a \\\\ and a\\nnewline\n"
			    "# TYPE mkdp_x_total counter\n"
			    "mkdp_x_total{rule=\"exact \\\"udp\\\"\\\\ \\n\"} 3\n");
}

TEST(Metrics, HelpAndTypeOncePerFamilyInFirstAddedOrder)
{
	Exposition e;
	e.counter("mkdp_a_total", "A", {{"partition", "p0"}}, 1);
	e.gauge("mkdp_b", "B", {}, 2.5);
	e.counter("mkdp_a_total", "A", {{"partition", "p1"}}, 2);
	e.family("mkdp_empty", "nothing added", Type::gauge);
	std::string t = e.text();
	EXPECT_EQ(count_of(t, "# HELP mkdp_a_total "), 1u);
	EXPECT_EQ(count_of(t, "# TYPE mkdp_a_total counter\n"), 1u);
	EXPECT_EQ(count_of(t, "# TYPE mkdp_b gauge\n"), 1u);
	EXPECT_EQ(count_of(t, "mkdp_empty"), 0u) << "a family without samples is left out";
	// A family's samples are together, under its TYPE line.
	EXPECT_LT(t.find("mkdp_a_total{partition=\"p1\"} 2\n"), t.find("# HELP mkdp_b"));
	EXPECT_NE(t.find("mkdp_b 2.5\n"), std::string::npos);
	EXPECT_THROW(e.gauge("mkdp_a_total", "A", {}, 1), Error) << "one name, two types";
	EXPECT_THROW(e.gauge("mkdp-bad", "x", {}, 1), Error);
	Exposition bad;
	bad.gauge("mkdp_c", "C", {{"le", "1"}}, 1);
	EXPECT_THROW((void)bad.text(), Error) << "le is the histogram's";
}

TEST(Metrics, ValuesInTheFormatsNumbers)
{
	EXPECT_EQ(format_value(0), "0");
	EXPECT_EQ(format_value(18446744073709551615.0), "18446744073709551616");	// a counter stays exact
	EXPECT_EQ(format_value(1e22), "1e+22");
	EXPECT_EQ(format_value(1.024e-6), "1.024e-06");
	EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
	EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
	EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(Metrics, HistogramBucketsAreCumulativeAndEndInInfEqualToCount)
{
	Exposition e;
	Histogram h{{{"volume", "v0"}}, {{0.001, 2}, {0.002, 0}, {0.004, 3}}, 7, 0.0125};	// 2 above the last bound
	e.histogram("mkdp_sdp_request_duration_seconds", "Latency", h);
	std::string t = e.text();
	EXPECT_EQ(t, "# HELP mkdp_sdp_request_duration_seconds Latency\n"
		     "# TYPE mkdp_sdp_request_duration_seconds histogram\n"
		     "mkdp_sdp_request_duration_seconds_bucket{volume=\"v0\",le=\"0.001\"} 2\n"
		     "mkdp_sdp_request_duration_seconds_bucket{volume=\"v0\",le=\"0.002\"} 2\n"
		     "mkdp_sdp_request_duration_seconds_bucket{volume=\"v0\",le=\"0.004\"} 5\n"
		     "mkdp_sdp_request_duration_seconds_bucket{volume=\"v0\",le=\"+Inf\"} 7\n"
		     "mkdp_sdp_request_duration_seconds_sum{volume=\"v0\"} 0.0125\n"
		     "mkdp_sdp_request_duration_seconds_count{volume=\"v0\"} 7\n");
	// A count below the buckets' sum cannot make +Inf smaller than a bucket.
	Exposition e2;
	e2.histogram("mkdp_h_seconds", "H", {{}, {{1, 4}}, 1, 0});
	EXPECT_NE(e2.text().find("mkdp_h_seconds_bucket{le=\"+Inf\"} 4\nmkdp_h_seconds_sum 0\nmkdp_h_seconds_count 4\n"),
		  std::string::npos)
		<< e2.text();
}

TEST(LatencyHistogram, BucketUpperBoundsAreInclusivePowersOfTwo)
{
	using H = sdp::LatencyHistogram;
	EXPECT_EQ(H::bucket_of(0), 0);
	EXPECT_EQ(H::bucket_of(1), 0);
	EXPECT_EQ(H::bucket_of(2), 1);
	EXPECT_EQ(H::bucket_of(3), 2);
	EXPECT_EQ(H::bucket_of(1024), 10);
	EXPECT_EQ(H::bucket_of(1025), 11);
	EXPECT_EQ(H::bucket_of(UINT64_MAX), H::kBuckets - 1);
	for (int i = 1; i < H::kBuckets - 1; i++) {
		EXPECT_EQ(H::bucket_of(H::upper_ns(i)), i);
		EXPECT_EQ(H::bucket_of(H::upper_ns(i) + 1), i + 1);
	}
	H h;
	for (uint64_t ns : {500u, 1024u, 1025u, 3000u, 3000u})
		h.record(ns);
	EXPECT_EQ(h.count, 5u);
	EXPECT_EQ(h.sum_ns, 8549u);
	EXPECT_EQ(h.buckets[9] + h.buckets[10] + h.buckets[11] + h.buckets[12], 5u);
}

TEST(LatencyHistogram, ExportedInSecondsFromOneMicrosecond)
{
	// What the storage plane's status says (request_latency_ns): buckets
	// not cumulative, empty ones left out.
	nlohmann::json j{{"count", 6},
			 {"sum_ns", 3'000'000'000ULL},
			 {"buckets",
			  {{{"le_ns", 512}, {"count", 1}},
			   {{"le_ns", 2048}, {"count", 2}},
			   {{"le_ns", 1ULL << 40}, {"count", 3}}}}};
	Histogram h = latency_histogram(j, {{"volume", "v0"}});
	EXPECT_EQ(h.count, 6u);
	EXPECT_DOUBLE_EQ(h.sum, 3.0);
	ASSERT_EQ(h.buckets.size(), 25u);
	EXPECT_DOUBLE_EQ(h.buckets[0].first, 1024e-9);
	EXPECT_EQ(h.buckets[0].second, 1u) << "below the first bound: in the first bucket";
	EXPECT_EQ(h.buckets[1].second, 2u);
	EXPECT_DOUBLE_EQ(h.buckets.back().first, double(1ULL << 34) / 1e9);
	uint64_t in_buckets = 0;
	for (const auto &b : h.buckets)
		in_buckets += b.second;
	EXPECT_EQ(in_buckets, 3u) << "above the last bound: only in +Inf";
	Exposition e;
	e.histogram("mkdp_sdp_request_duration_seconds", "L", h);
	EXPECT_NE(e.text().find("le=\"+Inf\"} 6\n"), std::string::npos);
}

TEST(Metrics, PromtoolAcceptsTheText)
{
	// `make deps` installs promtool (package prometheus): absent is a failure.
	ASSERT_EQ(access("/usr/bin/promtool", X_OK), 0)
		<< "promtool is not installed: run `make deps` (Debian package prometheus)";
	Exposition e;
	e.gauge("mkdp_build_info", "Version", {{"version", "0.1.0"}}, 1);
	e.counter("mkdp_steer_rule_frames_total", "Frames", {{"rule", "1"}, {"rule_text", "exact \"x\"\\\n"}}, 5);
	e.histogram("mkdp_sdp_request_duration_seconds", "Latency",
		    latency_histogram({{"count", 2}, {"sum_ns", 5000}, {"buckets", {{{"le_ns", 4096}, {"count", 2}}}}},
				      {{"volume", "v0"}}));
	std::string file = "/tmp/mkdp-metrics-test-" + std::to_string(getpid()) + ".prom";
	std::ofstream(file) << e.text();
	ProgramResult r = run_program({"sh", "-c", "promtool check metrics < " + file});
	std::remove(file.c_str());
	EXPECT_EQ(r.status, 0) << r.out << r.err;
}

} // namespace
} // namespace mkdp::metrics
