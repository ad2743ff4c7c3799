// SPDX-License-Identifier: BSD-2-Clause
#include "storage_service.h"

#include "storage_rings.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mkdp::sdp {

namespace {

constexpr int kWatchdogMs = 100;		// a sleeper looks at quit at least this often

} // namespace

struct StorageService::Lane {
	Region rings;
	Doorbell sq_bell, cq_bell;
	void *mem = nullptr;	// memory volume: its memfd, mapped
	size_t mem_len = 0;
	int done_fd = -1;	// the io_uring's completion eventfd
	std::unique_ptr<StorageWorker> worker;
	WorkerStats seen{};	// what was last added to the counters

	~Lane()
	{
		worker.reset();
		if (mem)
			munmap(mem, mem_len);
		if (done_fd >= 0)
			close(done_fd);
	}
};

StorageService::StorageService(const std::vector<ServedVolume> &served, uint32_t volumes, StorageCounters *counters)
	: counters_(counters)
{
	for (const ServedVolume &v : served) {
		if (v.volume >= volumes)
			throw Error("storage: volume " + std::to_string(v.volume) + " is not in the topology");
		auto l = std::make_unique<Lane>();
		l->rings = Region::open(v.rings_fd);
		// A worker is given every volume id; only this lane's is served.
		std::vector<Backend> backends(volumes);
		Backend &b = backends[v.volume];
		b.size = v.size;
		if (v.memory) {
			l->mem_len = v.size;
			l->mem = mmap(nullptr, v.size, PROT_READ | PROT_WRITE, MAP_SHARED, v.backend_fd, 0);
			if (l->mem == MAP_FAILED) {
				l->mem = nullptr;
				throw_errno("storage: map memory volume " + std::to_string(v.volume));
			}
			b.mem = {static_cast<uint8_t *>(l->mem), v.size};
		} else {
			b.fd = v.backend_fd;
			b.direct = v.direct;
		}
		l->worker = std::make_unique<StorageWorker>(l->rings.requests("sq", volumes),
							    l->rings.producer<mkdp_scpl_desc>("cq"), l->rings.area("data"),
							    std::move(backends));
		DoorbellOptions o{.strategy = v.wakeup, .mechanism = WakeMechanism::eventfd,
				  .poll_budget_ns = kStoragePollBudgetNs, .eventfd = v.sq_bell};
		l->sq_bell = Doorbell(l->worker->requests(), o);
		o.eventfd = v.cq_bell;
		l->cq_bell = Doorbell(l->worker->completions(), o);
		l->worker->ring_completions_with(l->cq_bell);
		l->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->done_fd < 0)
			throw_errno("eventfd");
		l->worker->signal_completions(l->done_fd);
		// The most patient strategy decides how the one thread waits;
		// every ring still gets the kicks its own strategy promises.
		if (v.wakeup != DoorbellStrategy::polled && strategy_ != DoorbellStrategy::interrupt)
			strategy_ = v.wakeup;
		lanes_.push_back(std::move(l));
	}
	quit_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (quit_fd_ < 0)
		throw_errno("eventfd");
	if (!lanes_.empty())
		thread_ = std::thread([this] { run(); });
}

std::unique_ptr<PartitionStorage> StorageService::start(const PartitionPlan &plan, std::span<const int> fds,
							 StorageCounters *counters)
{
	std::vector<ServedVolume> served;
	size_t k = 0;
	for (const PlanVolume &v : plan.volumes) {
		served.push_back({.volume = v.volume,
				  .size = v.size,
				  .memory = v.memory,
				  .direct = v.direct,
				  .wakeup = parse_doorbell_strategy(v.wakeup),
				  .rings_fd = fds[k],
				  .backend_fd = fds[k + 1],
				  .sq_bell = fds[k + 2],
				  .cq_bell = fds[k + 3]});
		k += 4;
	}
	return std::make_unique<StorageService>(served, plan.topology_volumes, counters);
}

StorageService::~StorageService()
{
	if (thread_.joinable()) {
		quit_ = true;
		uint64_t one = 1;
		(void)!write(quit_fd_, &one, sizeof(one));
		thread_.join();
	}
	if (quit_fd_ >= 0)
		close(quit_fd_);
}

void StorageService::run() noexcept
{
	uint64_t idle_since = 0;
	while (!quit_.load(std::memory_order_relaxed)) {
		uint32_t work = 0, in_flight = 0;
		for (auto &l : lanes_) {
			work += l->worker->poll();
			in_flight += l->worker->in_flight();
			const WorkerStats &s = l->worker->stats();
			if (s.requests != l->seen.requests) {
				__atomic_fetch_add(&counters_->requests, s.requests - l->seen.requests, __ATOMIC_RELAXED);
				__atomic_fetch_add(&counters_->errors, s.errors - l->seen.errors, __ATOMIC_RELAXED);
				uint64_t bytes = s.bytes_read + s.bytes_written;
				__atomic_fetch_add(&counters_->bytes, bytes - l->seen.bytes_read - l->seen.bytes_written,
						   __ATOMIC_RELAXED);
				l->seen = s;
			}
		}
		if (work) {
			idle_since = 0;
			continue;
		}
		if (strategy_ != DoorbellStrategy::interrupt) {
			uint64_t now = now_ns();
			if (!idle_since)
				idle_since = now;
			// With I/O in flight it polls the io_uring for a device's
			// latency, as a polled io_uring client would.
			uint64_t budget = in_flight ? kStorageInFlightBudgetNs : kStoragePollBudgetNs;
			if (strategy_ == DoorbellStrategy::polled || now - idle_since < budget) {
				cpu_relax();
				continue;
			}
		}
		sleep();
		idle_since = 0;
	}
}

// Arms every request ring (one holding work means no sleep), then sleeps
// until a doorbell rings, an io_uring completes a request, or quit.
void StorageService::sleep()
{
	size_t armed = 0;
	while (armed < lanes_.size() && lanes_[armed]->sq_bell.arm(lanes_[armed]->worker->requests()))
		armed++;
	if (armed == lanes_.size()) {
		pollfd pfds[2 * 16 + 1];
		nfds_t n = 0;
		for (auto &l : lanes_) {
			if (n + 3 > sizeof(pfds) / sizeof(pfds[0]))
				break;
			if (l->sq_bell.wake_fd() >= 0)
				pfds[n++] = {l->sq_bell.wake_fd(), POLLIN, 0};
			pfds[n++] = {l->done_fd, POLLIN, 0};
		}
		pfds[n++] = {quit_fd_, POLLIN, 0};
		// A request in flight on a memory volume has completed already;
		// one on io_uring signals done_fd. Either way poll() returns.
		::poll(pfds, n, kWatchdogMs);
		for (auto &l : lanes_) {
			uint64_t v;
			(void)!read(l->done_fd, &v, sizeof(v));
		}
	}
	for (size_t i = 0; i < armed; i++)
		lanes_[i]->sq_bell.disarm(lanes_[i]->worker->requests());
}

} // namespace mkdp::sdp
