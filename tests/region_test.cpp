// SPDX-License-Identifier: BSD-2-Clause
// Regions: laying them out, creating them (memfd, hugetlbfs), opening them
// by fd here and in another process, and refusing every malformed layout and
// region image with an mkdp::Error that names the problem.
#include <mkdp/region.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "child_process.h"

using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// The message of the mkdp::Error that fn throws; a readable failure
// when it throws nothing.
template <class F> std::string error_of(F &&fn)
{
	try {
		fn();
	} catch (const mkdp::Error &e) {
		return e.what();
	}
	return "(no mkdp::Error thrown)";
}

// A layout with every entry kind and descriptor type.
// Table indices: 0 frames, 1 rx, 2 fill, 3 bufs, 4 sq.
mkdp::RegionLayout sample_layout()
{
	mkdp::RegionLayout l;
	l.area("frames", 16 * 2048, 2048)
		.ring("rx", MKDP_DESC_FRAME, 64, "frames")
		.ring("fill", MKDP_DESC_ADDR, 64, "frames")
		.area("bufs", 8192)
		.ring("sq", MKDP_DESC_SREQ, 16, "bufs");
	return l;
}

mkdp_region_hdr *header(void *base) { return static_cast<mkdp_region_hdr *>(base); }

bool same_table(std::span<const mkdp_region_entry> a, std::span<const mkdp_region_entry> b)
{
	return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

} // namespace

// ------------------------------------------------------------------ layout

TEST(RegionLayout, TableHasAlignedNonOverlappingEntries)
{
	mkdp::RegionLayout l = sample_layout();
	auto t = l.table();
	ASSERT_EQ(t.size(), 5u);
	uint64_t end = sizeof(mkdp_region_hdr) + t.size() * sizeof(mkdp_region_entry);
	for (const auto &e : t) {
		EXPECT_GE(e.offset, end) << e.name;
		EXPECT_EQ(e.offset % (e.kind == MKDP_ENTRY_AREA ? MKDP_AREA_ALIGN : MKDP_CACHELINE), 0u)
			<< e.name;
		end = e.offset + e.size;
	}
	EXPECT_EQ(t[1].area, 0u);
	EXPECT_EQ(t[2].area, 0u);
	EXPECT_EQ(t[4].area, 3u);
	EXPECT_EQ(t[1].size, sizeof(mkdp_ring) + 64 * sizeof(mkdp_frame_desc));
	EXPECT_EQ(t[4].desc_size, sizeof(mkdp_sreq_desc));
	EXPECT_GE(l.size(), end);
	EXPECT_EQ(l.size() % 4096, 0u);
}

TEST(RegionLayout, RingWithoutAreaHasNoArea)
{
	auto t = mkdp::RegionLayout().ring("doorbell", MKDP_DESC_ADDR, 2).table();
	ASSERT_EQ(t.size(), 1u);
	EXPECT_EQ(t[0].area, MKDP_NO_AREA);
}

struct LayoutErrorCase {
	const char *name;
	std::function<void(mkdp::RegionLayout &)> build;
	const char *message; // what the error must say
};

class RegionLayoutError : public ::testing::TestWithParam<LayoutErrorCase> {};

