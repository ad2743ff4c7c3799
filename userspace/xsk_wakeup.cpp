// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/xsk_wakeup.h>

#include <linux/if_xdp.h>
#include <string>
#include <sys/socket.h>

namespace mkdp {

namespace {

void set_int(int fd, int opt, const char *name, int v)
{
	if (setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)))
		throw_errno(std::string("AF_XDP socket option ") + name + "=" + std::to_string(v));
}

} // namespace

void xsk_kick_rx(int fd) noexcept
{
	recvfrom(fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

uint32_t xsk_bind_flags(XskWakeMode m) noexcept
{
	return m == XskWakeMode::interrupt ? 0 : XDP_USE_NEED_WAKEUP;
}

void apply_xsk_wake_mode(int fd, XskWakeMode m, const XskBusyPoll &bp)
{
	bool busy = m == XskWakeMode::polled;
	set_int(fd, SO_PREFER_BUSY_POLL, "SO_PREFER_BUSY_POLL", busy);
	set_int(fd, SO_BUSY_POLL, "SO_BUSY_POLL", busy ? int(bp.usecs) : 0);
	// The budget only matters with busy polling, and raising it needs
	// CAP_NET_ADMIN: leave it alone unless it is used.
	if (busy)
		set_int(fd, SO_BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET", int(bp.budget));
}

const char *to_string(XskWakeMode m) noexcept
{
	switch (m) {
	case XskWakeMode::interrupt:
		return "interrupt";
	case XskWakeMode::adaptive:
		return "adaptive";
	case XskWakeMode::polled:
		return "polled";
	}
	return "?";
}

XskWakeMode parse_xsk_wake_mode(std::string_view name)
{
	for (auto m : {XskWakeMode::interrupt, XskWakeMode::adaptive, XskWakeMode::polled})
		if (name == to_string(m))
			return m;
	throw Error("unknown wake-up mode '" + std::string(name) + "' (polled, interrupt, adaptive)");
}

} // namespace mkdp
