// SPDX-License-Identifier: BSD-2-Clause
// `mkdp part list|start|stop|kill|restart`.
#include "cli_status.h"
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

nlohmann::json partitions_status_json()
{
	if (!supervisor_pid())
		return nullptr;
	nlohmann::json r = supervisor_request({{"cmd", "status"}});
	r.erase("ok");
	return r;
}

void print_partitions(const nlohmann::json &st)
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

void register_part(CLI::App &app)
{
	CLI::App *part = app.add_subcommand("part", "List and control the partitions of a running topology (mkdp topology up).");
	part->require_subcommand(1);
	static bool list_json = false;
	CLI::App *list = part->add_subcommand("list", "Partitions: pid, CPUs, state, counters, frame accounting.");
	list->add_flag("-j,--json", list_json, "print JSON");
	list->callback([] {
		nlohmann::json st = supervisor_request({{"cmd", "list"}});
		st.erase("ok");
		if (list_json)
			std::cout << st.dump(2) << std::endl;
		else
			print_partitions(st);
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
		a->add_flag("-j,--json", list_json, "print the partition afterwards as JSON");
		std::string cmd = verb;
		a->callback([cmd] {
			nlohmann::json r = supervisor_request({{"cmd", cmd}, {"name", name}}, 15000);
			r.erase("ok");
			const auto &p = r["partition"];
			if (list_json)
				std::cout << r.dump(2) << std::endl;
			else if (r.value("unchanged", false))
				std::printf("%s: already %s; nothing to do\n", name.c_str(),
					    p["state"].get<std::string>().c_str());
			else
				std::printf("%s: %s (pid %d)\n", name.c_str(), p["state"].get<std::string>().c_str(),
					    p["pid"].get<int>());
		});
	}
}

} // namespace mkdp::cli
