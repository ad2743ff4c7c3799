// SPDX-License-Identifier: BSD-2-Clause
// The storage loads the benchmarks share: 4 KiB random reads or writes at a
// fixed queue depth, over the benchmark volume's file (BenchVolume::kSize),
// submitted again as each completes, until `ops` have completed. The same
// load through io_uring on the file and through an SDP volume session, so
// that `bench sdp` and `bench all` compare equal work.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace mkdp::sdp {
class Volume;
}

namespace mkdp::bench {

inline constexpr uint32_t kLoadBlock = 4096;

// A block-aligned offset inside the benchmark file.
uint64_t random_offset(std::mt19937_64 &rnd);

struct LoadResult {
	double iops = 0;
	// Submission to completion of every request, ns (when asked for).
	std::vector<double> latency_ns;
};

// io_uring from the calling thread, completions polled (neither this nor
// the SDP worker sleeps, so a ratio compares the paths, not a wake-up).
LoadResult uring_load(int fd, bool write, unsigned qd, uint64_t ops, bool latency = false);

// Through a client session of a volume of `mkdp topology up` (sdp/client.h): the
// storage plane with the volume's program, the owner partition's worker.
LoadResult volume_load(sdp::Volume &v, bool write, unsigned qd, uint64_t ops, bool latency = false);

} // namespace mkdp::bench
