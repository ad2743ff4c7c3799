// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/region.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace mkdp {

namespace {

constexpr uint64_t kPage = 4096;

bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

std::string entry_name(const mkdp_region_entry &e)
{
	return std::string(e.name, strnlen(e.name, MKDP_NAME_LEN));
}

[[noreturn]] void bad(const std::string &what) { throw Error("region: " + what); }

uint64_t ring_bytes(uint32_t entries, uint32_t dsize)
{
	return sizeof(mkdp_ring) + uint64_t(entries) * dsize;
}

} // namespace

uint32_t desc_size(uint32_t desc_type) noexcept
{
	switch (desc_type) {
	case MKDP_DESC_FRAME: return sizeof(mkdp_frame_desc);
	case MKDP_DESC_SREQ: return sizeof(mkdp_sreq_desc);
	case MKDP_DESC_SCPL: return sizeof(mkdp_scpl_desc);
	case MKDP_DESC_ADDR: return sizeof(FrameAddr);
	default: return 0;
	}
}

const char *to_string(DescError e) noexcept
{
	switch (e) {
	case DescError::ok: return "ok";
	case DescError::out_of_area: return "buffer outside its area";
	case DescError::crosses_frame: return "buffer crosses a frame boundary";
	case DescError::bad_len: return "invalid length";
	case DescError::bad_op: return "unknown operation";
	case DescError::bad_flags: return "unknown flag bits";
	case DescError::bad_tag: return "tag out of range";
	case DescError::bad_status: return "status is not 0 or a negative errno";
	case DescError::bad_volume: return "volume out of range";
	}
	return "unknown";
}

// ---------------------------------------------------------------- layout

RegionLayout &RegionLayout::area(std::string name, uint64_t size, uint32_t frame_size)
{
	items_.push_back({std::move(name), MKDP_ENTRY_AREA, 0, 0, frame_size, size, {}});
	return *this;
}

RegionLayout &RegionLayout::ring(std::string name, uint32_t desc_type, uint32_t entries,
				 std::string area)
{
	items_.push_back({std::move(name), MKDP_ENTRY_RING, desc_type, entries, 0, 0,
			  std::move(area)});
	return *this;
}

std::vector<mkdp_region_entry> RegionLayout::table() const
{
	if (items_.empty())
		bad("layout has no rings or areas");
	uint64_t off = align_up(sizeof(mkdp_region_hdr) + items_.size() * sizeof(mkdp_region_entry),
				MKDP_CACHELINE);
	std::vector<mkdp_region_entry> t;
	for (const Item &it : items_) {
		mkdp_region_entry e{};
		if (it.name.empty() || it.name.size() >= MKDP_NAME_LEN)
			bad("name '" + it.name + "' must be 1.." + std::to_string(MKDP_NAME_LEN - 1) +
			    " characters");
		for (const mkdp_region_entry &o : t)
			if (entry_name(o) == it.name)
				bad("duplicate name '" + it.name + "'");
		std::memcpy(e.name, it.name.data(), it.name.size());
		e.kind = it.kind;
		e.area = MKDP_NO_AREA;
		if (it.kind == MKDP_ENTRY_AREA) {
			if (it.size == 0)
				bad("area '" + it.name + "' has size 0");
			if (it.frame_size && (!is_pow2(it.frame_size) || it.size % it.frame_size))
				bad("area '" + it.name + "': frame size " + std::to_string(it.frame_size) +
				    " must be a power of two dividing the area size");
			off = align_up(off, MKDP_AREA_ALIGN);
			e.size = it.size;
			e.frame_size = it.frame_size;
		} else {
			e.desc_type = it.desc_type;
			e.desc_size = desc_size(it.desc_type);
			if (!e.desc_size)
				bad("ring '" + it.name + "': unknown descriptor type " +
				    std::to_string(it.desc_type));
			if (!is_pow2(it.entries) || it.entries < MKDP_RING_MIN || it.entries > MKDP_RING_MAX)
				bad("ring '" + it.name + "': size " + std::to_string(it.entries) +
				    " is not a power of two in [" + std::to_string(MKDP_RING_MIN) + ", " +
				    std::to_string(MKDP_RING_MAX) + "]");
			e.entries = it.entries;
			e.size = ring_bytes(it.entries, e.desc_size);
			off = align_up(off, MKDP_CACHELINE);
		}
		e.offset = off;
		off += e.size;
		t.push_back(e);
	}
	// Resolve area names now that every entry has its index.
	for (size_t i = 0; i < items_.size(); i++) {
		if (items_[i].area.empty())
			continue;
		auto it = std::find_if(t.begin(), t.end(), [&](const mkdp_region_entry &o) {
			return o.kind == MKDP_ENTRY_AREA && entry_name(o) == items_[i].area;
		});
		if (it == t.end())
			bad("ring '" + items_[i].name + "' points into unknown area '" + items_[i].area + "'");
		t[i].area = uint32_t(it - t.begin());
	}
	return t;
}

