// SPDX-License-Identifier: BSD-2-Clause
// A partition: mkdp's model of a spawned kernel. The supervisor (the "host
// kernel", supervisor.h) starts one partition runtime per topology partition
// and hands it everything as file descriptors over a Unix socket: the shared
// region(s), its AF_XDP sockets and a private control memfd. The runtime maps
// them, pins itself to its CPUs, drops every privilege, and then only
// receives, counts, forwards and returns frames. See docs/partitions.md.
//
// The control memfd (PartitionCtl) is shared by one partition and the
// supervisor only: counters the partition writes and the supervisor reads,
// and the "held" bitmap that lets the supervisor reclaim the frames a dead
// partition was holding.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mkdp {

inline constexpr uint32_t kPartitionCtlMagic = 0x4c54434dU;	// "MCTL"

// What a partition's storage worker publishes (relaxed stores by it only).
struct StorageCounters {
	uint64_t requests;	// requests taken from its storage rings
	uint64_t errors;	// completions it posted with a negative status
	uint64_t bytes;		// bytes it read and wrote
};

// Counters a partition publishes (relaxed stores by the partition only).
struct PartitionCounters {
	uint64_t rx;		// frames taken from its AF_XDP RX rings
	uint64_t rx_bytes;
	uint64_t fwd;		// frames it forwarded to a peer (zero copy)
	uint64_t fwd_rx;	// frames a peer forwarded to it
	uint64_t drops;		// frames it gave back unprocessed (forward ring full)
	uint64_t returned;	// frames it produced on its return ring
	uint64_t tag_sum;	// sum of the 8-byte tags of IPv4/UDP frames (packet.h's FrameSpec::tag)
	uint64_t fwd_addr_sum;	// sum of the UMEM addresses it forwarded
	uint64_t fwd_rx_addr_sum; // sum of the UMEM addresses forwarded to it
	uint64_t bad_desc;	// forward descriptors refused by validation
	uint64_t heartbeat;	// loop iterations, to tell a live partition from a stuck one
	uint64_t kicks;		// AF_XDP kicks (recvfrom) its wake-up mode asked for
	uint64_t sleeps;	// times it slept in poll() (never with wakeup = polled)
	uint64_t doorbell_kicks; // wake-ups it sent to its forward peer's doorbell
	// Tags read from its RX rings whose sequence (low 32 bits) did not
	// grow within their flow (high 32 bits): a flow arrives on one queue in
	// order, so a repeat means a frame was read twice (lent twice). Frames
	// forwarded to it are checked the same way, per flow, on their own.
	uint64_t tag_order_errors;
	uint64_t rx_flows;	// bit (flow % 64) for every flow a tag arrived from on RX
	uint64_t doorbell_suppressed; // submits whose consumer did not ask for a wake-up (adaptive)
	StorageCounters storage;	// its storage worker (sdp/storage_service.h)
	// Impossible producer indices seen on the forward rings it consumes
	// (a peer scribbled them): nothing was read from those rings then.
	uint64_t fwd_corrupt;
	uint64_t reserved[3];
};
static_assert(sizeof(PartitionCounters) == 192);

// The control memfd: header, counters, then `frames` bits of held bitmap.
struct PartitionCtl {
	uint32_t magic;
	uint32_t frames;	// frames in the UMEM area, bits in held[]
	uint32_t ready;		// 1 once the runtime finished set-up and dropped privileges
	uint32_t pad0;
	char error[112];		// why set-up failed (NUL-terminated), for the supervisor to report
	PartitionCounters c;
	uint64_t held[];	// bit f: frame f is held by this partition (see below)
};
static_assert(sizeof(PartitionCtl) == 320);

inline size_t partition_ctl_size(uint32_t frames)
{
	size_t n = sizeof(PartitionCtl) + (frames + 63) / 64 * sizeof(uint64_t);
	return (n + 4095) & ~size_t(4095);
}

