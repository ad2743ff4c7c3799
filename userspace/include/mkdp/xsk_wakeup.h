// SPDX-License-Identifier: BSD-2-Clause
// The doorbell choice on an AF_XDP socket, so a partition picks it per
// partition (topology key `wakeup`) the way it picks a DoorbellStrategy for
// an mkdp ring (docs/doorbells.md, "AF_XDP"):
//
//   interrupt  always kick: the application enters the kernel
//              (recvfrom/sendto/poll) whenever its ring runs dry, and sleeps
//              in poll() at once; the driver runs from its interrupt (NAPI).
//   adaptive   need_wakeup: kick only when the kernel raised the ring's
//              need_wakeup flag (xsk_ring_prod__needs_wakeup()); spin a
//              budget before sleeping in poll().
//   polled     preferred busy polling: SO_PREFER_BUSY_POLL, SO_BUSY_POLL,
//              SO_BUSY_POLL_BUDGET; the application's recvfrom()/poll() runs
//              the driver's NAPI in its own context, so it must kick on every
//              empty pass, and it never sleeps.
//
// Bind flags cannot carry the choice in mkdp: XDP_USE_NEED_WAKEUP is a
// property of the buffer pool, given by the first socket bound on a UMEM
// (the supervisor's anchor); sockets bound with XDP_SHARED_UMEM inherit it
// and the kernel refuses the flag on them (xsk_bind: EINVAL). So interrupt
// versus need_wakeup is a kick policy here, not a bind flag.
#pragma once

#include <cstdint>
#include <string_view>

#include <sys/socket.h>

// Busy-poll socket options, for C libraries older than the kernel (values
// from include/uapi/asm-generic/socket.h).
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace mkdp {

enum class XskWakeMode : uint8_t { interrupt, adaptive, polled };

struct XskBusyPoll {
	uint32_t usecs = 20;	// SO_BUSY_POLL: how long one busy poll may spin
	uint32_t budget = 64;	// SO_BUSY_POLL_BUDGET: packets per busy poll
};

// Bind flags for the socket that creates a buffer pool (its anchor): only
// it may ask for need_wakeup. Sockets sharing the UMEM pass none of these.
uint32_t xsk_bind_flags(XskWakeMode m) noexcept;

// Whether the application must enter the kernel for this ring state:
// always-kick (interrupt) and busy polling (polled: the syscall is what
// runs NAPI) always; need_wakeup (adaptive) only when the flag is up.
static inline bool xsk_should_kick(XskWakeMode m, bool ring_needs_wakeup) noexcept
{
	return m != XskWakeMode::adaptive || ring_needs_wakeup;
}

// The RX kick: a non-blocking recvfrom() with no buffer (AF_XDP's way to
// say "run the receive path"; it busy-polls NAPI when busy polling is set).
void xsk_kick_rx(int xsk_fd) noexcept;

// Sets (polled) or clears (the others) the busy-poll socket options on an
// AF_XDP socket fd. Throws mkdp::Error naming the option that failed.
void apply_xsk_wake_mode(int xsk_fd, XskWakeMode m, const XskBusyPoll &bp = {});

const char *to_string(XskWakeMode m) noexcept;
// "interrupt", "adaptive", "polled" (the topology's `wakeup` values);
// throws mkdp::Error otherwise.
XskWakeMode parse_xsk_wake_mode(std::string_view name);

} // namespace mkdp
