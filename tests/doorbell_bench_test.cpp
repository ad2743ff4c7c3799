// SPDX-License-Identifier: BSD-2-Clause
// The doorbell table (doorbell_table.h, `mkdp bench doorbell`) has every row
// the issue asks for — the cache-line floor, polled, adaptive, futex and
// eventfd wake-ups, monitor or why not, the bare IPI — each measured or
// saying why not, and rows from another source (the KVM VMM's) append in
// the same vocabulary. Only shapes, signs and counts are asserted, never a
// time: the machine is shared.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench.h"
#include "child_process.h"
#include "doorbell_measure.h"
#include "doorbell_table.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <sys/wait.h>

namespace {

using nlohmann::json;

// A summary over repetitions, or null where the row does not measure it.
void expect_summary(const json &s, const std::string &what, bool may_be_null, double lowest)
{
	if (s.is_null()) {
		EXPECT_TRUE(may_be_null) << what << " is null";
		return;
	}
	for (const char *k : {"median", "min", "max", "p25", "p75"})
		ASSERT_TRUE(s[k].is_number()) << what << "." << k << ": " << s.dump();
	EXPECT_GE(s["min"].get<double>(), lowest) << what;
	EXPECT_LE(s["min"].get<double>(), s["median"].get<double>()) << what;
	EXPECT_LE(s["median"].get<double>(), s["max"].get<double>()) << what;
	EXPECT_GE(s["n"].get<int>(), 1) << what;
}

// One row of results.table: measured with complete, sane figures, or a reason.
void expect_row(const json &r)
{
	std::string name = r["name"];
	ASSERT_TRUE(r["measured"].is_boolean()) << r.dump(2);
	EXPECT_TRUE(r["wake"].is_string()) << name;
	if (!r["measured"].get<bool>()) {
		EXPECT_FALSE(r["reason"].get<std::string>().empty()) << name;
		return;
	}
	EXPECT_GE(r["repetitions"].get<int>(), 1) << name;
	// Latencies are positive; p99 is never below p50 in one repetition,
	// so neither is its median.
	expect_summary(r["oneway_p50_ns"], name + " one-way p50", false, 1e-9);
	expect_summary(r["oneway_p99_ns"], name + " one-way p99", false, 1e-9);
	EXPECT_GE(r["oneway_p99_ns"]["median"].get<double>(), r["oneway_p50_ns"]["median"].get<double>()) << name;
	expect_summary(r["rtt_p50_ns"], name + " rtt p50", false, 1e-9);
	expect_summary(r["vs_cacheline"], name + " vs floor", false, 1e-9);
	expect_summary(r["rtt_vs_cacheline"], name + " rtt vs floor", false, 1e-9);
	expect_summary(r["waker_cpu_ns"], name + " waker CPU", true, 0);
	expect_summary(r["woken_cpu_ns"], name + " woken CPU", true, 0);
	expect_summary(r["cpu_ns_per_wakeup"], name + " CPU per wake-up", true, 0);
	expect_summary(r["idle_cpu_fraction"], name + " idle CPU", true, 0);
}

double med(const json &summary) { return summary["median"].get<double>(); }

std::map<std::string, json> rows_by_name(const json &table)
{
	std::map<std::string, json> rows;
	for (const auto &r : table) {
		expect_row(r);
		rows[r["name"].get<std::string>()] = r;
	}
	return rows;
}

// The rows every table has, in the words.
void expect_every_row(const json &results)
{
	auto rows = rows_by_name(results["table"]);
	for (const char *name : {"floor_cacheline", "polled", "adaptive", "interrupt", "interrupt_eventfd",
				 "adaptive_eventfd", "monitor", "bare_ipi"})
		ASSERT_TRUE(rows.count(name)) << name << "\n" << results["table"].dump(2);
	// Futex and eventfd are separate rows of the interrupt strategy.
	EXPECT_EQ(rows["interrupt"]["wake"], "futex");
	EXPECT_EQ(rows["interrupt_eventfd"]["wake"], "eventfd");
	EXPECT_TRUE(rows["floor_cacheline"]["measured"].get<bool>());
	EXPECT_TRUE(rows["polled"]["measured"].get<bool>());
	EXPECT_EQ(rows["bare_ipi"]["measured"], results["bare_ipi"]["measured"]);
	if (rows["bare_ipi"]["measured"].get<bool>()) {
		// The caller spins until the target ran the program: its CPU
		// per call is measured, and so is the IPI's cost to the target.
		EXPECT_FALSE(rows["bare_ipi"]["waker_cpu_ns"].is_null());
		EXPECT_FALSE(rows["bare_ipi"]["woken_cpu_ns"].is_null());
		EXPECT_GE(med(rows["bare_ipi"]["cpu_ns_per_wakeup"]), med(rows["bare_ipi"]["waker_cpu_ns"]));
	}
}

// The details of the bare IPI: measured on CPU 1, or a reason.
void expect_bare_ipi(const json &ipi)
{
	ASSERT_TRUE(ipi.contains("measured")) << ipi.dump(2);
	if (!ipi["measured"].get<bool>()) {
		EXPECT_FALSE(ipi["reason"].get<std::string>().empty());
		std::printf("bare IPI not measured: %s\n", ipi["reason"].get<std::string>().c_str());
		return;
	}
	EXPECT_GT(ipi["count"].get<int>(), 0) << ipi.dump(2);
	EXPECT_EQ(ipi["target_cpu"].get<int>(), 1);
	EXPECT_EQ(ipi["target_cpu_seen"].get<int>(), 1) << "the program did not run on the other CPU";
	for (const json *d : {&ipi, &ipi["target_busy"], &ipi["own_cpu"]})
		for (const char *k : {"oneway_ns", "rtt_ns"})
			for (const char *pct : {"p50", "p99"})
				expect_summary((*d)[k][pct], std::string(k) + " " + pct, false, 1e-9);
	expect_summary(ipi["cpu_ns_per_wakeup"]["waker"], "caller CPU", false, 1e-9);
	// Each IPI's arrival lies in a gap of the thread spinning on the target.
	expect_summary(ipi["cpu_ns_per_wakeup"]["woken"]["p50"], "target CPU", false, 1e-9);
	expect_summary(ipi["cpu_ns_per_wakeup"]["woken_attributed"], "attributed", false, 1e-9);
}

TEST(DoorbellBench, BareIpiMeasuredOrSaysWhy) { expect_bare_ipi(mkdp::bench::measure_bare_ipi(true, 1)); }

// With --realtime every measuring thread is SCHED_FIFO, and a thread the
// caller starts begins on the caller's CPU with its policy: a caller that
// spun waiting for it once hung there for good. In a child with a
// watchdog, so that a hang fails the test instead of stalling it.
TEST(DoorbellBench, BareIpiRealtimeDoesNotHang)
{
	mkdp::test::Child child([] {
		mkdp::bench::doorbell::g_realtime = true;
		return mkdp::bench::measure_bare_ipi(true, 1).contains("measured") ? 0 : 1;
	});
	EXPECT_EQ(child.wait(60'000), 0) << "-1: it hung and was killed after 60 s";
}

// A source the table does not know (as the KVM rows will be): measured,
// unavailable, and failing mid-run each end up as a row.
TEST(DoorbellBench, TableAppendsRowsFromAnotherSource)
{
	using mkdp::bench::RowRep;
	using mkdp::bench::RowSource;
	int calls = 0;
	RowSource fake{"fake_exit", "test", "fixed figures", [] { return std::string(); }, [&](bool quick) {
			       EXPECT_TRUE(quick);
			       calls++;
			       RowRep r;
			       r.oneway_p50 = 1000;
			       r.oneway_p99 = 2000;
			       r.rtt_p50 = 3000;
			       r.waker_cpu_ns = 500;
			       return r;
		       }};
	fake.details = [](const std::vector<RowRep> &reps) { return json{{"reps", reps.size()}}; };
	RowSource absent{"fake_absent", "test", "", [] { return std::string("no /dev/fake: ENOENT"); },
			 [](bool) -> RowRep { throw std::logic_error("must not run"); }};
	RowSource failing{"fake_failing", "test", "", nullptr,
			  [](bool) -> RowRep { throw std::runtime_error("KVM_RUN: EINTR"); }};
	json t = mkdp::bench::measure_doorbell_table(true, 2, 20000, false, {fake, absent, failing});
	const json &res = t["results"];
	expect_every_row(res);
	expect_bare_ipi(res["bare_ipi"]);
	auto rows = rows_by_name(res["table"]);
	EXPECT_EQ(calls, 2);
	ASSERT_TRUE(rows["fake_exit"]["measured"].get<bool>());
	EXPECT_EQ(rows["fake_exit"]["repetitions"].get<int>(), 2);
	EXPECT_EQ(med(rows["fake_exit"]["oneway_p50_ns"]), 1000);
	EXPECT_EQ(med(rows["fake_exit"]["cpu_ns_per_wakeup"]), 500); // the waker only
	EXPECT_TRUE(rows["fake_exit"]["rtt_p99_ns"].is_null());
	EXPECT_TRUE(rows["fake_exit"]["idle_cpu_fraction"].is_null());
	EXPECT_EQ(res["extra"]["fake_exit"]["reps"].get<int>(), 2);
	EXPECT_TRUE(t["ratios"]["vs_cacheline"]["fake_exit"].is_number());
	EXPECT_EQ(rows["fake_absent"]["reason"], "no /dev/fake: ENOENT");
	EXPECT_EQ(rows["fake_failing"]["reason"], "KVM_RUN: EINTR");
	// A finished row built elsewhere has the same shape.
	std::vector<RowRep> reps(1);
	reps[0].oneway_p50 = reps[0].oneway_p99 = reps[0].rtt_p50 = 10;
	reps[0].floor_oneway_p50 = reps[0].floor_oneway_p99 = reps[0].floor_rtt_p50 = 5;
	json own = mkdp::bench::doorbell_row("own", "test", reps);
	expect_row(own);
	EXPECT_EQ(med(own["vs_cacheline"]), 2);
}

std::string run_cli(const std::string &args, int &status)
{
	std::string out;
	FILE *p = popen((std::string(MKDP_CLI) + " " + args).c_str(), "r");
	if (!p) {
		status = -1;
		return out;
	}
	char buf[4096];
	while (size_t n = fread(buf, 1, sizeof(buf), p))
		out.append(buf, n);
	status = pclose(p);
	return out;
}

TEST(DoorbellBench, CliQuickJsonHasEveryRow)
{
	char tmpl[] = "/tmp/mkdp-doorbell-bench-XXXXXX";
	ASSERT_NE(mkdtemp(tmpl), nullptr);
	std::string dir = tmpl;
	int status = 0;
	std::string out = run_cli("bench doorbell --quick -r 1 --json --out " + dir, status);
	bool md = std::filesystem::exists(dir + "/doorbell.md"), js = std::filesystem::exists(dir + "/doorbell.json");
	std::filesystem::remove_all(dir);
	ASSERT_TRUE(WIFEXITED(status)) << out;
	ASSERT_EQ(WEXITSTATUS(status), 0) << out;
	EXPECT_TRUE(md && js) << "doorbell.md and doorbell.json in --out";
	json doc;
	ASSERT_NO_THROW(doc = json::parse(out)) << out;
	for (const char *k : {"machine", "results", "ratios"})
		ASSERT_TRUE(doc.contains(k)) << k;
	const auto &res = doc["results"];
	expect_every_row(res);
	expect_bare_ipi(res["bare_ipi"]);
	// What the plots and the earlier report read is still there.
	for (const char *k : {"polled", "adaptive", "interrupt"})
		EXPECT_EQ(res["strategies"][k]["loads"].size(), 5u) << k;
	EXPECT_TRUE(res["call_cost_ns"].is_object());
	EXPECT_TRUE(doc["ratios"]["vs_cacheline"]["polled"].is_number());
	if (res["bare_ipi"]["measured"].get<bool>()) {
		EXPECT_TRUE(doc["ratios"]["vs_cacheline"]["bare_ipi"].is_number());
	}
}

} // namespace
