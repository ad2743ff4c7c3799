// SPDX-License-Identifier: BSD-2-Clause
// Network safety for commands that touch an interface (DESIGN.md, "Network
// safety"): which devices mkdp may attach to, and which ones a running
// `mkdp topology up` holds, so that no command cuts the machine off or pulls the
// interface from under live partitions.
//
//   check_testbed_device()  the verdict `up`, `topology check`, `attach`,
//                           `rule` and `stats` share: only a veth end of
//                           an mkdp testbed namespace
//   guard_interface()       the CLI's form: throws the one-line refusal
//                           unless the user opted in (--allow-host-device)
//   supervisor_holding()    the live supervisor whose partitions receive
//                           from an interface, or from one in a namespace
//   refuse_while_held()     what `detach` and `testbed down` refuse then
#pragma once

#include <mkdp/testbed.h>

#include <optional>
#include <string>

namespace mkdp {

struct TestbedDeviceCheck {
	std::optional<TestbedInfo> testbed;	// the device's testbed, when it passed
	std::string refused;			// one line; "" when the device passed
};

// Whether `ifname` in namespace `netns` is mkdp0/mkdp1 of an mkdp testbed.
// "" for netns means the calling thread's namespace, which must then itself
// be a named testbed namespace (ip netns exec mkdp-tb ...). `how_to_name`
// ends the refusal given when there is no namespace at all: how this
// caller names one ("set [machine] netns to the testbed's namespace (mkdp
// testbed up)").
TestbedDeviceCheck check_testbed_device(const std::string &netns, const std::string &ifname,
					const std::string &how_to_name);

// The option the CLI offers to use a device of the machine anyway.
inline constexpr const char *kAllowHostDeviceOption = "--allow-host-device";

// For interface commands (attach, rule, stats): returns when ifname is a
// testbed device or allow_host is set; otherwise throws mkdp::Error with one
// line naming the device and kAllowHostDeviceOption. Changes nothing.
// `steered_in` ("--netns mkdp-tb"), when the caller knows it, says where an
// interface of that name has mkdp steering: a forgotten --netns is the
// usual reason for the refusal.
void guard_interface(const std::string &netns, const std::string &ifname, bool allow_host,
		     const std::string &steered_in = {});

// A live supervisor (`mkdp topology up`) and what it holds, from its state file.
struct SupervisorHold {
	int pid = 0;			// 0: no live supervisor holds it
	std::string interface;		// the interface its partitions receive from
	std::string netns;		// that interface's namespace name ("" = unnamed)
};

// The live supervisor whose interface is `ifname` in namespace `netns`
// ("" = the calling thread's); with an empty ifname, whose interface is
// anywhere in that namespace. Namespaces are compared by identity, so a
// supervisor started under `ip netns exec` (state netns "") is found too.
SupervisorHold supervisor_holding(const std::string &netns, const std::string &ifname = {});

// Throws the one-line refusal "refusing to <what>: ...; run 'mkdp topology down'
// first" when supervisor_holding(netns, ifname) finds one: pulling the
// interface from under running partitions leaves them "running" with
// nothing to receive. Changes nothing.
void refuse_while_held(const std::string &netns, const std::string &ifname, const std::string &what);

} // namespace mkdp
