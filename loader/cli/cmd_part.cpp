// SPDX-License-Identifier: BSD-2-Clause
// `mkdp up|down`, `mkdp part list|start|stop|kill|restart`.
#include "commands.h"
#include "supervisor.h"
#include "supervisor_leftovers.h"
#include "up_handshake.h"

#include <mkdp/error.h>
#include <mkdp/partition.h>
#include <mkdp/privileges.h>
#include <mkdp/supervisor.h>
#include <mkdp/topology.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

// The "partitions" section of `mkdp status --json` (null when mkdp is not up).
nlohmann::json partitions_status_json()
{
	if (!supervisor_pid())
		return nullptr;
	nlohmann::json r = supervisor_request({{"cmd", "status"}});
	r.erase("ok");
	return r;
}

namespace {

void print_parts(const nlohmann::json &st)
{
	auto u = [](const nlohmann::json &j, const char *k) { return (unsigned long long)j.value(k, 0ULL); };
	std::printf("%-8s %-5s %-8s %-11s %-7s %12s %10s %10s %8s %6s %9s %6s %6s\n", "NAME", "INDEX", "PID", "STATE",
		    "CPUS", "RX", "FWD", "FWD_RX", "DROPS", "FREE", "IN_FLIGHT", "LEAKED", "QUOTA");
	for (const auto &p : st["partitions"]) {
		std::string cpus;
		for (int c : p["cpus"])
			cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
		const auto &f = p["frames"];
		std::string state = p["state"].get<std::string>() + (f.value("throttled", false) ? "*" : "");
		std::printf("%-8s %-5u %-8d %-11s %-7s %12llu %10llu %10llu %8llu %6llu %9llu %6llu %6llu\n",
			    p["name"].get<std::string>().c_str(), p["index"].get<unsigned>(), p["pid"].get<int>(),
			    state.c_str(), cpus.c_str(), u(p, "rx"), u(p, "fwd"), u(p, "fwd_rx"), u(p, "drops"),
			    u(f, "free"), u(f, "in_flight"), u(f, "leaked"), u(f, "quota"));
	}
	const auto &r = st["region"];
	std::printf("frames: %llu total, %llu free, %llu in fill rings, %llu in flight, %llu leaked, "
		    "%llu returns refused, %llu spare (in no partition's range)\n",
		    u(r, "frames"), u(r, "free"), u(r, "fill"), u(r, "in_flight"), u(r, "leaked"),
		    u(r, "refused_returns"), u(r, "spare"));
	for (const auto &p : st["partitions"])
		std::printf("%s: %s, runs as uid %u\n", p["name"].get<std::string>().c_str(),
			    p["placement"].get<std::string>().c_str(), p.value("uid", 0U));
	if (std::any_of(st["partitions"].begin(), st["partitions"].end(),
			[](const auto &p) { return p["frames"].value("throttled", false); }))
		std::printf("*: over its frame quota; its traffic takes the default action until it returns frames\n");
	for (const auto &v : st.value("volumes", nlohmann::json::array())) {
		std::string prog = v["program"];
		std::printf("volume %s: %s, owner %s, program %s, %llu requests (mkdp sdp stats)\n",
			    v["name"].get<std::string>().c_str(), v["backend"].get<std::string>().c_str(),
			    v["owner"].get<std::string>().c_str(), prog.empty() ? "none" : prog.c_str(),
			    (unsigned long long)v["requests"].get<uint64_t>());
	}
	for (const auto &p : st["partitions"])
		if (p["storage"]["requests"] != 0)
			std::printf("%s storage worker: %llu requests, %llu errors, %llu bytes\n",
				    p["name"].get<std::string>().c_str(), (unsigned long long)p["storage"]["requests"],
				    (unsigned long long)p["storage"]["errors"], (unsigned long long)p["storage"]["bytes"]);
}

} // namespace

