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
#include "doorbell_measure.h"

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

// Per-rep figures, collected by name, summarised at the end.
using Series = std::map<std::string, std::vector<double>>;

void add(Series &s, const std::string &k, const Dist &d)
{
	s[k + ".p50"].push_back(d.p50);
	s[k + ".p99"].push_back(d.p99);
	s[k + ".p999"].push_back(d.p999);
}

std::string load_name(double rate)
{
	if (rate == 0)
		return "unpaced";
	if (rate >= 1e6)
		return std::to_string(int(rate / 1e6)) + "M";
	if (rate >= 1e3)
		return std::to_string(int(rate / 1e3)) + "k";
	return std::to_string(int(rate));
}

double median(const Series &s, const std::string &k)
{
	auto it = s.find(k);
	return it == s.end() ? 0 : summarize(it->second).median;
}

nlohmann::json dist_json(const Series &s, const std::string &k)
{
	return {{"p50", to_json(summarize(s.at(k + ".p50")))},
		{"p99", to_json(summarize(s.at(k + ".p99")))},
		{"p999", to_json(summarize(s.at(k + ".p999")))}};
}

std::string fmt(double v, int prec = 0)
{
	std::ostringstream o;
	o.setf(std::ios::fixed);
	o.precision(prec);
	o << v;
	return o.str();
}

// Where plot_doorbell.py is: $MKDP_PLOT_DOORBELL, else beside the running
// binary's tree (build/bin/mkdp -> ../../bench/, installed bin/mkdp ->
// ../share/mkdp/), else the source tree it was compiled from. Empty when
// none has it.
std::filesystem::path plot_script(std::vector<std::string> &tried)
{
	namespace fs = std::filesystem;
	std::vector<fs::path> candidates;
	if (const char *e = std::getenv("MKDP_PLOT_DOORBELL"))
		candidates.emplace_back(e);
	std::error_code ec;
	fs::path exe = fs::read_symlink("/proc/self/exe", ec);
	if (!ec) {
		fs::path bin = exe.parent_path();
		for (fs::path d = bin; !d.empty() && d != d.root_path(); d = d.parent_path())
			candidates.push_back(d / "bench" / "plot_doorbell.py");
		candidates.push_back(bin.parent_path() / "share" / "mkdp" / "plot_doorbell.py");
	}
	// Last: the source tree this binary was compiled from, if still there.
	candidates.push_back(fs::path(__FILE__).parent_path() / "plot_doorbell.py");
	for (const fs::path &c : candidates) {
		tried.push_back(c.string());
		if (fs::exists(c, ec))
			return c;
	}
	return {};
}

// Draws the plots with plot_doorbell.py; a missing script or
// python3/matplotlib is reported, not fatal.
std::string plot(const std::string &dir)
{
	std::vector<std::string> tried;
	std::filesystem::path script = plot_script(tried);
	if (script.empty()) {
		std::string where;
		for (const std::string &t : tried)
			where += (where.empty() ? "" : ", ") + t;
		return "plot_doorbell.py not found (set MKDP_PLOT_DOORBELL; looked in " + where + ")";
	}
	// Debian's interpreter first: python3-matplotlib installs there.
	for (const char *py : {"/usr/bin/python3", "python3"}) {
		pid_t pid = fork();
		if (pid < 0)
			return "fork failed";
		if (pid == 0) {
			int null = ::open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, 1);
				dup2(null, 2);
			}
			execlp(py, py, script.c_str(), dir.c_str(), (char *)nullptr);
			_exit(127);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return {};
	}
	return "python3 with matplotlib not available (Debian: python3-matplotlib)";
}

