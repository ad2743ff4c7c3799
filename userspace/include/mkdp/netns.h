// SPDX-License-Identifier: BSD-2-Clause
// Network namespaces by name (iproute2's /run/netns/NAME convention).
//
// setns(CLONE_NEWNET) changes the namespace of the calling thread only, and
// a socket keeps the namespace it was created in for its whole life. So the
// way to work inside a namespace is to create the sockets (AF_PACKET,
// AF_XDP, netlink for XDP/tc attach, ioctl sockets) on a thread that is in
// it, then use them from anywhere:
//
//   run_in_netns("mkdp-tb", [&] { sock = XskSocket(umem, "mkdp0", q, cfg); });
//
// NetNsGuard moves the calling thread for a scope (the CLI's --netns does
// that for a whole command).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mkdp {

inline constexpr const char *kNetnsDir = "/run/netns";

std::string netns_path(const std::string &name);
bool netns_exists(const std::string &name);
// Names under /run/netns.
std::vector<std::string> netns_list();

// Identity (st_dev << 32 ^ st_ino of the nsfs inode) of the named namespace,
// of the calling thread's, and of the namespace the machine booted with
// (PID 1's): what network-safety checks compare.
uint64_t netns_id(const std::string &name);
uint64_t current_netns_id();
uint64_t init_netns_id();
// The /run/netns name of the calling thread's namespace, if it has one.
std::optional<std::string> current_netns_name();

// Moves the calling thread into a namespace and back. Throws mkdp::Error.
class NetNsGuard {
public:
	explicit NetNsGuard(const std::string &name);
	~NetNsGuard();
	NetNsGuard(const NetNsGuard &) = delete;
	NetNsGuard &operator=(const NetNsGuard &) = delete;

private:
	int saved_ = -1;
};

// Runs fn on a new thread inside the named namespace and waits for it;
// whatever fn throws is rethrown here.
void run_in_netns_fn(const std::string &name, const std::function<void()> &fn);

template <class F> auto run_in_netns(const std::string &name, F &&fn) -> std::invoke_result_t<F>
{
	using R = std::invoke_result_t<F>;
	if constexpr (std::is_void_v<R>) {
		run_in_netns_fn(name, std::function<void()>(std::forward<F>(fn)));
	} else {
		std::optional<R> r;
		run_in_netns_fn(name, [&] { r.emplace(fn()); });
		return std::move(*r);
	}
}

} // namespace mkdp
