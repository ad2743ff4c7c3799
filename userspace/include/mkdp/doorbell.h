// SPDX-License-Identifier: BSD-2-Clause
// Doorbells: how a ring consumer waits for work and how its producer says
// there is some. In the multikernel proposal a doorbell is "a pending bit
// plus an IPI"; here the pending bit is the ring's producer index and the
// IPI is one of four strategies:
//
//   polled     the consumer spins on the producer index (cpu_relax); the
//              producer's store is the doorbell. Lowest latency, one CPU
//              burned for good.
//   interrupt  the consumer sleeps in the kernel at once; the producer kicks
//              after every submit (futex or eventfd): the user-space form of
//              an IPI, and it costs a real cross-CPU IPI.
//   adaptive   the consumer polls for a budget, then raises NEED_WAKEUP and
//              sleeps; the producer kicks only when the flag is up (AF_XDP's
//              need_wakeup, virtio's EVENT_IDX).
//   monitor    the consumer arms UMONITOR/MONITORX on the producer index
//              line and UMWAITs/MWAITXs until the producer's store hits it:
//              no kernel, no IPI. Only where CPUID offers it.
//
// The wake-up protocol and why no wake-up is lost: docs/doorbells.md.
//
// Usage, one Doorbell object per side (it keeps per-side statistics and is
// not shared between threads, like Producer and Consumer):
//
//   consumer: while (run) { if (db.wait(cons, timeout) == WaitResult::ready)
//                               n = cons.consume(...); }
//   producer: prod.submit(n); db.notify_after_submit(prod);
//
// The hot paths (a non-empty ring, a suppressed kick) are inline and make
// no call; only sleeping and kicking leave the header.
#pragma once

#include <cstdint>
#include <string_view>

#include <mkdp_ring.h>

#include "cpu.h"
#include "ring.h"

namespace mkdp {

enum class DoorbellStrategy : uint8_t { polled, interrupt, adaptive, monitor };

// What carries a kick through the kernel (interrupt and adaptive).
enum class WakeMechanism : uint8_t {
	futex,		// the ring's `doorbell` word (shared futex: works across processes)
	eventfd,	// an eventfd both sides hold (the loader hands it over)
};

const char *to_string(DoorbellStrategy s) noexcept;
const char *to_string(WakeMechanism m) noexcept;
// "polled", "interrupt", "adaptive", "monitor"; throws mkdp::Error otherwise.
DoorbellStrategy parse_doorbell_strategy(std::string_view name);
// Whether a strategy can run on this CPU (only monitor may not).
bool doorbell_available(DoorbellStrategy s) noexcept;

struct DoorbellOptions {
	DoorbellStrategy strategy = DoorbellStrategy::adaptive;
	WakeMechanism mechanism = WakeMechanism::futex;
	// Adaptive: how long the consumer polls before it goes to sleep. Longer
	// keeps more wake-ups in user space at a cost in idle CPU; 0 is
	// interrupt-style with kick suppression.
	uint64_t poll_budget_ns = 20000;
	// WakeMechanism::eventfd: the eventfd (EFD_NONBLOCK) both sides use.
	// Not owned. make_doorbell_eventfd() creates one.
	int eventfd = -1;
};

// Per-side counters (plain integers: each side owns its Doorbell).
struct DoorbellStats {
	// consumer side
	uint64_t waits = 0;	// wait() calls that found the ring empty
	uint64_t sleeps = 0;	// times the consumer slept (kernel or monitor/wait)
	uint64_t spurious = 0;	// woke up to an empty ring
	uint64_t timeouts = 0;	// waits that ended by their timeout, ring empty
	// Kernel sleeps that ran to their deadline although work had arrived:
	// with a watchdog-long timeout, the signature of a lost wake-up.
	uint64_t late = 0;
	// producer side
	uint64_t kicks = 0;	// wake-ups sent through the kernel
	uint64_t suppressed = 0; // notifies that needed no kick (consumer awake)
};

enum class WaitResult : uint8_t { ready, timeout };

// A new eventfd for WakeMechanism::eventfd (non-blocking, close-on-exec);
// the caller owns it. Throws mkdp::Error.
int make_doorbell_eventfd();

class Doorbell {
public:
	static constexpr uint64_t forever = UINT64_MAX;

	Doorbell() = default;
	// Binds to one ring. Throws mkdp::Error when the strategy cannot run
	// here (monitor without CPU support) or an eventfd is missing.
	Doorbell(mkdp_ring *ring, const DoorbellOptions &opts);

