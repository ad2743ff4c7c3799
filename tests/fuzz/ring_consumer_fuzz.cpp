// SPDX-License-Identifier: BSD-2-Clause
// The ring consumers (ring.h) of every descriptor type against a producer
// the fuzzer plays: it owns the ring's control words and slots and drives
// the consumer through a little program of operations.
//
// Input: a header, then operations until the input runs dry.
//   u8 type (0 frame, 1 address, 2 storage request, 3 storage completion)
//   u8 log2 of the ring's entries (1..10)
//   DescBounds: u64 area_size, u8 frame shift (0: byte-addressed, else
//   frame_size = 1 << (shift - 1)), u32 max_tag, u32 max_volume
//   u32 producer index, u32 consumer index at attach
//   operations: u8 opcode, then its operands (see step()).
//
// The ring lives in a heap block of exactly its ABI size, so ASan reports
// any slot read past its end. Invariants, beyond "no crash":
// - peek() gives at most nb and at most a ring's worth, contiguous with the
//   last one, and never more than the producer published since the last
//   release: outstanding (peeked, not released) slots stay within a ring;
// - a descriptor is accepted exactly when the rules written here (apart
//   from DescTraits) accept it, and every refused one is counted;
// - fetch_batch()/consume() return the accepted ones of the batch, in order.
#include <mkdp/ring.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <sanitizer/asan_interface.h>
#include <vector>

#include "fuzz.h"

