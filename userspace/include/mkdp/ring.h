// SPDX-License-Identifier: BSD-2-Clause
// Typed single-producer/single-consumer rings over the mkdp ring ABI.
//
// The fast path is entirely inline, in the shape of libxdp's xsk ring API:
//
//   producer: n = reserve(nb, &idx); fill slot(idx + i); submit(n);
//   consumer: n = peek(nb, &idx); fetch(idx + i, &desc) ...; release(n);
//
// Reserve is all-or-nothing, like xsk_ring_prod__reserve. Peek returns what
// is there, up to nb. Each side keeps a cached copy of the other side's index
// in its own (private) object and reads the shared index only when the cache
// says the ring looks full or empty: that is what keeps the cache lines from
// bouncing on every descriptor. See docs/ring-abi.md for the ordering
// contract these functions implement.
//
// Nothing read from a slot is trusted: fetch() copies the descriptor out of
// shared memory with loads the compiler cannot repeat (READ_ONCE-style),
// validates the copy against bounds taken from the validated region table
// (never re-read from shared memory) with the one rule of its type
// (DescTraits<D>::faults), and counts and rejects what does not fit.
//
// Wake-ups: the producer learns whether the consumer sleeps only through
// submit_and_check() (publish, full fence, flag read), or through a
// Doorbell (doorbell.h) that calls it; the flag is never read on its own.
#pragma once

#include <cstdint>
#include <cstring>

#include <mkdp_ring.h>
#include <mkdp_ring_sync.h>

namespace mkdp {

// Why a descriptor was rejected. The order is the order of precedence:
// when a descriptor breaks several rules, the first one in this list is
// reported (check_desc()).
enum class DescError : uint8_t {
	ok = 0,
	bad_op,		// unknown storage op
	bad_flags,	// unknown flag or option bits
	bad_tag,	// tag beyond the tags this ring may carry
	bad_volume,	// volume id beyond the configured volumes
	bad_status,	// completion status not 0 or a negative errno
	bad_len,	// zero, unaligned, or otherwise impossible length
	out_of_area,	// buffer not inside the area it must point into
	crosses_frame,	// buffer spills over the end of its frame
};
const char *to_string(DescError e) noexcept;

// What a consumer checks descriptors against: copied from the validated
// region table when the ring is opened, adjustable (tighter) by the owner.
// The storage limits are not in the table: both default to 0, which refuses
// every storage descriptor, so a consumer that was never told its limits
// fails closed. Region::requests() and Region::completions() set them.
struct DescBounds {
	uint64_t area_size = 0;		// bytes of the area descriptors point into
	uint32_t frame_size = 0;	// power of two, 0 = byte-addressed area
	uint32_t max_tag = 0;		// tags must be < max_tag: the request ring's entries
	uint32_t max_volume = 0;	// volumes must be < max_volume: the volumes served
};

// The bounds in the form the rules use, derived once per batch (a
// byte-addressed area is one frame that no length can overflow). A local
// copy also tells the compiler that stores of descriptors cannot change it.
struct DescLimits {
	uint64_t area_size, frame_mask, frame_limit;
	uint32_t max_tag, max_volume;

