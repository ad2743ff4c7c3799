// SPDX-License-Identifier: BSD-2-Clause
// A shared region: one memfd (or hugetlbfs file) holding the region header,
// its table, rings and data areas, laid out by the ring ABI.
//
// The creator lays the region out from a RegionLayout; every other process
// receives the fd (SCM_RIGHTS, see fd_passing.h) and opens it, which maps it
// and validates the header and every table entry. The validated table is
// copied into private memory: after open() nothing in the header is read
// again, so a hostile peer rewriting it cannot move a ring under our feet.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <mkdp_ring.h>

#include "error.h"
#include "ring.h"

namespace mkdp {

// What goes into a region, in order. Offsets are computed, never given.
class RegionLayout {
public:
	// A data area of `size` bytes, split into frames of frame_size (a power
	// of two) or byte-addressed when frame_size is 0.
	RegionLayout &area(std::string name, uint64_t size, uint32_t frame_size = 0);
	// A ring of `entries` slots (a power of two) of descriptor type
	// desc_type (MKDP_DESC_*) whose descriptors point into `area`.
	RegionLayout &ring(std::string name, uint32_t desc_type, uint32_t entries,
			   std::string area = {});

	// The table the layout produces, with offsets; throws on bad input.
	std::vector<mkdp_region_entry> table() const;
	// Total bytes the region needs (page-rounded).
	uint64_t size() const;

private:
	struct Item {
		std::string name;
		uint32_t kind, desc_type, entries, frame_size;
		uint64_t size;
		std::string area;
	};
	std::vector<Item> items_;
};

enum class Backing { memfd, hugetlbfs };

struct RegionOptions {
	Backing backing = Backing::memfd;
	std::string hugetlbfs_dir = "/dev/hugepages"; // a mounted hugetlbfs
	std::string name = "mkdp-region";	      // shows in /proc/PID/maps
};

// Bytes per slot of a MKDP_DESC_* type, 0 if unknown.
uint32_t desc_size(uint32_t desc_type) noexcept;

class Region {
public:
	// Lays out and initialises a new region. Throws mkdp::Error.
	static Region create(const RegionLayout &layout, const RegionOptions &opts = {});
	// Maps an existing region by fd (the fd is duplicated; the caller keeps
	// its own) and validates it. Throws mkdp::Error naming what is wrong.
	static Region open(int fd);

	Region() = default;
	Region(Region &&o) noexcept;
	Region &operator=(Region &&o) noexcept;
	Region(const Region &) = delete;
	Region &operator=(const Region &) = delete;
	~Region();

	int fd() const noexcept { return fd_; }
	uint8_t *base() const noexcept { return base_; }
	uint64_t size() const noexcept { return size_; }
	bool hugetlb() const noexcept { return hugetlb_; }

	// The validated private copy of the table.
	std::span<const mkdp_region_entry> entries() const noexcept { return table_; }
	// Index of the named entry; throws if there is none.
	uint32_t index(std::string_view name) const;
	const mkdp_region_entry &entry(std::string_view name) const { return table_[index(name)]; }

	// A data area's bytes.
	std::span<uint8_t> area(std::string_view name) const;

	// Ring ends, checked against the descriptor type the caller expects.
	template <class D> Producer<D> producer(std::string_view ring) const
	{
		const mkdp_region_entry &e = ring_entry(ring, DescTraits<D>::type);
		return Producer<D>(ring_control(e), e.entries);
	}
	template <class D> Consumer<D> consumer(std::string_view ring) const
	{
		static_assert(!std::is_same_v<D, mkdp_sreq_desc> && !std::is_same_v<D, mkdp_scpl_desc>,
			      "storage rings need limits the table does not hold: "
			      "use requests() or completions()");
		const mkdp_region_entry &e = ring_entry(ring, DescTraits<D>::type);
		return Consumer<D>(ring_control(e), e.entries, bounds(e));
	}
	// The consumer of a storage request ring, serving volumes 0 ..
	// volumes - 1 (from the topology). Tags are bounded by the ring's
	// entries: a client has at most that many requests in flight.
	Consumer<mkdp_sreq_desc> requests(std::string_view ring, uint32_t volumes) const;
	// The consumer of a completion ring answering the request ring
	// `requests` (the table does not pair rings; the topology does). Tags
	// are bounded by the request ring's entries, not the completion ring's:
	// only tags the client could have sent may come back.
	Consumer<mkdp_scpl_desc> completions(std::string_view ring, std::string_view requests) const;

	// Bounds a consumer of this ring validates against, from the table:
	// area and frame size; for a request ring also the tag bound. The
	// volume bound, and a completion ring's tag bound, stay 0 (refuse all).
	DescBounds bounds(const mkdp_region_entry &ring) const noexcept;

private:
	const mkdp_region_entry &ring_entry(std::string_view name, uint32_t desc_type) const;
	mkdp_ring *ring_control(const mkdp_region_entry &e) const noexcept
	{
		return reinterpret_cast<mkdp_ring *>(base_ + e.offset);
	}
	void reset() noexcept;

	int fd_ = -1;
	uint8_t *base_ = nullptr;
	uint64_t size_ = 0;
	bool hugetlb_ = false;
	std::vector<mkdp_region_entry> table_;
};

// Checks a region image (header, table, every entry) the way open() does;
// throws mkdp::Error naming the first problem. Exposed for tests and tools.
std::vector<mkdp_region_entry> validate_region(const void *base, uint64_t mapped_size);

} // namespace mkdp
