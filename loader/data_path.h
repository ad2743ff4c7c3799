// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's data path: one thread that only moves frames. It drains
// the partitions' return rings into the frame pool, refills the fill rings
// from it, and keeps each partition under its frame quota. Nothing else
// runs on it: the control thread (supervisor.h) answers the control socket,
// reads steering statistics, starts and reaps processes, and hands the data
// path what changes between two passes through call().
//
// The loop allocates nothing and makes no system call while frames move; it
// sleeps (up to 1 ms, on an eventfd that call() rings) only once idle.
#pragma once

#include "frame_pool.h"
#include "handoff.h"
#include "xsk_sockets.h"

#include <mkdp/partition.h>
#include <mkdp/region.h>
#include <mkdp/ring.h>
#include <mkdp/xsk_ring_map.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace mkdp {

class Steering;

// An XSKMAP entry of a partition: its socket on a queue.
struct XskSlot {
	uint32_t queue;		// the queue number on the interface
	int fd;
};

class DataPath {
public:
	// `umem` is the shared region: the "frames" area, return rings "retP",
	// forward rings "fwdP-Q" (P, Q partition indices).
	DataPath(const Region &umem, uint32_t frame_size, FramePool pool, std::vector<FillQueue> queues);
	~DataPath() { stop(); }
	DataPath(const DataPath &) = delete;
	DataPath &operator=(const DataPath &) = delete;

	// Set-up, before start(): partition p, its return ring and control
	// block (counters, held bitmap) when it shares the UMEM.
	void add_partition(uint32_t p, Consumer<FrameAddr> ret, PartitionCtl *ctl);
	// Where throttling clears and sets XSKMAP slots (none: no throttling).
	void set_steering(Steering *s) noexcept { steer_ = s; }

	void start();
	void stop() noexcept;
	// Runs fn on the data thread between two passes (inline when the thread
	// is not running) and waits for it; fn's exception is rethrown here.
	// Only one thread calls it: the control thread.
	void call(const std::function<void()> &fn);

	// ---- through call() -------------------------------------------------
	// p's process is starting with sockets whose RX rings are `rx` (they
	// stay mapped until reclaim(p) returns).
	void attach(uint32_t p, const std::vector<XskRingMap> *rx);
	// p is ready: steer its traffic to `slots` and hold it to its quota.
	void activate(uint32_t p, std::vector<XskSlot> slots);
	// p is stopping (alive) or dead: no new frames for it. The steering
	// program counts them no_socket and applies the default action.
	void deactivate(uint32_t p, bool dead) noexcept;
	// p is dead and redirects already in flight have landed: every frame
	// it could have comes back to the pool. Returns how many.
	uint64_t reclaim(uint32_t p);
	// Where every frame is, with each queue's fill_ring_empty refreshed.
	FramePool::Tally tally();
	FramePool::PartInfo info(uint32_t p) const noexcept
	{
		FramePool::PartInfo i = pool_.info(p);
		if (p < parts_.size())
			i.ret_corrupt = parts_[p].ret.corrupt();
		return i;
	}
	uint64_t refused() const noexcept { return pool_.refused(); }
	const std::vector<FillQueue> &queues() const noexcept { return queues_; }

	// ---- one pass (the loop; set-up uses them before start) -------------------
	uint32_t drain_returns() noexcept;
	uint32_t refill() noexcept;
	void enforce_quotas() noexcept;

	void close_queues() noexcept;

private:
	enum class Life : uint8_t { idle, up, active, dead };
	struct Part {
		Life life = Life::idle;
		bool umem = false;
		Consumer<FrameAddr> ret;
		PartitionCtl *ctl = nullptr;
		const std::vector<XskRingMap> *rx = nullptr;
		std::vector<XskSlot> slots;
		uint64_t taken_base = 0;	// frames it had taken when it became active
	};

	void run() noexcept;
	void wait(int usec) noexcept;
	uint64_t taken(const Part &p) const noexcept;
	uint64_t charge(uint32_t p) const noexcept;
	void set_slots(const Part &p) noexcept;
	void clear_slots(uint32_t p) noexcept;
	uint32_t frame_of(uint64_t addr) const noexcept { return uint32_t(addr / frame_size_); }
	// fn(from, to, addr) for every descriptor waiting in a forward ring
	// (from -> to) or a return ring (from, to = from).
	template <class F> void for_each_queued(F fn) const;

	const Region &umem_;
	uint32_t frame_size_;
	FramePool pool_;
	std::vector<FillQueue> queues_;
	std::vector<Part> parts_;
	Steering *steer_ = nullptr;
	uint32_t lent_[512];	// refill()'s scratch

	std::thread thread_;
	std::atomic<bool> quit_{false};
	Handoff handoff_;
};

} // namespace mkdp
