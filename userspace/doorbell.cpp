// SPDX-License-Identifier: BSD-2-Clause
// The slow paths of the doorbell: sleeping, kicking, monitor/wait.
#include <mkdp/cpu_features.h>
#include <mkdp/doorbell.h>
#include <mkdp/error.h>

#include <cerrno>
#include <climits>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace mkdp {

namespace {

// The futex lives in a region shared between processes, so the calls must
// not carry FUTEX_PRIVATE_FLAG: the kernel then keys the futex on the
// backing page, not on this process's address space.
long futex(uint32_t *uaddr, int op, uint32_t val, const timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, nullptr, val3);
}

timespec to_timespec(uint64_t ns)
{
	return {time_t(ns / 1000000000ull), long(ns % 1000000000ull)};
}

#if defined(__x86_64__) || defined(__i386__)
// How long one monitor/wait slice may last before the deadline is looked
// at again (TSC cycles; the OS caps UMWAIT further via IA32_UMWAIT_CONTROL).
constexpr uint64_t kMonitorSliceCycles = 100000;

__attribute__((target("waitpkg"))) void umonitor(const void *addr)
{
	_umonitor(const_cast<void *>(addr));
}
__attribute__((target("waitpkg"))) void umwait()
{
	// Control 0 asks for C0.2, the deeper and slower-to-leave state: the
	// producer's store ends it all the same.
	_umwait(0, __rdtsc() + kMonitorSliceCycles);
}
__attribute__((target("mwaitx"))) void monitorx(const void *addr)
{
	// clang's intrinsic takes a void *, GCC's a const void *: both
	// accept a non-const pointer (monitoring never writes the line).
	_mm_monitorx(const_cast<void *>(addr), 0, 0);
}
__attribute__((target("mwaitx"))) void mwaitx()
{
	// Extension bit 1 enables the timer in the third argument.
	_mm_mwaitx(2, 0, kMonitorSliceCycles);
}
#endif

} // namespace

const char *to_string(DoorbellStrategy s) noexcept
{
	switch (s) {
	case DoorbellStrategy::polled:
		return "polled";
	case DoorbellStrategy::interrupt:
		return "interrupt";
	case DoorbellStrategy::adaptive:
		return "adaptive";
	case DoorbellStrategy::monitor:
		return "monitor";
	}
	return "?";
}

const char *to_string(WakeMechanism m) noexcept
{
	return m == WakeMechanism::futex ? "futex" : "eventfd";
}

DoorbellStrategy parse_doorbell_strategy(std::string_view name)
{
	for (auto s : {DoorbellStrategy::polled, DoorbellStrategy::interrupt,
		       DoorbellStrategy::adaptive, DoorbellStrategy::monitor})
		if (name == to_string(s))
			return s;
	throw Error("unknown doorbell strategy '" + std::string(name) +
		    "' (polled, interrupt, adaptive, monitor)");
}

bool doorbell_available(DoorbellStrategy s) noexcept
{
	return s != DoorbellStrategy::monitor || cpu_features().user_monitor();
}

int make_doorbell_eventfd()
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		throw_errno("doorbell eventfd");
	return fd;
}

DoorbellFaults g_doorbell_faults;

namespace {

bool uses_kernel(DoorbellStrategy s)
{
	return s == DoorbellStrategy::interrupt || s == DoorbellStrategy::adaptive;
}

// MKDP_RING_WAKE_RECORD (ring_abi/mkdp_ring.h): attached, strategy, and the
// eventfd bit for the strategies that sleep in the kernel.
uint32_t record_of(DoorbellStrategy s, WakeMechanism m)
{
	return MKDP_RING_WAKE_RECORD(uint32_t(s), m == WakeMechanism::eventfd);
}

std::string describe_record(uint32_t r)
{
	auto s = DoorbellStrategy((r & MKDP_RING_WAKE_STRATEGY_MASK) >> MKDP_RING_WAKE_STRATEGY_SHIFT);
	auto m = r & MKDP_RING_WAKE_EVENTFD ? WakeMechanism::eventfd : WakeMechanism::futex;
	return uses_kernel(s) ? std::string(to_string(s)) + "/" + to_string(m) : to_string(s);
}

} // namespace

