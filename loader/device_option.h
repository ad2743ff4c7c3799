// SPDX-License-Identifier: BSD-2-Clause
// The `--allow-host-device` opt-in of the commands that act on an interface
// (attach, rule, stats): without it they refuse anything but a testbed
// device (userspace/include/mkdp/device_safety.h, docs/steering.md).
#pragma once

#include <mkdp/device_safety.h>

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

} // namespace mkdp::cli
