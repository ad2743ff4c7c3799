// SPDX-License-Identifier: BSD-2-Clause
// The doorbell table (doorbell_table.h): runs the repetitions of every row,
// each right after a cache-line floor of its own, and puts the rows in one
// vocabulary, beside the detailed figures `mkdp bench doorbell` reports and
// plots. The strategies are measured by doorbell_measure.cpp, the bare IPI
// by ipi_measure.cpp, other rows by whoever passes a RowSource.
#include "doorbell_table.h"

#include "bench.h"
#include "doorbell_measure.h"
#include "ipi_measure.h"

#include <mkdp/cpu_features.h>
#include <mkdp/doorbell.h>
#include <mkdp/error.h>

#include <algorithm>
#include <map>
#include <memory>
#include <thread>

namespace mkdp::bench {

namespace {

using namespace doorbell;

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

// The offered load at which every message is its own wake-up: a consumer
// that sleeps between messages sleeps between all of them, and a polling
// one spins through the whole gap. Its consumer CPU per message is the
// table's CPU per wake-up of the woken side.
constexpr double kWakeupLoad = 1e3;

// The summary of the values a repetition measured (>= 0), null if none did.
nlohmann::json column(const std::vector<RowRep> &reps, double RowRep::*field, double RowRep::*per = nullptr)
{
	std::vector<double> v;
	for (const RowRep &r : reps) {
		double x = r.*field;
		if (x < 0 || (per && !(r.*per > 0)))
			continue;
		v.push_back(per ? x / (r.*per) : x);
	}
	return v.empty() ? nlohmann::json(nullptr) : to_json(summarize(v));
}

RowRep pingpong_rep(const PingPong &pp)
{
	RowRep r;
	r.oneway_p50 = pp.oneway.p50;
	r.oneway_p99 = pp.oneway.p99;
	r.rtt_p50 = pp.rtt.p50;
	r.rtt_p99 = pp.rtt.p99;
	return r;
}

// A row's figures, with the floor measured right before them; the floor
// goes into its own row too (all floors of the run make the floor row).
struct Rows {
	const Params &p;
	std::map<std::string, std::vector<RowRep>> reps;
	Series floor_details;	// with p99.9, for results.floor_cacheline

