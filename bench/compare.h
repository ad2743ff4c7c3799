// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench all`: the partition data path against a namespace/cgroup
// "partition" and a KVM guest, same workload, same run (docs/benchmarks.md,
// "## all"). Each measure_* returns {"<path>": figures...} for its part;
// all_bench.cpp puts them together with the ratios and writes the report.
#pragma once

#include "bench.h"

namespace mkdp::bench {

class BenchVolume;

// Frames delivered and consumed: XDP steering into an AF_XDP socket read
// on CPU 1 ("partition") against the kernel stack into a UDP socket in the
// testbed's namespace read on CPU 1 ("namespace"): frames/s, CPU per frame,
// latency from injection to the application.
nlohmann::json measure_network_paths(DeliveryBed &bed, bool quick, int reps);

// 4 KiB random reads and writes at depth 1 and 32 on the benchmark volume's
// file: through `mkdp up` (client -> storage plane and program -> partition
// p1's worker, "partition") against io_uring on the same file from a
// process in a cpuset cgroup of its own ("namespace"): IOPS and latency.
nlohmann::json measure_storage_paths(BenchVolume &bv, bool quick, int reps);

} // namespace mkdp::bench
