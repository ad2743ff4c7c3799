// SPDX-License-Identifier: BSD-2-Clause
// The cross-CPU measurements of `mkdp bench doorbell` (doorbell_bench.cpp
// runs them and reports): the cache-line floor, a strategy's ping-pong, its
// latency and CPU under an offered load, and the CPU of an idle consumer.
// Two pinned threads in different roles, per-message distributions.
#pragma once

#include "bench.h"

#include <mkdp/cpu.h>
#include <mkdp/doorbell.h>
#include <mkdp/error.h>
#include <mkdp/region.h>

#include <pthread.h>
#include <sched.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <thread>
#include <string>
#include <vector>

namespace mkdp::bench::doorbell {

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

struct Dist {
	double p50, p99, p999;
};
Dist dist(std::vector<double> &v);

struct PingPong {
	Dist oneway, rtt;
};

// Per-repetition figures, collected by name, summarised at the end.
using Series = std::map<std::string, std::vector<double>>;
// Appends d's percentiles as k.p50, k.p99, k.p999.
void add(Series &s, const std::string &k, const Dist &d);
// The median over repetitions of s[k] (0 when absent).
double median(const Series &s, const std::string &k);
// {"p50", "p99", "p999"}, each the summary over repetitions of k.p*.
nlohmann::json dist_json(const Series &s, const std::string &k);
// One cache line bounced between the two CPUs: the physical floor.
PingPong floor_pingpong(const Params &p);
// A message and its answer through two rings, waking as v says.
PingPong strategy_pingpong(const Variant &v, const Params &p);

struct LoadRun {
	double achieved;	// messages per second
	Dist latency;		// ns, producer stamp to consumer
	double cpu_ns_per_msg;	// consumer thread CPU
	double cpu_fraction;	// consumer thread CPU / wall time
};
// The producer offers `rate` messages per second (0: as fast as it can)
// for p.load_ns; the consumer waits with the strategy and takes batches.
LoadRun load_run(const Variant &v, const Params &p, double rate);
// CPU a consumer burns waiting on an empty ring, as a fraction of one CPU.
double idle_cpu(const Variant &v, const Params &p);

uint64_t thread_cpu_ns();

// Whether the measuring threads run SCHED_FIFO (--realtime): on a shared,
// busy machine a pinned thread otherwise shares its CPU with whatever else
// runs there, and a spinning consumer's figures measure the scheduler.
extern bool g_realtime;

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
inline constexpr int kConsumerCpu = 0, kProducerCpu = 1;
inline constexpr uint64_t kStopStamp = 0; // a message stamped 0 ends a run
inline constexpr uint64_t kWatchdogNs = 10'000'000;
inline constexpr uint32_t kRingEntries = 4096;

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

} // namespace mkdp::bench::doorbell
