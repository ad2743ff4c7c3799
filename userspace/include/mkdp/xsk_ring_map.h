// SPDX-License-Identifier: BSD-2-Clause
// One AF_XDP ring (RX, fill or completion) of a socket, mapped into this
// process: what the supervisor and a partition runtime each map for
// themselves from a socket fd they hold (getsockopt XDP_MMAP_OFFSETS, then
// mmap at the ring's page offset), rather than through libxdp, whose xsk
// objects cannot be handed to another process.
#pragma once

#include <linux/if_xdp.h>

#include <cstddef>
#include <cstdint>

namespace mkdp {

enum class XskRingKind { rx, fill, completion };

class XskRingMap {
public:
	XskRingMap() = default;
	// Maps the ring of `entries` (as configured at socket set-up). Throws.
	XskRingMap(int xsk_fd, XskRingKind kind, uint32_t entries);
	XskRingMap(XskRingMap &&o) noexcept;
	XskRingMap &operator=(XskRingMap &&o) noexcept;
	XskRingMap(const XskRingMap &) = delete;
	XskRingMap &operator=(const XskRingMap &) = delete;
	~XskRingMap();

	uint32_t *producer() const noexcept { return producer_; }
	uint32_t *consumer() const noexcept { return consumer_; }
	uint32_t *flags() const noexcept { return flags_; }
	uint32_t entries() const noexcept { return mask_ + 1; }
	uint32_t mask() const noexcept { return mask_; }
	bool mapped() const noexcept { return map_ != nullptr; }

	// RX ring slots
	xdp_desc *rx_desc(uint32_t idx) const noexcept { return static_cast<xdp_desc *>(descs_) + (idx & mask_); }
	// fill/completion ring slots
	uint64_t *addr(uint32_t idx) const noexcept { return static_cast<uint64_t *>(descs_) + (idx & mask_); }

	uint32_t load_producer() const noexcept { return __atomic_load_n(producer_, __ATOMIC_ACQUIRE); }
	uint32_t load_consumer() const noexcept { return __atomic_load_n(consumer_, __ATOMIC_ACQUIRE); }
	void store_producer(uint32_t v) noexcept { __atomic_store_n(producer_, v, __ATOMIC_RELEASE); }
	void store_consumer(uint32_t v) noexcept { __atomic_store_n(consumer_, v, __ATOMIC_RELEASE); }
	bool need_wakeup() const noexcept { return __atomic_load_n(flags_, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP; }

private:
	void reset() noexcept;

	void *map_ = nullptr;
	size_t len_ = 0;
	uint32_t *producer_ = nullptr, *consumer_ = nullptr, *flags_ = nullptr;
	void *descs_ = nullptr;
	uint32_t mask_ = 0;
};

} // namespace mkdp