namespace {

using mkdp::Consumer;
using mkdp::DescBounds;
using mkdp::DescError;
using mkdp::FrameAddr;

// The ABI's rules, one type at a time, written from mkdp_ring.h and
// docs/ring-abi.md rather than from DescTraits.
bool valid(const mkdp_frame_desc &d, const DescBounds &b)
{
	if (d.options & ~uint32_t(MKDP_FRAME_OPT_CONTD) || d.len == 0)
		return false;
	if (d.addr >= b.area_size || d.len > b.area_size - d.addr)
		return false;
	// Within one frame: the first and last byte in the same frame.
	return !b.frame_size || d.addr / b.frame_size == (d.addr + d.len - 1) / b.frame_size;
}

bool valid(const FrameAddr &d, const DescBounds &b) { return d.addr < b.area_size; }

bool valid(const mkdp_sreq_desc &d, const DescBounds &b)
{
	if (d.op > MKDP_SOP_MAX || d.flags & ~uint32_t(MKDP_SREQ_F_FUA) || d.tag >= b.max_tag ||
	    d.volume >= b.max_volume)
		return false;
	switch (d.op) {
	case MKDP_SOP_FLUSH:
		return true;	// len and buf ignored
	case MKDP_SOP_DISCARD:
	case MKDP_SOP_WRITE_ZEROES:
		return d.len % MKDP_SECTOR_SIZE == 0;	// no buffer
	default:
		return d.len && d.len % MKDP_SECTOR_SIZE == 0 && d.buf <= b.area_size &&
		       d.len <= b.area_size - d.buf;
	}
}

bool valid(const mkdp_scpl_desc &d, const DescBounds &b)
{
	return d.reserved == 0 && d.tag < b.max_tag && d.status <= 0 && d.status >= -4095;
}

// Operations of the input's program.
enum Op : uint8_t {
	kSetProducer,	// u32: any value
	kAdvance,	// u8 k: the producer publishes k more
	kBack,		// u8 k: the producer index moves back by k
	kJump,		// u8 k: the producer index a ring and k past the released one
	kSetConsumer,	// u32: the shared consumer word (the consumer must not care)
	kWriteSlot,	// u16 slot, then a descriptor's bytes
	kWriteRun,	// u8 n: n descriptors into the slots from the producer index on
	kPeek,		// u8 nb
	kFetch,		// u8 i: fetch() of slot i of the last peek
	kFetchBatch,	// fetch_batch() of the last peek
	kRelease,	// release() of everything peeked
	kCancel,	// cancel() of the last peek, if nothing since
	kConsume,	// u8 max: consume() (after releasing what is peeked)
	kReattach,	// a new Consumer on the ring, as after a restart
	kOps
};

template <class D> class Run {
public:
	Run(mkdp::fuzz::Input &in, uint32_t entries, const DescBounds &b)
		: in_(in), entries_(entries), bounds_(b), mem_(ring_memory(entries))
	{
		ctl()->producer = in.take<uint32_t>();
		ctl()->consumer = in.take<uint32_t>();
		attach();
	}

	void run()
	{
		while (!in_.empty())
			step(Op(in_.take<uint8_t>() % kOps));
	}

private:
	// A zeroed ring of `entries` slots in a heap block of exactly its size.
	// One block per ring size, kept across inputs: a fresh one each time
	// costs page faults (ASan's quarantine keeps freed blocks from reuse),
	// which made most of an execution's time.
	static uint8_t *ring_memory(uint32_t entries)
	{
		static uint8_t *blocks[32];
		uint8_t *&m = blocks[__builtin_ctz(entries)];
		size_t bytes = sizeof(mkdp_ring) + size_t(entries) * sizeof(D);
		if (!m)
			m = static_cast<uint8_t *>(::operator new(bytes, std::align_val_t(MKDP_CACHELINE)));
		std::memset(m, 0, bytes);
		return m;
	}

	mkdp_ring *ctl() { return reinterpret_cast<mkdp_ring *>(mem_); }
	D *slots() { return reinterpret_cast<D *>(ctl() + 1); }
	D slot(uint32_t idx) { return slots()[idx & (entries_ - 1)]; }

	void attach()
	{
		c_ = Consumer<D>(ctl(), entries_, bounds_);
		FUZZ_CHECK(c_.entries() == entries_);
		released_ = peeked_ = ctl()->consumer;
		published_.assign(1, ctl()->producer);
		last_n_ = 0;
		cancellable_ = false;
	}

	void publish(uint32_t p)
	{
		ctl()->producer = p;
		published_.push_back(p);
	}

	// Whether the consumer may take slots up to `end`: the producer index,
	// now or as published before (the consumer may have cached it), was at
	// least that far, and within a ring of what was released.
	bool published_up_to(uint32_t end)
	{
		// The consumer may have cached the current index in this call:
		// it is a past one from now on.
		if (published_.empty() || published_.back() != ctl()->producer)
			published_.push_back(ctl()->producer);
		uint32_t want = end - released_;
		auto covers = [&](uint32_t p) { return p - released_ <= entries_ && p - released_ >= want; };
		return want == 0 || std::any_of(published_.begin(), published_.end(), covers);
	}

	// The descriptors of n slots from idx, as they are now.
	const std::vector<D> &snapshot(uint32_t idx, uint32_t n)
	{
		static std::vector<D> v;	// its capacity outlives the input
		v.clear();
		for (uint32_t i = 0; i < n; i++)
			v.push_back(slot(idx + i));
		return v;
	}

	// Room for exactly n descriptors, for the consumer to write: a block
	// kept across inputs whose bytes past n are poisoned, so ASan reports
	// a write past them as it would past an exact-size allocation (which,
	// fresh for every batch, cost more than the rest of the input).
	static D *out_buffer(uint32_t n)
	{
		constexpr uint32_t kMax = 1024;	// the largest ring, more than a u8 count
		static D *buf = new D[kMax];
		ASAN_UNPOISON_MEMORY_REGION(buf, sizeof(D) * kMax);
		ASAN_POISON_MEMORY_REGION(buf + n, sizeof(D) * (kMax - n));
		return buf;
	}

	// out[0, got) must be exactly the valid ones of want, in order, and
	// every invalid one counted.
	void check_batch(const std::vector<D> &want, const D *out, uint32_t got, uint64_t rejected_before)
	{
		uint32_t k = 0;
		for (const D &d : want) {
			if (!valid(d, bounds_))
				continue;
			FUZZ_CHECK(k < got);
			FUZZ_CHECK(std::memcmp(&out[k], &d, sizeof(D)) == 0);
			k++;
		}
		FUZZ_CHECK(k == got);
		FUZZ_CHECK(c_.rejected() - rejected_before == want.size() - got);
	}

	void peek(uint32_t nb)
	{
		uint32_t idx = 0;
		uint32_t n = c_.peek(nb, &idx);
		FUZZ_CHECK(n <= nb && n <= entries_);
		FUZZ_CHECK(published_up_to(peeked_ + n));
		if (!n)
			return;
		FUZZ_CHECK(idx == peeked_);
		peeked_ += n;
		FUZZ_CHECK(peeked_ - released_ <= entries_);
		last_idx_ = idx;
		last_n_ = n;
		cancellable_ = true;
	}

	void release()
	{
		c_.release(peeked_ - released_);
		released_ = peeked_;
		FUZZ_CHECK(ctl()->consumer == released_);
		prune();
		cancellable_ = false;
	}

	// Past producer indices no longer within a ring of the released one
	// cannot justify a later peek (one the consumer cached was within a
	// ring when it was read, and the released index only moves towards
	// it).
	void prune()
	{
		std::erase_if(published_, [&](uint32_t p) { return p - released_ > entries_; });
		std::sort(published_.begin(), published_.end());
		published_.erase(std::unique(published_.begin(), published_.end()), published_.end());
	}

	void step(Op op)
	{
		switch (op) {
		case kSetProducer:
			publish(in_.take<uint32_t>());
			break;
		case kAdvance:
			publish(ctl()->producer + in_.take<uint8_t>());
			break;
		case kBack:
			publish(ctl()->producer - in_.take<uint8_t>());
			break;
		case kJump:
			publish(released_ + entries_ + 1 + in_.take<uint8_t>());
			break;
		case kSetConsumer:
			ctl()->consumer = in_.take<uint32_t>();
			break;
		case kWriteSlot: {
			uint16_t i = in_.take<uint16_t>();
			slots()[i & (entries_ - 1)] = in_.take<D>();
			break;
		}
		case kWriteRun: {
			uint32_t n = std::min<uint32_t>(in_.take<uint8_t>(), entries_);
			for (uint32_t i = 0; i < n; i++)
				slots()[(ctl()->producer + i) & (entries_ - 1)] = in_.take<D>();
			break;
		}
		case kPeek:
			peek(in_.take<uint8_t>());
			break;
		case kFetch: {
			uint8_t i = in_.take<uint8_t>();
			if (!last_n_)
				break;
			uint32_t idx = last_idx_ + i % last_n_;
			D want = slot(idx), got;
			uint64_t rejected = c_.rejected();
			DescError e = c_.fetch(idx, &got);
			FUZZ_CHECK(std::memcmp(&want, &got, sizeof(D)) == 0);
			FUZZ_CHECK((e == DescError::ok) == valid(want, bounds_));
			FUZZ_CHECK(c_.rejected() - rejected == (e != DescError::ok));
			cancellable_ = false;
			break;
		}
		case kFetchBatch: {
			if (!last_n_)
				break;
			const std::vector<D> &want = snapshot(last_idx_, last_n_);
			D *out = out_buffer(last_n_);
			uint64_t rejected = c_.rejected();
			uint32_t got = c_.fetch_batch(last_idx_, last_n_, out);
			check_batch(want, out, got, rejected);
			cancellable_ = false;
			break;
		}
		case kRelease:
			release();
			last_n_ = 0;
			break;
		case kCancel:
			if (!cancellable_)
				break;
			c_.cancel(last_n_);
			peeked_ -= last_n_;
			last_n_ = 0;
			cancellable_ = false;
			break;
		case kConsume: {
			release();
			uint32_t max = in_.take<uint8_t>();
			D *out = out_buffer(max);
			uint64_t rejected = c_.rejected();
			uint32_t taken = 0;
			uint32_t got = c_.consume(out, max, &taken);
			FUZZ_CHECK(taken <= max && taken <= entries_ && got <= taken);
			// The slots from the released index: what its peek saw.
			check_batch(snapshot(released_, taken), out, got, rejected);
			peeked_ += taken;
			FUZZ_CHECK(published_up_to(peeked_));
			released_ = peeked_;
			FUZZ_CHECK(ctl()->consumer == released_);
			prune();
			last_n_ = 0;
			break;
		}
		case kReattach:
			attach();
			break;
		case kOps:
			break;
		}
	}

	mkdp::fuzz::Input &in_;
	uint32_t entries_;
	DescBounds bounds_;
	uint8_t *mem_;
	Consumer<D> c_;
	uint32_t released_ = 0, peeked_ = 0;	// the consumer's indices, as the model has them
	uint32_t last_idx_ = 0, last_n_ = 0;	// the last peek, while it may be fetched
	bool cancellable_ = false;		// nothing since the last peek
	std::vector<uint32_t> published_;	// producer indices that may still be peeked up to
};

template <class D> void run(mkdp::fuzz::Input &in, uint32_t entries, const DescBounds &b)
{
	Run<D>(in, entries, b).run();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mkdp::fuzz::Input in(data, size);
	uint8_t type = in.take<uint8_t>() % 4;
	uint32_t entries = 1u << (1 + in.take<uint8_t>() % 10);
	DescBounds b;
	b.area_size = in.take<uint64_t>();
	uint8_t shift = in.take<uint8_t>() % 33;
	b.frame_size = shift ? 1u << (shift - 1) : 0;
	b.max_tag = in.take<uint32_t>();
	b.max_volume = in.take<uint32_t>();
	switch (type) {
	case 0: run<mkdp_frame_desc>(in, entries, b); break;
	case 1: run<FrameAddr>(in, entries, b); break;
	case 2: run<mkdp_sreq_desc>(in, entries, b); break;
	default: run<mkdp_scpl_desc>(in, entries, b); break;
	}
	return 0;
}
