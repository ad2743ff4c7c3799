// SPDX-License-Identifier: BSD-2-Clause
// `mkdp steer ...`: the XDP steering on an interface. Its verbs live in
// cmd_attach.cpp (attach, detach, status), cmd_rule.cpp and cmd_stats.cpp.
#include "commands.h"

namespace mkdp::cli {

void register_steer(CLI::App &app)
{
	CLI::App *steer = app.add_subcommand(
		"steer", "XDP steering of RX queues into partitions' AF_XDP sockets.\n"
		"XDP steering of an interface's RX queues into partitions' AF_XDP sockets:\n"
			 "attach the program, set its rules, watch its counters (docs/steering.md).\n"
			 "Frames go by rules, then the flow hash, then the RX queue map, whichever\n"
			 "policies are on; the rest takes the default action (pass or drop).\n"
			 "Examples:\n"
			 "  mkdp steer attach mkdp0 --netns mkdp-tb --policy rules,hash --partitions 2\n"
			 "  mkdp steer rule add mkdp0 --netns mkdp-tb dst 10.99.0.0/16 drop\n"
			 "  mkdp steer stats mkdp0 --netns mkdp-tb --count 5");
	steer->require_subcommand(1);
	register_attach(*steer);
	register_rule(*steer);
	register_stats(*steer);
}

} // namespace mkdp::cli
