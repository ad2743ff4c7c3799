// SPDX-License-Identifier: BSD-2-Clause
// The bare-IPI row (ipi_measure.h): how the figures are taken.
//
// One-way latency is the program's bpf_ktime_get_ns() on the target CPU
// minus the caller's CLOCK_MONOTONIC just before the system call: it holds
// the syscall entry, the test-run set-up and the IPI's delivery, which is
// what a user-space doorbell built on it would pay. The round trip is the
// caller's clock after the call returns: smp_call_function_single(wait=1)
// spins until the target has run the program, so the caller's CPU time per
// call is about the round trip, not the cost of the interrupt itself.
//
// The target's cost per IPI cannot be read from the caller. It is read on
// the target: a thread spinning there reads CLOCK_MONOTONIC back to back
// and records every gap between two reads (time taken from it), and each
// call's arrival stamp falls inside exactly one gap, the one that IPI made:
// interrupt entry, handler, program, exit, and on a VM the host's work of
// getting the interrupt into a running vCPU. Attributing gaps to arrivals
// leaves the target's other interruptions (timer ticks, the scheduler)
// out, where summing all gaps over a window would count them.
#include "ipi_measure.h"

#include "bench.h"
#include "bpf_util.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "ipi.h"
#include "ipi.skel.h"

namespace mkdp::bench::ipi {

using namespace doorbell;

struct Probe::Skel {
	::ipi *obj = nullptr;
};

Probe::Probe() : s_(std::make_unique<Skel>())
{
	QuietLibs quiet;
	s_->obj = ipi__open_and_load();
	if (!s_->obj)
		throw Error("loading the raw_tp probe (ipi.bpf.c) failed: " + std::string(strerror(errno)) +
				    QuietLibs::why(),
			    errno);
}

Probe::~Probe() { ipi__destroy(s_->obj); }

int Probe::run(int cpu, Sample &s)
{
	uint64_t args[1] = {++seq_};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof(args),
		    .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = uint32_t(cpu));
	int fd = bpf_program__fd(s_->obj->progs.ipi_arrive);
	s.t0 = now_ns();
	int err = bpf_prog_test_run_opts(fd, &o);
	s.t1 = now_ns();
	if (err)
		return err < 0 ? err : -errno;
	// The run is synchronous: the target wrote the record before the
	// system call returned.
	volatile auto *a = &s_->obj->bss->arrival;
	if (a->seq != args[0])
		return -EPROTO;
	s.arrival = a->ns;
	s.cpu = o.retval;
	return 0;
}

std::string Probe::check()
{
	Sample s{};
	int err = run(kProducerCpu, s);
	std::string cpu = "CPU " + std::to_string(kProducerCpu);
	switch (-err) {
	case 0:
		break;
	case EINVAL:
		return "the kernel refuses BPF_PROG_RUN with BPF_F_TEST_RUN_ON_CPU for a raw_tp program "
		       "(EINVAL; the flag needs Linux 5.10)";
	case 524: // ENOTSUPP, kernel-internal: no test run for raw_tp at all
		return "the kernel has no BPF_PROG_RUN for raw_tp programs (ENOTSUPP, 524; Linux < 5.10)";
	case ENXIO:
		return cpu + " is absent or offline (BPF_PROG_RUN: ENXIO)";
	case EPERM:
	case EACCES:
		return "BPF_PROG_RUN not permitted (" + std::string(strerror(-err)) +
		       "): needs root or CAP_BPF and CAP_PERFMON";
	case EPROTO:
		return "the program ran but its arrival record did not come back through the mapped .bss";
	default:
		return "BPF_PROG_RUN on " + cpu + " failed: " + strerror(-err);
	}
	if (s.cpu != uint32_t(kProducerCpu))
		return "the program reported CPU " + std::to_string(s.cpu) + ", not " + cpu +
		       ": the kernel did not run it on the named CPU";
	return {};
}

PingPong Probe::series(int cpu, size_t samples, double *cpu_ns_per_call, uint32_t *seen,
			std::vector<uint64_t> *arrivals)
{
	std::vector<double> oneway, rtt;
	oneway.reserve(samples);
	rtt.reserve(samples);
	Sample s{};
	uint64_t c0 = thread_cpu_ns();
	for (size_t i = 0; i < samples; i++) {
		if (int err = run(cpu, s))
			throw Error("bare IPI: BPF_PROG_RUN on CPU " + std::to_string(cpu) + ": " + strerror(-err),
				    -err);
		// Signed: the two CPUs' clocks are one clock, but a skew of a
		// few ns must not wrap.
		oneway.push_back(double(int64_t(s.arrival - s.t0)));
		rtt.push_back(double(s.t1 - s.t0));
		if (arrivals)
			arrivals->push_back(s.arrival);
	}
	*cpu_ns_per_call = double(thread_cpu_ns() - c0) / double(samples);
	*seen = s.cpu;
	return {dist(oneway), dist(rtt)};
}

