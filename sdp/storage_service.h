// SPDX-License-Identifier: BSD-2-Clause
// The storage side of a partition (mkdp-partition): one thread beside the
// network loop that serves the partition's storage rings, a pair per volume
// it serves, each with its own StorageWorker on the volume's backend. It
// is handed everything as file descriptors, so it runs after the partition
// dropped its privileges: the rings' region, the backend (a file opened by
// the supervisor, or the memfd of a memory volume, which outlives the
// partition), and the two eventfds of the rings' doorbells.
//
// How it waits: the volume's doorbell strategy (topology `wakeup`). Polled
// spins; adaptive spins for a budget, then (interrupt at once) arms every
// request ring and sleeps in poll() on their eventfds and on an eventfd
// each io_uring signals when a request it started completes.
#pragma once

#include "storage_worker.h"

#include <mkdp/doorbell.h>
#include <mkdp/partition.h>
#include <mkdp/region.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace mkdp::sdp {

// One volume the partition serves, as the supervisor hands it over.
struct ServedVolume {
	uint32_t volume = 0;		// id in the topology (mkdp_sreq_desc.volume)
	uint64_t size = 0;		// bytes
	bool memory = false;		// backend_fd is a memfd of `size` bytes to map
	bool direct = false;		// backend_fd was opened with O_DIRECT
	DoorbellStrategy wakeup = DoorbellStrategy::adaptive;
	int rings_fd = -1;		// region of storage_rings_layout()
	int backend_fd = -1;
	int sq_bell = -1, cq_bell = -1;	// eventfds of the request and completion rings
};

class StorageService : public PartitionStorage {
public:
	// Maps what it was handed (the fds stay the caller's) and starts the
	// thread. `volumes` is the topology's volume count (the bound every
	// request's volume id is checked against). It publishes its counters
	// in `counters` (the partition's control block). Throws mkdp::Error.
	StorageService(const std::vector<ServedVolume> &served, uint32_t volumes, StorageCounters *counters);
	~StorageService() override;

	// The partition runtime's starter (partition.h's StorageStarter): the
	// plan's volumes with their four fds each.
	static std::unique_ptr<PartitionStorage> start(const PartitionPlan &plan, std::span<const int> fds,
						       StorageCounters *counters);
	StorageService(const StorageService &) = delete;
	StorageService &operator=(const StorageService &) = delete;

private:
	struct Lane;
	void run() noexcept;
	void sleep();

	std::vector<std::unique_ptr<Lane>> lanes_;
	StorageCounters *counters_;
	DoorbellStrategy strategy_ = DoorbellStrategy::polled;	// the most patient of its volumes'
	std::thread thread_;
	std::atomic<bool> quit_{false};
	int quit_fd_ = -1;
};

} // namespace mkdp::sdp
