// SPDX-License-Identifier: BSD-2-Clause
// Region::open() on a region image the fuzzer writes: header, table, and
// then the rings it lists, as a hostile creator would hand them over.
//
// Input:
//   u8 size class (kSizes), u8 volumes (Region::requests()), u16 image
//   length, the image (written from offset 0 of a zeroed region), then per
//   ring the region lists (the first kRings): u32 producer index, u32
//   consumer index, kSlots descriptors, u8 peek count, u8 reserve count.
//
// One memfd per size class, made once: open() refuses a memfd that is not
// sealed against shrinking, and a sealed one cannot be truncated to another
// size, so they are reused (zeroed by punching a hole) rather than resized.
//
// Invariants: open() either throws mkdp::Error or returns a table equal to
// the image's, every entry of which obeys the ABI (checked here, apart from
// validate_region()): inside the region and past the table, aligned, rings
// large enough for their slots and pointing into areas, no two entries
// overlapping. The ring ends it hands out sit where the table says, and
// what their consumers accept lies inside the ring's area.
#include <mkdp/region.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "fuzz.h"

namespace {

using mkdp::DescError;
using mkdp::FrameAddr;
using mkdp::Region;

// Page multiples, and sizes a creator could get wrong (no page, one short).
constexpr std::array<uint64_t, 24> kSizes = {
	64, 100, 4095, 4097, 4096, 2 * 4096, 3 * 4096, 4 * 4096, 5 * 4096, 6 * 4096, 7 * 4096, 8 * 4096,
	9 * 4096, 10 * 4096, 11 * 4096, 12 * 4096, 13 * 4096, 14 * 4096, 15 * 4096, 16 * 4096,
	32 * 4096, 64 * 4096, 128 * 4096, 256 * 4096,
};
constexpr size_t kRings = 8;	// rings exercised per input
constexpr uint32_t kSlots = 4;	// slots written per ring

struct Backing {
	int fd = -1;
	uint8_t *map = nullptr;	// the fuzzer's own view, as the creator's
};
std::array<Backing, kSizes.size()> g_backing;

Backing &backing(size_t cls)
{
	Backing &b = g_backing[cls];
	uint64_t size = kSizes[cls];
	if (b.fd < 0) {
		b.fd = memfd_create("fuzz-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		FUZZ_CHECK(b.fd >= 0 && ftruncate(b.fd, off_t(size)) == 0);
		FUZZ_CHECK(fcntl(b.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
		void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
		FUZZ_CHECK(p != MAP_FAILED);
		b.map = static_cast<uint8_t *>(p);
	} else {
		FUZZ_CHECK(fallocate(b.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, off_t(size)) == 0);
	}
	return b;
}

bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

uint64_t slot_bytes(uint32_t desc_type)
{
	switch (desc_type) {
	case MKDP_DESC_FRAME: return 16;
	case MKDP_DESC_SREQ: return 32;
	case MKDP_DESC_SCPL: return 16;
	case MKDP_DESC_ADDR: return 8;
	}
	return 0;
}

// What the ABI (docs/ring-abi.md) demands of an opened region whose image
// is `img` (the header as written) and whose mapping is `size` bytes.
void check_table(const Region &r, const uint8_t *img, uint64_t size)
{
	mkdp_region_hdr h;
	std::memcpy(&h, img, sizeof(h));
	FUZZ_CHECK(h.magic == MKDP_REGION_MAGIC && h.abi_major == MKDP_ABI_MAJOR && h.region_size == size);
	FUZZ_CHECK(h.hdr_size >= sizeof(mkdp_region_hdr) && h.entry_size >= sizeof(mkdp_region_entry));
	auto t = r.entries();
	FUZZ_CHECK(t.size() == h.nr_entries && !t.empty());
	uint64_t table_end = h.hdr_size + uint64_t(h.nr_entries) * h.entry_size;
	FUZZ_CHECK(table_end <= size);
	for (size_t i = 0; i < t.size(); i++) {
		const mkdp_region_entry &e = t[i];
		FUZZ_CHECK(std::memcmp(&e, img + h.hdr_size + i * h.entry_size, sizeof(e)) == 0);
		FUZZ_CHECK(e.name[0] && std::memchr(e.name, 0, MKDP_NAME_LEN));
		FUZZ_CHECK(e.offset >= table_end && e.offset <= size && e.size <= size - e.offset);
		if (e.kind == MKDP_ENTRY_AREA) {
			FUZZ_CHECK(e.offset % MKDP_AREA_ALIGN == 0 && e.size);
			FUZZ_CHECK(!e.frame_size || (pow2(e.frame_size) && e.size % e.frame_size == 0));
			FUZZ_CHECK(!e.desc_type && !e.entries && !e.desc_size && e.area == MKDP_NO_AREA);
		} else {
			FUZZ_CHECK(e.kind == MKDP_ENTRY_RING);
			FUZZ_CHECK(e.offset % MKDP_CACHELINE == 0 && !e.frame_size);
			FUZZ_CHECK(pow2(e.entries) && e.entries >= MKDP_RING_MIN && e.entries <= MKDP_RING_MAX);
			FUZZ_CHECK(e.desc_size && e.desc_size == slot_bytes(e.desc_type));
			FUZZ_CHECK(e.size >= sizeof(mkdp_ring) + uint64_t(e.entries) * e.desc_size);
			FUZZ_CHECK(e.area == MKDP_NO_AREA || (e.area < t.size() && t[e.area].kind == MKDP_ENTRY_AREA));
		}
	}
	// Names unique, entries disjoint: in order of offset, each ends before
	// the next begins (sizes are never 0, so equal offsets overlap too).
	std::vector<const mkdp_region_entry *> by_off;
	for (const auto &e : t)
		by_off.push_back(&e);
	std::sort(by_off.begin(), by_off.end(), [](auto *a, auto *b) {
		return a->offset < b->offset;
	});
	for (size_t i = 1; i < by_off.size(); i++)
		FUZZ_CHECK(by_off[i - 1]->offset + by_off[i - 1]->size <= by_off[i]->offset);
	std::vector<std::string_view> names;
	for (const auto &e : t)
		names.emplace_back(e.name, strnlen(e.name, MKDP_NAME_LEN));
	std::sort(names.begin(), names.end());
	FUZZ_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
}

// Where descriptor d's bytes would be, inside the area (none: true).
bool inside(const mkdp_frame_desc &d, uint64_t area) { return d.addr + d.len <= area && d.addr < area; }
bool inside(const FrameAddr &d, uint64_t area) { return d.addr < area; }
bool inside(const mkdp_sreq_desc &d, uint64_t area)
{
	bool rw = d.op == MKDP_SOP_READ || d.op == MKDP_SOP_WRITE;
	return !rw || (d.buf <= area && d.len <= area - d.buf);
}
bool inside(const mkdp_scpl_desc &, uint64_t) { return true; }

// One ring's consumer and producer, with the fuzzer as the other side.
template <class D, class C>
void exercise(const Region &r, const mkdp_region_entry &e, C consumer, mkdp::fuzz::Input &in)
{
	auto *ctl = reinterpret_cast<mkdp_ring *>(r.base() + e.offset);
	FUZZ_CHECK(consumer.control() == ctl && consumer.entries() == e.entries);
	uint64_t area = e.area == MKDP_NO_AREA ? 0 : r.entries()[e.area].size;
	FUZZ_CHECK(consumer.bounds().area_size == area);
	ctl->producer = in.take<uint32_t>();
	ctl->consumer = in.take<uint32_t>();
	D *slots = reinterpret_cast<D *>(ctl + 1);
	for (uint32_t i = 0; i < kSlots; i++)
		slots[(ctl->producer - 1 - i) & (e.entries - 1)] = in.take<D>();

	// The consumer attached before the indices moved: as after a restart.
	consumer = C(ctl, e.entries, consumer.bounds());
	uint32_t idx, n = consumer.peek(in.take<uint8_t>(), &idx);
	FUZZ_CHECK(n <= e.entries);
	std::vector<D> out(n);
	uint32_t got = n ? consumer.fetch_batch(idx, n, out.data()) : 0;
	for (uint32_t i = 0; i < got; i++)
		FUZZ_CHECK(inside(out[i], area));
	if (n)
		consumer.release(n);

	auto producer = r.producer<D>(std::string_view(e.name, strnlen(e.name, MKDP_NAME_LEN)));
	uint32_t nb = in.take<uint8_t>(), pidx;
	uint32_t k = producer.reserve(nb, &pidx);
	FUZZ_CHECK(k == 0 || k == nb);
	FUZZ_CHECK(k <= e.entries);
	for (uint32_t i = 0; i < k; i++)
		producer.slot(pidx + i) = D{};
	producer.submit(k);
}

void exercise_rings(const Region &r, uint32_t volumes, mkdp::fuzz::Input &in)
{
	auto t = r.entries();
	// A completion ring's tags are bounded by a request ring's: the first.
	const mkdp_region_entry *sq = nullptr;
	for (const auto &e : t)
		if (e.kind == MKDP_ENTRY_RING && e.desc_type == MKDP_DESC_SREQ && !sq)
			sq = &e;
	size_t done = 0;
	for (const auto &e : t) {
		if (e.kind != MKDP_ENTRY_RING || done++ == kRings)
			continue;
		std::string_view name(e.name, strnlen(e.name, MKDP_NAME_LEN));
		switch (e.desc_type) {
		case MKDP_DESC_FRAME:
			exercise<mkdp_frame_desc>(r, e, r.consumer<mkdp_frame_desc>(name), in);
			break;
		case MKDP_DESC_ADDR:
			exercise<FrameAddr>(r, e, r.consumer<FrameAddr>(name), in);
			break;
		case MKDP_DESC_SREQ:
			if (volumes)
				exercise<mkdp_sreq_desc>(r, e, r.requests(name, volumes), in);
			break;
		case MKDP_DESC_SCPL:
			if (sq)
				exercise<mkdp_scpl_desc>(
					r, e, r.completions(name, std::string_view(sq->name, strnlen(sq->name, MKDP_NAME_LEN))), in);
			break;
		}
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mkdp::fuzz::Input in(data, size);
	size_t cls = in.take<uint8_t>() % kSizes.size();
	uint32_t volumes = in.take<uint8_t>();
	uint16_t len = in.take<uint16_t>();
	uint64_t region_size = kSizes[cls];
	Backing &b = backing(cls);
	auto image = in.bytes(std::min<uint64_t>(len, region_size));
	std::memcpy(b.map, image.data(), image.size());
	Region r;
	try {
		r = Region::open(b.fd);
	} catch (const mkdp::Error &) {
		return 0;	// a clean refusal
	}
	// The checks read the image through the creator's view: nothing
	// changes it between open() and here.
	FUZZ_CHECK(r.size() == region_size);
	check_table(r, b.map, region_size);
	exercise_rings(r, volumes, in);
	return 0;
}
