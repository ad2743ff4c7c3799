// SPDX-License-Identifier: BSD-2-Clause
// Waiting in tests: for a condition, with a deadline far beyond any healthy
// run that only turns a hang into a failure. Never a count of iterations:
// how many polls fit in a moment depends on how busy the machine is.
#pragma once

#include <mkdp/cpu.h>

#include <unistd.h>

#include <cstdint>
#include <thread>

namespace mkdp::test {

// Polls `done()` every `step_us` until it holds or `timeout_ms` passed;
// returns its last answer. The wait is for a condition, the poll interval
// only bounds how late it is noticed.
template <class F> bool wait_until(F done, int timeout_ms, int step_us = 10000)
{
	uint64_t end = now_ns() + uint64_t(timeout_ms) * 1'000'000;
	while (!done()) {
		if (now_ns() >= end)
			return done();
		usleep(step_us);
	}
	return true;
}

// The same without sleeping, for a test that drives the work itself
// (`done()` polls a worker): yields between unfruitful rounds so a
// kernel thread it waits for (io_uring's workers) gets the CPU on a
// loaded machine.
template <class F> bool spin_until(F done, int timeout_ms = 60'000)
{
	uint64_t end = now_ns() + uint64_t(timeout_ms) * 1'000'000;
	while (!done()) {
		if (now_ns() >= end)
			return done();
		std::this_thread::yield();
	}
	return true;
}

} // namespace mkdp::test
