// SPDX-License-Identifier: BSD-2-Clause
// The `--allow-host-device` opt-in of the commands that act on an interface
// (attach, rule, stats): without it they refuse anything but a testbed
// device (userspace/include/mkdp/device_safety.h, docs/steering.md).
#pragma once

#include <mkdp/device_safety.h>
#include <steer_loader.h>

#include <CLI/CLI.hpp>

namespace mkdp::cli {

inline void add_allow_host_device_option(CLI::App *cmd, bool &allow)
{
	cmd->add_flag(kAllowHostDeviceOption, allow,
		      "act on IFACE even if it is not a testbed device (mkdp0/mkdp1 of an mkdp\n"
		      "testbed namespace). WARNING: on a device of this machine (eth0, lo) steering\n"
		      "takes its traffic, SSH included, away from the host; --default drop cuts the\n"
		      "machine off");
}

// guard_interface() for a command run with --netns (or without), naming
// the namespaces where an interface of that name has mkdp steering when
// none was given: `mkdp steer rule list mkdp0` without --netns is refused with
// "mkdp0 has mkdp steering in --netns mkdp-tb".
inline void guard_interface_cli(const std::string &netns, const std::string &ifname, bool allow_host)
{
	std::string where;
	if (netns.empty() && !allow_host) {
		std::string here = Steering::netns_label();
		for (const SteerPins &p : Steering::list_pins())
			// Unnamed namespaces ("netns-<inode>") cannot be named with --netns.
			if (p.ifname == ifname && p.netns != here && !p.netns_gone && p.netns.rfind("netns-", 0) != 0)
				where += (where.empty() ? "--netns " : ", --netns ") + p.netns;
	}
	guard_interface(netns, ifname, allow_host, where);
}

} // namespace mkdp::cli
