// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's AF_XDP sockets, on the raw socket API: libxdp's xsk
// layer owns its UMEM and rings, while here one UMEM is shared by every
// partition and each socket's rings are handed to another process.
//
// AF_XDP gives each (netdev, queue) one buffer pool: a fill/completion ring
// pair. Its owner is an "anchor" socket bound to the queue that sits in no
// XSKMAP slot; every partition socket on that queue binds with
// XDP_SHARED_UMEM to the anchor and has only an RX ring.
#pragma once

#include <mkdp/xsk_ring_map.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace mkdp {

// One (netdev, queue) and its anchor.
struct FillQueue {
	uint32_t id = 0;	// the queue's number on the interface
	int anchor = -1;
	XskRingMap fill, comp;
	uint64_t fill_empty = 0;	// XDP_STATISTICS rx_fill_ring_empty_descs, last read

	FillQueue() = default;
	FillQueue(FillQueue &&) noexcept = default;
	FillQueue &operator=(FillQueue &&) noexcept = default;
	~FillQueue() { close(); }
	void close() noexcept;
};

// Anchors for `ids` on `ifindex` (in the caller's namespace), the first
// registering `umem` with `frame_size` chunks, each with fill and
// completion rings of `entries`. `each` runs after each bind (a set-up
// checkpoint). Throws, closing what it made.
std::vector<FillQueue> open_fill_queues(int ifindex, std::span<const uint32_t> ids, std::span<uint8_t> umem,
					uint32_t frame_size, uint32_t entries, const std::function<void()> &each);

// A partition's socket on queue q: an RX ring of `rx_entries`, sharing
// q's anchor. Returns the fd.
int open_partition_socket(int ifindex, const FillQueue &q, uint32_t rx_entries);

// The kernel's drop counters of a socket (XDP_STATISTICS); zeros if it
// cannot say.
struct XskDrops {
	uint64_t rx_dropped = 0, rx_ring_full = 0, fill_ring_empty = 0;
};
XskDrops xsk_drops(int fd) noexcept;

// Asks the kernel to look at q's fill ring (it asked, with need_wakeup).
void kick_fill(const FillQueue &q) noexcept;

} // namespace mkdp
