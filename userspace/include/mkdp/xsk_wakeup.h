// SPDX-License-Identifier: BSD-2-Clause
// The doorbell choice on an AF_XDP socket, so a partition can pick it per
// socket the way it picks a DoorbellStrategy for an mkdp ring
// (docs/doorbells.md, "AF_XDP"):
//
//   interrupt  no need_wakeup: the driver runs from its IRQ/NAPI and the
//              application kicks (poll/sendto) every time.
//   adaptive   XDP_USE_NEED_WAKEUP: kick only when the ring's need_wakeup
//              flag is up (xsk_ring_prod__needs_wakeup()).
//   polled     need_wakeup plus preferred busy polling: the application's
//              poll()/recvfrom() runs the driver's NAPI in its own context
//              (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET) and
//              the device interrupt stays masked while it keeps up.
#pragma once

#include <cstdint>

namespace mkdp {

enum class XskWakeMode : uint8_t { interrupt, adaptive, polled };

struct XskBusyPoll {
	uint32_t usecs = 20;	// SO_BUSY_POLL: how long one busy poll may spin
	uint32_t budget = 64;	// SO_BUSY_POLL_BUDGET: packets per busy poll
};

// Bind flags (struct sockaddr_xdp.sxdp_flags / xsk_socket_config.bind_flags)
// the mode needs; need_wakeup is fixed at bind time.
uint32_t xsk_bind_flags(XskWakeMode m) noexcept;

// Whether the application must kick the kernel for this ring state.
static inline bool xsk_should_kick(XskWakeMode m, bool ring_needs_wakeup) noexcept
{
	return m == XskWakeMode::interrupt || ring_needs_wakeup;
}

// Sets (polled) or clears (the others) the busy-poll socket options on an
// AF_XDP socket fd. Throws mkdp::Error naming the option that failed.
void apply_xsk_wake_mode(int xsk_fd, XskWakeMode m, const XskBusyPoll &bp = {});

const char *to_string(XskWakeMode m) noexcept;

} // namespace mkdp
