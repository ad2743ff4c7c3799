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

constexpr int kConsumerCpu = 0, kProducerCpu = 1;
constexpr uint64_t kStopStamp = 0; // a message stamped 0 ends a run
constexpr uint64_t kWatchdogNs = 10'000'000;
constexpr uint32_t kRingEntries = 4096;

struct Params {
	bool quick = false;
	int reps = 5;
	uint64_t poll_budget_ns = 20000;
	uint64_t pingpong_ns, load_ns, idle_ns;
	size_t pingpong_samples;
	std::vector<double> loads; // messages per second; 0 = unpaced
};

struct Variant {
	std::string name;
	DoorbellOptions opts;
};

uint64_t thread_cpu_ns()
{
	timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Two rings, ping (producer -> consumer) and pong (back), each with its
// own eventfd when the variant uses one.
class Link {
public:
	explicit Link(const Variant &v)
		: region_(Region::create(RegionLayout()
						 .ring("ping", MKDP_DESC_ADDR, kRingEntries)
						 .ring("pong", MKDP_DESC_ADDR, kRingEntries))),
		  opts_(v.opts)
	{
		if (v.opts.mechanism == WakeMechanism::eventfd)
			for (int &fd : efd_)
				fd = make_doorbell_eventfd();
	}
	~Link()
	{
		for (int fd : efd_)
			if (fd >= 0)
				close(fd);
	}
	Producer<FrameAddr> producer(int ring) { return region_.producer<FrameAddr>(name(ring)); }
	Consumer<FrameAddr> consumer(int ring)
	{
		auto c = region_.consumer<FrameAddr>(name(ring));
		c.bounds().area_size = UINT64_MAX; // slots carry time stamps
		return c;
	}
	// The doorbell of one side (its Producer or Consumer) of a ring.
	template <class End> Doorbell doorbell(int ring, End &end)
	{
		DoorbellOptions o = opts_;
		o.eventfd = efd_[ring];
		return Doorbell(end, o);
	}

private:
	static const char *name(int ring) { return ring ? "pong" : "ping"; }
	Region region_;
	DoorbellOptions opts_;
	int efd_[2] = {-1, -1};
};

// Whether the measuring threads run SCHED_FIFO (--realtime): on a shared,
// busy machine a pinned thread otherwise shares its CPU with whatever else
// runs there, and a spinning consumer's figures measure the scheduler.
bool g_realtime = false;

// Runs fn on a thread pinned to cpu; exceptions come back to the caller.
class PinnedThread {
public:
	PinnedThread(int cpu, std::function<void()> fn)
		: t_([this, cpu, fn = std::move(fn)] {
			  try {
				  pin_to_cpu(cpu);
				  if (g_realtime) {
					  sched_param sp{};
					  sp.sched_priority = 1;
					  int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
					  if (err)
						  throw_errno("SCHED_FIFO for the benchmark threads", err);
				  }
				  fn();
			  } catch (...) {
				  err_ = std::current_exception();
			  }
		  })
	{
	}
	void join()
	{
		t_.join();
		if (err_)
			std::rethrow_exception(err_);
	}

private:
	std::exception_ptr err_;
	std::thread t_;
};

void send(Producer<FrameAddr> &p, Doorbell &db, uint64_t stamp)
{
	FrameAddr m{stamp};
	while (!db.produce(p, &m, 1))
		cpu_relax();
}

struct Dist {
	double p50, p99, p999;
};
Dist dist(std::vector<double> &v)
{
	return {percentile(v, 50), percentile(v, 99), percentile(v, 99.9)};
}

// --- the floor: one cache line bounced between the two CPUs ---------------

// One store each way: the sender's stamp is itself the signal, the
// receiver's ack (the same value, in the same line) the answer. Writing a
// stamp and then a separate sequence word would take the line away from
// the spinning receiver twice per message and put the floor above a ring
// message, which moves only one store on the line its consumer spins on.
struct alignas(64) Line {
	uint64_t stamp;
	uint64_t ack;
};

struct PingPong {
	Dist oneway, rtt;
};

PingPong floor_pingpong(const Params &p)
{
	Line line{UINT64_MAX, UINT64_MAX}; // "nothing sent yet"; kStopStamp is 0
	std::vector<double> oneway, rtt;
	oneway.reserve(p.pingpong_samples + 1);
	rtt.reserve(p.pingpong_samples);
	PinnedThread b(kConsumerCpu, [&] {
		for (uint64_t prev = UINT64_MAX;;) {
			uint64_t stamp;
			while ((stamp = __atomic_load_n(&line.stamp, __ATOMIC_ACQUIRE)) == prev)
				cpu_relax();
			uint64_t t = now_ns();
			prev = stamp;
			__atomic_store_n(&line.ack, stamp, __ATOMIC_RELEASE);
			if (stamp == kStopStamp)
				break;
			oneway.push_back(double(t - stamp));
		}
	});
	PinnedThread a(kProducerCpu, [&] {
		uint64_t end = now_ns() + p.pingpong_ns;
		for (;;) {
			bool last = rtt.size() >= p.pingpong_samples || now_ns() >= end;
			// now_ns() moves on between rounds (a round trip takes
			// far longer than a nanosecond), so each stamp is new.
			uint64_t t0 = now_ns(), v = last ? kStopStamp : t0;
			__atomic_store_n(&line.stamp, v, __ATOMIC_RELEASE);
			while (__atomic_load_n(&line.ack, __ATOMIC_ACQUIRE) != v)
				cpu_relax();
			if (last)
				break;
			rtt.push_back(double(now_ns() - t0));
		}
	});
	a.join();
	b.join();
	return {dist(oneway), dist(rtt)};
}

// --- one strategy ----------------------------------------------------------

PingPong strategy_pingpong(const Variant &v, const Params &p)
{
	Link link(v);
	std::vector<double> oneway, rtt;
	oneway.reserve(p.pingpong_samples + 1);
	rtt.reserve(p.pingpong_samples);
	PinnedThread b(kConsumerCpu, [&] {
		auto c = link.consumer(0);
		auto r = link.producer(1);
		Doorbell dc = link.doorbell(0, c), dr = link.doorbell(1, r);
		for (;;) {
			if (dc.wait(c, kWatchdogNs) != WaitResult::ready)
				continue;
			FrameAddr m;
			if (!c.consume(&m, 1))
				continue;
			uint64_t t = now_ns();
			if (m.addr == kStopStamp)
				break;
			oneway.push_back(double(t - m.addr));
			send(r, dr, m.addr);
		}
	});
	PinnedThread a(kProducerCpu, [&] {
		auto s = link.producer(0);
		auto c = link.consumer(1);
		Doorbell ds = link.doorbell(0, s), dc = link.doorbell(1, c);
		uint64_t end = now_ns() + p.pingpong_ns;
		while (rtt.size() < p.pingpong_samples && now_ns() < end) {
			uint64_t t0 = now_ns();
			send(s, ds, t0);
			FrameAddr m;
			while (dc.wait(c, kWatchdogNs) != WaitResult::ready || !c.consume(&m, 1))
				;
			rtt.push_back(double(now_ns() - t0));
		}
		send(s, ds, kStopStamp);
	});
	a.join();
	b.join();
	return {dist(oneway), dist(rtt)};
}

struct LoadRun {
	double achieved;	// messages per second
	Dist latency;		// ns, producer stamp to consumer
	double cpu_ns_per_msg;	// consumer thread CPU
	double cpu_fraction;	// consumer thread CPU / wall time
};

// The producer offers `rate` messages per second (0: as fast as it can)
// for p.load_ns; the consumer waits with the strategy and takes batches.
LoadRun load_run(const Variant &v, const Params &p, double rate)
{
	Link link(v);
	std::vector<double> lat;
	// Unpaced runs deliver millions: keep one latency in `stride`.
	uint32_t stride = rate == 0 ? 8 : 1;
	lat.reserve(rate ? size_t(rate * double(p.load_ns) / 1e9) + 16 : 4 << 20);
	uint64_t received = 0, cpu = 0, wall = 0;
	PinnedThread b(kConsumerCpu, [&] {
		auto c = link.consumer(0);
		Doorbell db = link.doorbell(0, c);
		FrameAddr buf[64];
		uint64_t cpu0 = thread_cpu_ns(), t0 = now_ns();
		for (bool stop = false; !stop;) {
			if (db.wait(c, kWatchdogNs) != WaitResult::ready)
				continue;
			uint32_t n = c.consume(buf, 64);
			uint64_t t = now_ns();
			for (uint32_t i = 0; i < n; i++) {
				if (buf[i].addr == kStopStamp) {
					stop = true;
					break;
				}
				if (received++ % stride == 0)
					lat.push_back(double(t - buf[i].addr));
			}
		}
		cpu = thread_cpu_ns() - cpu0;
		wall = now_ns() - t0;
	});
	PinnedThread a(kProducerCpu, [&] {
		auto s = link.producer(0);
		Doorbell db = link.doorbell(0, s);
		uint64_t start = now_ns(), end = start + p.load_ns;
		double period = rate ? 1e9 / rate : 0;
		for (uint64_t i = 0;; i++) {
			uint64_t t = now_ns();
			if (rate) {
				uint64_t due = start + uint64_t(double(i) * period);
				while (t < due) {
					cpu_relax();
					t = now_ns();
				}
			}
			if (t >= end)
				break;
			send(s, db, t);
		}
		send(s, db, kStopStamp);
	});
	a.join();
	b.join();
	return {double(received) * 1e9 / double(wall), dist(lat),
		received ? double(cpu) / double(received) : 0, double(cpu) / double(wall)};
}

// CPU a consumer burns waiting on an empty ring, as a fraction of one CPU.
// It waits in 10 ms slices, as a consumer with a watchdog would.
double idle_cpu(const Variant &v, const Params &p)
{
	Link link(v);
	double frac = 0;
	PinnedThread b(kConsumerCpu, [&] {
		auto c = link.consumer(0);
		Doorbell db = link.doorbell(0, c);
		uint64_t cpu0 = thread_cpu_ns(), t0 = now_ns(), end = t0 + p.idle_ns;
		while (now_ns() < end)
			db.wait(c, std::min<uint64_t>(kWatchdogNs, end - std::min(end, now_ns())));
		frac = double(thread_cpu_ns() - cpu0) / double(now_ns() - t0);
	});
	b.join();
	return frac;
}

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
