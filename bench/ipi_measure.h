// SPDX-License-Identifier: BSD-2-Clause
// The bare-IPI row of the doorbell table: a raw tracepoint program
// (ipi.bpf.c) run on the other CPU by BPF_PROG_RUN with
// BPF_F_TEST_RUN_ON_CPU, which the kernel does with
// smp_call_function_single() — a real inter-processor interrupt and
// nothing else: no futex, no eventfd, no scheduler wake-up on the target.
// It is what the multikernel doorbell (a pending bit plus an IPI) costs
// below any user-space wake-up, measured from user space.
#pragma once

#include "doorbell_measure.h"
#include "doorbell_table.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mkdp::bench::ipi {

// The figures of one repetition.
struct Rep {
	// Target CPU idle (nothing runs there): the IPI wakes a halted CPU.
	doorbell::PingPong idle;
	// Target CPU busy with a spinning thread: the IPI interrupts it.
	doorbell::PingPong busy;
	// cpu = the caller's own: the same system call and program, no IPI.
	doorbell::PingPong own;
	double caller_cpu_ns = 0;	// caller thread CPU per call, idle target
	double own_cpu_ns = 0;		// the same, own CPU
	// Busy target: time each IPI took from its thread (the gap in its
	// clock reads that holds the arrival), and the share of calls whose
	// arrival fell in a gap (1 unless the spinner lost its CPU).
	doorbell::Dist stolen{};
	double attributed = 0;
	uint32_t target_seen = 0;	// the CPU the program reported
	// Function-call interrupts the target took per call, idle and busy
	// (/proc/interrupts "CAL"); -1 when unreadable.
	double ipis_per_call = -1, busy_ipis_per_call = -1;
	size_t count = 0;		// samples per condition
};

// The loaded probe; the caller must be pinned to doorbell::kConsumerCpu.
class Probe {
public:
	// Throws mkdp::Error with the reason when the program does not load.
	Probe();
	~Probe();
	Probe(const Probe &) = delete;
	Probe &operator=(const Probe &) = delete;

	// "" when a run on the target CPU works, else exactly why it does not
	// (the kernel refusing BPF_F_TEST_RUN_ON_CPU, the CPU offline, ...).
	std::string check();
	// `samples` runs in each condition.
	Rep rep(size_t samples);

private:
	struct Sample {
		uint64_t t0, arrival, t1;
		uint32_t cpu;
	};
	// One BPF_PROG_RUN on cpu; negative errno on failure.
	int run(int cpu, Sample &s);
	// `samples` runs on cpu; arrivals, if given, gets each run's stamp.
	doorbell::PingPong series(int cpu, size_t samples, double *cpu_ns_per_call, uint32_t *seen,
				  std::vector<uint64_t> *arrivals = nullptr);

	struct Skel;
	std::unique_ptr<Skel> s_;
	uint64_t seq_ = 0;
};

// Why the bare IPI cannot be measured here ("" if it can): fewer than two
// CPUs, the program does not load, the kernel refuses the run on a CPU.
// Runs on a thread pinned like the measurement.
std::string unavailable_reason();

// The table's figures of one repetition (target idle): one-way and round
// trip, the caller's CPU per call (waker) and the time taken from a busy
// target (woken); floor_* left for the table.
RowRep row_rep(const Rep &r);

// The details beside the table row (results.bare_ipi): every condition
// (target idle, target busy, the caller's own CPU) summarised over reps.
nlohmann::json details(const std::vector<Rep> &reps);

// Samples per condition and repetition.
size_t samples(bool quick);

// Runs reps repetitions on a thread pinned to doorbell::kConsumerCpu.
std::vector<Rep> run_reps(bool quick, int reps);

} // namespace mkdp::bench::ipi
