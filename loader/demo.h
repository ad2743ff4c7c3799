// SPDX-License-Identifier: BSD-2-Clause
// The narrated scenarios of `mkdp demo` (what `make demo` runs).
#pragma once

#include <cstdint>
#include <string>

namespace mkdp {

// Partitions on the veth testbed receiving real frames: testbed up, the
// built-in topology up, UDP flows, per-partition counters while it runs,
// then down and testbed down (also on failure). Prints as it goes; throws.
struct PartDemoOptions {
	uint32_t seconds = 5;
	uint64_t pps = 50'000;
	uint32_t flows = 16;
	uint32_t forward_every = 8;
};
void run_partitions_demo(const PartDemoOptions &o);

// With mkdp topology up: a steering SDP program on `volume`, data written through
// it to two partitions' storage workers, read back and checked, verdicts
// printed (demo_storage.cpp). Throws on an error or a mismatch.
void run_storage_demo(const std::string &volume);

// Two processes share one region: the loader writes frames and posts their
// descriptors on a ring, the partition validates and checks each one and
// returns the frame on a second ring.
struct RingDemoOptions {
	uint64_t frames = 1'000'000;
	uint32_t frame_size = 2048;
	uint32_t ring_entries = 1024;
	uint32_t batch = 64;
};
void run_ring_demo(const RingDemoOptions &o);

} // namespace mkdp