// A volume the partition serves (docs/sdp.md): its storage worker gets the
// volume's rings and backend.
struct PlanVolume {
	uint32_t volume = 0;		// id in the topology
	uint64_t size = 0;		// bytes
	bool memory = false;		// the backend fd is a memfd to map
	bool direct = false;		// the backend fd was opened with O_DIRECT
	std::string wakeup = "adaptive"; // the rings' doorbell strategy
};

// What the supervisor tells a runtime about the fds it sends (JSON payload of
// the SCM_RIGHTS message; fds in the order listed here).
struct PartitionPlan {
	std::string name;
	uint32_t index = 0;		// partition number in the topology and the steering program
	std::vector<int> cpus;
	std::string netns;		// join this namespace before dropping privileges ("" = stay)
	uint32_t frame_size = 2048;
	uint32_t forward_every = 0;	// forward every Nth received frame (0 = never)
	int32_t forward_to = -1;	// peer partition index, -1 = none
	uint32_t rx_entries = 0;	// size of each AF_XDP RX ring
	std::vector<uint32_t> queues;	// one AF_XDP socket per queue, same order as the fds
	uint32_t frames = 0;		// frames in the UMEM area (bits of the held bitmap)
	bool umem = true;		// it shares the UMEM region (false: no region fd, no queues)
	std::vector<std::string> regions; // other regions named for it, in fd order
	uint32_t uid = 65534, gid = 65534; // what it runs as after set-up (never 0)
	// How it waits (topology `wakeup`: polled | interrupt | adaptive) and
	// how the consumer of its forward ring waits (its peer's `wakeup`):
	// both sides of a ring must use the same doorbell strategy.
	std::string wakeup = "adaptive";
	std::string forward_wakeup = "adaptive";
	std::vector<std::string> doorbells; // rings whose eventfd it gets, in fd order
	// Read the test tag of every frame (tag_sum, tag_order_errors,
	// rx_flows): a cache miss per frame, so only when a test asks.
	bool verify_tags = false;
	std::vector<PlanVolume> volumes;	// the volumes it serves
	uint32_t topology_volumes = 0;		// volumes in the topology (ids are below)
	// fd order: ctl, the UMEM region (if umem), one xsk per queue, one fd
	// per entry of `regions`, one eventfd per entry of `doorbells`, then
	// four per entry of `volumes`: its rings' region, its backend, the
	// eventfds of its request and its completion ring
	std::string to_json() const;
	static PartitionPlan from_json(const std::string &s);
};

// The storage side of a partition (sdp/storage_service.h), which libmkdp
// does not link: mkdp-partition gives partition_run a starter, called after
// privileges are dropped with the plan and its volumes' fds (four per
// volume, in plan order); what it returns runs until partition_run returns.
struct PartitionStorage {
	virtual ~PartitionStorage() = default;
};
using StorageStarter = std::unique_ptr<PartitionStorage> (*)(const PartitionPlan &plan, std::span<const int> fds,
							      StorageCounters *counters);

class Region;

// What set-up leaves a partition's loop: its plan, control block and
// regions mapped, its sockets and eventfds open, privileges dropped, ready
// already signalled to the supervisor.
struct PartitionAttach {
	const PartitionPlan &plan;
	PartitionCtl *ctl;
	Region *umem;				// null when it does not share the UMEM
	std::span<const int> xsk_fds;		// one per plan.queues
	std::span<const int> volume_fds;	// four per plan.volumes (as StorageStarter's)
};
// A loop other than the runtime's, for test programs that join as a
// partition and then behave as the test wants (tests/hostile_partition.cpp).
// Returns the exit code; should return soon after partition_stopping().
using PartitionLoop = int (*)(PartitionAttach &a);
// True once SIGTERM or SIGINT arrived.
bool partition_stopping() noexcept;

// Entry of the runtime process (mkdp-partition --sock FD): receives the
// plan and its fds on `sock`, sets up, drops privileges, and loops until
// SIGTERM. Returns the process exit code. With `loop`, set-up is the same
// but `loop` runs instead of the runtime (and no storage worker starts:
// the volumes' fds are the loop's).
int partition_run(int sock, StorageStarter storage = nullptr, PartitionLoop loop = nullptr);

} // namespace mkdp
