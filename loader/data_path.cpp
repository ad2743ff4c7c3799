// SPDX-License-Identifier: BSD-2-Clause
#include "data_path.h"

#include <mkdp/error.h>
#include <steer_loader.h>

#include <poll.h>
#include <unistd.h>

#include <cstdio>

namespace mkdp {

namespace {

constexpr uint32_t kFillBatch = 512;	// per queue and pass: one pass restores a drained fill ring
constexpr uint32_t kReturnBatch = 256;	// per partition and pass

} // namespace

DataPath::DataPath(const Region &umem, uint32_t frame_size, FramePool pool, std::vector<FillQueue> queues)
	: umem_(umem), frame_size_(frame_size), pool_(std::move(pool)), queues_(std::move(queues))
{
	static_assert(sizeof(lent_) / sizeof(lent_[0]) >= kFillBatch);
}

void DataPath::add_partition(uint32_t p, Consumer<FrameAddr> ret, PartitionCtl *ctl)
{
	if (parts_.size() <= p)
		parts_.resize(p + 1);
	parts_[p].umem = true;
	parts_[p].ret = std::move(ret);
	parts_[p].ctl = ctl;
	pool_.set_held(p, ctl->held);
}

// ---- the thread ----------------------------------------------------------------

void DataPath::start()
{
	quit_ = false;
	thread_ = std::thread([this] { run(); });
}

void DataPath::stop() noexcept
{
	if (thread_.joinable()) {
		quit_ = true;
		handoff_.wake();
		thread_.join();
	}
}

void DataPath::call(const std::function<void()> &fn)
{
	handoff_.call(fn, thread_.joinable());
}

void DataPath::wait(int usec) noexcept
{
	pollfd pfd{handoff_.wake_fd(), POLLIN, 0};
	timespec ts{0, long(usec) * 1000};
	if (ppoll(&pfd, 1, &ts, nullptr) > 0)
		handoff_.drain();
}

void DataPath::run() noexcept
{
	uint32_t idle = 0;
	while (!quit_.load(std::memory_order_relaxed)) {
		uint32_t work = drain_returns() + refill();
		enforce_quotas();
		if (handoff_.pending()) [[unlikely]]
			handoff_.run_pending();
		// Idle: sleep a little longer each time, up to 1 ms, so an
		// unpinned supervisor does not steal the partitions' CPUs.
		idle = work ? 0 : std::min<uint32_t>(idle + 1, 20);
		if (idle)
			wait(int(idle) * 50);
	}
}

// ---- one pass ------------------------------------------------------------------

uint32_t DataPath::drain_returns() noexcept
{
	uint32_t total = 0;
	FrameAddr batch[kReturnBatch];
	for (uint32_t p = 0; p < parts_.size(); p++) {
		Part &pt = parts_[p];
		if (!pt.umem)
			continue;
		uint32_t taken;
		uint32_t n = pt.ret.consume(batch, kReturnBatch, &taken);
		for (uint32_t i = n; i < taken; i++)
			pool_.count_refused(p);	// a descriptor the ring refused
		for (uint32_t i = 0; i < n; i++)
			pool_.give_back(p, frame_of(batch[i].addr));
		total += taken;
	}
	return total;
}

uint32_t DataPath::refill() noexcept
{
	uint32_t total = 0;
	for (uint32_t qi = 0; qi < queues_.size(); qi++) {
		FillQueue &q = queues_[qi];
		pool_.consumed(qi, q.fill.load_consumer());
		uint32_t n = pool_.lend(qi, lent_, kFillBatch);
		if (!n)
			continue;
		uint32_t prod = pool_.producer(qi);
		for (uint32_t i = 0; i < n; i++)
			*q.fill.addr(prod - n + i) = uint64_t(lent_[i]) * frame_size_;
		q.fill.store_producer(prod);
		if (q.fill.need_wakeup())
			kick_fill(q);
		total += n;
	}
	return total;
}

// What p took (from its RX rings, or forwarded to it) and did not forward
// on, from its own counters: a running count, where reading its held
// bitmap would cost a popcount of the whole UMEM per pass.
uint64_t DataPath::taken(const Part &p) const noexcept
{
	const PartitionCounters &c = p.ctl->c;
	return __atomic_load_n(&c.rx, __ATOMIC_RELAXED) + __atomic_load_n(&c.fwd_rx, __ATOMIC_RELAXED) -
	       __atomic_load_n(&c.fwd, __ATOMIC_RELAXED);
}

// What a partition is charged for: frames it holds (returned ones count
// until they are drained) and frames waiting in its RX rings.
uint64_t DataPath::charge(uint32_t p) const noexcept
{
	const Part &pt = parts_[p];
	int64_t n = int64_t(taken(pt) - pt.taken_base - pool_.returned(p));
	for (const XskRingMap &r : *pt.rx)
		n += r.load_producer() - r.load_consumer();
	return n > 0 ? uint64_t(n) : 0;
}

// A partition that is stuck (alive, not returning) would otherwise soak up
// the frames the others' queues are filled with. Over quota its slots are
// cleared (its traffic takes the default action, as if it were dead).
void DataPath::enforce_quotas() noexcept
{
	for (uint32_t p = 0; p < parts_.size(); p++) {
		Part &pt = parts_[p];
		if (pt.life != Life::active || !pt.umem)
			continue;
		switch (pool_.throttle(p, charge(p))) {
		case FramePool::Throttle::on: clear_slots(p); break;
		case FramePool::Throttle::off: set_slots(pt); break;
		case FramePool::Throttle::none: break;
		}
	}
}

void DataPath::set_slots(const Part &p) noexcept
{
	if (!steer_)
		return;
	uint32_t index = uint32_t(&p - parts_.data());
	for (const XskSlot &s : p.slots) {
		try {
			steer_->set_socket(s.queue, index, s.fd);
		} catch (const std::exception &e) {
			std::fprintf(stderr, "mkdp-supervisor: steer queue %u to partition %u: %s\n", s.queue, index,
				     e.what());
		}
	}
}

void DataPath::clear_slots(uint32_t p) noexcept
{
	if (!steer_)
		return;
	for (const XskSlot &s : parts_[p].slots) {
		try {
			steer_->clear_socket(s.queue, p);
		} catch (const std::exception &) {
		}
	}
}

// ---- partition life ---------------------------------------------------------

void DataPath::attach(uint32_t p, const std::vector<XskRingMap> *rx)
{
	if (parts_.size() <= p)
		parts_.resize(p + 1);
	parts_[p].rx = rx;
	parts_[p].life = Life::up;
}

void DataPath::activate(uint32_t p, std::vector<XskSlot> slots)
{
	Part &pt = parts_[p];
	pt.slots = std::move(slots);
	if (pt.umem) {
		pt.taken_base = taken(pt);
		pool_.reset_charge(p);
		pool_.unthrottle(p);
	}
	pt.life = Life::active;
	set_slots(pt);
}

void DataPath::deactivate(uint32_t p, bool dead) noexcept
{
	clear_slots(p);
	parts_[p].life = dead ? Life::dead : Life::up;
}

template <class F> void DataPath::for_each_queued(F fn) const
{
	for (const mkdp_region_entry &e : umem_.entries()) {
		unsigned from, to;
		if (e.kind != MKDP_ENTRY_RING)
			continue;
		bool fwd = std::sscanf(e.name, "fwd%u-%u", &from, &to) == 2;
		if (!fwd && std::sscanf(e.name, "ret%u", &from) != 1)
			continue;
		auto *ctl = reinterpret_cast<mkdp_ring *>(umem_.base() + e.offset);
		uint32_t prod = __atomic_load_n(&ctl->producer, __ATOMIC_ACQUIRE);
		uint32_t cons = __atomic_load_n(&ctl->consumer, __ATOMIC_ACQUIRE);
		if (prod - cons > e.entries)
			continue;	// garbage indices: nothing to believe in it
		for (uint32_t i = cons; i != prod; i++) {
			// Both descriptor kinds start with the 8-byte address.
			const uint8_t *slot = reinterpret_cast<const uint8_t *>(ctl + 1) +
					      size_t(i & (e.entries - 1)) * (fwd ? sizeof(mkdp_frame_desc) : sizeof(FrameAddr));
			uint64_t addr = __atomic_load_n(reinterpret_cast<const uint64_t *>(slot), __ATOMIC_RELAXED);
			fn(from, fwd ? to : from, addr, ctl, prod);
		}
	}
}

// Every frame the dead partition could have: in its RX rings, on its return
// ring, in forward rings towards it, and those its held bitmap names that
// are not elsewhere.
uint64_t DataPath::reclaim(uint32_t p)
{
	Part &pt = parts_[p];
	uint64_t n = 0;
	if (pt.rx)
		for (const XskRingMap &r : *pt.rx) {
			uint32_t prod = r.load_producer();
			for (uint32_t i = r.load_consumer(); i != prod; i++)
				n += pool_.take(p, frame_of(r.rx_desc(i)->addr));
		}
	if (!pt.umem) {
		pt.rx = nullptr;
		pt.life = Life::idle;
		return n;
	}
	drain_returns();	// its own return ring included: those were its frames
	std::vector<uint8_t> elsewhere(pool_.frames(), 0);
	std::vector<mkdp_ring *> towards_p;
	for_each_queued([&](uint32_t from, uint32_t to, uint64_t addr, mkdp_ring *ring, uint32_t prod) {
		if (to == p && from != p) {
			// Nobody consumes it while p is dead: take it all back.
			n += pool_.take(p, frame_of(addr));
			if (towards_p.empty() || towards_p.back() != ring) {
				towards_p.push_back(ring);
				__atomic_store_n(&ring->consumer, prod, __ATOMIC_RELEASE);
			}
		} else if (from == p && to != p) {
			// Its peer will hold and return these.
			if (frame_of(addr) < elsewhere.size())
				elsewhere[frame_of(addr)] = 1;
		}
	});
	// A bit of p's can be stale only for a frame it forwarded and died
	// before clearing: that frame moves forward ring -> peer's held bit
	// (which stays set until taken back); reading in that order cannot
	// miss it. Live RX rings are read too: a frame the kernel gave a live
	// partition is never p's.
	for (uint32_t o = 0; o < parts_.size(); o++) {
		const Part &op = parts_[o];
		if (o == p || (op.life != Life::up && op.life != Life::active) || !op.umem)
			continue;
		pool_.mark_held(o, elsewhere);
		for (const XskRingMap &r : *op.rx) {
			uint32_t prod = r.load_producer();
			for (uint32_t i = r.load_consumer(); i != prod; i++)
				if (uint32_t f = frame_of(r.rx_desc(i)->addr); f < elsewhere.size())
					elsewhere[f] = 1;
		}
	}
	n += pool_.reclaim_held(p, elsewhere);
	pt.rx = nullptr;
	pt.life = Life::idle;
	return n;
}

FramePool::Tally DataPath::tally()
{
	drain_returns();
	FramePool::Tally t = pool_.begin_tally();
	for (uint32_t p = 0; p < parts_.size(); p++) {
		const Part &pt = parts_[p];
		if (pt.life == Life::idle)
			continue;
		if (pt.umem)
			pool_.mark_held(t, p);
		for (const XskRingMap &r : *pt.rx) {
			uint32_t prod = r.load_producer();
			for (uint32_t i = r.load_consumer(); i != prod; i++)
				pool_.mark(t, frame_of(r.rx_desc(i)->addr), int(p));
		}
	}
	for_each_queued([&](uint32_t, uint32_t to, uint64_t addr, mkdp_ring *, uint32_t) {
		pool_.mark(t, frame_of(addr), int(to));
	});
	pool_.mark_fill_rings(t);
	pool_.end_tally(t);
	for (FillQueue &q : queues_)
		q.fill_empty = xsk_drops(q.anchor).fill_ring_empty;
	return t;
}

void DataPath::close_queues() noexcept
{
	for (FillQueue &q : queues_)
		q.close();
}

} // namespace mkdp
