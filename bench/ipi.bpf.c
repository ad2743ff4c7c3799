// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bare-IPI probe of `mkdp bench doorbell` (bench/ipi_measure.cpp).
 *
 * It is never attached: user space runs it through BPF_PROG_RUN with
 * BPF_F_TEST_RUN_ON_CPU, and for a raw tracepoint program the kernel then
 * runs it on the named CPU with smp_call_function_single(), i.e. from the
 * handler of a real inter-processor interrupt (net/bpf/test_run.c,
 * bpf_prog_test_run_raw_tp). That is the closest thing to the multikernel
 * doorbell (a pending bit plus an IPI) that user space can trigger on a
 * stock kernel.
 *
 * The program stamps its arrival with bpf_ktime_get_ns() (the kernel's
 * CLOCK_MONOTONIC, the clock the caller stamps the call with) and records
 * the CPU it ran on, which proves the call crossed CPUs. The record lives
 * in .bss, which the skeleton maps into the caller: reading it costs no
 * system call after the synchronous run has returned.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ipi.h"

struct ipi_arrival arrival = {};

SEC("raw_tp")
int ipi_arrive(struct bpf_raw_tracepoint_args *ctx)
{
	/* The stamp first: everything after it is not part of the latency. */
	arrival.ns = bpf_ktime_get_ns();
	arrival.seq = ctx->args[0];
	arrival.cpu = bpf_get_smp_processor_id();
	arrival.runs++;
	/* The CPU also comes back as the run's retval: a check that does
	 * not depend on the mapped .bss. */
	return arrival.cpu;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
