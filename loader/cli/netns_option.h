// SPDX-License-Identifier: BSD-2-Clause
// The `--netns NAME` option every interface command takes: the command runs
// with its thread inside that namespace (iproute2's /run/netns/NAME), so an
// interface of the testbed is named as it is there ("mkdp0").
#pragma once

#include <mkdp/netns.h>

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace mkdp::cli {

inline void add_netns_option(CLI::App *cmd, std::string &netns)
{
	cmd->add_option("--netns", netns,
			"network namespace the interface lives in (e.g. mkdp-tb, the testbed's)");
}

// Enters the namespace for the life of the scope ("" = stay).
class InNetns {
public:
	explicit InNetns(const std::string &netns)
	{
		if (!netns.empty())
			guard_.emplace(netns);
	}

private:
	std::optional<NetNsGuard> guard_;
};

} // namespace mkdp::cli
