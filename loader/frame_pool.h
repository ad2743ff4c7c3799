// SPDX-License-Identifier: BSD-2-Clause
// Who has which frame of the shared UMEM (docs/partitions.md, "frame
// ownership"). Every frame is FREE (in its owner's pool), FILL (posted on a
// fill ring) or OUT (the kernel took it: in an RX ring, held by a partition,
// on a forward or return ring). Each partition owns a disjoint range of
// frames that are lent on its behalf, and publishes a "held" bitmap of the
// frames it has, which is what lets a returned frame be checked and a dead
// partition's frames be found.
//
// Pure bookkeeping: no sockets, no rings, no system calls. The data path
// (data_path.h) moves descriptors and asks the pool; tests/frame_pool_test.cpp
// drives it without root. Single-threaded: only the data path's thread calls
// it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mkdp {

class FramePool {
public:
	enum State : uint8_t { FREE = 0, FILL = 1, OUT = 2 };
	static constexpr uint16_t kNoOwner = UINT16_MAX;	// beyond every range: never lent
	static constexpr uint32_t kNone = UINT32_MAX;

	// Why a returned frame was refused (accepted: it is FREE again).
	enum class Return : uint8_t { accepted, not_lent, not_held, wrong_queue, out_of_range };

	// What throttle() decided for a partition.
	enum class Throttle : uint8_t { none, on, off };

	// Where frames are, for status: exact when traffic is quiet; under
	// traffic a frame moving between two places may be seen in neither
	// (counted leaked) or in both (seen_twice).
	struct Tally {
		struct Part {
			uint64_t in_flight = 0;	// held, in its RX rings, forwarded to it, on its return ring
			uint64_t fill = 0;	// of its range, on fill rings
			uint64_t leaked = 0;	// of its range, lent and found nowhere
		};
		std::vector<Part> parts;
		uint64_t free = 0, fill = 0, in_flight = 0, leaked = 0, spare = 0, seen_twice = 0;
		std::vector<uint8_t> seen;	// per frame, while counting
	};

	FramePool() = default;
	FramePool(uint32_t frames, uint32_t partitions);

	uint32_t frames() const noexcept { return uint32_t(state_.size()); }
	State state(uint32_t f) const noexcept { return State(state_[f]); }
	uint16_t owner(uint32_t f) const noexcept { return owner_[f]; }

	// ---- set-up ---------------------------------------------------------
	// Partition p owns [base, base + quota) and lends from it.
	void give_range(uint32_t p, uint32_t base, uint32_t quota);
	// p's held bitmap: frames()/64 words that p sets and the pool clears.
	void set_held(uint32_t p, uint64_t *bits) noexcept { parts_[p].held = bits; }
	// Where p's frames may come from: the fill queues it receives from,
	// and whether a peer forwards frames to it.
	void set_sources(uint32_t p, std::vector<uint8_t> on_queue, bool gets_forwards);
	// A fill ring of `entries` slots (a power of two); returns its index.
	uint32_t add_queue(uint32_t entries, std::vector<uint32_t> lenders);

	// ---- fill rings -------------------------------------------------------
	// Free slots of queue q, counted from what is proven consumed.
	uint32_t room(uint32_t q) const noexcept;
	// Takes up to n frames from q's lenders (round robin, each from its
	// own range) and records them as posted at q's next positions;
	// returns how many, their numbers in out[]. The caller writes them to
	// the ring at positions producer(q) - count ... producer(q) - 1.
	uint32_t lend(uint32_t q, uint32_t *out, uint32_t n) noexcept;
	uint32_t producer(uint32_t q) const noexcept { return queues_[q].prod; }
	// The kernel published consumer `cons` on q: every slot before it is
	// taken (its frame is OUT).
	void consumed(uint32_t q, uint32_t cons) noexcept;

	// ---- returns ---------------------------------------------------------
	// Partition p hands frame f back. Only a frame lent to p comes back from
	// p: out of the pool, held by p, and from a queue p receives from
	// unless a peer forwards to p. A second return finds it FREE or not
	// held. Touches f's state and p's bit only.
	Return give_back(uint32_t p, uint32_t f) noexcept;

