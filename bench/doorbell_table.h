// SPDX-License-Identifier: BSD-2-Clause
// The doorbell table (doorbell_table.cpp): every way one CPU can wake
// another, measured in one run, each row in one vocabulary and as a ratio
// to the cache-line floor between the same two CPUs.
//
// Rows come from three places: the ring strategies (doorbell_measure.cpp),
// the bare IPI (ipi_measure.cpp), and sources the table does not know,
// such as the KVM rows (exit round trip, irqfd injection) of bench/kvm/.
// A source either hands the table a RowSource, so that each of its
// repetitions runs right after a floor of its own (the ratio then compares
// two figures taken under the same load), or builds its finished row with
// doorbell_row() and appends it to results.table itself.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mkdp::bench {

// One repetition of one row. Times in ns; a negative value is "not
// measured" and becomes null in the row.
struct RowRep {
	double oneway_p50 = -1, oneway_p99 = -1;
	double rtt_p50 = -1, rtt_p99 = -1;
	// CPU per wake-up: the side that rings, and the side that is woken.
	double waker_cpu_ns = -1, woken_cpu_ns = -1;
	// CPU the waiting side burns while nothing comes (fraction of one CPU).
	double idle_cpu_fraction = -1;
	// The cache-line floor measured right before this repetition: the
	// denominators of the row's ratios (RowSource rows get it filled in).
	double floor_oneway_p50 = -1, floor_oneway_p99 = -1, floor_rtt_p50 = -1;
};

// A measured row, in the vocabulary `mkdp bench all` reads as
// results.doorbells: {"name", "measured": true, "wake", "repetitions",
// "oneway_p50_ns", "oneway_p99_ns", "rtt_p50_ns", "rtt_p99_ns",
// "cpu_ns_per_wakeup" (both sides, of those measured), "waker_cpu_ns",
// "woken_cpu_ns", "idle_cpu_fraction", "vs_cacheline" (one-way p50 over the
// floor's), "vs_cacheline_p99" (p99 over the floor's p99),
// "rtt_vs_cacheline", "note"}. Every figure is a summary over the
// repetitions {median, min, max, p25, p75, n}, or null when not measured;
// each ratio is taken per repetition against that repetition's floor, then
// summarised.
nlohmann::json doorbell_row(const std::string &name, const std::string &wake, const std::vector<RowRep> &reps,
			    const std::string &note = "");
// A row that could not be measured: {"name", "measured": false, "wake",
// "reason"}, the reason as exact as the failure allows (errno, message).
nlohmann::json doorbell_row_unmeasured(const std::string &name, const std::string &wake,
				       const std::string &reason);

// A row measured by someone else, interleaved with the table's repetitions.
struct RowSource {
	std::string name, wake, note;
	// "" when the row can be measured here, else why not (asked once,
	// before the minutes of measuring).
	std::function<std::string()> unavailable;
	// One repetition (quick: a smoke run); floor_* are filled in by the
	// table. Exceptions end the row with their message as its reason.
	std::function<RowRep(bool quick)> rep;
	// Optional: details for results.extra.<name>, from the repetitions.
	std::function<nlohmann::json(const std::vector<RowRep> &)> details;
};

// The whole table: the floor, polled, adaptive, interrupt with a futex and
// with an eventfd, adaptive with an eventfd, monitor (or why not), the
// bare IPI (or why not), then `extra` in order. {"results", "ratios"}:
// results.table the rows, results.strategies / floor_cacheline / bare_ipi
// the details `mkdp bench doorbell` plots and prints, ratios.vs_cacheline
// and rtt_vs_cacheline the medians per row. Consumer on CPU 0, producer
// (and IPI target) on CPU 1.
nlohmann::json measure_doorbell_table(bool quick, int reps, uint64_t poll_budget_ns = 20000, bool realtime = false,
				      const std::vector<RowSource> &extra = {});

} // namespace mkdp::bench
