// SPDX-License-Identifier: BSD-2-Clause
// AF_XDP sockets over libxdp's <xdp/xsk.h>, with frame ownership tracking.
//
// A Umem registers a caller's memory (any page-aligned area: an mkdp
// Region's data area, so that partitions can share it) and tracks, per
// frame, who holds it:
//
//   free  in the Umem's free list            (Umem::alloc takes it)
//   fill  the kernel's, for RX: in a fill or RX ring of socket `owner`
//   app   the application's (received, or allocated for TX)
//   tx    the kernel's, for TX: in a TX or completion ring of `owner`
//
// Every move checks the state it leaves, so a frame can neither be handed to
// the kernel twice nor leak silently: count(state) accounts for all frames,
// and a socket's destructor returns the frames its rings still held.
//
// An XskSocket is one (netdev, queue) binding, created with
// xsk_socket__create_shared() and its own fill/completion ring pair (the
// AF_XDP rule: one pair per netdev and queue). libxdp is told not to load
// its own XDP program (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): mkdp's
// steering program is attached separately and fd() goes into its XSKMAP.
//
// Namespaces: an AF_XDP socket looks its device up in the namespace it was
// created in, and a Umem's first socket is the Umem's own fd. Create the
// Umem and its sockets on a thread inside the device's namespace
// (run_in_netns in netns.h); use them from any thread afterwards.
//
// The burst calls are the fast path: no allocation, no locks, no throw.
// Each socket is single-threaded; a Umem shared by sockets on different
// threads needs external serialisation of alloc/free (one thread per Umem
// is the intended use, as in a partition runtime).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <mkdp_ring.h>

namespace mkdp {

class Region;

static_assert(sizeof(xdp_desc) == sizeof(mkdp_frame_desc) &&
		      offsetof(xdp_desc, addr) == offsetof(mkdp_frame_desc, addr) &&
		      offsetof(xdp_desc, len) == offsetof(mkdp_frame_desc, len) &&
		      offsetof(xdp_desc, options) == offsetof(mkdp_frame_desc, options),
	      "an AF_XDP descriptor is an mkdp frame descriptor");

struct UmemConfig {
	uint32_t frame_size = XSK_UMEM__DEFAULT_FRAME_SIZE;	// 2048 or 4096
	uint32_t fill_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;	// per (netdev, queue)
	uint32_t comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
	uint32_t headroom = 0;
};

enum class FrameState : uint8_t { free = 0, fill, app, tx };
inline constexpr int kFrameStates = 4;
const char *to_string(FrameState s) noexcept;

class Umem {
public:
	// Registers area (page-aligned, a whole number of frames; the caller
	// keeps it mapped for the Umem's life). Throws mkdp::Error.
	Umem(std::span<uint8_t> area, const UmemConfig &cfg = {});
	// The same on a region's data area; frame_size comes from the area.
	Umem(const Region &region, std::string_view area, UmemConfig cfg = {});
	~Umem();
	Umem(const Umem &) = delete;
	Umem &operator=(const Umem &) = delete;

	uint8_t *data(uint64_t addr) const noexcept { return area_ + addr; }
	uint32_t frame_size() const noexcept { return frame_size_; }
	uint32_t frames() const noexcept { return nr_frames_; }
	uint32_t headroom() const noexcept { return headroom_; }
	xsk_umem *raw() const noexcept { return umem_; }

	// Frame ownership. alloc takes up to n free frames for the
	// application (their base addresses); free gives application frames
	// back. Both return how many moved; wrong-state frames are refused and
	// counted in ownership_errors().
	uint32_t alloc(uint64_t *addrs, uint32_t n) noexcept;
	uint32_t free(const uint64_t *addrs, uint32_t n) noexcept;
	uint32_t count(FrameState s) const noexcept { return counts_[int(s)]; }
	uint64_t ownership_errors() const noexcept { return errors_; }
	FrameState state(uint64_t addr) const noexcept { return state_[addr / frame_size_]; }

private:
	friend class XskSocket;
	static constexpr uint8_t kNoOwner = 0xff;

