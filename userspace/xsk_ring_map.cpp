// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/xsk_ring_map.h>

#include <sys/mman.h>
#include <sys/socket.h>

#include <utility>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace mkdp {

XskRingMap::XskRingMap(int fd, XskRingKind kind, uint32_t entries)
{
	if (entries == 0 || (entries & (entries - 1)))
		throw Error("AF_XDP ring size " + std::to_string(entries) + " is not a power of two");
	xdp_mmap_offsets off{};
	socklen_t optlen = sizeof(off);
	if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen))
		throw_errno("getsockopt XDP_MMAP_OFFSETS");
	const xdp_ring_offset *ro;
	off_t pgoff;
	size_t desc_size;
	switch (kind) {
	case XskRingKind::rx:
		ro = &off.rx, pgoff = XDP_PGOFF_RX_RING, desc_size = sizeof(xdp_desc);
		break;
	case XskRingKind::fill:
		ro = &off.fr, pgoff = XDP_UMEM_PGOFF_FILL_RING, desc_size = sizeof(uint64_t);
		break;
	default:
		ro = &off.cr, pgoff = XDP_UMEM_PGOFF_COMPLETION_RING, desc_size = sizeof(uint64_t);
		break;
	}
	len_ = ro->desc + entries * desc_size;
	void *m = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
	if (m == MAP_FAILED)
		throw_errno("mmap AF_XDP ring");
	map_ = m;
	auto *b = static_cast<uint8_t *>(m);
	producer_ = reinterpret_cast<uint32_t *>(b + ro->producer);
	consumer_ = reinterpret_cast<uint32_t *>(b + ro->consumer);
	flags_ = reinterpret_cast<uint32_t *>(b + ro->flags);
	descs_ = b + ro->desc;
	mask_ = entries - 1;
}

XskRingMap::XskRingMap(XskRingMap &&o) noexcept
{
	*this = std::move(o);
}

XskRingMap &XskRingMap::operator=(XskRingMap &&o) noexcept
{
	if (this != &o) {
		reset();
		map_ = std::exchange(o.map_, nullptr);
		len_ = std::exchange(o.len_, 0);
		producer_ = o.producer_, consumer_ = o.consumer_, flags_ = o.flags_;
		descs_ = o.descs_, mask_ = o.mask_;
	}
	return *this;
}

XskRingMap::~XskRingMap()
{
	reset();
}

void XskRingMap::reset() noexcept
{
	if (map_)
		munmap(map_, len_);
	map_ = nullptr;
}

} // namespace mkdp
