// SPDX-License-Identifier: BSD-2-Clause
// The three ring implementations `mkdp bench ring` compares, on one ring in
// one region (ring_bench.cpp runs them): mkdp's Producer/Consumer, libxdp's
// xsk_ring_prod/xsk_ring_cons pointed at the same words and slots, and
// libxdp with the same read-once copy and validation as mkdp ("checked"),
// plus the thread on the consumer CPU.
#pragma once

#include "bench.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/region.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include <xdp/xsk.h>

namespace mkdp::bench::ring_impl {

constexpr uint32_t kEntries = 2048;		// libxdp's default ring size
constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kFrames = kEntries;
constexpr uint32_t kChunk = 8192;		// descriptors per timed iteration
constexpr uint32_t kLen = 64;			// bytes per "frame"
constexpr int kProducerCpu = 0, kConsumerCpu = 1;
constexpr uint32_t kBatches[] = {1, 16, 64, 256};

// libxdp's view of the ring must be the ABI's, byte for byte.
static_assert(sizeof(xdp_desc) == sizeof(mkdp_frame_desc));
static_assert(offsetof(xdp_desc, addr) == offsetof(mkdp_frame_desc, addr));
static_assert(offsetof(xdp_desc, len) == offsetof(mkdp_frame_desc, len));
static_assert(offsetof(xdp_desc, options) == offsetof(mkdp_frame_desc, options));

// One region for every figure: a frame area, a ring for throughput and a
// ring pair for the round trips.
inline Region make_region()
{
	RegionLayout l;
	l.area("frames", uint64_t(kFrames) * kFrameSize, kFrameSize)
		.ring("bulk", MKDP_DESC_FRAME, kEntries, "frames")
		.ring("ping", MKDP_DESC_FRAME, kEntries, "frames")
		.ring("pong", MKDP_DESC_FRAME, kEntries, "frames");
	return Region::create(l, {.name = "mkdp-bench-ring"});
}

inline mkdp_ring *control(const Region &r, std::string_view ring)
{
	return reinterpret_cast<mkdp_ring *>(r.base() + r.entry(ring).offset);
}

// The harness below is written once and instantiated per implementation:
// each one supplies a Tx (reserve/put/submit) and an Rx (peek/get/release),
// all inline, so the loops compile to each library's own fast path.
struct Mkdp {
	static constexpr const char *name = "mkdp";

	class Tx {
	public:
		Tx(const Region &r, std::string_view ring) : p_(r.producer<mkdp_frame_desc>(ring)) {}
		uint32_t reserve(uint32_t nb, uint32_t *idx) { return p_.reserve(nb, idx); }
		void put(uint32_t idx, uint64_t addr, uint32_t len)
		{
			mkdp_frame_desc &d = p_.slot(idx);
			d.addr = addr;
			d.len = len;
			d.options = 0;
		}
		void submit(uint32_t nb) { p_.submit(nb); }

	private:
		Producer<mkdp_frame_desc> p_;
	};

	class Rx {
	public:
		Rx(const Region &r, std::string_view ring) : c_(r.consumer<mkdp_frame_desc>(ring)) {}
		uint32_t peek(uint32_t nb, uint32_t *idx) { return c_.peek(nb, idx); }
		bool get(uint32_t idx, uint64_t *addr, uint32_t *len)
		{
			mkdp_frame_desc d;
			if (c_.fetch(idx, &d) != DescError::ok) [[unlikely]]
				return false;
			*addr = d.addr;
			*len = d.len;
			return true;
		}
		// fetch_batch(), as consume() does: the peeked slots copied out
		// read-once together, then one validity test for the batch.
		template <class F> uint32_t get_batch(uint32_t idx, uint32_t n, F &&use)
		{
			uint32_t got = c_.fetch_batch(idx, n, buf_);
			for (uint32_t i = 0; i < got; i++)
				use(buf_[i].addr, buf_[i].len);
			return n - got;
		}
		void release(uint32_t nb) { c_.release(nb); }

	private:
		Consumer<mkdp_frame_desc> c_;
		mkdp_frame_desc buf_[256];	// the largest batch
	};
};

struct Libxdp {
	static constexpr const char *name = "libxdp";

	// Fills an xsk ring the way xsk_socket__create() does after mmap():
	// the producer's cached consumer index runs one ring ahead.
	template <class R> static R ring(const Region &r, std::string_view name, bool prod)
	{
		// Size and mask from the region table at run time, as libxdp
		// takes them from the socket: a constant would let the compiler
		// fold the mask into the baseline's loops only.
		const mkdp_region_entry &e = r.entry(name);
		mkdp_ring *ctl = control(r, name);
		R x{};
		x.mask = e.entries - 1;
		x.size = e.entries;
		x.producer = &ctl->producer;
		x.consumer = &ctl->consumer;
		x.flags = &ctl->flags;
		x.ring = ctl + 1;
		x.cached_prod = __atomic_load_n(x.producer, __ATOMIC_ACQUIRE);
		x.cached_cons = __atomic_load_n(x.consumer, __ATOMIC_ACQUIRE) + (prod ? x.size : 0);
		return x;
	}

