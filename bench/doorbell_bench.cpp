// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench doorbell`: what each doorbell strategy costs against the
// physical floor, a cache-line ping-pong between the same two CPUs measured
// in the same run (docs/doorbells.md, "Benchmark").
//
// For every strategy: one-way wake-up latency and round trip (ping-pong
// through two rings, the producer's CLOCK_MONOTONIC stamp in the message),
// latency and consumer CPU at several offered loads, and the CPU a waiting
// consumer burns while nothing comes. Consumer on CPU 0, producer on CPU 1.
//
// Google Benchmark measures what fits a single-threaded loop: the cost of
// each side's call on its own (a suppressed notify, a kick nobody waits for,
// a wait on a non-empty ring). The cross-CPU figures need two pinned
// threads in different roles and per-message distributions, so that
// harness is our own, on bench.h's statistics.
#include "bench.h"
#include "plot_run.h"
#include "doorbell_measure.h"
#include "doorbell_table.h"

#include <mkdp/cpu.h>
#include <mkdp/cpu_features.h>
#include <mkdp/doorbell.h>
#include <mkdp/error.h>
#include <mkdp/region.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

namespace mkdp::bench {

namespace {

using namespace doorbell;

// --- single-threaded call costs, through Google Benchmark -------------------

class Capture : public benchmark::BenchmarkReporter {
public:
	bool ReportContext(const Context &) override { return true; }
	void ReportRuns(const std::vector<Run> &runs) override
	{
		for (const Run &r : runs)
			if (!r.error_occurred && r.run_type == Run::RT_Iteration)
				ns[r.benchmark_name().substr(0, r.benchmark_name().find('/'))] =
					r.GetAdjustedRealTime();
	}
	std::map<std::string, double> ns;
};

// ns per call of each side's doorbell operation, on CPU 1.
std::map<std::string, double> call_costs(bool quick)
{
	std::map<std::string, double> out;
	PinnedThread t(kProducerCpu, [&] {
		Variant adaptive{"", {.strategy = DoorbellStrategy::adaptive}};
		Variant interrupt{"", {.strategy = DoorbellStrategy::interrupt}};
		Variant eventfd{"", {.strategy = DoorbellStrategy::interrupt,
				     .mechanism = WakeMechanism::eventfd}};
		auto notify = [](const Variant &v) {
			return [v](benchmark::State &st) {
				Link link(v);
				auto p = link.producer(0);
				Doorbell db = link.doorbell(0, p);
				// An empty publish: the index store, the
				// notify's fence and flag read, and the kick.
				for (auto _ : st)
					db.submit(p, 0);
			};
		};
		double min_s = quick ? 0.05 : 0.3;
		benchmark::RegisterBenchmark("notify.adaptive_suppressed", notify(adaptive))->MinTime(min_s);
		benchmark::RegisterBenchmark("notify.interrupt_futex_no_waiter", notify(interrupt))->MinTime(min_s);
		benchmark::RegisterBenchmark("notify.interrupt_eventfd_write", notify(eventfd))->MinTime(min_s);
		benchmark::RegisterBenchmark("wait.ring_not_empty", [](benchmark::State &st) {
			Link link({"", {.strategy = DoorbellStrategy::adaptive}});
			auto p = link.producer(0);
			auto c = link.consumer(0);
			FrameAddr m{1};
			p.produce(&m, 1);
			Doorbell db = link.doorbell(0, c);
			for (auto _ : st)
				benchmark::DoNotOptimize(db.wait(c));
		})->MinTime(min_s);
		Capture cap;
		benchmark::RunSpecifiedBenchmarks(&cap);
		benchmark::ClearRegisteredBenchmarks();
		out = cap.ns;
	});
	t.join();
	return out;
}

// --- repetitions and the report --------------------------------------------

std::string fmt(double v, int prec = 0)
{
	std::ostringstream o;
	o.setf(std::ios::fixed);
	o.precision(prec);
	o << v;
	return o.str();
}


double med(const nlohmann::json &summary) { return summary.is_null() ? 0 : summary["median"].get<double>(); }

// A summary as "median" (null: "-"); pct: as a percentage.
std::string cell(const nlohmann::json &summary, int prec = 0, bool pct = false)
{
	if (summary.is_null())
		return "-";
	return fmt((pct ? 100 : 1) * med(summary), prec) + (pct ? " %" : "");
}

// A ratio as "median [min..max]": the spread over repetitions.
std::string ratio_cell(const nlohmann::json &summary)
{
	if (summary.is_null())
		return "-";
	int prec = med(summary) < 10 ? 2 : 0;
	return fmt(med(summary), prec) + " [" + fmt(summary["min"].get<double>(), prec) + ".." +
	       fmt(summary["max"].get<double>(), prec) + "]";
}

// p99.9 is in the details only (results.strategies, floor_cacheline, bare_ipi).
std::string p999_cell(const nlohmann::json &results, const std::string &name)
{
	const nlohmann::json *d = nullptr;
	if (name == "floor_cacheline" || name == "bare_ipi")
		d = &results[name];
	else if (results["strategies"].contains(name))
		d = &results["strategies"][name];
	return d && d->contains("oneway_ns") ? cell((*d)["oneway_ns"]["p999"]) : "-";
}

// The readable report, from the JSON of measure_doorbell_table().
std::string markdown(const nlohmann::json &results, const nlohmann::json &ratios,
		     const std::map<std::string, double> &calls)
{
	const auto &opt = results["options"];
	std::ostringstream md;
	md << "# mkdp bench doorbell\n\n"
	   << "Consumer on CPU " << kConsumerCpu << ", producer on CPU " << kProducerCpu
	   << "; medians of " << opt["repetitions"] << " repetitions; adaptive poll budget "
	   << opt["poll_budget_ns"].get<uint64_t>() / 1000 << " us"
	   << (opt["realtime"].get<bool>() ? "; SCHED_FIFO threads" : "")
	   << ". Floor: one cache line bounced between the two CPUs, measured right before each "
	      "row's repetition; / floor is the median over repetitions of the row's figure over "
	      "that floor's [lowest..highest repetition]. CPU per wake-up: waker / woken; for the "
	      "strategies the woken consumer's thread CPU per message at 1k messages/s, for the bare "
	      "IPI the caller's CPU per call / the time each IPI takes from a busy target.\n\n"
	   << "| row | wake | one-way p50 ns | p99 | p99.9 | RTT p50 ns | one-way p50 / floor | "
	      "p99 / floor | RTT / floor | CPU ns per wake-up | idle CPU |\n"
	   << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
	for (const auto &r : results["table"]) {
		std::string name = r["name"];
		if (!r["measured"].get<bool>()) {
			md << "| " << name << " | not measured: " << r["reason"].get<std::string>()
			   << " |||||||||\n";
			continue;
		}
		md << "| " << name << " | " << r["wake"].get<std::string>() << " | " << cell(r["oneway_p50_ns"])
		   << " | " << cell(r["oneway_p99_ns"]) << " | " << p999_cell(results, name) << " | "
		   << cell(r["rtt_p50_ns"]) << " | " << ratio_cell(r["vs_cacheline"]) << " | "
		   << ratio_cell(r["vs_cacheline_p99"]) << " | " << ratio_cell(r["rtt_vs_cacheline"]) << " | "
		   << cell(r["waker_cpu_ns"]) << " / " << cell(r["woken_cpu_ns"]) << " | "
		   << cell(r["idle_cpu_fraction"], 2, true) << " |\n";
	}
	const auto &ipi = results["bare_ipi"];
	if (ipi["measured"].get<bool>())
		md << "\nBare IPI (BPF_PROG_RUN of a raw_tp program with BPF_F_TEST_RUN_ON_CPU, run by "
		      "smp_call_function_single): the same call on the caller's own CPU takes "
		   << fmt(med(ipi["own_cpu"]["oneway_ns"]["p50"])) << " ns to reach the program and "
		   << fmt(med(ipi["own_cpu"]["rtt_ns"]["p50"])) << " ns round trip; crossing CPUs adds "
		   << fmt(med(ipi["ipi_added_rtt_ns"])) << " ns. With a thread spinning on the target: one-way p50 "
		   << fmt(med(ipi["target_busy"]["oneway_ns"]["p50"])) << " ns, p99 "
		   << fmt(med(ipi["target_busy"]["oneway_ns"]["p99"])) << " ns. Function-call interrupts the target "
		   << "took per call: " << cell(ipi["target_ipis_per_call"], 2) << " idle (below 1: calls that found "
		   << "its idle loop polling, taken without an IPI), "
		   << cell(ipi["target_busy"]["target_ipis_per_call"], 2) << " busy.\n";
	md << "\n| strategy | load /s | achieved /s | latency p50 ns | p99 | p99.9 | consumer CPU ns/msg | consumer CPU |\n"
	   << "|---|---|---:|---:|---:|---:|---:|---:|\n";
	for (const auto &[name, s] : results["strategies"].items()) {
		if (!s["available"].get<bool>())
			continue;
		for (const auto &l : s["loads"])
			md << "| " << name << " | " << l["load"].get<std::string>() << " | "
			   << fmt(med(l["achieved_per_s"])) << " | " << fmt(med(l["latency_ns"]["p50"])) << " | "
			   << fmt(med(l["latency_ns"]["p99"])) << " | " << fmt(med(l["latency_ns"]["p999"]))
			   << " | " << fmt(med(l["cpu_ns_per_msg"]), 1) << " | "
			   << fmt(100 * med(l["cpu_fraction"]), 1) << " % |\n";
	}
	md << "\nCost of one call, single-threaded (Google Benchmark, ns):";
	for (const auto &[name, ns] : calls)
		md << " " << name << " " << fmt(ns, 1) << ";";
	md << "\n";
	const auto &goals = results["goals"];
	md << "\nGoals: polled <= 1.5x floor: " << goals["polled_le_1.5x_floor"]
	   << "; adaptive <= 2x polled at 1M/s: " << goals["adaptive_le_2x_polled_sustained"] << " ("
	   << fmt(ratios["adaptive_vs_polled_sustained"].get<double>(), 2)
	   << "x); adaptive idle <= 5 % CPU: " << goals["adaptive_idle_le_5pct_cpu"] << ".\n";
	return md.str();
}

void run(const CommonOptions &o, uint64_t budget_ns, bool realtime)
{
	// Refuse a bad --out before minutes of measuring, not after.
	std::string dir = o.out_dir.empty() ? default_out_dir("doorbell") : o.out_dir;
	std::error_code ec;
	std::filesystem::create_directories(dir, ec);
	if (ec)
		throw Error("bench doorbell: cannot create " + dir + ": " + ec.message());
	if (std::thread::hardware_concurrency() < 2)
		throw Error("bench doorbell needs two CPUs (consumer on 0, producer on 1)");

	nlohmann::json table = measure_doorbell_table(o.quick, o.repetitions, budget_ns, realtime);
	nlohmann::json &results = table["results"], &ratios = table["ratios"];
	std::map<std::string, double> calls = call_costs(o.quick);
	results["call_cost_ns"] = calls;
	nlohmann::json doc = {{"benchmark", "doorbell"}, {"machine", machine_info()},
			      {"results", results}, {"ratios", ratios}};
	std::string md = markdown(results, ratios, calls);

	std::ofstream(dir + "/doorbell.json") << doc.dump(2) << "\n";
	std::ofstream(dir + "/doorbell.md") << md;
	std::string why = run_plot_script("plot_doorbell.py", "MKDP_PLOT_DOORBELL", dir);
	if (why.empty())
		doc["results"]["plots"] = {dir + "/latency_vs_load.png", dir + "/cpu_vs_load.png"};
	else
		doc["results"]["plots_skipped"] = why;
	std::ofstream(dir + "/doorbell.json") << doc.dump(2) << "\n";
	emit(o, doc, md + "\nReport, JSON and plots in " + dir + "/" + (why.empty() ? "" : " (plots skipped: " + why + ")") + "\n");
}

} // namespace

void register_doorbell(CLI::App &bench)
{
	static CommonOptions o;
	static uint64_t budget_ns = 20000;
	static bool realtime = false;
	CLI::App *cmd = bench.add_subcommand(
		"doorbell", "Doorbells: polled, interrupt-style, adaptive, monitor and a bare IPI.\n"
		"Doorbell strategies (polled, interrupt with futex or eventfd, adaptive,\n"
			    "monitor) and a bare IPI (BPF_PROG_RUN on the other CPU) against a\n"
			    "cache-line ping-pong between the same two CPUs: wake-up latency, latency\n"
			    "and CPU at offered loads, idle CPU. Writes JSON, markdown and plots to --out\n"
			    "(default ~/.cache/mkdp/bench/doorbell, never the source tree).");
	add_common_options(*cmd, o);
	add_out_option(*cmd, o, "doorbell");
	cmd->add_option("--poll-budget-ns", budget_ns, "adaptive: poll this long before sleeping")
		->capture_default_str();
	cmd->add_flag("--realtime", realtime,
		      "run the two measuring threads SCHED_FIFO (the kernel's RT throttling still\n"
		      "leaves 5% of each CPU to others): figures free of other load on a busy machine");
	cmd->callback([] { run(o, budget_ns, realtime); });
}

} // namespace mkdp::bench
