// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology up|down`: the supervisor daemon and its partitions.
#include "commands.h"
#include "supervisor.h"
#include "supervisor_leftovers.h"
#include "up_handshake.h"

#include <mkdp/error.h>
#include <mkdp/privileges.h>
#include <mkdp/supervisor.h>
#include <mkdp/topology.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

void register_up(CLI::App &topo)
{
	static std::string up_file;
	static uint32_t up_forward = 0;
	static std::string up_user;
	static bool up_verify_tags = false;
	static bool json = false;
	CLI::App *up = topo.add_subcommand(
		"up", "Bring a topology up: the supervisor, its partitions, steering and volumes.\n"
		"Bring the partitions of a topology up: the supervisor daemon creates the shared\n"
		      "UMEM region, one AF_XDP socket per (queue, partition), attaches the steering\n"
		      "program (policy rules,hash,queue) and starts one pinned, unprivileged runtime per\n"
		      "partition. Without FILE, the built-in topology (two partitions on the testbed).\n"
		      "Over a steering program attached with 'mkdp steer attach', it says what it changes and\n"
		      "down gives it back. Interrupted (Ctrl-C) before it is up, it removes everything it\n"
		      "had set up and exits 130.\n"
		      "Example: mkdp testbed up && mkdp topology up && mkdp part list");
	up->add_option("FILE", up_file, "topology file (TOML, see docs/topology.md)");
	up->add_option("--forward-every", up_forward,
		       "each partition forwards every Nth frame to the next partition (0 = none)")
		->capture_default_str();
	up->add_flag("--verify-tags", up_verify_tags,
		     "partitions read each frame's 8-byte test tag (mkdp testbed gen writes it) and publish\n"
		     "tag_sum, tag_order_errors and rx_flows: a check for tests, off the fast path otherwise");
	up->add_option("--user", up_user,
		       "what partitions run as after set-up: USER or UID[:GID] (default nobody:nogroup; never root)");
	up->add_flag("-j,--json", json, "print what came up as JSON");
	up->callback([] {
		Topology t = up_file.empty() ? Topology::builtin() : Topology::load(up_file);
		SupervisorOptions o;
		o.forward_every = up_forward;
		o.verify_tags = up_verify_tags;
		o.run_as = resolve_run_as(up_user);
		if (const char *log = std::getenv("MKDP_SUPERVISOR_LOG"))
			o.log = log;
		// Said first, on its own line: whether or not this up succeeds,
		// the leftovers are gone.
		if (std::string c = clean_before_up(); !c.empty())
			std::fprintf(stderr, "mkdp topology up: %s\n", c.c_str());
		UpDetails d;
		int pid;
		try {
			pid = supervisor_up(t, o, &d);
		} catch (const UpInterrupted &e) {
			// As a shell reports a command a signal ended: 128 + signo.
			std::fprintf(stderr, "mkdp topology up: %s\n", e.what());
			std::fflush(nullptr);
			std::exit(e.exit_code());
		}
		if (json) {
			nlohmann::json parts = nlohmann::json::array();
			for (const PartitionSpec &p : t.partitions)
				parts.push_back(p.name);
			std::cout << nlohmann::json{{"result", "started"},
						    {"supervisor", {{"pid", pid}}},
						    {"partitions", parts},
						    {"interface", t.interface},
						    {"netns", t.netns},
						    {"notes", d.notes}}
					     .dump(2)
				  << std::endl;
			return;
		}
		for (const std::string &n : d.notes)
			std::printf("mkdp topology up: %s\n", n.c_str());
		std::printf("mkdp is up: supervisor %d, %zu partitions on %s%s\n", pid, t.partitions.size(),
			    t.interface.c_str(), t.netns.empty() ? "" : (" in " + t.netns).c_str());
	});

	CLI::App *down = topo.add_subcommand(
		"down", "Take the running topology down and remove all it set up.\n"
		"Stop every partition and the supervisor; detach the steering program (or give\n"
			"back the one attached before up as it was); remove the region, sockets, pins,\n"
			"cgroups and /run/mkdp.");
	down->add_flag("-j,--json", json, "print what happened as JSON");
	down->callback([] {
		std::string said = supervisor_down();
		if (json)
			std::cout << nlohmann::json{{"result", said.rfind("nothing to do", 0) == 0 ? "unchanged" : "stopped"},
						    {"message", said}}
					     .dump(2)
				  << std::endl;
		else
			std::printf("%s\n", said.c_str());
	});
}

} // namespace mkdp::cli