namespace {

// Function-call interrupts `cpu` has taken (/proc/interrupts, row "CAL"),
// -1 if unreadable. Counted around a series they show that every run
// arrived by a real IPI: the kernel skips the IPI when the target's idle
// loop polls (kernel/smp.c, call_function_single_prep_ipi).
int64_t call_ipis(int cpu)
{
	std::ifstream in("/proc/interrupts");
	for (std::string line; std::getline(in, line);) {
		std::istringstream l(line);
		std::string name;
		l >> name;
		if (name != "CAL:")
			continue;
		int64_t n = -1;
		for (int i = 0; i <= cpu; i++)	// one column per CPU
			if (!(l >> n))
				return -1;
		return n;
	}
	return -1;
}

// A gap between two clock reads longer than this is time taken from the
// spinning thread (back-to-back reads are ~20-50 ns apart).
constexpr uint64_t kMinGapNs = 300;

// Spins on the target CPU, recording the gaps, until told to stop.
struct Spinner {
	std::atomic<bool> stop{false}, running{false};
	std::vector<std::pair<uint64_t, uint64_t>> gaps; // [before, after], in time order

	explicit Spinner(size_t most) { gaps.reserve(most); }
	void spin()
	{
		running = true;
		uint64_t prev = now_ns();
		while (!stop.load(std::memory_order_relaxed)) {
			uint64_t t = now_ns();
			if (t - prev >= kMinGapNs && gaps.size() < gaps.capacity())
				gaps.push_back({prev, t});
			prev = t;
		}
	}
	// The length of the gap holding `stamp`, or -1 when none does.
	double gap_at(uint64_t stamp) const
	{
		auto it = std::upper_bound(gaps.begin(), gaps.end(), std::make_pair(stamp, UINT64_MAX));
		if (it == gaps.begin() || (--it)->second < stamp)
			return -1;
		return double(it->second - it->first);
	}
};

} // namespace