	explicit DescLimits(const DescBounds &b) noexcept
		: area_size(b.area_size), frame_mask(b.frame_size ? b.frame_size - 1u : 0u),
		  frame_limit(b.frame_size ? b.frame_size : UINT64_MAX), max_tag(b.max_tag),
		  max_volume(b.max_volume)
	{
	}
};

// True when [off, off + len) lies inside an area of `size` bytes, without
// overflowing on hostile values.
static inline bool in_area(uint64_t off, uint64_t len, uint64_t size) noexcept
{
	return off <= size && len <= size - off;
}

// One bit per broken rule: bit DescError::x set when rule x is broken.
static constexpr uint32_t fault(DescError e, bool broken) noexcept
{
	return uint32_t(broken) << uint32_t(e);
}

// Per descriptor type: its ABI tag and its one validation rule, faults():
// every rule evaluated, without a branch per rule, into a fault mask (0 =
// valid). Single descriptors and batches are judged by it alike
// (check_desc(), Consumer::fetch_batch()).
template <class D> struct DescTraits;

template <> struct DescTraits<mkdp_frame_desc> {
	static constexpr uint32_t type = MKDP_DESC_FRAME;
	static uint32_t faults(const mkdp_frame_desc &d, const DescLimits &l) noexcept
	{
		uint64_t end = d.addr + d.len;
		return fault(DescError::bad_flags, d.options & ~MKDP_FRAME_OPT_CONTD) |
		       fault(DescError::bad_len, d.len == 0) |
		       fault(DescError::out_of_area, (end < d.addr) | (end > l.area_size)) |
		       fault(DescError::crosses_frame, (d.addr & l.frame_mask) + d.len > l.frame_limit);
	}
};

// A bare frame address (fill and return rings): any byte inside a frame;
// the receiver rounds it down to the frame start.
struct FrameAddr {
	uint64_t addr;
};
static_assert(sizeof(FrameAddr) == 8);

template <> struct DescTraits<FrameAddr> {
	static constexpr uint32_t type = MKDP_DESC_ADDR;
	static uint32_t faults(const FrameAddr &d, const DescLimits &l) noexcept
	{
		return fault(DescError::out_of_area, d.addr >= l.area_size);
	}
};

template <> struct DescTraits<mkdp_sreq_desc> {
	static constexpr uint32_t type = MKDP_DESC_SREQ;
	static uint32_t faults(const mkdp_sreq_desc &d, const DescLimits &l) noexcept
	{
		bool rw = (d.op == MKDP_SOP_READ) | (d.op == MKDP_SOP_WRITE);
		// Ranges without data: whole sectors, no buffer to check.
		bool sized = rw | (d.op == MKDP_SOP_DISCARD) | (d.op == MKDP_SOP_WRITE_ZEROES);
		return fault(DescError::bad_op, d.op > MKDP_SOP_MAX) |
		       fault(DescError::bad_flags, d.flags & ~MKDP_SREQ_F_FUA) |
		       fault(DescError::bad_tag, d.tag >= l.max_tag) |
		       fault(DescError::bad_volume, d.volume >= l.max_volume) |
		       fault(DescError::bad_len, (rw & (d.len == 0)) | (sized & (d.len % MKDP_SECTOR_SIZE != 0))) |
		       fault(DescError::out_of_area, rw & !in_area(d.buf, d.len, l.area_size));
	}
};

template <> struct DescTraits<mkdp_scpl_desc> {
	static constexpr uint32_t type = MKDP_DESC_SCPL;
	static uint32_t faults(const mkdp_scpl_desc &d, const DescLimits &l) noexcept
	{
		return fault(DescError::bad_flags, d.reserved != 0) |
		       fault(DescError::bad_tag, d.tag >= l.max_tag) |
		       fault(DescError::bad_status, (d.status > 0) | (d.status < -4095));
	}
};

// The verdict on one descriptor: ok, or the first broken rule.
template <class D> DescError check_desc(const D &d, const DescBounds &b) noexcept
{
	uint32_t f = DescTraits<D>::faults(d, DescLimits(b));
	return f ? DescError(__builtin_ctz(f)) : DescError::ok;
}

namespace detail {
static inline uint32_t load_acquire(const uint32_t *p) noexcept
{
	return mkdp_load_acquire(p);
}
static inline void store_release(uint32_t *p, uint32_t v) noexcept
{
	mkdp_store_release(p, v);
}

// READ_ONCE for a whole descriptor: n slots copied out of shared memory
// with relaxed atomic 8-byte loads, which the compiler may neither repeat
// nor merge into later reads of the slot, so whatever is validated and used
// afterwards is the private copy (no double fetch, by the language rules).
// Slots are 8-byte aligned: rings start on a cache line and every
// descriptor size is a multiple of 8.
using word_alias = uint64_t __attribute__((may_alias));
template <class D> inline void read_once(const D *slot, D *out, uint32_t n) noexcept
{
	static_assert(sizeof(D) % sizeof(uint64_t) == 0, "descriptors are whole 8-byte words");
	const word_alias *src = reinterpret_cast<const word_alias *>(slot);
	auto *dst = reinterpret_cast<unsigned char *>(out);
	for (size_t i = 0; i < n * (sizeof(D) / sizeof(uint64_t)); i++) {
		uint64_t w = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
		std::memcpy(dst + i * sizeof(w), &w, sizeof(w));
	}
}
} // namespace detail

// What the consumer's flags word said right after a publish
// (Producer::submit_and_check()).
struct ConsumerFlags {
	uint32_t bits = 0;
	// The consumer sleeps, or is about to: ring its doorbell.
	bool need_wakeup() const noexcept { return bits & MKDP_RING_NEED_WAKEUP; }
	// The consumer's doorbell record (MKDP_RING_WAKE_MASK), 0 = none yet.
	uint32_t wake_record() const noexcept { return bits & MKDP_RING_WAKE_MASK; }
};

// The producer end. One thread at a time; not copyable (two copies would
// both believe they own the producer index).
template <class D> class Producer {
public:
	Producer() = default;
	Producer(mkdp_ring *ctl, uint32_t entries) noexcept
		: ctl_(ctl), slots_(reinterpret_cast<D *>(ctl + 1)), mask_(entries - 1),
		  size_(entries)
	{
		// Start from what is in shared memory, so a producer may be
		// re-created on a ring that is in use (partition restart).
		prod_ = __atomic_load_n(&ctl->producer, __ATOMIC_RELAXED);
		cached_prod_ = prod_;
		// Looks full: the first reserve reads the consumer index, and
		// checks it, there. Trusting it here would let a ring poisoned
		// before we attached hand out slots still waiting to be read.
		cached_cons_ = prod_;
	}
	Producer(Producer &&) noexcept = default;
	Producer &operator=(Producer &&) noexcept = default;
	Producer(const Producer &) = delete;
	Producer &operator=(const Producer &) = delete;

	// Free slots, refreshing the consumer index only when fewer than nb
	// look free. cached_cons_ is kept `size_` ahead, as libxdp does, so the
	// common case is one subtraction.
	uint32_t free_entries(uint32_t nb) noexcept
	{
		uint32_t free = cached_cons_ - cached_prod_;
		if (free >= nb)
			return free;
		uint32_t cons = detail::load_acquire(&ctl_->consumer);
		// The consumer may only move forward, and not past what was
		// published: cons in [last seen, prod_]. Anything else (an
		// index written backwards, or ahead of the producer) would
		// make slots still waiting to be read look free: hand out
		// nothing and count it, as the consumer does for the producer
		// index.
		uint32_t last = cached_cons_ - size_;
		if (cons - last > prod_ - last) [[unlikely]] {
			corrupt_++;
			return 0;
		}
		cached_cons_ = cons + size_;
		return cached_cons_ - cached_prod_;
	}

	// Reserve exactly nb slots or none; *idx is the first one.
	uint32_t reserve(uint32_t nb, uint32_t *idx) noexcept
	{
		if (free_entries(nb) < nb)
			return 0;
		*idx = cached_prod_;
		cached_prod_ += nb;
		return nb;
	}

	D &slot(uint32_t idx) noexcept { return slots_[idx & mask_]; }

	// Publish the next nb reserved slots (release: slot writes first). It
	// tells nobody: for a ring whose consumer may sleep, publish through
	// its Doorbell (doorbell.h), or submit_and_check() and ring when asked.
	void submit(uint32_t nb) noexcept
	{
		prod_ += nb;
		detail::store_release(&ctl_->producer, prod_);
	}

	// Publish, then read what the consumer asks for: P1-P3 of
	// docs/doorbells.md in one call, the only way this class reads the
	// consumer's flags. The full fence between the index store and the flag
	// load is what keeps a wake-up from being lost (a release store and a
	// later load may be reordered, on x86 too); a flag read without it could
	// miss a consumer that just went to sleep.
	[[nodiscard]] ConsumerFlags submit_and_check(uint32_t nb) noexcept
	{
		submit(nb);						// P1
		mkdp_smp_mb();						// P2
		return {__atomic_load_n(&ctl_->flags, __ATOMIC_RELAXED)}; // P3
	}

	// Copy up to n descriptors into reserved slots without publishing them;
	// returns how many fit. submit() (or a Doorbell) publishes them.
	uint32_t stage(const D *descs, uint32_t n) noexcept
	{
		uint32_t free = free_entries(n);
		if (n > free)
			n = free;
		uint32_t idx = cached_prod_;
		for (uint32_t i = 0; i < n; i++)
			slots_[(idx + i) & mask_] = descs[i];
		cached_prod_ += n;
		return n;
	}

	// stage() and submit(): copy up to n descriptors in and publish them;
	// returns how many fit. Tells nobody, as submit().
	uint32_t produce(const D *descs, uint32_t n) noexcept
	{
		n = stage(descs, n);
		if (n)
			submit(n);
		return n;
	}

	// Impossible consumer indices seen (each one refused a reserve).
	uint64_t corrupt() const noexcept { return corrupt_; }
	mkdp_ring *control() const noexcept { return ctl_; }
	uint32_t entries() const noexcept { return size_; }

private:
	mkdp_ring *ctl_ = nullptr;
	D *slots_ = nullptr;
	uint32_t mask_ = 0, size_ = 0;
	uint32_t cached_prod_ = 0;	// next slot to reserve
	uint32_t cached_cons_ = 0;	// consumer index + size_, as last seen
	uint32_t prod_ = 0;		// what has been published
	uint64_t corrupt_ = 0;		// impossible consumer indices seen
};

// The consumer end. Counts every descriptor it refuses.
template <class D> class Consumer {
public:
	Consumer() = default;
	Consumer(mkdp_ring *ctl, uint32_t entries, const DescBounds &bounds) noexcept
		: ctl_(ctl), slots_(reinterpret_cast<const D *>(ctl + 1)), mask_(entries - 1),
		  bounds_(bounds)
	{
		cons_ = __atomic_load_n(&ctl->consumer, __ATOMIC_RELAXED);
		cached_cons_ = cons_;
		// Looks empty: the first peek reads the producer index, and
		// checks it, there. Trusting it here would let a ring
		// poisoned before we attached deliver stale slots.
		cached_prod_ = cons_;
	}
	Consumer(Consumer &&) noexcept = default;
	Consumer &operator=(Consumer &&) noexcept = default;
	Consumer(const Consumer &) = delete;
	Consumer &operator=(const Consumer &) = delete;

	// Entries ready, refreshing the producer index only when the cache is
	// empty (libxdp's rule: fewer shared reads under load).
	uint32_t available(uint32_t nb) noexcept
	{
		uint32_t n = cached_prod_ - cached_cons_;
		if (n == 0) {
			cached_prod_ = detail::load_acquire(&ctl_->producer);
			n = cached_prod_ - cached_cons_;
			// A producer index more than a ring ahead of what was
			// released, or behind what was peeked, is hostile or
			// corrupt: deliver nothing rather than stale slots.
			// Ahead of the released index, not the peeked one:
			// slots peeked and not yet released are still ours, and
			// counting from the peeked index would hand them out a
			// second time as new entries.
			uint32_t held = cached_cons_ - cons_;
			if (n > mask_ + 1 - held) {
				cached_prod_ = cached_cons_;
				corrupt_++;
				return 0;
			}
		}
		return n < nb ? n : nb;
	}

	uint32_t peek(uint32_t nb, uint32_t *idx) noexcept
	{
		uint32_t n = available(nb);
		if (n) {
			*idx = cached_cons_;
			cached_cons_ += n;
		}
		return n;
	}

	// Copy slot idx out of shared memory once, then validate the copy.
	DescError fetch(uint32_t idx, D *out) noexcept
	{
		detail::read_once(&slots_[idx & mask_], out, 1);
		DescError e = check_desc(*out, bounds_);
		if (e != DescError::ok) [[unlikely]]
			rejected_++;
		return e;
	}

	// fetch() for the n peeked slots from idx, in one go: the slots are
	// copied out together, then validated with one test per batch on the
	// fast path (the fault masks of the whole batch OR-ed). Valid
	// descriptors are packed at the front of out[] (room for n); refused
	// ones are counted. Returns how many are valid.
	uint32_t fetch_batch(uint32_t idx, uint32_t n, D *out) noexcept
	{
		uint32_t first = idx & mask_, head = mask_ + 1 - first;
		if (head >= n) {
			detail::read_once(&slots_[first], out, n);
		} else {
			detail::read_once(&slots_[first], out, head);
			detail::read_once(slots_, out + head, n - head);
		}
		const DescLimits l(bounds_);
		uint32_t bad = 0;
		for (uint32_t i = 0; i < n; i++)
			bad |= DescTraits<D>::faults(out[i], l);
		if (!bad) [[likely]]
			return n;
		uint32_t got = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (!DescTraits<D>::faults(out[i], l))
				out[got++] = out[i];
			else
				rejected_++;
		}
		return got;
	}

