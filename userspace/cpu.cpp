// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>

namespace mkdp {

void pin_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		throw_errno("pin to CPU " + std::to_string(cpu), err);
}

uint64_t now_ns() noexcept
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

} // namespace mkdp
