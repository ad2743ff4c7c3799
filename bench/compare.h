// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench all`: the partition data path against a namespace/cgroup
// "partition" and a KVM guest, same workload, same run (docs/benchmarks.md,
// "## all"). Each measure_* returns {"<path>": figures...} for its part;
// all_bench.cpp puts them together with the ratios and writes the report.
#pragma once

#include "bench.h"

namespace mkdp::bench {

class BenchVolume;
namespace kvm {
class Vm;
}

// Frames delivered and consumed: XDP steering into an AF_XDP socket read
// on CPU 1 ("partition") against the kernel stack into a UDP socket in the
// testbed's namespace read on CPU 1 ("namespace"): frames/s, CPU per frame,
// latency from injection to the application. With a VM, the KVM path too
// (bench/kvm/kvm_bench.h: the same frames into the guest's RX queue,
// consumed by its vCPU on CPU 1), with host and guest CPU per frame.
nlohmann::json measure_network_paths(DeliveryBed &bed, bool quick, int reps, kvm::Vm *vm = nullptr);

// 4 KiB random reads and writes at depth 1 and 32 on the benchmark volume's
// file: through `mkdp topology up` (client -> storage plane and program -> partition
// p1's worker, "partition") against io_uring on the same file from a
// process in a cpuset cgroup of its own ("namespace"): IOPS and latency.
// With a VM, the KVM path too: the guest's virtio-blk requests served by
// a polling device thread with io_uring on the same file.
nlohmann::json measure_storage_paths(BenchVolume &bv, bool quick, int reps, kvm::Vm *vm = nullptr);

} // namespace mkdp::bench