void run(const CommonOptions &o, uint64_t budget_ns, bool realtime)
{
	g_realtime = realtime;
	// Refuse a bad --out before minutes of measuring, not after.
	std::string dir = o.out_dir.empty() ? default_out_dir("doorbell") : o.out_dir;
	std::error_code ec;
	std::filesystem::create_directories(dir, ec);
	if (ec)
		throw Error("bench doorbell: cannot create " + dir + ": " + ec.message());
	if (std::thread::hardware_concurrency() < 2)
		throw Error("bench doorbell needs two CPUs (consumer on 0, producer on 1)");
	Params p;
	p.quick = o.quick;
	p.reps = o.quick ? std::min(o.repetitions, 3) : o.repetitions;
	p.poll_budget_ns = budget_ns;
	p.pingpong_ns = o.quick ? 300'000'000 : 1'500'000'000;
	p.pingpong_samples = o.quick ? 20000 : 100000;
	p.load_ns = o.quick ? 200'000'000 : 1'000'000'000;
	p.idle_ns = o.quick ? 300'000'000 : 1'000'000'000;
	p.loads = {1e3, 1e4, 1e5, 1e6, 0};

	std::vector<Variant> variants = {
		{"polled", {.strategy = DoorbellStrategy::polled}},
		{"adaptive", {.strategy = DoorbellStrategy::adaptive, .poll_budget_ns = budget_ns}},
		{"interrupt", {.strategy = DoorbellStrategy::interrupt}},
		{"interrupt_eventfd",
		 {.strategy = DoorbellStrategy::interrupt, .mechanism = WakeMechanism::eventfd}},
		{"adaptive_eventfd",
		 {.strategy = DoorbellStrategy::adaptive, .mechanism = WakeMechanism::eventfd,
		  .poll_budget_ns = budget_ns}},
	};
	bool monitor = doorbell_available(DoorbellStrategy::monitor);
	if (monitor)
		variants.push_back({"monitor", {.strategy = DoorbellStrategy::monitor}});

	Series floor;
	std::map<std::string, Series> per;
	for (int rep = 0; rep < p.reps; rep++) {
		for (const Variant &v : variants) {
			Series &s = per[v.name];
			// The floor right before each strategy, so the ratio
			// compares two figures taken under the same conditions
			// (a shared machine's load moves between strategies).
			PingPong f = floor_pingpong(p);
			add(floor, "oneway", f.oneway);
			add(floor, "rtt", f.rtt);
			PingPong pp = strategy_pingpong(v, p);
			add(s, "oneway", pp.oneway);
			add(s, "rtt", pp.rtt);
			s["vs_floor.oneway"].push_back(pp.oneway.p50 / f.oneway.p50);
			s["vs_floor.rtt"].push_back(pp.rtt.p50 / f.rtt.p50);
			for (double rate : p.loads) {
				LoadRun l = load_run(v, p, rate);
				std::string k = "load." + load_name(rate);
				add(s, k + ".latency", l.latency);
				s[k + ".achieved"].push_back(l.achieved);
				s[k + ".cpu_ns_per_msg"].push_back(l.cpu_ns_per_msg);
				s[k + ".cpu_fraction"].push_back(l.cpu_fraction);
			}
			s["idle_cpu_fraction"].push_back(idle_cpu(v, p));
		}
	}

	std::map<std::string, double> calls = call_costs(p.quick);

	// JSON
	nlohmann::json results, ratios, goals;
	results["call_cost_ns"] = calls;
	results["options"] = {{"quick", p.quick}, {"repetitions", p.reps}, {"realtime", realtime},
			      {"poll_budget_ns", p.poll_budget_ns}, {"consumer_cpu", kConsumerCpu},
			      {"producer_cpu", kProducerCpu}, {"clock", "CLOCK_MONOTONIC"},
			      {"load_seconds", double(p.load_ns) / 1e9},
			      {"idle_seconds", double(p.idle_ns) / 1e9}};
	results["floor_cacheline"] = {{"oneway_ns", dist_json(floor, "oneway")},
				      {"rtt_ns", dist_json(floor, "rtt")}};
	double floor_ow = median(floor, "oneway.p50"), floor_rtt = median(floor, "rtt.p50");
	for (const Variant &v : variants) {
		const Series &s = per[v.name];
		nlohmann::json j;
		j["available"] = true;
		j["mechanism"] = v.opts.strategy == DoorbellStrategy::interrupt ||
						 v.opts.strategy == DoorbellStrategy::adaptive
					 ? to_string(v.opts.mechanism)
					 : "none";
		j["oneway_ns"] = dist_json(s, "oneway");
		j["rtt_ns"] = dist_json(s, "rtt");
		for (double rate : p.loads) {
			std::string k = "load." + load_name(rate);
			j["loads"].push_back({{"load", load_name(rate)},
					      {"offered_per_s", rate},
					      {"achieved_per_s", to_json(summarize(s.at(k + ".achieved")))},
					      {"latency_ns", dist_json(s, k + ".latency")},
					      {"cpu_ns_per_msg", to_json(summarize(s.at(k + ".cpu_ns_per_msg")))},
					      {"cpu_fraction", to_json(summarize(s.at(k + ".cpu_fraction")))}});
		}
		j["idle_cpu_fraction"] = to_json(summarize(s.at("idle_cpu_fraction")));
		results["strategies"][v.name] = j;
		// Median over repetitions of (p50 / the floor measured just
		// before it).
		ratios["vs_cacheline"][v.name] = median(s, "vs_floor.oneway");
		ratios["rtt_vs_cacheline"][v.name] = median(s, "vs_floor.rtt");
	}
	if (!monitor)
		results["strategies"]["monitor"] = {{"available", false},
						    {"reason", user_monitor_description()}};
	const Series &pol = per["polled"], &ada = per["adaptive"];
	for (double rate : p.loads) {
		std::string k = "load." + load_name(rate) + ".latency.p50";
		ratios["adaptive_vs_polled_p50"][load_name(rate)] = median(ada, k) / median(pol, k);
	}
	// Sustained load: the highest paced load (1M/s), where a consumer
	// never runs dry long enough to sleep.
	double sustained = median(ada, "load.1M.latency.p50") / median(pol, "load.1M.latency.p50");
	goals["polled_le_1.5x_floor"] = ratios["vs_cacheline"]["polled"].get<double>() <= 1.5;
	goals["adaptive_le_2x_polled_sustained"] = sustained <= 2.0;
	goals["adaptive_idle_le_5pct_cpu"] = median(ada, "idle_cpu_fraction") <= 0.05;
	results["goals"] = goals;

	nlohmann::json doc = {{"benchmark", "doorbell"}, {"machine", machine_info()},
			      {"results", results}, {"ratios", ratios}};

	// Markdown
	std::ostringstream md;
	md << "# mkdp bench doorbell\n\n"
	   << "Consumer on CPU " << kConsumerCpu << ", producer on CPU " << kProducerCpu
	   << "; medians of " << p.reps << " repetitions; adaptive poll budget "
	   << p.poll_budget_ns / 1000 << " us" << (realtime ? "; SCHED_FIFO threads" : "")
	   << ". Floor: one cache line bounced between the two CPUs, measured right before each "
	      "strategy; one-way / floor is the median over repetitions of the strategy's p50 over "
	      "that floor's p50 (the floor row: all of them).\n\n"
	   << "| strategy | one-way p50 ns | p99 | p99.9 | RTT p50 ns | one-way / floor | idle CPU |\n"
	   << "|---|---:|---:|---:|---:|---:|---:|\n"
	   << "| floor (cache line) | " << fmt(floor_ow) << " | " << fmt(median(floor, "oneway.p99"))
	   << " | " << fmt(median(floor, "oneway.p999")) << " | " << fmt(floor_rtt) << " | 1.0 | - |\n";
	for (const Variant &v : variants) {
		const Series &s = per[v.name];
		md << "| " << v.name << " | " << fmt(median(s, "oneway.p50")) << " | "
		   << fmt(median(s, "oneway.p99")) << " | " << fmt(median(s, "oneway.p999")) << " | "
		   << fmt(median(s, "rtt.p50")) << " | "
		   << fmt(ratios["vs_cacheline"][v.name].get<double>(), 2) << " | "
		   << fmt(100 * median(s, "idle_cpu_fraction"), 2) << " % |\n";
	}
	if (!monitor)
		md << "| monitor | " << user_monitor_description() << " |||||\n";
	md << "\n| strategy | load /s | achieved /s | latency p50 ns | p99 | p99.9 | consumer CPU ns/msg | consumer CPU |\n"
	   << "|---|---|---:|---:|---:|---:|---:|---:|\n";
	for (const Variant &v : variants)
		for (double rate : p.loads) {
			const Series &s = per[v.name];
			std::string k = "load." + load_name(rate);
			md << "| " << v.name << " | " << load_name(rate) << " | "
			   << fmt(median(s, k + ".achieved")) << " | " << fmt(median(s, k + ".latency.p50"))
			   << " | " << fmt(median(s, k + ".latency.p99")) << " | "
			   << fmt(median(s, k + ".latency.p999")) << " | "
			   << fmt(median(s, k + ".cpu_ns_per_msg"), 1) << " | "
			   << fmt(100 * median(s, k + ".cpu_fraction"), 1) << " % |\n";
		}
	md << "\nCost of one call, single-threaded (Google Benchmark, ns):";
	for (const auto &[name, ns] : calls)
		md << " " << name << " " << fmt(ns, 1) << ";";
	md << "\n";
	md << "\nGoals: polled <= 1.5x floor: " << goals["polled_le_1.5x_floor"]
	   << "; adaptive <= 2x polled at 1M/s: " << goals["adaptive_le_2x_polled_sustained"]
	   << " (" << fmt(sustained, 2) << "x); adaptive idle <= 5 % CPU: "
	   << goals["adaptive_idle_le_5pct_cpu"] << ".\n";

	std::ofstream(dir + "/doorbell.json") << doc.dump(2) << "\n";
	std::ofstream(dir + "/doorbell.md") << md.str();
	std::string why = plot(dir);
	if (why.empty())
		doc["results"]["plots"] = {dir + "/latency_vs_load.png", dir + "/cpu_vs_load.png"};
	else
		doc["results"]["plots_skipped"] = why;
	std::ofstream(dir + "/doorbell.json") << doc.dump(2) << "\n";
	emit(o, doc, md.str() + "\nReport, JSON and plots in " + dir + "/" + (why.empty() ? "" : " (plots skipped: " + why + ")") + "\n");
}

} // namespace

void register_doorbell(CLI::App &bench)
{
	static CommonOptions o;
	static uint64_t budget_ns = 20000;
	static bool realtime = false;
	CLI::App *cmd = bench.add_subcommand(
		"doorbell", "Doorbell strategies (polled, interrupt, adaptive, monitor) against a\n"
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