	// ---- quotas --------------------------------------------------------------
	// Returns accepted from p since reset_charge(p): with p's own count of
	// frames taken, what it is charged for (see Supervisor's quota).
	uint64_t returned(uint32_t p) const noexcept { return parts_[p].returned; }
	void reset_charge(uint32_t p) noexcept { parts_[p].returned = 0; }
	// A partition may have at most its range's worth of frames out; over
	// it, it is throttled until it is back under half its quota.
	Throttle throttle(uint32_t p, uint64_t charge) noexcept;
	bool throttled(uint32_t p) const noexcept { return parts_[p].throttled; }
	void unthrottle(uint32_t p) noexcept { parts_[p].throttled = false; }

	// ---- a dead partition -----------------------------------------------------
	// Adds the frames p's held bitmap names to `marks` (frames()-sized).
	void mark_held(uint32_t p, std::vector<uint8_t> &marks) const noexcept;
	// Takes back frame f from dead partition p (found in its rings); true if
	// it was out.
	bool take(uint32_t p, uint32_t f) noexcept;
	// Takes back every frame p's bitmap names that `elsewhere` does not
	// (frames on their way to or held by live partitions), then clears
	// p's bitmap. Returns how many frames it took.
	uint64_t reclaim_held(uint32_t p, const std::vector<uint8_t> &elsewhere) noexcept;

	// ---- status ------------------------------------------------------------
	Tally begin_tally() const;
	// Frame f (a frame address / frame size) is with partition `part`,
	// or on a fill ring when part < 0.
	void mark(Tally &t, uint64_t f, int part) const noexcept;
	void mark_fill_rings(Tally &t) const noexcept;
	void mark_held(Tally &t, uint32_t p) const noexcept;
	void end_tally(Tally &t) const noexcept;

	// Per-partition figures for status.
	struct PartInfo {
		uint32_t base = 0, quota = 0;
		uint64_t free = 0, refused = 0, reclaimed = 0, throttles = 0;
		bool throttled = false;
		// Impossible producer indices seen on its return ring (the ring
		// is the data path's: DataPath::info fills it in).
		uint64_t ret_corrupt = 0;
	};
	PartInfo info(uint32_t p) const noexcept;
	uint64_t refused() const noexcept { return refused_; }
	void count_refused(uint32_t p) noexcept;

private:
	struct Lender {
		uint32_t base = 0, quota = 0;
		std::vector<uint32_t> free;	// FREE frames of its range (capacity: quota)
		uint64_t *held = nullptr;
		std::vector<uint8_t> on_queue;	// per queue: it has a socket there
		bool gets_forwards = false;
		uint64_t returned = 0, refused = 0, reclaimed = 0, throttles = 0;
		bool throttled = false;
	};
	struct FillLedger {
		uint32_t mask = 0;
		uint32_t prod = 0;	// what was published on the fill ring
		// Positions below this are known taken by the kernel: its
		// published consumer, or further (the ring is FIFO, so a frame
		// that came back proves every earlier slot was consumed; the
		// kernel publishes its consumer lazily).
		uint32_t seen_cons = 0;
		std::vector<uint32_t> shadow;	// frame posted in each slot
		std::vector<uint32_t> lenders;	// partitions whose frames feed it
		uint32_t rr = 0;		// round robin over lenders
	};

	bool is_held(uint32_t p, uint32_t f) const noexcept;
	void clear_held(uint32_t p, uint32_t f) noexcept;
	void learn_consumed(uint32_t f) noexcept;
	void release(uint32_t f) noexcept;

	std::vector<uint8_t> state_;	// per frame: State
	std::vector<uint16_t> owner_;	// per frame: the partition whose range it is in
	std::vector<uint32_t> slot_;	// per FILL/OUT frame: the fill position it was posted at
	std::vector<uint16_t> fillq_;	// ... and the queue
	std::vector<Lender> parts_;
	std::vector<FillLedger> queues_;
	uint64_t refused_ = 0;
};

} // namespace mkdp