TEST_P(RegionLayoutError, ThrowsNamingTheProblem)
{
	mkdp::RegionLayout l;
	GetParam().build(l);
	std::string msg = error_of([&] { l.table(); });
	EXPECT_THAT(msg, HasSubstr(GetParam().message));
	EXPECT_THAT(msg, Not(HasSubstr("\n"))) << "errors are one line";
	// Creating the region refuses it the same way, before touching memory.
	EXPECT_THAT(error_of([&] { mkdp::Region::create(l); }), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
	, RegionLayoutError,
	::testing::Values(
		LayoutErrorCase{"empty", [](auto &) {}, "no rings or areas"},
		LayoutErrorCase{"ring_not_pow2",
				[](auto &l) { l.ring("rx", MKDP_DESC_FRAME, 48); },
				"ring 'rx': size 48 is not a power of two"},
		LayoutErrorCase{"ring_zero",
				[](auto &l) { l.ring("rx", MKDP_DESC_FRAME, 0); },
				"ring 'rx': size 0 is not a power of two"},
		LayoutErrorCase{"ring_one",
				[](auto &l) { l.ring("rx", MKDP_DESC_FRAME, 1); },
				"ring 'rx': size 1 is not a power of two"},
		LayoutErrorCase{"ring_too_big",
				[](auto &l) { l.ring("rx", MKDP_DESC_FRAME, MKDP_RING_MAX * 2); },
				"size 33554432 is not a power of two in [2, 16777216]"},
		LayoutErrorCase{"unknown_desc_type",
				[](auto &l) { l.ring("rx", 99, 8); },
				"ring 'rx': unknown descriptor type 99"},
		LayoutErrorCase{"duplicate_name",
				[](auto &l) { l.area("x", 4096).ring("x", MKDP_DESC_ADDR, 8); },
				"duplicate name 'x'"},
		LayoutErrorCase{"empty_name", [](auto &l) { l.area("", 4096); },
				"name '' must be 1..15 characters"},
		LayoutErrorCase{"name_too_long",
				[](auto &l) { l.ring("sixteen-chars-xx", MKDP_DESC_ADDR, 8); },
				"name 'sixteen-chars-xx' must be 1..15 characters"},
		LayoutErrorCase{"unknown_area",
				[](auto &l) { l.area("frames", 4096).ring("rx", MKDP_DESC_FRAME, 8, "franes"); },
				"ring 'rx' points into unknown area 'franes'"},
		LayoutErrorCase{"area_is_a_ring",
				[](auto &l) {
					l.ring("fill", MKDP_DESC_ADDR, 8).ring("rx", MKDP_DESC_FRAME, 8, "fill");
				},
				"ring 'rx' points into unknown area 'fill'"},
		LayoutErrorCase{"area_size_zero", [](auto &l) { l.area("frames", 0); },
				"area 'frames' has size 0"},
		LayoutErrorCase{"frame_not_pow2", [](auto &l) { l.area("frames", 3000 * 4, 3000); },
				"area 'frames': frame size 3000 must be a power of two"},
		LayoutErrorCase{"frame_not_dividing",
				[](auto &l) { l.area("frames", 4096 * 3 + 2048, 4096); },
				"area 'frames': frame size 4096 must be a power of two dividing the area size"}),
	[](const auto &info) { return std::string(info.param.name); });

// ------------------------------------------------------------------ create/open

TEST(Region, CreateMemfdIsInitialisedAndSealed)
{
	mkdp::RegionLayout l = sample_layout();
	mkdp::Region r = mkdp::Region::create(l);
	ASSERT_GE(r.fd(), 0);
	EXPECT_EQ(r.size(), l.size());
	EXPECT_FALSE(r.hugetlb());
	EXPECT_TRUE(same_table(r.entries(), l.table()));

	const mkdp_region_hdr *h = header(r.base());
	EXPECT_EQ(h->magic, MKDP_REGION_MAGIC);
	EXPECT_EQ(h->abi_major, MKDP_ABI_MAJOR);
	EXPECT_EQ(h->region_size, r.size());
	EXPECT_EQ(h->nr_entries, 5u);
	EXPECT_EQ(h->flags, 0u);

	// Fresh rings start at zero.
	for (const auto &e : r.entries())
		if (e.kind == MKDP_ENTRY_RING) {
			auto *ctl = reinterpret_cast<const mkdp_ring *>(r.base() + e.offset);
			EXPECT_EQ(ctl->producer, 0u);
			EXPECT_EQ(ctl->consumer, 0u);
			EXPECT_EQ(ctl->flags, 0u);
		}

	// A peer cannot resize the region under the other side's mapping.
	EXPECT_EQ(ftruncate(r.fd(), off_t(r.size() / 2)), -1);
	EXPECT_EQ(errno, EPERM);
	EXPECT_EQ(ftruncate(r.fd(), off_t(r.size() * 2)), -1);
	EXPECT_EQ(errno, EPERM);
	int seals = fcntl(r.fd(), F_GET_SEALS);
	EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

TEST(Region, LookupByNameAndType)
{
	mkdp::Region r = mkdp::Region::create(sample_layout());
	EXPECT_EQ(r.index("sq"), 4u);
	EXPECT_EQ(r.area("bufs").size(), 8192u);
	EXPECT_EQ(r.area("frames").data(), r.base() + r.entry("frames").offset);
	EXPECT_THAT(error_of([&] { r.index("nope"); }), HasSubstr("no ring or area named 'nope'"));
	EXPECT_THAT(error_of([&] { r.area("rx"); }), HasSubstr("'rx' is not a data area"));
	EXPECT_THAT(error_of([&] { r.producer<mkdp_frame_desc>("frames"); }),
		    HasSubstr("'frames' is not a ring"));
	EXPECT_THAT(error_of([&] { r.requests("rx", 1); }),
		    HasSubstr("ring 'rx' holds descriptor type 1, not 2"));
	EXPECT_THAT(error_of([&] { r.consumer<mkdp_frame_desc>("sq"); }),
		    HasSubstr("ring 'sq' holds descriptor type 2, not 1"));

	mkdp::DescBounds b = r.bounds(r.entry("rx"));
	EXPECT_EQ(b.area_size, 16u * 2048);
	EXPECT_EQ(b.frame_size, 2048u);
	EXPECT_EQ(b.max_tag, 0u) << "frame rings carry no tags";
	b = r.bounds(r.entry("sq"));
	EXPECT_EQ(b.area_size, 8192u);
	EXPECT_EQ(b.max_tag, 16u);
	EXPECT_EQ(b.max_volume, 0u) << "volumes come from the caller";
}

TEST(Region, OpenByFdInSameProcess)
{
	mkdp::Region a = mkdp::Region::create(sample_layout());
	mkdp::Region b = mkdp::Region::open(a.fd());
	EXPECT_NE(b.fd(), a.fd()) << "open() keeps its own fd";
	EXPECT_NE(b.base(), a.base());
	EXPECT_EQ(b.size(), a.size());
	EXPECT_TRUE(same_table(a.entries(), b.entries()));

	// Two mappings of one memory: a descriptor and the frame it names
	// written through one are read through the other.
	std::span<uint8_t> fa = a.area("frames"), fb = b.area("frames");
	std::memcpy(fa.data() + 2048, "hello", 5);
	auto prod = a.producer<mkdp_frame_desc>("rx");
	auto cons = b.consumer<mkdp_frame_desc>("rx");
	mkdp_frame_desc d{2048, 5, 0};
	ASSERT_EQ(prod.produce(&d, 1), 1u);
	mkdp_frame_desc got{};
	ASSERT_EQ(cons.consume(&got, 4), 1u);
	EXPECT_EQ(got.addr, 2048u);
	EXPECT_EQ(std::memcmp(fb.data() + got.addr, "hello", got.len), 0);
	EXPECT_EQ(cons.rejected(), 0u);

	// The caller's fd is only borrowed: closing the creator leaves the
	// opened region intact.
	a = mkdp::Region();
	EXPECT_EQ(std::memcmp(fb.data() + 2048, "hello", 5), 0);
	EXPECT_EQ(fcntl(b.fd(), F_GETFD), FD_CLOEXEC);
}

TEST(Region, OpenByFdInAnotherProcess)
{
	mkdp::Region r = mkdp::Region::create(sample_layout());
	std::span<uint8_t> bufs = r.area("bufs");
	for (size_t i = 0; i < 4096; i++)
		bufs[i] = uint8_t(i * 7);
	auto req = r.producer<mkdp_sreq_desc>("sq");
	for (uint32_t tag = 0; tag < 8; tag++) {
		mkdp_sreq_desc d{MKDP_SOP_WRITE, 0, tag, tag, 512 * tag, 512, 0};
		ASSERT_EQ(req.produce(&d, 1), 1u);
	}

	std::vector<mkdp_region_entry> expect(r.entries().begin(), r.entries().end());
	int fd = r.fd();
	mkdp::test::Child child([&] {
		// The child maps the fd afresh, as a partition that received it.
		mkdp::Region c = mkdp::Region::open(fd);
		if (!same_table(c.entries(), expect))
			return 2;
		std::span<uint8_t> cb = c.area("bufs");
		for (size_t i = 0; i < 4096; i++)
			if (cb[i] != uint8_t(i * 7))
				return 3;
		auto cons = c.requests("sq", 1);
		mkdp_sreq_desc out[16];
		uint32_t taken = 0;
		if (cons.consume(out, 16, &taken) != 8 || taken != 8)
			return 4;
		for (uint32_t i = 0; i < 8; i++)
			if (out[i].tag != i || out[i].buf != 512 * i)
				return 5;
		std::memcpy(cb.data() + 4096, "from the child", 14);
		return 0;
	});
	ASSERT_EQ(child.wait(10000), 0);
	EXPECT_EQ(std::memcmp(bufs.data() + 4096, "from the child", 14), 0);
	EXPECT_EQ(reinterpret_cast<const mkdp_ring *>(r.base() + r.entry("sq").offset)->consumer, 8u)
		<< "the child's release is visible to the creator";
}

// ------------------------------------------------------------------ validation

TEST(RegionValidate, AcceptsWhatCreateWrites)
{
	mkdp::Region r = mkdp::Region::create(sample_layout());
	auto t = mkdp::validate_region(r.base(), r.size());
	EXPECT_TRUE(same_table(t, r.entries()));
}

TEST(RegionValidate, AcceptsMinorVersionMismatch)
{
	mkdp::Region r = mkdp::Region::create(sample_layout());
	header(r.base())->abi_minor = MKDP_ABI_MINOR + 7;
	EXPECT_NO_THROW(mkdp::validate_region(r.base(), r.size()));
	mkdp::Region o = mkdp::Region::open(r.fd());
	EXPECT_TRUE(same_table(o.entries(), r.entries()));
}

TEST(RegionValidate, RefusesTooSmallImages)
{
	uint8_t small[32] = {};
	EXPECT_THAT(error_of([&] { mkdp::validate_region(small, sizeof(small)); }),
		    HasSubstr("smaller than the region header"));

	int fd = memfd_create("mkdp-test-empty", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	EXPECT_THAT(error_of([&] { mkdp::Region::open(fd); }),
		    HasSubstr("smaller than the region header"));
	// Big enough but all zeros: not a region.
	ASSERT_EQ(ftruncate(fd, 65536), 0);
	EXPECT_THAT(error_of([&] { mkdp::Region::open(fd); }), HasSubstr("bad magic"));
	close(fd);
}

// A region the creator could still shrink would let it kill the reader
// with SIGBUS: open() wants F_SEAL_SHRINK on a memfd, whatever is inside.
TEST(RegionValidate, OpenRefusesMemfdNotSealedAgainstShrinking)
{
	mkdp::Region good = mkdp::Region::create(sample_layout());
	auto copy_into = [&](unsigned mfd_flags) {
		int fd = memfd_create("mkdp-test-unsealed", MFD_CLOEXEC | mfd_flags);
		EXPECT_GE(fd, 0);
		EXPECT_EQ(ftruncate(fd, off_t(good.size())), 0);
		EXPECT_EQ(pwrite(fd, good.base(), good.size(), 0), ssize_t(good.size()));
		return fd;
	};
	const char *why = "not sealed against shrinking (F_SEAL_SHRINK)";

	int fd = copy_into(0); // no sealing possible at all
	EXPECT_THAT(error_of([&] { mkdp::Region::open(fd); }), HasSubstr(why));
	close(fd);

	fd = copy_into(MFD_ALLOW_SEALING);
	EXPECT_THAT(error_of([&] { mkdp::Region::open(fd); }), HasSubstr(why));
	ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
	EXPECT_THAT(error_of([&] { mkdp::Region::open(fd); }), HasSubstr(why))
		<< "other seals do not stop a shrink";
	ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	mkdp::Region r = mkdp::Region::open(fd);
	EXPECT_TRUE(same_table(r.entries(), good.entries())) << "sealed: accepted";
	close(fd);
}

// The spec promises that a reader copies the table at open and never reads
// it again: a peer rewriting it afterwards moves nothing for that reader.
TEST(RegionValidate, TableRewrittenAfterOpenHasNoEffect)
{
	mkdp::Region creator = mkdp::Region::create(sample_layout());
	mkdp::Region reader = mkdp::Region::open(creator.fd());
	std::vector<mkdp_region_entry> before(reader.entries().begin(), reader.entries().end());
	std::span<uint8_t> frames = reader.area("frames");
	auto cons = reader.consumer<mkdp_frame_desc>("rx");

	// The peer grows the frame area over the whole region, moves the rx
	// ring onto the header, renames entries and even drops the magic.
	mkdp_region_hdr *h = header(creator.base());
	h->table[0].offset = 0;
	h->table[0].size = creator.size();
	h->table[0].frame_size = 0;
	h->table[1].offset = 0;
	h->table[1].entries = 2;
	std::strcpy(h->table[3].name, "evil");
	h->nr_entries = 1;
	h->magic = 0;

	EXPECT_TRUE(same_table(reader.entries(), before));
	EXPECT_EQ(reader.area("frames").data(), frames.data());
	EXPECT_EQ(reader.area("frames").size(), frames.size());
	EXPECT_EQ(reader.index("bufs"), 3u);
	mkdp::DescBounds b = reader.bounds(reader.entry("rx"));
	EXPECT_EQ(b.area_size, 16u * 2048);
	EXPECT_EQ(b.frame_size, 2048u);

	// Descriptors are still checked against the table as it was: one
	// inside the claimed (rewritten) area but outside the real one is
	// refused, one crossing a frame too; the ring is where it was.
	auto prod = creator.producer<mkdp_frame_desc>("rx");
	const mkdp_frame_desc in[3] = {{2048, 64, 0}, {16 * 2048, 64, 0}, {2000, 100, 0}};
	ASSERT_EQ(prod.produce(in, 3), 3u);
	mkdp_frame_desc out[4];
	uint32_t taken = 0;
	ASSERT_EQ(cons.consume(out, 4, &taken), 1u);
	EXPECT_EQ(taken, 3u);
	EXPECT_EQ(out[0].addr, 2048u);
	EXPECT_EQ(cons.rejected(), 2u);
	// A consumer made after the rewrite uses the private copy as well.
	auto late = reader.consumer<mkdp_frame_desc>("rx");
	EXPECT_EQ(late.entries(), 64u);
	EXPECT_EQ(late.bounds().area_size, 16u * 2048);
}

struct Corruption {
	const char *name;
	std::function<void(mkdp_region_hdr *h, uint64_t size)> apply;
	const char *message;
};

class RegionCorrupt : public ::testing::TestWithParam<Corruption> {};

// A corrupted copy fed to validate_region().
TEST_P(RegionCorrupt, ValidateRefusesCopy)
{
	mkdp::Region r = mkdp::Region::create(sample_layout());
	std::vector<uint64_t> copy(r.size() / sizeof(uint64_t));
	std::memcpy(copy.data(), r.base(), r.size());
	GetParam().apply(header(copy.data()), r.size());
	std::string msg = error_of([&] { mkdp::validate_region(copy.data(), r.size()); });
	EXPECT_THAT(msg, HasSubstr(GetParam().message));
	EXPECT_THAT(msg, HasSubstr("region: "));
	EXPECT_THAT(msg, Not(HasSubstr("\n")));
}

// The same corruption in a real memfd, as a hostile creator would hand it over.
TEST_P(RegionCorrupt, OpenRefusesMemfd)
{
	mkdp::Region r = mkdp::Region::create(sample_layout());
	GetParam().apply(header(r.base()), r.size());
	EXPECT_THAT(error_of([&] { mkdp::Region::open(r.fd()); }), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
	, RegionCorrupt,
	::testing::Values(
		Corruption{"wrong_magic", [](auto *h, auto) { h->magic ^= 0x20; }, "bad magic"},
		Corruption{"major_newer", [](auto *h, auto) { h->abi_major = MKDP_ABI_MAJOR + 1; },
			   "ABI major version 3 is not supported (this is 2)"},
		// Version 1 had `doorbell` in the line of `flags`: same sizes,
		// other offsets, so it must be refused, not misread.
		Corruption{"major_1", [](auto *h, auto) { h->abi_major = 1; },
			   "ABI major version 1 is not supported (this is 2)"},
		Corruption{"size_larger_than_mapping", [](auto *h, auto s) { h->region_size = s + 4096; },
			   "bytes but the region has"},
		Corruption{"size_smaller_than_mapping", [](auto *h, auto s) { h->region_size = s - 4096; },
			   "bytes but the region has"},
		Corruption{"header_size", [](auto *h, auto) { h->hdr_size = 60; }, "bad header size 60"},
		Corruption{"entry_size", [](auto *h, auto) { h->entry_size = 12; },
			   "bad table entry size 12"},
		Corruption{"empty_table", [](auto *h, auto) { h->nr_entries = 0; }, "empty table"},
		Corruption{"table_does_not_fit", [](auto *h, auto) { h->nr_entries = 0xffffffffu; },
			   "table of 4294967295 entries does not fit"},
		Corruption{"table_stride_does_not_fit", [](auto *h, auto) { h->entry_size = 1u << 30; },
			   "does not fit in the region"},
		Corruption{"entry_past_end", [](auto *h, auto s) { h->table[3].offset = s - 4096; },
			   "entry 3 'bufs': ["},
		Corruption{"entry_offset_overflow",
			   [](auto *h, auto) { h->table[3].offset = UINT64_MAX & ~uint64_t(4095); },
			   "is outside the region"},
		Corruption{"entry_size_overflow", [](auto *h, auto) { h->table[3].size = UINT64_MAX; },
			   "entry 3 'bufs'"},
		Corruption{"entry_over_header", [](auto *h, auto) { h->table[1].offset = 0; },
			   "entry 1 'rx': [0, +"},
		Corruption{"overlap",
			   [](auto *h, auto) { h->table[2].offset = h->table[1].offset + MKDP_CACHELINE; },
			   "entries 'rx' and 'fill' overlap"},
		Corruption{"ring_over_area",
			   [](auto *h, auto) { h->table[4].offset = h->table[3].offset; },
			   "overlap"},
		Corruption{"ring_misaligned", [](auto *h, auto) { h->table[1].offset += 8; },
			   "entry 1 'rx': ring misaligned"},
		Corruption{"area_misaligned", [](auto *h, auto) { h->table[3].offset += 64; },
			   "entry 3 'bufs': area misaligned"},
		Corruption{"area_empty", [](auto *h, auto) { h->table[3].size = 0; },
			   "entry 3 'bufs': area misaligned or empty"},
		Corruption{"frame_size", [](auto *h, auto) { h->table[0].frame_size = 3000; },
			   "entry 0 'frames': bad frame size 3000"},
		Corruption{"ring_too_small", [](auto *h, auto) { h->table[1].size -= 16; },
			   "entry 1 'rx': ring too small for 64 slots"},
		Corruption{"ring_entries_not_pow2", [](auto *h, auto) { h->table[1].entries = 48; },
			   "ring size 48 is not a power of two"},
		Corruption{"ring_entries_too_big",
			   [](auto *h, auto) { h->table[1].entries = MKDP_RING_MAX * 2; },
			   "ring size 33554432 is not a power of two"},
		Corruption{"ring_desc_size", [](auto *h, auto) { h->table[1].desc_size = 8; },
			   "entry 1 'rx': bad descriptor type/size"},
		Corruption{"ring_desc_type", [](auto *h, auto) { h->table[1].desc_type = 77; },
			   "bad descriptor type/size"},
		Corruption{"ring_points_at_ring", [](auto *h, auto) { h->table[1].area = 2; },
			   "entry 1 'rx': points into an entry that is not an area"},
		Corruption{"ring_points_past_table", [](auto *h, auto) { h->table[1].area = 99; },
			   "points into an entry that is not an area"},
		Corruption{"area_with_desc_type", [](auto *h, auto) { h->table[3].desc_type = MKDP_DESC_SREQ; },
			   "entry 3 'bufs': area with ring fields set"},
		Corruption{"area_with_entries", [](auto *h, auto) { h->table[3].entries = 16; },
			   "entry 3 'bufs': area with ring fields set"},
		Corruption{"area_with_desc_size", [](auto *h, auto) { h->table[0].desc_size = 16; },
			   "entry 0 'frames': area with ring fields set"},
		Corruption{"area_with_area", [](auto *h, auto) { h->table[3].area = 0; },
			   "entry 3 'bufs': area with ring fields set"},
		Corruption{"ring_with_frame_size", [](auto *h, auto) { h->table[1].frame_size = 2048; },
			   "entry 1 'rx': ring with a frame size"},
		Corruption{"unknown_kind", [](auto *h, auto) { h->table[3].kind = 7; },
			   "entry 3 'bufs': unknown kind 7"},
		Corruption{"name_not_terminated",
			   [](auto *h, auto) { std::memset(h->table[4].name, 'x', MKDP_NAME_LEN); },
			   "entry 4: name is empty or not NUL-terminated"},
		Corruption{"name_empty", [](auto *h, auto) { h->table[4].name[0] = 0; },
			   "entry 4: name is empty"},
		Corruption{"name_duplicate", [](auto *h, auto) { std::strcpy(h->table[2].name, "rx"); },
			   "entry 2 'rx': duplicate name"}),
	[](const auto &info) { return std::string(info.param.name); });

// ------------------------------------------------------------------ hugetlbfs

TEST(RegionHugetlbfs, MissingDirectoryIsAClearError)
{
	mkdp::RegionOptions o;
	o.backing = mkdp::Backing::hugetlbfs;
	o.hugetlbfs_dir = "/nonexistent/mkdp-hugepages";
	mkdp::Error err("");
	try {
		mkdp::Region::create(sample_layout(), o);
		FAIL() << "created a region in a missing directory";
	} catch (const mkdp::Error &e) {
		err = e;
	}
	EXPECT_THAT(err.what(), HasSubstr("/nonexistent/mkdp-hugepages"));
	EXPECT_EQ(err.code(), ENOENT);
}

TEST(RegionHugetlbfs, DirectoryNotOnHugetlbfsIsAClearError)
{
	char dir[] = "/tmp/mkdp-not-huge-XXXXXX";
	ASSERT_NE(mkdtemp(dir), nullptr);
	struct statfs sf;
	ASSERT_EQ(statfs(dir, &sf), 0);
	ASSERT_NE(sf.f_type, HUGETLBFS_MAGIC);
	mkdp::RegionOptions o;
	o.backing = mkdp::Backing::hugetlbfs;
	o.hugetlbfs_dir = dir;
	std::string msg = error_of([&] { mkdp::Region::create(sample_layout(), o); });
	rmdir(dir);
	EXPECT_THAT(msg, HasSubstr(dir));
	EXPECT_THAT(msg, HasSubstr("not a hugetlbfs mount"));
}

namespace {

long meminfo(const std::string &key)
{
	std::ifstream in("/proc/meminfo");
	std::string k;
	long v;
	while (in >> k >> v) {
		if (k == key + ":")
			return v;
		in.ignore(256, '\n');
	}
	return -1;
}

bool is_hugetlbfs(const char *dir)
{
	struct statfs sf;
	return statfs(dir, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC;
}

// Somewhere to create a huge-page region for the length of one test: the
// system's /dev/hugepages when it is mounted, else a private mount; and
// enough free pages, borrowed from the pool and given back afterwards.
class HugetlbfsScope {
public:
	HugetlbfsScope()
	{
		if (is_hugetlbfs("/dev/hugepages")) {
			dir_ = "/dev/hugepages";
		} else {
			char tmpl[] = "/tmp/mkdp-huge-XXXXXX";
			if (!mkdtemp(tmpl)) {
				why_ = "mkdtemp failed";
				return;
			}
			own_ = tmpl;
			if (mount("none", tmpl, "hugetlbfs", 0, nullptr) < 0) {
				why_ = std::string("cannot mount hugetlbfs: ") + strerror(errno);
				return;
			}
			mounted_ = true;
			dir_ = own_;
		}
		if (meminfo("HugePages_Free") >= kPages)
			return;
		std::ifstream in("/proc/sys/vm/nr_hugepages");
		if (!(in >> old_nr_)) {
			why_ = "no /proc/sys/vm/nr_hugepages";
			return;
		}
		set_nr(old_nr_ + kPages);
		if (meminfo("HugePages_Free") < kPages)
			why_ = "the kernel could not allocate " + std::to_string(kPages) + " huge pages";
	}
	~HugetlbfsScope()
	{
		if (old_nr_ >= 0)
			set_nr(old_nr_);
		if (mounted_)
			umount(own_.c_str());
		if (!own_.empty())
			rmdir(own_.c_str());
	}
	// Empty when usable, else why not.
	const std::string &why_not() const { return why_; }
	const std::string &dir() const { return dir_; }

	static constexpr long kPages = 8;

private:
	static void set_nr(long n) { std::ofstream("/proc/sys/vm/nr_hugepages") << n << "\n"; }

	std::string dir_, own_, why_;
	bool mounted_ = false;
	long old_nr_ = -1;
};

} // namespace

TEST(RegionHugetlbfs, CreateAndOpenForReal)
{
	HugetlbfsScope scope;
	if (!scope.why_not().empty())
		GTEST_SKIP() << "hugetlbfs unavailable: " << scope.why_not();
	{
		mkdp::RegionOptions o;
		o.backing = mkdp::Backing::hugetlbfs;
		o.hugetlbfs_dir = scope.dir();
		long free_before = meminfo("HugePages_Free");
		mkdp::Region r = mkdp::Region::create(sample_layout(), o);
		long page = meminfo("Hugepagesize") * 1024;
		ASSERT_GT(page, 0);
		EXPECT_TRUE(r.hugetlb());
		EXPECT_EQ(r.size() % uint64_t(page), 0u) << "rounded up to whole huge pages";
		EXPECT_EQ(header(r.base())->flags & MKDP_REGION_F_HUGETLB, MKDP_REGION_F_HUGETLB);
		EXPECT_EQ(free_before - meminfo("HugePages_Free"), long(r.size() / uint64_t(page)))
			<< "the region is really in huge pages";

		mkdp::Region o2 = mkdp::Region::open(r.fd());
		EXPECT_TRUE(o2.hugetlb());
		EXPECT_TRUE(same_table(o2.entries(), r.entries()));
		auto prod = r.producer<mkdp::FrameAddr>("fill");
		auto cons = o2.consumer<mkdp::FrameAddr>("fill");
		mkdp::FrameAddr a{4096}, b{};
		ASSERT_EQ(prod.produce(&a, 1), 1u);
		ASSERT_EQ(cons.consume(&b, 1), 1u);
		EXPECT_EQ(b.addr, 4096u);
	}
	// Unlinked file: dropping the last mapping and fd gives the pages back.
	EXPECT_GE(meminfo("HugePages_Free"), HugetlbfsScope::kPages);
}