void register_part(CLI::App &app)
{
	static std::string up_file;
	static uint32_t up_forward = 0;
	static std::string up_user;
	static bool up_verify_tags = false;
	CLI::App *up = app.add_subcommand(
		"up", "Bring the partitions of a topology up: the supervisor daemon creates the shared\n"
		      "UMEM region, one AF_XDP socket per (queue, partition), attaches the steering\n"
		      "program (policy rules,hash,queue) and starts one pinned, unprivileged runtime per\n"
		      "partition. Without FILE, the built-in topology (two partitions on the testbed).\n"
		      "Over a steering program attached with 'mkdp attach', it says what it changes and\n"
		      "down gives it back. Interrupted (Ctrl-C) before it is up, it removes everything it\n"
		      "had set up and exits 130.\n"
		      "Example: mkdp testbed up && mkdp up && mkdp part list");
	up->add_option("FILE", up_file, "topology file (TOML, see docs/topology.md)");
	up->add_option("--forward-every", up_forward,
		       "each partition forwards every Nth frame to the next partition (0 = none)")
		->capture_default_str();
	up->add_flag("--verify-tags", up_verify_tags,
		     "partitions read each frame's 8-byte test tag (mkdp gen writes it) and publish\n"
		     "tag_sum, tag_order_errors and rx_flows: a check for tests, off the fast path otherwise");
	up->add_option("--user", up_user,
		       "what partitions run as after set-up: USER or UID[:GID] (default nobody:nogroup; never root)");
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
			std::fprintf(stderr, "mkdp up: %s\n", c.c_str());
		UpDetails d;
		int pid;
		try {
			pid = supervisor_up(t, o, &d);
		} catch (const UpInterrupted &e) {
			// As a shell reports a command a signal ended: 128 + signo.
			std::fprintf(stderr, "mkdp up: %s\n", e.what());
			std::fflush(nullptr);
			std::exit(e.exit_code());
		}
		for (const std::string &n : d.notes)
			std::printf("mkdp up: %s\n", n.c_str());
		std::printf("mkdp is up: supervisor %d, %zu partitions on %s%s\n", pid, t.partitions.size(),
			    t.interface.c_str(), t.netns.empty() ? "" : (" in " + t.netns).c_str());
	});

	CLI::App *down = app.add_subcommand(
		"down", "Stop every partition and the supervisor; detach the steering program (or give\n"
			"back the one attached before up as it was); remove the region, sockets, pins,\n"
			"cgroups and /run/mkdp.");
	down->callback([] { std::printf("%s\n", supervisor_down().c_str()); });

	CLI::App *part = app.add_subcommand("part", "List and control the partitions of a running 'mkdp up'.");
	part->require_subcommand(1);
	static bool list_json = false;
	CLI::App *list = part->add_subcommand("list", "Partitions: pid, CPUs, state, counters, frame accounting.");
	list->add_flag("--json", list_json, "print JSON");
	list->callback([] {
		nlohmann::json st = supervisor_request({{"cmd", "list"}});
		st.erase("ok");
		if (list_json)
			std::cout << st.dump(2) << std::endl;
		else
			print_parts(st);
	});
	static std::string name;
	static const std::pair<const char *, const char *> actions[] = {
		{"start", "Start a stopped partition (fresh sockets and rings)."},
		{"stop", "Stop a partition (SIGTERM); its frames are reclaimed, its traffic takes the default action."},
		{"kill", "Kill a partition (SIGKILL), as a crash would; its frames are reclaimed."},
		{"restart", "Stop (if running) and start a partition again with fresh rings."},
	};
	for (const auto &[verb, help] : actions) {
		CLI::App *a = part->add_subcommand(verb, help);
		a->add_option("NAME", name, "partition name")->required();
		std::string cmd = verb;
		a->callback([cmd] {
			nlohmann::json r = supervisor_request({{"cmd", cmd}, {"name", name}}, 15000);
			const auto &p = r["partition"];
			std::printf("%s: %s (pid %d)\n", name.c_str(), p["state"].get<std::string>().c_str(),
				    p["pid"].get<int>());
		});
	}
}

} // namespace mkdp::cli
