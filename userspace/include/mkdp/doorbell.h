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
// Usage, one Doorbell object per side, built on that side's ring end (it
// keeps per-side statistics and is not shared between threads, like
// Producer and Consumer):
//
//   consumer: Doorbell db(cons, opts);
//             while (run) { if (db.wait(cons, timeout) == WaitResult::ready)
//                               n = cons.consume(...); }
//   producer: Doorbell db(prod, opts);
//             n = prod.reserve(...); fill slots; db.submit(prod, n);
//             or: db.produce(prod, descs, n);
//
// The consumer records its strategy in the ring (high bits of `flags`, which
// it owns); the producer compares on every notify and throws when they
// differ: a producer that never kicks a consumer that sleeps would lose
// every wake-up.
//
// A consumer with several sources (rings and sockets, as a partition has)
// cannot sleep in one ring's futex: it arms every ring (arm()), sleeps in
// poll() on their eventfds and its sockets, then disarms them (disarm()).
//
// The hot paths (a non-empty ring, a suppressed kick) are inline and make
// no call; only sleeping and kicking leave the header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <mkdp_ring.h>

#include "cpu.h"
#include "ring.h"

namespace mkdp {

// The values are the ABI's (MKDP_WAKE_*): the consumer records its
// strategy in its ring's flags word.
enum class DoorbellStrategy : uint8_t {
	polled = MKDP_WAKE_POLLED,
	interrupt = MKDP_WAKE_INTERRUPT,
	adaptive = MKDP_WAKE_ADAPTIVE,
	monitor = MKDP_WAKE_MONITOR,
};

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

// The consumer's strategy as recorded in its ring: MKDP_RING_WAKE_MASK of
// mkdp_ring.flags (the consumer owns the word), encoded as
// MKDP_RING_WAKE_RECORD() in ring_abi/mkdp_ring.h. 0 = no consumer yet.
inline constexpr uint32_t kDoorbellRecordMask = MKDP_RING_WAKE_MASK;

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
	uint64_t dropped = 0;	// kicks swallowed by DoorbellFaults (tests only)
};

// Fault injection, for tests only: proves the stress tests can see a lost
// wake-up. Read on the slow paths only (kick, sleep), never on a fast path.
struct DoorbellFaults {
	uint32_t drop_kick_every = 0;	// swallow every Nth kick (0 = none)
	bool skip_recheck = false;	// consumer: sleep without step C3's re-check
};
extern DoorbellFaults g_doorbell_faults;

enum class WaitResult : uint8_t { ready, timeout };

// A new eventfd for WakeMechanism::eventfd (non-blocking, close-on-exec);
// the caller owns it. Throws mkdp::Error.
int make_doorbell_eventfd();

class Doorbell {
public:
	static constexpr uint64_t forever = UINT64_MAX;

	Doorbell() = default;
	// The consumer's side of one ring: records the strategy in the ring.
	// Throws mkdp::Error when the strategy cannot run here (monitor
	// without CPU support) or an eventfd is missing.
	template <class D> Doorbell(Consumer<D> &c, const DoorbellOptions &opts) : Doorbell(c.control(), opts)
	{
		record_consumer();
	}
	// The producer's side: throws mkdp::Error, as above, and when the
	// consumer attached with another strategy or mechanism.
	template <class D> Doorbell(Producer<D> &p, const DoorbellOptions &opts) : Doorbell(p.control(), opts)
	{
		check_consumer(__atomic_load_n(&ctl_->flags, __ATOMIC_RELAXED));
	}

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

	// Producer: publish nb reserved slots and ring the consumer when its
	// strategy asks for it (P1-P4 of docs/doorbells.md). Throws
	// mkdp::Error when the consumer recorded another strategy (it attached,
	// or re-attached, after this side).
	template <class D> void submit(Producer<D> &p, uint32_t nb)
	{
		if (opts_.strategy == DoorbellStrategy::adaptive) {
			// P1-P3: the fence between the index store and the flag
			// load is inside submit_and_check().
			notify(p.submit_and_check(nb).bits);
			return;
		}
		// The others need no Dekker: the flags word is read only for
		// the consumer's record, a line it writes when it attaches.
		p.submit(nb);
		notify(__atomic_load_n(&ctl_->flags, __ATOMIC_RELAXED));
	}

	// Producer: copy up to n descriptors in, publish them and ring as
	// submit() does; returns how many fit (0: nothing published, nobody
	// rung).
	template <class D> uint32_t produce(Producer<D> &p, const D *descs, uint32_t n)
	{
		n = p.stage(descs, n);
		if (n)
			submit(p, n);
		return n;
	}

