// SPDX-License-Identifier: BSD-2-Clause
#include "frame_pool.h"

#include <algorithm>

namespace mkdp {

FramePool::FramePool(uint32_t frames, uint32_t partitions)
	: state_(frames, FREE), owner_(frames, kNoOwner), slot_(frames, 0), fillq_(frames, 0), parts_(partitions)
{
}

void FramePool::give_range(uint32_t p, uint32_t base, uint32_t quota)
{
	Lender &l = parts_[p];
	l.base = base;
	l.quota = quota;
	l.free.clear();
	l.free.reserve(quota);	// release() never allocates
	for (uint32_t f = base + quota; f-- > base;) {
		owner_[f] = uint16_t(p);
		l.free.push_back(f);
	}
}

void FramePool::set_sources(uint32_t p, std::vector<uint8_t> on_queue, bool gets_forwards)
{
	parts_[p].on_queue = std::move(on_queue);
	parts_[p].gets_forwards = gets_forwards;
}

uint32_t FramePool::add_queue(uint32_t entries, std::vector<uint32_t> lenders)
{
	FillLedger q;
	q.mask = entries - 1;
	q.shadow.assign(entries, 0);
	q.lenders = std::move(lenders);
	queues_.push_back(std::move(q));
	return uint32_t(queues_.size() - 1);
}

uint32_t FramePool::room(uint32_t qi) const noexcept
{
	// From what is known consumed, not from the published consumer: the
	// kernel takes entries into a private cache and publishes only when
	// that runs out, then looks for new entries at once. Waiting for the
	// publication would leave it nothing to find (fill_ring_empty, frames
	// dropped) every time round.
	const FillLedger &q = queues_[qi];
	return q.mask + 1 - (q.prod - q.seen_cons);
}

uint32_t FramePool::lend(uint32_t qi, uint32_t *out, uint32_t n) noexcept
{
	FillLedger &q = queues_[qi];
	n = std::min(n, room(qi));
	uint32_t k = 0;
	for (; k < n; k++) {
		uint32_t f = kNone;
		for (size_t i = 0; i < q.lenders.size() && f == kNone; i++) {
			Lender &l = parts_[q.lenders[q.rr++ % q.lenders.size()]];
			if (!l.free.empty()) {
				f = l.free.back();
				l.free.pop_back();
			}
		}
		if (f == kNone)
			break;
		uint32_t pos = q.prod + k;
		state_[f] = FILL;
		slot_[f] = pos;
		fillq_[f] = uint16_t(qi);
		q.shadow[pos & q.mask] = f;
		out[k] = f;
	}
	q.prod += k;
	return k;
}

void FramePool::consumed(uint32_t qi, uint32_t cons) noexcept
{
	FillLedger &q = queues_[qi];
	if (int32_t(cons - q.seen_cons) <= 0)
		return;
	for (uint32_t i = q.seen_cons; i != cons; i++) {
		uint32_t f = q.shadow[i & q.mask];
		if (state_[f] == FILL && slot_[f] == i)
			state_[f] = OUT;
	}
	q.seen_cons = cons;
}

// The kernel takes fill slots in order: a frame that was delivered proves
// every slot up to its own was consumed, whatever the published consumer
// says yet.
void FramePool::learn_consumed(uint32_t f) noexcept
{
	FillLedger &q = queues_[fillq_[f]];
	uint32_t s = slot_[f];
	if (s - q.seen_cons >= q.prod - q.seen_cons)
		return;	// already known consumed
	consumed(fillq_[f], s + 1);
}

bool FramePool::is_held(uint32_t p, uint32_t f) const noexcept
{
	return (__atomic_load_n(&parts_[p].held[f / 64], __ATOMIC_ACQUIRE) >> (f % 64)) & 1;
}

void FramePool::clear_held(uint32_t p, uint32_t f) noexcept
{
	__atomic_fetch_and(&parts_[p].held[f / 64], ~(1ULL << (f % 64)), __ATOMIC_RELEASE);
}

// Back into its owner's pool. The bit that named it is cleared first, so a
// FREE (and later a FILL) frame has no held bit: a set bit always names a
// frame that left the fill ring and is not back yet.
void FramePool::release(uint32_t f) noexcept
{
	if (state_[f] == FILL)
		learn_consumed(f);
	state_[f] = FREE;
	parts_[owner_[f]].free.push_back(f);
}

FramePool::Return FramePool::give_back(uint32_t p, uint32_t f) noexcept
{
	Lender &l = parts_[p];
	Return r = Return::accepted;
	if (f >= frames() || owner_[f] == kNoOwner)
		r = Return::out_of_range;
	else if (state_[f] == FREE)
		r = Return::not_lent;
	else if (!is_held(p, f))
		r = Return::not_held;
	else if (!l.gets_forwards && (fillq_[f] >= l.on_queue.size() || !l.on_queue[fillq_[f]]))
		r = Return::wrong_queue;
	if (r != Return::accepted) {
		count_refused(p);
		return r;
	}
	clear_held(p, f);
	release(f);
	l.returned++;
	return r;
}

void FramePool::count_refused(uint32_t p) noexcept
{
	parts_[p].refused++;
	refused_++;
}

FramePool::Throttle FramePool::throttle(uint32_t p, uint64_t charge) noexcept
{
	Lender &l = parts_[p];
	if (!l.throttled && charge >= l.quota) {
		l.throttled = true;
		l.throttles++;
		return Throttle::on;
	}
	if (l.throttled && charge <= l.quota / 2) {
		l.throttled = false;
		return Throttle::off;
	}
	return Throttle::none;
}

void FramePool::mark_held(uint32_t p, std::vector<uint8_t> &marks) const noexcept
{
	const uint64_t *h = parts_[p].held;
	for (uint32_t w = 0; w < (frames() + 63) / 64; w++)
		for (uint64_t b = __atomic_load_n(&h[w], __ATOMIC_ACQUIRE); b; b &= b - 1)
			if (uint32_t f = w * 64 + uint32_t(__builtin_ctzll(b)); f < frames())
				marks[f] = 1;
}

bool FramePool::take(uint32_t p, uint32_t f) noexcept
{
	if (f >= frames() || state_[f] == FREE || owner_[f] == kNoOwner)
		return false;
	// Whoever's bit names it (the dead partition's, or a forwarder's that
	// died before clearing it): the frame is back in the pool.
	for (size_t o = 0; o < parts_.size(); o++)
		if (parts_[o].held)
			clear_held(uint32_t(o), f);
	release(f);
	parts_[p].reclaimed++;
	return true;
}

// What is left is p's: FREE and FILL frames carry no bit, so a set bit
// names a frame the kernel gave p (or a peer forwarded to it) that never
// came back.
uint64_t FramePool::reclaim_held(uint32_t p, const std::vector<uint8_t> &elsewhere) noexcept
{
	uint64_t n = 0;
	uint64_t *h = parts_[p].held;
	for (uint32_t w = 0; w < (frames() + 63) / 64; w++) {
		for (uint64_t b = __atomic_load_n(&h[w], __ATOMIC_ACQUIRE); b; b &= b - 1) {
			uint32_t f = w * 64 + uint32_t(__builtin_ctzll(b));
			if (f < frames() && !elsewhere[f])
				n += take(p, f);
		}
		__atomic_store_n(&h[w], 0, __ATOMIC_RELEASE);
	}
	parts_[p].returned = 0;
	return n;
}

FramePool::Tally FramePool::begin_tally() const
{
	Tally t;
	t.parts.resize(parts_.size());
	t.seen.assign(frames(), 0);
	return t;
}

void FramePool::mark(Tally &t, uint64_t f, int part) const noexcept
{
	if (f >= frames() || state_[f] == FREE)
		return;
	if (t.seen[f]) {
		t.seen_twice++;	// quiet, this would be a frame lent twice
		return;
	}
	t.seen[f] = 1;
	if (part >= 0 && size_t(part) < t.parts.size()) {
		t.parts[size_t(part)].in_flight++;
	} else {
		t.fill++;
		if (owner_[f] != kNoOwner)
			t.parts[owner_[f]].fill++;
	}
}

void FramePool::mark_fill_rings(Tally &t) const noexcept
{
	for (const FillLedger &q : queues_)
		for (uint32_t i = q.seen_cons; i != q.prod; i++) {
			uint32_t f = q.shadow[i & q.mask];
			if (state_[f] == FILL && slot_[f] == i)
				mark(t, f, -1);
		}
}

void FramePool::mark_held(Tally &t, uint32_t p) const noexcept
{
	const uint64_t *h = parts_[p].held;
	for (uint32_t w = 0; w < (frames() + 63) / 64; w++)
		for (uint64_t b = __atomic_load_n(&h[w], __ATOMIC_ACQUIRE); b; b &= b - 1)
			mark(t, w * 64 + uint64_t(__builtin_ctzll(b)), int(p));
}

void FramePool::end_tally(Tally &t) const noexcept
{
	for (uint32_t f = 0; f < frames(); f++) {
		if (owner_[f] == kNoOwner)
			t.spare++;
		if (state_[f] == FREE) {
			t.free++;
		} else if (!t.seen[f]) {
			t.leaked++;
			t.parts[owner_[f]].leaked++;
		}
	}
	t.free -= t.spare;
	t.in_flight = frames() - t.spare - t.free - t.fill - t.leaked;
	t.seen.clear();
	t.seen.shrink_to_fit();
}

FramePool::PartInfo FramePool::info(uint32_t p) const noexcept
{
	const Lender &l = parts_[p];
	return {l.base, l.quota, l.free.size(), l.refused, l.reclaimed, l.throttles, l.throttled};
}

} // namespace mkdp
