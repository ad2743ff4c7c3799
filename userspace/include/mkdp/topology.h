// SPDX-License-Identifier: BSD-2-Clause
// The topology file: what a machine's partitions are, the way the
// multikernel RFC's device tree describes a spawned kernel. A TOML file (see
// docs/topology.md) lists partitions (CPUs, NIC queues, doorbell), shared
// regions (size, frame size, huge pages, who shares them) and storage
// volumes. check() names every conflict, not just the first.
#pragma once

#include <mkdp/region.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mkdp {

struct PartitionSpec {
	std::string name;
	std::vector<int> cpus;		// dedicated CPUs, sorted, unique
	std::vector<uint32_t> queues;	// NIC RX queues it may receive from
	std::string netns;		// own network namespace ("" = the loader's)
	std::string wakeup = "adaptive"; // polled | interrupt | adaptive (doorbells)
	uint32_t busy_poll_usecs = 20;	// polled: SO_BUSY_POLL of its AF_XDP sockets
	uint32_t busy_poll_budget = 64;	// polled: SO_BUSY_POLL_BUDGET
	uint32_t line = 0;		// where it was declared, for messages
};

struct RegionSpec {
	std::string name;
	uint64_t size = 0;		// bytes
	uint32_t frame_size = 2048;	// AF_XDP chunk: power of two in [2048, 4096]
	uint32_t frames_per_partition = 0; // 0 = an equal share of the region
	bool hugepages = false;		// back by hugetlbfs (error if unavailable)
	std::vector<std::string> shared_with; // partitions that may map it
	uint32_t line = 0;
};

struct VolumeSpec {
	std::string name;
	std::string backend = "memory"; // memory | file | block
	std::string path;		// file or block device (file, block)
	uint64_t size = 0;		// bytes; file and memory volumes
	std::string owner;		// the partition that serves SDP_PASS requests
	// Every partition that serves it (SDP_REDIRECT targets), the owner
	// included: the parser puts the owner first when the file leaves it out.
	std::vector<std::string> partitions;
	std::string program;		// SDP program object attached at up ("" = none);
					// load() resolves it against the file's directory
	std::string wakeup = "adaptive"; // polled | interrupt | adaptive (its storage rings)
	// A FUSE export `up` creates (docs/sdp.md): the file it appears as
	// ("" = none; made if missing, removed at down if made), writable or
	// read-only, with FUSE direct_io or through the page cache.
	std::string export_path;
	bool export_writable = false;
	bool export_direct = false;
	uint32_t line = 0;
};

struct Topology {
	std::string source;		// file name, or "<built-in>"
	std::string interface;		// the NIC partitions receive from
	std::string netns;		// where the interface lives ("" = here)
	std::optional<uint32_t> queues;	// queue count, if the file pins it
	std::vector<PartitionSpec> partitions;
	std::vector<RegionSpec> regions;
	std::vector<VolumeSpec> volumes;

	// Parses TOML text. Syntax errors, unknown keys and values of the
	// wrong type throw mkdp::Error("<source>:<line>: <reason>").
	static Topology parse(std::string_view text, const std::string &source);
	static Topology load(const std::string &path);
	// Two partitions on the `mkdp testbed` veth, one per CPU, sharing one
	// UMEM region: what `mkdp topology up` uses without a file and the demo runs.
	static Topology builtin();
	// The built-in topology's text for a testbed in namespace `netns`:
	// what tests and benchmarks write to a file for `mkdp topology up FILE`.
	static std::string testbed_toml(const std::string &netns);

	const PartitionSpec *partition(std::string_view name) const;
};

// The fewest frames a partition may own in a UMEM region: a fill ring's
// worth for every burst it must absorb. check() and `up` use this one value.
inline constexpr uint32_t kMinFramesPerPartition = 64;

// The region that serves as AF_XDP UMEM for [machine] interface: the first
// one shared with every partition that receives from a queue (one UMEM per
// queue, see docs/topology.md). nullptr when none is.
const RegionSpec *umem_region(const Topology &t);

// The frames each partition sharing `r` owns: frames_per_partition, or an
// equal share of the region. 0 when the region cannot give every partition
// kMinFramesPerPartition, or holds more frames than a ring can name
// (MKDP_RING_MAX; check() says why).
uint32_t frames_per_partition(const RegionSpec &r);

// Slots of each forward ring between two partitions sharing the UMEM.
inline constexpr uint32_t kForwardRingEntries = 1024;

// The layout `mkdp topology up` creates for region r of t, so that check() refuses
// what the ring ABI would refuse at up. The UMEM (umem_region(t)): the area
// "frames" (every whole frame of r.size), a return ring "ret<i>" with a slot
// per frame for each sharing partition (i: its index in t.partitions), and
// a forward ring "fwd<i>-<j>" of kForwardRingEntries for every ordered pair
// of sharers. Any other region: one area "data" of r.size. Throws a
// one-line mkdp::Error "region 'NAME': ..." when the ABI cannot hold it.
RegionLayout region_layout(const Topology &t, const RegionSpec &r);

// What check() compares the file against; probe() reads the real machine.
struct MachineFacts {
	int cpus = 0;				// CPUs online
	std::optional<uint32_t> device_queues;	// RX queues of the interface, if found
	bool hugetlbfs = false;			// a hugetlbfs is mounted with free pages
	// What the regions must fit in; unset: not checked. Memory is
	// MemTotal (a region is populated when it is created: more than that
	// cannot be); huge pages are HugePages_Free less HugePages_Rsvd.
	std::optional<uint64_t> mem_total;	// bytes
	std::optional<uint64_t> huge_pages_free;
	uint64_t huge_page_size = 0;		// bytes (Hugepagesize)
	// Network safety: why [machine] interface may not carry mkdp traffic
	// ("" = it may: a veth end of a testbed namespace mkdp made).
	std::string device_refused;
};
MachineFacts probe_machine(const Topology &t);

struct Conflict {
	std::string what;	// one line
	uint32_t line = 0;	// 0 when not tied to a line
};

// Every conflict between the topology and itself or the machine.
std::vector<Conflict> check(const Topology &t, const MachineFacts &m);

// "16MiB", "2M", "4096", "64k" -> bytes; throws mkdp::Error.
uint64_t parse_size(std::string_view s);
// "0-3,6" -> {0,1,2,3,6}; throws mkdp::Error.
std::vector<int> parse_cpu_list(std::string_view s);

} // namespace mkdp
