/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The record the bare-IPI probe (ipi.bpf.c) leaves in its .bss for the
 * caller (ipi_measure.cpp): shared by both sides, since the generated
 * skeleton names the type without defining it.
 */
#ifndef _MKDP_BENCH_IPI_H
#define _MKDP_BENCH_IPI_H

#include <linux/types.h>

/* The last arrival; the caller reads it after each run. */
struct ipi_arrival {
	__u64 ns;	/* bpf_ktime_get_ns() on arrival (CLOCK_MONOTONIC) */
	__u64 seq;	/* the caller's sequence number, ctx->args[0] */
	__u32 cpu;	/* the CPU the program ran on */
	__u32 runs;	/* how many times it ran */
};

#endif
