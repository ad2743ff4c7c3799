// SPDX-License-Identifier: BSD-2-Clause
// CPU-level helpers shared by every spinning loop in mkdp.
#pragma once

#include <cstdint>

namespace mkdp {

// Tell the CPU we are spinning: frees the sibling hyperthread and avoids the
// memory-order mis-speculation penalty when the awaited line changes.
static inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	asm volatile("yield" ::: "memory");
#else
	asm volatile("" ::: "memory");
#endif
}

// Pins the calling thread to one CPU; throws mkdp::Error on failure.
void pin_to_cpu(int cpu);

// Monotonic nanoseconds, for benchmarks and watchdogs (never for pass/fail).
uint64_t now_ns() noexcept;

} // namespace mkdp