Doorbell::Doorbell(mkdp_ring *ring, const DoorbellOptions &opts)
	: ctl_(ring), opts_(opts), waitpkg_(cpu_features().waitpkg),
	  record_(record_of(opts.strategy, opts.mechanism))
{
	if (!ring)
		throw Error("doorbell: no ring");
	if (!doorbell_available(opts.strategy))
		throw Error(std::string("doorbell: monitor/wait ") + user_monitor_description());
	if (uses_kernel(opts.strategy) && opts.mechanism == WakeMechanism::eventfd && opts.eventfd < 0)
		throw Error("doorbell: eventfd mechanism without an eventfd");
}

void Doorbell::record_consumer() noexcept
{
	// The consumer owns `flags`; a consumer that (re)attaches is awake, so
	// NEED_WAKEUP starts down and the record replaces any earlier one.
	// Other bits are left alone (the ABI: a side changes only the bits it
	// knows).
	uint32_t old = __atomic_load_n(&ctl_->flags, __ATOMIC_RELAXED), want;
	do
		want = (old & ~(kDoorbellRecordMask | MKDP_RING_NEED_WAKEUP)) | record_;
	while (!__atomic_compare_exchange_n(&ctl_->flags, &old, want, false, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

void Doorbell::check_consumer(uint32_t flags)
{
	uint32_t r = flags & kDoorbellRecordMask;
	if (r && r != record_)
		throw Error("doorbell: the producer is set to " + describe_record(record_) +
			    " but the consumer waits with " + describe_record(r) +
			    " (both sides of a ring must use the same strategy)");
}

bool Doorbell::kernel_sleep(uint32_t seq, uint64_t deadline) noexcept
{
	if (opts_.mechanism == WakeMechanism::futex) {
		// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline,
		// so retries after EINTR or a spurious wake keep the original.
		timespec ts = to_timespec(deadline);
		long r = futex(&ctl_->doorbell, FUTEX_WAIT_BITSET, seq,
			       deadline == forever ? nullptr : &ts, FUTEX_BITSET_MATCH_ANY);
		// EAGAIN: the doorbell rang between the read of seq and the
		// sleep, which is exactly the wake-up the protocol must keep.
		return r == 0 || errno != ETIMEDOUT;
	}
	pollfd p = {opts_.eventfd, POLLIN, 0};
	timespec rel, *prel = nullptr;
	if (deadline != forever) {
		uint64_t now = now_ns();
		rel = to_timespec(deadline > now ? deadline - now : 0);
		prel = &rel;
	}
	int r = ppoll(&p, 1, prel, nullptr);
	if (r == 0)
		return false;
	drain();
	return true;
}

void Doorbell::drain() noexcept
{
	// The counter is sticky: kicks sent while we were awake would
	// otherwise make every later sleep return at once.
	uint64_t v;
	(void)!read(opts_.eventfd, &v, sizeof(v));
}

void Doorbell::kick() noexcept
{
	if (uint32_t n = g_doorbell_faults.drop_kick_every) [[unlikely]] {
		if ((stats_.kicks + stats_.dropped + 1) % n == 0) {
			stats_.dropped++;
			return;
		}
	}
	stats_.kicks++;
	if (opts_.mechanism == WakeMechanism::futex) {
		// Changing the word before FUTEX_WAKE is what makes a consumer
		// that read the old value refuse to sleep (EAGAIN).
		__atomic_fetch_add(&ctl_->doorbell, 1, __ATOMIC_SEQ_CST);
		futex(&ctl_->doorbell, FUTEX_WAKE, 1, nullptr, 0);
		return;
	}
	uint64_t one = 1;
	(void)!write(opts_.eventfd, &one, sizeof(one));
}

void Doorbell::monitor_arm(const void *addr) noexcept
{
#if defined(__x86_64__) || defined(__i386__)
	if (waitpkg_)
		umonitor(addr);
	else
		monitorx(addr);
#else
	(void)addr;
#endif
}

void Doorbell::monitor_sleep() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
	if (waitpkg_)
		umwait();
	else
		mwaitx();
#else
	cpu_relax();
#endif
}

} // namespace mkdp