Rep Probe::rep(size_t samples)
{
	Rep r;
	r.count = samples;
	uint32_t seen_own = 0;
	auto ipis_since = [&](int64_t cal0) {
		int64_t cal1 = call_ipis(kProducerCpu);
		return cal0 >= 0 && cal1 >= cal0 ? double(cal1 - cal0) / double(samples) : -1;
	};
	int64_t cal = call_ipis(kProducerCpu);
	r.idle = series(kProducerCpu, samples, &r.caller_cpu_ns, &r.target_seen);
	r.ipis_per_call = ipis_since(cal);
	r.own = series(kConsumerCpu, samples, &r.own_cpu_ns, &seen_own);

	// The target busy: IPIs into a spinning thread. Room for every
	// IPI's gap and as many again from timer ticks and the like.
	Spinner sp(2 * samples + 4096);
	PinnedThread t(kProducerCpu, [&] { sp.spin(); });
	// Sleep, not spin: the new thread starts on this CPU with this
	// thread's policy (SCHED_FIFO with --realtime) until it pins itself,
	// and a FIFO spinner here would never let it run.
	for (timespec tick{0, 100'000}; !sp.running;)
		nanosleep(&tick, nullptr);
	double busy_cpu = 0;
	uint32_t seen_busy = 0;
	std::vector<uint64_t> arrivals;
	arrivals.reserve(samples);
	cal = call_ipis(kProducerCpu);
	r.busy = series(kProducerCpu, samples, &busy_cpu, &seen_busy, &arrivals);
	r.busy_ipis_per_call = ipis_since(cal);
	sp.stop = true;
	t.join();
	std::vector<double> stolen;
	for (uint64_t a : arrivals)
		if (double g = sp.gap_at(a); g >= 0)
			stolen.push_back(g);
	r.attributed = double(stolen.size()) / double(samples);
	if (!stolen.empty())
		r.stolen = dist(stolen);
	return r;
}

size_t samples(bool quick) { return quick ? 2000 : 20000; }

std::string unavailable_reason()
{
	if (std::thread::hardware_concurrency() < 2)
		return "one CPU: the bare IPI needs a caller on CPU " + std::to_string(kConsumerCpu) +
		       " and a target on CPU " + std::to_string(kProducerCpu);
	std::string why;
	PinnedThread t(kConsumerCpu, [&] {
		try {
			Probe p;
			why = p.check();
		} catch (const Error &e) {
			why = e.what();
		}
	});
	t.join();
	return why;
}

std::vector<Rep> run_reps(bool quick, int reps)
{
	std::vector<Rep> out;
	PinnedThread t(kConsumerCpu, [&] {
		Probe p;
		for (int i = 0; i < reps; i++)
			out.push_back(p.rep(samples(quick)));
	});
	t.join();
	return out;
}

RowRep row_rep(const Rep &r)
{
	RowRep t;
	t.oneway_p50 = r.idle.oneway.p50;
	t.oneway_p99 = r.idle.oneway.p99;
	t.rtt_p50 = r.idle.rtt.p50;
	t.rtt_p99 = r.idle.rtt.p99;
	t.waker_cpu_ns = r.caller_cpu_ns;
	t.woken_cpu_ns = r.attributed > 0 ? r.stolen.p50 : -1;
	// Nothing waits: the target sits in the kernel's idle loop (a halted
	// vCPU) until the interrupt comes, so it burns nothing by construction.
	t.idle_cpu_fraction = 0;
	return t;
}

nlohmann::json details(const std::vector<Rep> &reps)
{
	Series s;
	for (const Rep &r : reps) {
		add(s, "oneway", r.idle.oneway);
		add(s, "rtt", r.idle.rtt);
		add(s, "busy.oneway", r.busy.oneway);
		add(s, "busy.rtt", r.busy.rtt);
		add(s, "own.oneway", r.own.oneway);
		add(s, "own.rtt", r.own.rtt);
		s["caller_cpu"].push_back(r.caller_cpu_ns);
		s["own_cpu"].push_back(r.own_cpu_ns);
		if (r.attributed > 0) {
			add(s, "stolen", r.stolen);
			s["attributed"].push_back(r.attributed);
		}
		if (r.ipis_per_call >= 0)
			s["ipis_per_call"].push_back(r.ipis_per_call);
		if (r.busy_ipis_per_call >= 0)
			s["busy.ipis_per_call"].push_back(r.busy_ipis_per_call);
		// What crossing to the other CPU adds to the same call.
		s["ipi_added_rtt"].push_back(r.idle.rtt.p50 - r.own.rtt.p50);
	}
	// null for what no repetition measured (the CAL row, attributed gaps)
	auto sum = [&](const char *k) { return s[k].empty() ? nlohmann::json(nullptr) : to_json(summarize(s[k])); };
	bool stolen = s.count("stolen.p50");
	return {
		{"measured", true},
		{"method", "BPF_PROG_RUN of a raw_tp program with BPF_F_TEST_RUN_ON_CPU: the kernel runs it on "
			   "the target CPU through smp_call_function_single (an IPI); one-way = the program's "
			   "bpf_ktime_get_ns() minus the caller's CLOCK_MONOTONIC before the system call; "
			   "round trip = the system call, which returns once the target has run it"},
		{"caller_cpu", kConsumerCpu},
		{"target_cpu", kProducerCpu},
		{"target_cpu_seen", reps.empty() ? -1 : int(reps.back().target_seen)},
		{"count", reps.empty() ? 0 : reps.back().count},
		{"repetitions", reps.size()},
		{"oneway_ns", dist_json(s, "oneway")},
		{"rtt_ns", dist_json(s, "rtt")},
		{"cpu_ns_per_wakeup",
		 {{"waker", sum("caller_cpu")},
		  {"woken", stolen ? dist_json(s, "stolen") : nlohmann::json(nullptr)},
		  {"woken_attributed", sum("attributed")},
		  {"note", "waker: the caller's thread CPU per call, which spins until the target has run the "
			   "program (smp_call_function_single waits), so about the round trip; woken: time each "
			   "IPI took from a thread spinning on the target, the gap between two of its clock reads "
			   "that holds the program's stamp (interrupt entry, handler, exit, and the host's "
			   "delivery into a running vCPU); woken_attributed: the share of calls so attributed"}}},
		{"ipi_added_rtt_ns", sum("ipi_added_rtt")},
		{"target_ipis_per_call", sum("ipis_per_call")},
		{"target_ipis_note", "function-call interrupts (/proc/interrupts CAL) the target took per call: 1 "
				     "when every run came by an IPI; below 1 when calls found the idle target's "
				     "idle loop polling between halts (TIF_POLLING_NRFLAG), which takes the call "
				     "without an IPI (kernel/smp.c, call_function_single_prep_ipi)"},
		{"target_busy",
		 {{"oneway_ns", dist_json(s, "busy.oneway")},
		  {"rtt_ns", dist_json(s, "busy.rtt")},
		  {"target_ipis_per_call", sum("busy.ipis_per_call")}}},
		{"own_cpu",
		 {{"note", "cpu = the caller's: the same system call and program without an IPI"},
		  {"oneway_ns", dist_json(s, "own.oneway")},
		  {"rtt_ns", dist_json(s, "own.rtt")},
		  {"caller_cpu_ns_per_call", sum("own_cpu")}}},
	};
}

} // namespace mkdp::bench::ipi

namespace mkdp::bench {

nlohmann::json measure_bare_ipi(bool quick, int reps)
{
	std::string why = ipi::unavailable_reason();
	if (!why.empty())
		return {{"measured", false}, {"reason", why}};
	return ipi::details(ipi::run_reps(quick, reps));
}

} // namespace mkdp::bench