	RowRep floor()
	{
		PingPong pp = floor_pingpong(p);
		doorbell::add(floor_details, "oneway", pp.oneway);
		doorbell::add(floor_details, "rtt", pp.rtt);
		RowRep f = pingpong_rep(pp);
		f.floor_oneway_p50 = f.oneway_p50;
		f.floor_oneway_p99 = f.oneway_p99;
		f.floor_rtt_p50 = f.rtt_p50;
		reps["floor_cacheline"].push_back(f);
		return f;
	}
	void add(const std::string &name, RowRep r, const RowRep &f)
	{
		r.floor_oneway_p50 = f.floor_oneway_p50;
		r.floor_oneway_p99 = f.floor_oneway_p99;
		r.floor_rtt_p50 = f.floor_rtt_p50;
		reps[name].push_back(r);
	}
};

Params params(bool quick, int reps, uint64_t poll_budget_ns)
{
	Params p;
	p.quick = quick;
	p.reps = quick ? std::min(reps, 3) : reps;
	p.poll_budget_ns = poll_budget_ns;
	p.pingpong_ns = quick ? 300'000'000 : 1'500'000'000;
	p.pingpong_samples = quick ? 20000 : 100000;
	p.load_ns = quick ? 200'000'000 : 1'000'000'000;
	p.idle_ns = quick ? 300'000'000 : 1'000'000'000;
	p.loads = {kWakeupLoad, 1e4, 1e5, 1e6, 0};
	return p;
}

// The ring strategies; futex and eventfd are separate rows: the same
// strategy, two kernel wake-up mechanisms.
std::vector<Variant> variants(uint64_t budget)
{
	std::vector<Variant> v = {
		{"polled", {.strategy = DoorbellStrategy::polled}},
		{"adaptive", {.strategy = DoorbellStrategy::adaptive, .poll_budget_ns = budget}},
		{"interrupt", {.strategy = DoorbellStrategy::interrupt, .mechanism = WakeMechanism::futex}},
		{"interrupt_eventfd", {.strategy = DoorbellStrategy::interrupt, .mechanism = WakeMechanism::eventfd}},
		{"adaptive_eventfd",
		 {.strategy = DoorbellStrategy::adaptive, .mechanism = WakeMechanism::eventfd, .poll_budget_ns = budget}},
	};
	if (doorbell_available(DoorbellStrategy::monitor))
		v.push_back({"monitor", {.strategy = DoorbellStrategy::monitor}});
	return v;
}

std::string wake_of(const DoorbellOptions &o)
{
	bool kernel = o.strategy == DoorbellStrategy::interrupt || o.strategy == DoorbellStrategy::adaptive;
	return kernel ? to_string(o.mechanism) : "none";
}

// One repetition of a strategy: the ping-pong for the table, the offered
// loads and the idle consumer for the details (`s`).
RowRep strategy_rep(const Variant &v, const Params &p, Series &s)
{
	PingPong pp = strategy_pingpong(v, p);
	add(s, "oneway", pp.oneway);
	add(s, "rtt", pp.rtt);
	RowRep r = pingpong_rep(pp);
	for (double rate : p.loads) {
		LoadRun l = load_run(v, p, rate);
		std::string k = "load." + load_name(rate);
		add(s, k + ".latency", l.latency);
		s[k + ".achieved"].push_back(l.achieved);
		s[k + ".cpu_ns_per_msg"].push_back(l.cpu_ns_per_msg);
		s[k + ".cpu_fraction"].push_back(l.cpu_fraction);
		if (rate == kWakeupLoad)
			r.woken_cpu_ns = l.cpu_ns_per_msg;
	}
	r.idle_cpu_fraction = idle_cpu(v, p);
	s["idle_cpu_fraction"].push_back(r.idle_cpu_fraction);
	return r;
}

// results.strategies.<name>: what `mkdp bench doorbell` plots.
nlohmann::json strategy_details(const Variant &v, const Params &p, const Series &s)
{
	nlohmann::json j = {{"available", true},
			    {"mechanism", wake_of(v.opts)},
			    {"oneway_ns", dist_json(s, "oneway")},
			    {"rtt_ns", dist_json(s, "rtt")},
			    {"idle_cpu_fraction", to_json(summarize(s.at("idle_cpu_fraction")))}};
	for (double rate : p.loads) {
		std::string k = "load." + load_name(rate);
		j["loads"].push_back({{"load", load_name(rate)},
				      {"offered_per_s", rate},
				      {"achieved_per_s", to_json(summarize(s.at(k + ".achieved")))},
				      {"latency_ns", dist_json(s, k + ".latency")},
				      {"cpu_ns_per_msg", to_json(summarize(s.at(k + ".cpu_ns_per_msg")))},
				      {"cpu_fraction", to_json(summarize(s.at(k + ".cpu_fraction")))}});
	}
	return j;
}

const char *kStrategyNote = "woken: the consumer's thread CPU per message at 1k messages/s offered (every "
			    "message a wake-up; a polling consumer spins through the gap); the producer's "
			    "cost per kick is in results.call_cost_ns";

} // namespace

nlohmann::json doorbell_row(const std::string &name, const std::string &wake, const std::vector<RowRep> &reps,
			    const std::string &note)
{
	using R = RowRep;
	// Both sides' CPU per wake-up, of the sides a repetition measured,
	// put in the waker field of a copy so that column() summarises it.
	std::vector<RowRep> total = reps;
	for (RowRep &r : total)
		r.waker_cpu_ns = r.waker_cpu_ns < 0 && r.woken_cpu_ns < 0
					 ? -1
					 : std::max(0.0, r.waker_cpu_ns) + std::max(0.0, r.woken_cpu_ns);
	nlohmann::json j = {
		{"name", name},
		{"measured", true},
		{"wake", wake},
		{"repetitions", reps.size()},
		{"oneway_p50_ns", column(reps, &R::oneway_p50)},
		{"oneway_p99_ns", column(reps, &R::oneway_p99)},
		{"rtt_p50_ns", column(reps, &R::rtt_p50)},
		{"rtt_p99_ns", column(reps, &R::rtt_p99)},
		{"cpu_ns_per_wakeup", column(total, &R::waker_cpu_ns)},
		{"waker_cpu_ns", column(reps, &R::waker_cpu_ns)},
		{"woken_cpu_ns", column(reps, &R::woken_cpu_ns)},
		{"idle_cpu_fraction", column(reps, &R::idle_cpu_fraction)},
		{"vs_cacheline", column(reps, &R::oneway_p50, &R::floor_oneway_p50)},
		{"vs_cacheline_p99", column(reps, &R::oneway_p99, &R::floor_oneway_p99)},
		{"rtt_vs_cacheline", column(reps, &R::rtt_p50, &R::floor_rtt_p50)},
	};
	if (!note.empty())
		j["note"] = note;
	return j;
}

nlohmann::json doorbell_row_unmeasured(const std::string &name, const std::string &wake, const std::string &reason)
{
	return {{"name", name}, {"measured", false}, {"wake", wake}, {"reason", reason}};
}

nlohmann::json measure_doorbell_table(bool quick, int reps, uint64_t poll_budget_ns, bool realtime,
				      const std::vector<RowSource> &extra)
{
	if (std::thread::hardware_concurrency() < 2)
		throw Error("the doorbell table needs two CPUs (consumer on 0, producer on 1)");
	g_realtime = realtime;
	const Params p = params(quick, reps, poll_budget_ns);
	const std::vector<Variant> vars = variants(poll_budget_ns);

	// Whether the bare IPI and the extra rows can run is settled before
	// the minutes of measuring; a refusal becomes the row's reason.
	std::string ipi_why = ipi::unavailable_reason();
	std::unique_ptr<ipi::Probe> probe;
	if (ipi_why.empty())
		probe = std::make_unique<ipi::Probe>();
	std::map<std::string, std::string> why;
	for (const RowSource &src : extra)
		why[src.name] = src.unavailable ? src.unavailable() : "";

	Rows rows{p, {}};
	std::map<std::string, Series> per;
	std::vector<ipi::Rep> ipi_reps;
	for (int rep = 0; rep < p.reps; rep++) {
		for (const Variant &v : vars) {
			RowRep f = rows.floor();
			rows.add(v.name, strategy_rep(v, p, per[v.name]), f);
		}
		if (probe) {
			RowRep f = rows.floor();
			// The probe's caller must sit on the consumer CPU.
			PinnedThread t(kConsumerCpu, [&] { ipi_reps.push_back(probe->rep(ipi::samples(p.quick))); });
			try {
				t.join();
				rows.add("bare_ipi", ipi::row_rep(ipi_reps.back()), f);
			} catch (const std::exception &e) {
				// A run refused mid-table ends this row, not the table.
				ipi_why = e.what();
				probe.reset();
			}
		}
		for (const RowSource &src : extra) {
			if (!why[src.name].empty())
				continue;
			RowRep f = rows.floor();
			try {
				rows.add(src.name, src.rep(p.quick), f);
			} catch (const std::exception &e) {
				why[src.name] = e.what();
			}
		}
	}

	nlohmann::json results, ratios, table = nlohmann::json::array();
	results["options"] = {{"quick", p.quick}, {"repetitions", p.reps}, {"realtime", realtime},
			      {"poll_budget_ns", p.poll_budget_ns}, {"consumer_cpu", kConsumerCpu},
			      {"producer_cpu", kProducerCpu}, {"clock", "CLOCK_MONOTONIC"},
			      {"load_seconds", double(p.load_ns) / 1e9}, {"idle_seconds", double(p.idle_ns) / 1e9},
			      {"wakeup_load_per_s", kWakeupLoad}};
	results["floor_cacheline"] = {{"oneway_ns", dist_json(rows.floor_details, "oneway")},
				      {"rtt_ns", dist_json(rows.floor_details, "rtt")}};
	table.push_back(doorbell_row("floor_cacheline", "none (a spinning reader)", rows.reps["floor_cacheline"],
				     "one cache line bounced between the two CPUs, measured right before every "
				     "other row's repetition; this row summarises all of them"));

	for (const Variant &v : vars) {
		results["strategies"][v.name] = strategy_details(v, p, per[v.name]);
		table.push_back(doorbell_row(v.name, wake_of(v.opts), rows.reps[v.name], kStrategyNote));
	}
	if (!doorbell_available(DoorbellStrategy::monitor)) {
		results["strategies"]["monitor"] = {{"available", false}, {"reason", user_monitor_description()}};
		table.push_back(doorbell_row_unmeasured("monitor", "none", user_monitor_description()));
	}

	if (ipi_why.empty()) {
		results["bare_ipi"] = ipi::details(ipi_reps);
		table.push_back(doorbell_row("bare_ipi", "ipi", rows.reps["bare_ipi"],
					     "waker: the caller's CPU per call (it spins until the target ran the "
					     "program); woken: time each IPI takes from a busy target; idle: 0 by "
					     "construction (nothing waits, the target is in its idle loop)"));
	} else {
		results["bare_ipi"] = {{"measured", false}, {"reason", ipi_why}};
		table.push_back(doorbell_row_unmeasured("bare_ipi", "ipi", ipi_why));
	}

	for (const RowSource &src : extra) {
		const auto &r = rows.reps[src.name];
		if (!why[src.name].empty() || r.empty()) {
			std::string reason = why[src.name].empty() ? "no repetition ran" : why[src.name];
			table.push_back(doorbell_row_unmeasured(src.name, src.wake, reason));
			continue;
		}
		if (src.details)
			results["extra"][src.name] = src.details(r);
		table.push_back(doorbell_row(src.name, src.wake, r, src.note));
	}

	// ratios: the medians of each measured row's per-repetition ratios.
	for (const auto &row : table) {
		if (!row["measured"].get<bool>() || row["name"] == "floor_cacheline")
			continue;
		std::string n = row["name"];
		for (const char *k : {"vs_cacheline", "rtt_vs_cacheline"})
			if (!row[k].is_null())
				ratios[k][n] = row[k]["median"];
	}
	results["table"] = table;

	const Series &pol = per["polled"], &ada = per["adaptive"];
	for (double rate : p.loads) {
		std::string k = "load." + load_name(rate) + ".latency.p50";
		ratios["adaptive_vs_polled_p50"][load_name(rate)] = median(ada, k) / median(pol, k);
	}
	// Sustained load: the highest paced load (1M/s), where a consumer
	// never runs dry long enough to sleep.
	double sustained = median(ada, "load.1M.latency.p50") / median(pol, "load.1M.latency.p50");
	ratios["adaptive_vs_polled_sustained"] = sustained;
	results["goals"] = {{"polled_le_1.5x_floor", ratios["vs_cacheline"]["polled"].get<double>() <= 1.5},
			    {"adaptive_le_2x_polled_sustained", sustained <= 2.0},
			    {"adaptive_idle_le_5pct_cpu", median(ada, "idle_cpu_fraction") <= 0.05}};
	return {{"results", results}, {"ratios", ratios}};
}

} // namespace mkdp::bench
