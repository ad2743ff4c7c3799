// SPDX-License-Identifier: BSD-2-Clause
#include "xsk_sockets.h"

#include <mkdp/error.h>

#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace mkdp {

namespace {

int xsk_socket()
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw_errno("create an AF_XDP socket");
	return fd;
}

void xsk_setopt(int fd, int opt, uint32_t v, const char *what)
{
	if (setsockopt(fd, SOL_XDP, opt, &v, sizeof(v)))
		throw_errno(what);
}

void xsk_bind(int fd, int ifindex, uint32_t queue, uint16_t flags, int shared_fd)
{
	sockaddr_xdp sa{};
	sa.sxdp_family = AF_XDP;
	sa.sxdp_ifindex = uint32_t(ifindex);
	sa.sxdp_queue_id = queue;
	sa.sxdp_flags = flags;
	sa.sxdp_shared_umem_fd = uint32_t(shared_fd);
	if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)))
		throw_errno("bind an AF_XDP socket to queue " + std::to_string(queue));
}

} // namespace

void FillQueue::close() noexcept
{
	fill = {};
	comp = {};
	if (anchor >= 0)
		::close(anchor);
	anchor = -1;
}

std::vector<FillQueue> open_fill_queues(int ifindex, std::span<const uint32_t> ids, std::span<uint8_t> umem,
					uint32_t frame_size, uint32_t entries, const std::function<void()> &each)
{
	std::vector<FillQueue> qs(ids.size());
	for (size_t i = 0; i < ids.size(); i++) {
		FillQueue &q = qs[i];
		q.id = ids[i];
		q.anchor = xsk_socket();
		if (i == 0) {
			xdp_umem_reg mr{};
			mr.addr = reinterpret_cast<uint64_t>(umem.data());
			mr.len = umem.size();
			mr.chunk_size = frame_size;
			if (setsockopt(q.anchor, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)))
				throw_errno("register the UMEM");
		}
		xsk_setopt(q.anchor, XDP_UMEM_FILL_RING, entries, "size the fill ring");
		xsk_setopt(q.anchor, XDP_UMEM_COMPLETION_RING, entries, "size the completion ring");
		xsk_setopt(q.anchor, XDP_RX_RING, 64, "size the anchor's RX ring");
		q.fill = XskRingMap(q.anchor, XskRingKind::fill, entries);
		q.comp = XskRingMap(q.anchor, XskRingKind::completion, entries);
		if (i == 0)
			xsk_bind(q.anchor, ifindex, q.id, XDP_USE_NEED_WAKEUP, -1);
		else	// same UMEM, another queue: a buffer pool of its own
			xsk_bind(q.anchor, ifindex, q.id, XDP_SHARED_UMEM, qs[0].anchor);
		each();
	}
	return qs;
}

int open_partition_socket(int ifindex, const FillQueue &q, uint32_t rx_entries)
{
	int fd = xsk_socket();
	try {
		xsk_setopt(fd, XDP_RX_RING, rx_entries, "size the RX ring");
		xsk_bind(fd, ifindex, q.id, XDP_SHARED_UMEM, q.anchor);
	} catch (...) {
		::close(fd);
		throw;
	}
	return fd;
}

XskDrops xsk_drops(int fd) noexcept
{
	xdp_statistics xs{};
	socklen_t len = sizeof(xs);
	if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &xs, &len))
		return {};
	return {xs.rx_dropped, xs.rx_ring_full, xs.rx_fill_ring_empty_descs};
}

void kick_fill(const FillQueue &q) noexcept
{
	recvfrom(q.anchor, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

} // namespace mkdp