uint64_t RegionLayout::size() const
{
	auto t = table();
	uint64_t end = 0;
	for (const auto &e : t)
		end = std::max<uint64_t>(end, e.offset + e.size);
	return align_up(end, kPage);
}

// ---------------------------------------------------------------- validation

std::vector<mkdp_region_entry> validate_region(const void *base, uint64_t mapped)
{
	if (mapped < sizeof(mkdp_region_hdr))
		bad("size " + std::to_string(mapped) + " is smaller than the region header");
	// The magic first, with acquire: the creator stores it last with
	// release, so once it is seen the rest of the header and the table
	// are complete (docs/ring-abi.md, 1.1).
	const auto *shared = static_cast<const mkdp_region_hdr *>(base);
	if (__atomic_load_n(&shared->magic, __ATOMIC_ACQUIRE) != MKDP_REGION_MAGIC)
		bad("bad magic (not an mkdp region)");
	mkdp_region_hdr h;
	std::memcpy(&h, base, sizeof(h));
	if (h.abi_major != MKDP_ABI_MAJOR)
		bad("ABI major version " + std::to_string(h.abi_major) + " is not supported (this is " +
		    std::to_string(MKDP_ABI_MAJOR) + ")");
	if (h.region_size != mapped)
		bad("header says " + std::to_string(h.region_size) + " bytes but the region has " +
		    std::to_string(mapped));
	if (h.hdr_size < sizeof(mkdp_region_hdr) || h.hdr_size % 8)
		bad("bad header size " + std::to_string(h.hdr_size));
	if (h.entry_size < sizeof(mkdp_region_entry) || h.entry_size % 8)
		bad("bad table entry size " + std::to_string(h.entry_size));
	if (h.nr_entries == 0)
		bad("empty table");
	uint64_t table_end = uint64_t(h.hdr_size) + uint64_t(h.nr_entries) * h.entry_size;
	if (table_end > mapped)
		bad("table of " + std::to_string(h.nr_entries) + " entries does not fit in the region");

	std::vector<mkdp_region_entry> t(h.nr_entries);
	const uint8_t *p = static_cast<const uint8_t *>(base) + h.hdr_size;
	for (uint32_t i = 0; i < h.nr_entries; i++)
		std::memcpy(&t[i], p + uint64_t(i) * h.entry_size, sizeof(mkdp_region_entry));

	for (uint32_t i = 0; i < t.size(); i++) {
		const mkdp_region_entry &e = t[i];
		std::string who = "entry " + std::to_string(i);
		if (memchr(e.name, 0, MKDP_NAME_LEN) == nullptr || e.name[0] == 0)
			bad(who + ": name is empty or not NUL-terminated");
		who += " '" + entry_name(e) + "'";
		for (uint32_t j = 0; j < i; j++)
			if (entry_name(t[j]) == entry_name(e))
				bad(who + ": duplicate name");
		if (e.offset < table_end || e.offset > mapped || e.size > mapped - e.offset)
			bad(who + ": [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) +
			    ") is outside the region");
		if (e.kind == MKDP_ENTRY_AREA) {
			if (e.offset % MKDP_AREA_ALIGN || e.size == 0)
				bad(who + ": area misaligned or empty");
			if (e.frame_size && (!is_pow2(e.frame_size) || e.size % e.frame_size))
				bad(who + ": bad frame size " + std::to_string(e.frame_size));
			// The ring-only fields have fixed values in an area: a
			// creator that sets them is confused or probing.
			if (e.desc_type || e.entries || e.desc_size || e.area != MKDP_NO_AREA)
				bad(who + ": area with ring fields set (desc_type, entries, desc_size must be 0, "
					  "area MKDP_NO_AREA)");
		} else if (e.kind == MKDP_ENTRY_RING) {
			if (e.offset % MKDP_CACHELINE)
				bad(who + ": ring misaligned");
			if (e.frame_size)
				bad(who + ": ring with a frame size (must be 0)");
			if (!is_pow2(e.entries) || e.entries < MKDP_RING_MIN || e.entries > MKDP_RING_MAX)
				bad(who + ": ring size " + std::to_string(e.entries) + " is not a power of two in range");
			if (!desc_size(e.desc_type) || e.desc_size != desc_size(e.desc_type))
				bad(who + ": bad descriptor type/size");
			if (e.size < ring_bytes(e.entries, e.desc_size))
				bad(who + ": ring too small for " + std::to_string(e.entries) + " slots");
			if (e.area != MKDP_NO_AREA &&
			    (e.area >= t.size() || t[e.area].kind != MKDP_ENTRY_AREA))
				bad(who + ": points into an entry that is not an area");
		} else {
			bad(who + ": unknown kind " + std::to_string(e.kind));
		}
	}
	// No two entries may overlap: a ring writing into an area would let one
	// side corrupt what the other validated.
	std::vector<const mkdp_region_entry *> by_off;
	for (const auto &e : t)
		by_off.push_back(&e);
	std::sort(by_off.begin(), by_off.end(),
		  [](auto *a, auto *b) { return a->offset < b->offset; });
	for (size_t i = 1; i < by_off.size(); i++)
		if (by_off[i - 1]->offset + by_off[i - 1]->size > by_off[i]->offset)
			bad("entries '" + entry_name(*by_off[i - 1]) + "' and '" + entry_name(*by_off[i]) +
			    "' overlap");
	return t;
}

