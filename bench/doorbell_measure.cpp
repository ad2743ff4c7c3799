// SPDX-License-Identifier: BSD-2-Clause
#include "doorbell_measure.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/region.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

namespace mkdp::bench::doorbell {

uint64_t thread_cpu_ns()
{
	timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}


bool g_realtime = false;

void send(Producer<FrameAddr> &p, Doorbell &db, uint64_t stamp)
{
	FrameAddr m{stamp};
	while (!db.produce(p, &m, 1))
		cpu_relax();
}

Dist dist(std::vector<double> &v)
{
	return {percentile(v, 50), percentile(v, 99), percentile(v, 99.9)};
}

void add(Series &s, const std::string &k, const Dist &d)
{
	s[k + ".p50"].push_back(d.p50);
	s[k + ".p99"].push_back(d.p99);
	s[k + ".p999"].push_back(d.p999);
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

} // namespace mkdp::bench::doorbell