	void init(std::span<uint8_t> area, const UmemConfig &cfg);
	bool move(uint64_t addr, FrameState from, FrameState to, uint8_t owner) noexcept;
	bool take_free(uint64_t *addr, uint8_t owner, FrameState to) noexcept;
	uint8_t attach_socket(int ifindex, uint32_t queue);
	void detach_socket(uint8_t slot) noexcept;

	xsk_umem *umem_ = nullptr;
	xsk_ring_prod fq0_{};	// the rings xsk_umem__create sets up on the Umem's
	xsk_ring_cons cq0_{};	// own fd; libxdp hands them to the first socket
	uint8_t *area_ = nullptr;
	uint64_t size_ = 0;
	uint32_t frame_size_ = 0, nr_frames_ = 0, headroom_ = 0;
	std::vector<uint64_t> free_;	// stack of free frame addresses
	std::vector<FrameState> state_;
	std::vector<uint8_t> owner_;	// socket slot for fill/tx frames
	uint32_t counts_[kFrameStates] = {};
	uint64_t errors_ = 0;
	struct Binding {
		int ifindex;
		uint32_t queue;
		bool used;
	};
	std::vector<Binding> sockets_;
};

struct XskConfig {
	uint32_t rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;	// 0: no RX ring
	uint32_t tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;	// 0: no TX ring
	// XDP_USE_NEED_WAKEUP, plus XDP_COPY or XDP_ZEROCOPY to insist on a
	// mode (veth only has copy mode); neither lets the kernel choose.
	uint16_t bind_flags = XDP_USE_NEED_WAKEUP;
};

struct XskStats {
	uint64_t rx = 0, tx = 0, filled = 0, completed = 0;
	uint64_t rx_kicks = 0, tx_kicks = 0;
	uint64_t bad_desc = 0;	// descriptors naming a frame in the wrong state
};

class XskSocket {
public:
	// Binds (ifname, queue) in the calling thread's namespace. Throws
	// mkdp::Error. One socket per (netdev, queue) per Umem.
	XskSocket(Umem &umem, const std::string &ifname, uint32_t queue, const XskConfig &cfg = {});
	// Unbinds and returns every frame its rings still held to the Umem.
	~XskSocket();
	XskSocket(const XskSocket &) = delete;	// libxdp keeps pointers to
	XskSocket &operator=(const XskSocket &) = delete;	// the ring structs

	int fd() const noexcept { return xsk_socket__fd(xsk_); }
	uint32_t queue() const noexcept { return queue_; }
	const std::string &ifname() const noexcept { return ifname_; }
	int ifindex() const noexcept { return ifindex_; }
	bool zero_copy() const noexcept { return zero_copy_; }
	Umem &umem() const noexcept { return umem_; }

	// Up to max received frames, now the application's.
	uint32_t rx_burst(mkdp_frame_desc *out, uint32_t max) noexcept;
	// Moves up to n free Umem frames into the fill ring; kicks the kernel
	// when it asks (need_wakeup). Returns how many went in.
	uint32_t refill(uint32_t n) noexcept;
	// Gives received frames back to the kernel through this socket's fill
	// ring; those that do not fit go back to the Umem's free list.
	uint32_t recycle(const mkdp_frame_desc *descs, uint32_t n) noexcept;
	// Queues application frames for transmission and kicks (copy mode
	// transmits only on a kick). Returns how many were queued.
	uint32_t tx_burst(const mkdp_frame_desc *descs, uint32_t n) noexcept;
	// Returns transmitted frames to the Umem's free list.
	uint32_t complete(uint32_t max = UINT32_MAX) noexcept;
	// Lets the kernel run RX processing for this socket (poll-less wake).
	void kick_rx() noexcept;

	const XskStats &stats() const noexcept { return stats_; }
	// The kernel's counters (XDP_STATISTICS): drops, ring full, fill empty.
	xdp_statistics kernel_stats() const;

private:
	void kick_tx() noexcept;

	Umem &umem_;
	xsk_socket *xsk_ = nullptr;
	xsk_ring_cons rx_{};
	xsk_ring_prod tx_{};
	xsk_ring_prod fq_{};
	xsk_ring_cons cq_{};
	std::string ifname_;
	int ifindex_ = 0;
	uint32_t queue_ = 0;
	uint8_t slot_ = 0;
	bool zero_copy_ = false;
	XskStats stats_;
};

} // namespace mkdp