// ---------------------------------------------------------------- region

Region::Region(Region &&o) noexcept { *this = std::move(o); }

Region &Region::operator=(Region &&o) noexcept
{
	if (this != &o) {
		reset();
		fd_ = std::exchange(o.fd_, -1);
		base_ = std::exchange(o.base_, nullptr);
		size_ = std::exchange(o.size_, 0);
		hugetlb_ = o.hugetlb_;
		table_ = std::move(o.table_);
	}
	return *this;
}

Region::~Region() { reset(); }

void Region::reset() noexcept
{
	if (base_)
		munmap(base_, size_);
	if (fd_ >= 0)
		close(fd_);
	base_ = nullptr;
	fd_ = -1;
	size_ = 0;
	table_.clear();
}

Region Region::create(const RegionLayout &layout, const RegionOptions &opts)
{
	std::vector<mkdp_region_entry> table = layout.table();
	uint64_t size = layout.size();

	Region r;
	if (opts.backing == Backing::memfd) {
		r.fd_ = memfd_create(opts.name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (r.fd_ < 0)
			throw_errno("memfd_create");
	} else {
		// An unlinked file on hugetlbfs: the fd is the only name it has.
		r.fd_ = ::open(opts.hugetlbfs_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (r.fd_ < 0)
			throw_errno("hugetlbfs region in " + opts.hugetlbfs_dir +
				    " (is hugetlbfs mounted there with free huge pages?)");
		// O_TMPFILE works on most file systems: without this check a
		// typo'd directory silently gives a region in normal pages.
		struct statfs sfs;
		if (fstatfs(r.fd_, &sfs) < 0)
			throw_errno("hugetlbfs region in " + opts.hugetlbfs_dir);
		if (sfs.f_type != HUGETLBFS_MAGIC)
			bad("hugetlbfs backing: " + opts.hugetlbfs_dir + " is not a hugetlbfs mount");
		struct stat st;
		if (fstat(r.fd_, &st) == 0 && st.st_blksize > 0)
			size = align_up(size, uint64_t(st.st_blksize));
		r.hugetlb_ = true;
	}
	if (ftruncate(r.fd_, off_t(size)) < 0)
		throw_errno("size region to " + std::to_string(size) + " bytes");
	if (opts.backing == Backing::memfd &&
	    fcntl(r.fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		throw_errno("seal region size");

	void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r.fd_, 0);
	if (p == MAP_FAILED)
		throw_errno(r.hugetlb_ ? "map hugetlbfs region (no free huge pages?)" : "map region");
	r.base_ = static_cast<uint8_t *>(p);
	r.size_ = size;

	// The header is written last field-first-magic-last: a peer that maps
	// early sees no magic until the table is complete.
	auto *h = reinterpret_cast<mkdp_region_hdr *>(r.base_);
	std::memcpy(h->table, table.data(), table.size() * sizeof(mkdp_region_entry));
	h->abi_major = MKDP_ABI_MAJOR;
	h->abi_minor = MKDP_ABI_MINOR;
	h->region_size = size;
	h->hdr_size = sizeof(mkdp_region_hdr);
	h->entry_size = sizeof(mkdp_region_entry);
	h->nr_entries = uint32_t(table.size());
	h->flags = r.hugetlb_ ? MKDP_REGION_F_HUGETLB : 0;
	__atomic_store_n(&h->magic, MKDP_REGION_MAGIC, __ATOMIC_RELEASE);

	r.table_ = std::move(table);
	return r;
}

// A reader maps the file for its whole size; if the creator could shrink
// it afterwards, touching the lost pages would kill the reader with SIGBUS.
// A memfd region must therefore carry F_SEAL_SHRINK (create() adds it, with
// F_SEAL_GROW and F_SEAL_SEAL). Files on hugetlbfs cannot be sealed at all
// (the kernel gives them F_SEAL_SEAL from birth): they are accepted, and
// docs/ring-abi.md says what that leaves open. Returns whether the file is
// on hugetlbfs.
namespace {
bool check_backing(int fd)
{
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0)
		throw_errno("region fd");
	if (sfs.f_type == HUGETLBFS_MAGIC)
		return true;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		bad("the region file is not sealed against shrinking (F_SEAL_SHRINK): its creator "
		    "could truncate it under our mapping");
	return false;
}
} // namespace

Region Region::open(int fd)
{
	// Seals before size: once F_SEAL_SHRINK is seen, the size read next
	// can only stay as it is (or grow, which a mapping does not mind).
	bool hugetlb = check_backing(fd);
	struct stat st;
	if (fstat(fd, &st) < 0)
		throw_errno("region fd");
	if (st.st_size < off_t(sizeof(mkdp_region_hdr)))
		bad("size " + std::to_string(st.st_size) + " is smaller than the region header");

	Region r;
	r.fd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (r.fd_ < 0)
		throw_errno("dup region fd");
	void *p = mmap(nullptr, size_t(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, r.fd_, 0);
	if (p == MAP_FAILED)
		throw_errno("map region");
	r.base_ = static_cast<uint8_t *>(p);
	r.size_ = uint64_t(st.st_size);
	r.table_ = validate_region(r.base_, r.size_);
	// From the file system, not from the header: after validation nothing
	// shared is read again.
	r.hugetlb_ = hugetlb;
	return r;
}

uint32_t Region::index(std::string_view name) const
{
	for (uint32_t i = 0; i < table_.size(); i++)
		if (entry_name(table_[i]) == name)
			return i;
	throw Error("region: no ring or area named '" + std::string(name) + "'");
}

std::span<uint8_t> Region::area(std::string_view name) const
{
	const mkdp_region_entry &e = entry(name);
	if (e.kind != MKDP_ENTRY_AREA)
		bad("'" + std::string(name) + "' is not a data area");
	return {base_ + e.offset, size_t(e.size)};
}

const mkdp_region_entry &Region::ring_entry(std::string_view name, uint32_t desc_type) const
{
	const mkdp_region_entry &e = entry(name);
	if (e.kind != MKDP_ENTRY_RING)
		bad("'" + std::string(name) + "' is not a ring");
	if (e.desc_type != desc_type)
		bad("ring '" + std::string(name) + "' holds descriptor type " +
		    std::to_string(e.desc_type) + ", not " + std::to_string(desc_type));
	return e;
}

DescBounds Region::bounds(const mkdp_region_entry &ring) const noexcept
{
	DescBounds b;
	if (ring.area != MKDP_NO_AREA) {
		b.area_size = table_[ring.area].size;
		b.frame_size = table_[ring.area].frame_size;
	}
	if (ring.desc_type == MKDP_DESC_SREQ)
		b.max_tag = ring.entries;
	return b;
}

Consumer<mkdp_sreq_desc> Region::requests(std::string_view ring, uint32_t volumes) const
{
	const mkdp_region_entry &e = ring_entry(ring, MKDP_DESC_SREQ);
	if (volumes == 0)
		bad("ring '" + std::string(ring) + "': a request consumer must serve at least one volume");
	DescBounds b = bounds(e);
	b.max_volume = volumes;
	return Consumer<mkdp_sreq_desc>(ring_control(e), e.entries, b);
}

Consumer<mkdp_scpl_desc> Region::completions(std::string_view ring, std::string_view requests) const
{
	const mkdp_region_entry &e = ring_entry(ring, MKDP_DESC_SCPL);
	DescBounds b = bounds(e);
	b.max_tag = ring_entry(requests, MKDP_DESC_SREQ).entries;
	return Consumer<mkdp_scpl_desc>(ring_control(e), e.entries, b);
}

} // namespace mkdp