	// Consumer: returns ready as soon as the ring holds at least one entry,
	// timeout when timeout_ns passed with the ring still empty (watchdogs).
	template <class D> WaitResult wait(Consumer<D> &c, uint64_t timeout_ns = forever) noexcept
	{
		if (c.available(1)) [[likely]]
			return WaitResult::ready;
		stats_.waits++;
		uint64_t deadline = deadline_after(timeout_ns);
		switch (opts_.strategy) {
		case DoorbellStrategy::polled:
			return poll(c, deadline) ? WaitResult::ready : timed_out();
		case DoorbellStrategy::adaptive: {
			uint64_t budget = deadline_after(opts_.poll_budget_ns);
			if (poll(c, budget < deadline ? budget : deadline))
				return WaitResult::ready;
			return sleep(c, deadline, true);
		}
		case DoorbellStrategy::interrupt:
			return sleep(c, deadline, false);
		case DoorbellStrategy::monitor:
			return monitor_wait(c, deadline);
		}
		return WaitResult::timeout;
	}

	// Producer: call after Producer::submit(). Kicks the consumer when the
	// strategy asks for it.
	template <class D> void notify_after_submit(Producer<D> &p) noexcept
	{
		switch (opts_.strategy) {
		case DoorbellStrategy::polled:
		case DoorbellStrategy::monitor:
			return; // the index store itself is the doorbell
		case DoorbellStrategy::interrupt:
			kick();
			return;
		case DoorbellStrategy::adaptive:
			// Dekker with the consumer's set_need_wakeup(): the index
			// store must be visible before the flag is read. submit()
			// is only a release store and needs_wakeup() a relaxed
			// load; release/acquire do not order a store before a
			// later load, so a full fence is needed here.
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (p.needs_wakeup())
				kick();
			else
				stats_.suppressed++;
			return;
		}
	}

	const DoorbellOptions &options() const noexcept { return opts_; }
	const DoorbellStats &stats() const noexcept { return stats_; }
	mkdp_ring *ring() const noexcept { return ctl_; }

private:
	static uint64_t deadline_after(uint64_t ns) noexcept
	{
		if (ns == forever)
			return forever;
		uint64_t now = now_ns();
		return ns > forever - now ? forever : now + ns;
	}

	WaitResult timed_out() noexcept
	{
		stats_.timeouts++;
		return WaitResult::timeout;
	}

	// Spins until the ring is non-empty (true) or `until` passes (false).
	// The clock is read every few pauses only: a pause is ~40-140 cycles.
	template <class D> bool poll(Consumer<D> &c, uint64_t until) noexcept
	{
		for (;;) {
			for (int i = 0; i < 16; i++) {
				if (c.available(1))
					return true;
				cpu_relax();
			}
			if (until != forever && now_ns() >= until)
				return c.available(1) != 0;
		}
	}

	// Sleeps through the kernel until the ring is non-empty. With the flag
	// (adaptive) the producer kicks only while NEED_WAKEUP is up; without
	// it (interrupt) it kicks always. The order of the steps is the proof;
	// see docs/doorbells.md.
	template <class D> WaitResult sleep(Consumer<D> &c, uint64_t deadline, bool flag) noexcept
	{
		for (;;) {
			// 1. The futex value the sleep is conditional on, read
			//    before the re-check: a kick after this read changes
			//    it and the kernel refuses to sleep.
			uint32_t seq = __atomic_load_n(&ctl_->doorbell, __ATOMIC_ACQUIRE);
			// 2. Ask for a kick; the seq_cst RMW is a full fence
			//    between the flag store and the re-check below.
			if (flag)
				c.set_need_wakeup();
			// 3. Re-check the producer index.
			if (c.available(1)) {
				if (flag)
					c.clear_need_wakeup();
				return WaitResult::ready;
			}
			// 4. Sleep, unless the doorbell moved since step 1.
			stats_.sleeps++;
			bool woken = kernel_sleep(seq, deadline);
			if (c.available(1)) {
				if (flag)
					c.clear_need_wakeup();
				stats_.late += !woken;
				return WaitResult::ready;
			}
			if (!woken) {
				if (flag)
					c.clear_need_wakeup();
				return timed_out();
			}
			stats_.spurious++;
		}
	}

	template <class D> WaitResult monitor_wait(Consumer<D> &c, uint64_t deadline) noexcept
	{
		for (;;) {
			// Arm first, then re-check: a store between the check
			// and the wait still ends the wait (it hits the armed
			// line).
			monitor_arm(&ctl_->producer);
			if (c.available(1))
				return WaitResult::ready;
			stats_.sleeps++;
			monitor_sleep();
			if (c.available(1))
				return WaitResult::ready;
			if (deadline != forever && now_ns() >= deadline)
				return timed_out();
		}
	}

	// Out of line: the slow paths.
	bool kernel_sleep(uint32_t seq, uint64_t deadline) noexcept; // false: deadline passed
	void kick() noexcept;
	void monitor_arm(const void *addr) noexcept;
	void monitor_sleep() noexcept;

	mkdp_ring *ctl_ = nullptr;
	DoorbellOptions opts_{};
	bool waitpkg_ = false;	// monitor: UMWAIT rather than MWAITX
	DoorbellStats stats_{};
};

} // namespace mkdp
