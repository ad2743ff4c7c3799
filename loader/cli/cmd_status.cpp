// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology status`: the running topology in one view (supervisor,
// partitions, frames, volumes, the steering of its interface).
#include "cli_status.h"
#include "commands.h"

#include <cstdio>
#include <iostream>

namespace mkdp::cli {

void register_status(CLI::App &topo)
{
	static bool json = false;
	CLI::App *st = topo.add_subcommand(
		"status", "Show the running topology: supervisor, partitions, volumes, steering.\n"
		"The running topology: the supervisor, each partition (state, pid, CPUs,\n"
			  "restarts, counters, frame accounting), each volume, and the steering of its\n"
			  "interface. When nothing is up it says so and exits 0.\n"
			  "Examples:\n"
			  "  mkdp topology status\n"
			  "  mkdp topology status -j | jq '.partitions[] | {partition, state}'");
	st->add_flag("-j,--json", json, "print JSON");
	st->callback([] {
		nlohmann::json doc = topology_status_json();
		if (json)
			std::cout << doc.dump(2) << std::endl;
		else
			print_topology_status(doc);
	});
}

} // namespace mkdp::cli
