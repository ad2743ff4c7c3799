// SPDX-License-Identifier: BSD-2-Clause
// Request latency in log2 buckets of nanoseconds, as the storage plane
// records it per volume (submission -> completion, CLOCK_MONOTONIC).
//
// Bucket i counts latencies in (2^(i-1), 2^i] ns (bucket 0: 0 and 1 ns), so
// its upper bound is exact for Prometheus' inclusive `le` and a histogram
// exported from it needs no rounding. Recording is three adds into memory
// of the thread that records: no allocation, no lock, no system call; a
// reader copies it on that thread (the storage plane's hand-off).
#pragma once

#include <cstdint>

namespace mkdp::sdp {

struct LatencyHistogram {
	static constexpr int kBuckets = 64;

	uint64_t buckets[kBuckets] = {};
	uint64_t count = 0;
	uint64_t sum_ns = 0;

	static constexpr int bucket_of(uint64_t ns) noexcept
	{
		if (ns <= 1)
			return 0;
		int b = 64 - __builtin_clzll(ns - 1);
		return b < kBuckets ? b : kBuckets - 1;
	}
	// The inclusive upper bound of bucket i (the last one takes the rest).
	static constexpr uint64_t upper_ns(int i) noexcept { return i >= kBuckets - 1 ? UINT64_MAX : 1ULL << i; }

	void record(uint64_t ns) noexcept
	{
		buckets[bucket_of(ns)]++;
		count++;
		sum_ns += ns;
	}
};

} // namespace mkdp::sdp