	// Hand nb peeked slots back to the producer (release: reads first).
	void release(uint32_t nb) noexcept
	{
		cons_ += nb;
		detail::store_release(&ctl_->consumer, cons_);
	}

	// Undo the last peek of nb slots that were not fetched.
	void cancel(uint32_t nb) noexcept { cached_cons_ -= nb; }

	// Batch of peek + fetch + release: valid descriptors land in out[],
	// rejected ones are counted and skipped. Returns the number of valid
	// ones; *taken (if given) is how many slots were consumed.
	uint32_t consume(D *out, uint32_t max, uint32_t *taken = nullptr) noexcept
	{
		uint32_t idx, got = 0;
		uint32_t n = peek(max, &idx);
		if (n) {
			got = fetch_batch(idx, n, out);
			release(n);
		}
		if (taken)
			*taken = n;
		return got;
	}

	// Doorbell protocol helpers: see docs/doorbells.md.
	void set_need_wakeup() noexcept
	{
		__atomic_fetch_or(&ctl_->flags, MKDP_RING_NEED_WAKEUP, __ATOMIC_SEQ_CST);
	}
	void clear_need_wakeup() noexcept
	{
		__atomic_fetch_and(&ctl_->flags, ~MKDP_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	}

	DescBounds &bounds() noexcept { return bounds_; }
	uint64_t rejected() const noexcept { return rejected_; }
	uint64_t corrupt() const noexcept { return corrupt_; }
	mkdp_ring *control() const noexcept { return ctl_; }
	uint32_t entries() const noexcept { return mask_ + 1; }

private:
	mkdp_ring *ctl_ = nullptr;
	const D *slots_ = nullptr;
	uint32_t mask_ = 0;
	uint32_t cached_cons_ = 0;	// next slot to peek
	uint32_t cached_prod_ = 0;	// producer index, as last seen
	uint32_t cons_ = 0;		// what has been released
	DescBounds bounds_{};
	uint64_t rejected_ = 0;		// descriptors refused by fetch()
	uint64_t corrupt_ = 0;		// impossible producer indices seen
};

} // namespace mkdp