	// Consumer with several sources. arm(): false when the ring already
	// holds work (do not sleep); true when the ring is empty and a
	// producer's next submit will make wake_fd() readable. Only the
	// eventfd mechanism can be armed (a futex cannot be polled together
	// with other fds); polled and monitor consumers never sleep and get
	// false when work is there, true otherwise, without arming anything.
	template <class D> bool arm(Consumer<D> &c) noexcept
	{
		if (c.available(1))
			return false;
		if (opts_.strategy != DoorbellStrategy::interrupt &&
		    opts_.strategy != DoorbellStrategy::adaptive)
			return true;
		if (recheck(c, opts_.strategy == DoorbellStrategy::adaptive))
			return false;
		stats_.sleeps++;
		return true;
	}
	// After the sleep, whatever woke it: lower the flag, drain the eventfd.
	template <class D> void disarm(Consumer<D> &c) noexcept
	{
		if (opts_.strategy == DoorbellStrategy::adaptive)
			c.clear_need_wakeup();
		if (opts_.mechanism == WakeMechanism::eventfd)
			drain();
	}
	// The fd a producer's kick makes readable (eventfd mechanism), or -1.
	int wake_fd() const noexcept
	{
		return opts_.mechanism == WakeMechanism::eventfd ? opts_.eventfd : -1;
	}

	const DoorbellOptions &options() const noexcept { return opts_; }
	const DoorbellStats &stats() const noexcept { return stats_; }
	mkdp_ring *ring() const noexcept { return ctl_; }

private:
	// P4: the consumer's flags as read after the publish decide the kick.
	void notify(uint32_t f)
	{
		if ((f & kDoorbellRecordMask) != record_) [[unlikely]]
			check_consumer(f);
		switch (opts_.strategy) {
		case DoorbellStrategy::polled:
		case DoorbellStrategy::monitor:
			return; // the index store itself is the doorbell
		case DoorbellStrategy::interrupt:
			kick();
			return;
		case DoorbellStrategy::adaptive:
			if (f & MKDP_RING_NEED_WAKEUP)
				kick();
			else
				stats_.suppressed++;
			return;
		}
	}

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

	// C2 and C3 of the protocol (docs/doorbells.md): ask for a kick, then
	// look at the producer index again. True: work arrived, the flag is
	// down again and the caller must not sleep.
	template <class D> bool recheck(Consumer<D> &c, bool flag) noexcept
	{
		if (flag) {
			c.set_need_wakeup();
			// The store of the flag before the load of the index,
			// under the C++ model too (the RMW alone orders only
			// itself): the producer's fence pairs with this one.
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		}
		if (c.available(1) && !g_doorbell_faults.skip_recheck) {
			if (flag)
				c.clear_need_wakeup();
			return true;
		}
		return false;
	}

	// Sleeps through the kernel until the ring is non-empty. With the flag
	// (adaptive) the producer kicks only while NEED_WAKEUP is up; without
	// it (interrupt) it kicks always. The order of the steps is the proof;
	// see docs/doorbells.md.
	template <class D> WaitResult sleep(Consumer<D> &c, uint64_t deadline, bool flag) noexcept
	{
		for (;;) {
			// C1. The futex value the sleep is conditional on, read
			//     before the re-check: a kick after this read changes
			//     it and the kernel refuses to sleep.
			uint32_t seq = __atomic_load_n(&ctl_->doorbell, __ATOMIC_ACQUIRE);
			// C2, C3. Ask for a kick, re-check the producer index.
			if (recheck(c, flag))
				return WaitResult::ready;
			// C4. Sleep, unless the doorbell moved since C1.
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

	// Binds to one ring; the public constructors add the side.
	Doorbell(mkdp_ring *ring, const DoorbellOptions &opts);

	// Out of line: the slow paths.
	bool kernel_sleep(uint32_t seq, uint64_t deadline) noexcept; // false: deadline passed
	void drain() noexcept;
	void kick() noexcept;
	void record_consumer() noexcept;
	void check_consumer(uint32_t flags);
	void monitor_arm(const void *addr) noexcept;
	void monitor_sleep() noexcept;

	mkdp_ring *ctl_ = nullptr;
	DoorbellOptions opts_{};
	bool waitpkg_ = false;	// monitor: UMWAIT rather than MWAITX
	uint32_t record_ = 0;	// what this side's options look like in flags
	DoorbellStats stats_{};
};

} // namespace mkdp