	class Tx {
	public:
		Tx(const Region &r, std::string_view ring) : r_(Libxdp::ring<xsk_ring_prod>(r, ring, true)) {}
		uint32_t reserve(uint32_t nb, uint32_t *idx) { return xsk_ring_prod__reserve(&r_, nb, idx); }
		void put(uint32_t idx, uint64_t addr, uint32_t len)
		{
			xdp_desc *d = xsk_ring_prod__tx_desc(&r_, idx);
			d->addr = addr;
			d->len = len;
			d->options = 0;
		}
		void submit(uint32_t nb) { xsk_ring_prod__submit(&r_, nb); }

	private:
		xsk_ring_prod r_;
	};

	class Rx {
	public:
		Rx(const Region &r, std::string_view ring) : r_(Libxdp::ring<xsk_ring_cons>(r, ring, false)) {}
		uint32_t peek(uint32_t nb, uint32_t *idx) { return xsk_ring_cons__peek(&r_, nb, idx); }
		bool get(uint32_t idx, uint64_t *addr, uint32_t *len)
		{
			const xdp_desc *d = xsk_ring_cons__rx_desc(&r_, idx);
			*addr = d->addr;
			*len = d->len;
			return true;
		}
		// libxdp's way: read the fields in place, unchecked.
		template <class F> uint32_t get_batch(uint32_t idx, uint32_t n, F &&use)
		{
			for (uint32_t i = 0; i < n; i++) {
				const xdp_desc *d = xsk_ring_cons__rx_desc(&r_, idx + i);
				use(d->addr, d->len);
			}
			return 0;
		}
		void release(uint32_t nb) { xsk_ring_cons__release(&r_, nb); }

	protected:
		const xdp_desc *desc(uint32_t idx) const { return xsk_ring_cons__rx_desc(&r_, idx); }

	private:
		xsk_ring_cons r_;
	};
};

// libxdp's ring functions plus what mkdp's fetch() does: the same
// read-once copy of the slot and the same rule (check_desc()). The same work
// as mkdp's consumer on libxdp's ring code: the headline baseline.
struct LibxdpChecked {
	static constexpr const char *name = "libxdp_checked";
	using Tx = Libxdp::Tx;

	class Rx : public Libxdp::Rx {
	public:
		Rx(const Region &r, std::string_view ring)
			: Libxdp::Rx(r, ring), bounds_(r.bounds(r.entry(ring))) {}
		bool get(uint32_t idx, uint64_t *addr, uint32_t *len)
		{
			mkdp_frame_desc d;
			detail::read_once(reinterpret_cast<const mkdp_frame_desc *>(desc(idx)), &d, 1);
			if (check_desc(d, bounds_) != DescError::ok) [[unlikely]]
				return false;
			*addr = d.addr;
			*len = d.len;
			return true;
		}
		template <class F> uint32_t get_batch(uint32_t idx, uint32_t n, F &&use)
		{
			uint32_t bad = 0;
			for (uint32_t i = 0; i < n; i++) {
				uint64_t addr;
				uint32_t len;
				if (get(idx + i, &addr, &len))
					use(addr, len);
				else
					bad++;
			}
			return bad;
		}

	private:
		DescBounds bounds_;
	};
};

inline uint64_t frame_addr(uint64_t seq)
{
	return (seq & (kFrames - 1)) * kFrameSize;
}

// The thread on the consumer CPU, and what it reports. The control words sit
// on their own cache line, away from the producer's stack and the ring.
struct alignas(MKDP_CACHELINE) FarSide {
	std::atomic<bool> ready{false};	// pinned and polling: the clock may start
	std::atomic<bool> stop{false};	// drain what is left, then exit
	alignas(MKDP_CACHELINE) uint64_t descs = 0;
	uint64_t rejected = 0;
	uint64_t checksum = 0;
	std::string error;
	std::thread thread;

	template <class Fn> void start(Fn &&body)
	{
		thread = std::thread([this, body] {
			try {
				pin_to_cpu(kConsumerCpu);
			} catch (const std::exception &e) {
				error = e.what();
			}
			body();
		});
		// Thread start-up is not what we measure.
		while (!ready.load(std::memory_order_acquire))
			cpu_relax();
	}

	void finish()
	{
		stop.store(true, std::memory_order_release);
		thread.join();
	}

	// Polls an empty ring: false once told to stop.
	bool idle()
	{
		if (stop.load(std::memory_order_acquire))
			return false;
		cpu_relax();
		return true;
	}
};

} // namespace mkdp::bench::ring_impl
