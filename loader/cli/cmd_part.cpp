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

#include <csignal>
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

namespace {

// `part list`'s document: the partitions and the frame accounting of the
// running topology (docs/json.md: part-list).
nlohmann::json partition_list()
{
	nlohmann::json st = supervisor_request({{"cmd", "list"}});
	return {{"supervisor", st["supervisor"]}, {"partitions", st["partitions"]}, {"queues", st["queues"]},
		{"region", st["region"]}};
}

// What a start/stop/kill/restart did, in a word (docs/json.md): a stop
// that took SIGKILL after its deadline says "killed".
std::string action_result(const std::string &verb, const nlohmann::json &p)
{
	if (verb == "start" || verb == "restart")
		return verb + "ed";
	const nlohmann::json &e = p["last_exit"];
	return e.is_number() && e.get<int>() == 128 + SIGKILL ? "killed" : "stopped";
}

// What a start/stop/kill/restart did, in words, from the supervisor's
// answer: "p1: killed (was pid 4242); its 512 frames reclaimed".
std::string action_text(const std::string &verb, const nlohmann::json &p)
{
	const std::string name = p["partition"];
	const std::string now = "pid " + std::to_string(p["pid"].get<int>()) + " on CPUs " + cpus_text(p["cpus"]);
	const std::string was = "was pid " + std::to_string(p["last_pid"].get<int>());
	uint64_t reclaimed = p["last_reclaimed_frames"];
	const std::string frames =
		reclaimed ? "its " + std::to_string(reclaimed) + " frames reclaimed" : "it held no frames";
	if (verb == "start")
		return name + ": started (" + now + ")";
	if (verb == "restart")
		return name + ": restarted (" + now + ", " +
		       (p["last_pid"] == 0 ? "was not running)" : was + "); " + frames);
	std::string how = action_result(verb, p);
	const nlohmann::json &e = p["last_exit"];
	if (how != "killed" && e.is_number())
		how += " with exit status " + std::to_string(e.get<int>());
	return name + ": " + how + " (" + was + "); " + frames;
}

} // namespace

void register_part(CLI::App &app)
{
	CLI::App *part = app.add_subcommand("part", "List and control the partitions of a running topology (mkdp topology up).");
	part->require_subcommand(1);
	static bool list_json = false;
	CLI::App *list = part->add_subcommand("list", "Partitions: pid, CPUs, state, counters, frame accounting.");
	list->add_flag("-j,--json", list_json, "print JSON");
	list->callback([] {
		nlohmann::json st = partition_list();
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
			const nlohmann::json &p = r["partition"];
			bool same = r.value("unchanged", false);
			if (list_json)
				std::cout << nlohmann::json{{"result", same ? "unchanged" : action_result(cmd, p)}, {"partition", p}}
						     .dump(2)
					  << std::endl;
			else if (same)
				std::printf("%s: already %s; nothing to do\n", name.c_str(), p["state"].get<std::string>().c_str());
			else
				std::printf("%s\n", action_text(cmd, p).c_str());
		});
	}
}

} // namespace mkdp::cli
