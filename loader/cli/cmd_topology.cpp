// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology check FILE` and `mkdp topology default`.
#include "commands.h"

#include <mkdp/error.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

nlohmann::json to_json(const Topology &t)
{
	nlohmann::json parts = nlohmann::json::array(), regions = nlohmann::json::array(),
		       volumes = nlohmann::json::array();
	for (const auto &p : t.partitions)
		parts.push_back({{"partition", p.name}, {"cpus", p.cpus}, {"queues", p.queues},
				 {"netns", p.netns}, {"wakeup", p.wakeup}});
	for (const auto &r : t.regions)
		regions.push_back({{"region", r.name}, {"size_bytes", r.size}, {"frame_size_bytes", r.frame_size},
				   {"frames_per_partition", r.frames_per_partition},
				   {"hugepages", r.hugepages}, {"shared_with", r.shared_with}});
	for (const auto &v : t.volumes)
		volumes.push_back({{"volume", v.name}, {"backend", v.backend}, {"path", v.path},
				   {"size_bytes", v.size}, {"owner", v.owner}, {"partitions", v.partitions},
				   {"program", v.program.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.program)},
				   {"wakeup", v.wakeup}});
	return {{"source", t.source}, {"interface", t.interface}, {"netns", t.netns},
		{"queues", t.queues ? nlohmann::json(*t.queues) : nlohmann::json(nullptr)},
		{"partitions", parts}, {"regions", regions}, {"volumes", volumes}};
}

struct CheckOptions {
	std::string file;
	bool json = false;
};

void run_check(const CheckOptions &o)
{
	Topology t = o.file.empty() ? Topology::builtin() : Topology::load(o.file);
	std::vector<Conflict> conflicts = check(t, probe_machine(t));
	if (o.json) {
		nlohmann::json c = nlohmann::json::array();
		for (const auto &x : conflicts)
			c.push_back({{"line", x.line}, {"conflict", x.what}});
		nlohmann::json j = {{"result", conflicts.empty() ? "valid" : "conflicts"}, {"conflicts", c},
				    {"topology", to_json(t)}};
		std::cout << j.dump(2) << std::endl;
	} else {
		for (const auto &x : conflicts)
			std::fprintf(stderr, "%s:%s %s\n", t.source.c_str(),
				     x.line ? (std::to_string(x.line) + ":").c_str() : "", x.what.c_str());
		if (conflicts.empty())
			std::printf("%s: ok: %zu partitions, %zu regions, %zu volumes\n", t.source.c_str(),
				    t.partitions.size(), t.regions.size(), t.volumes.size());
	}
	if (!conflicts.empty())
		throw Error(t.source + ": " + std::to_string(conflicts.size()) + " conflict(s)");
}

} // namespace

void register_topology(CLI::App &app)
{
	static CheckOptions o;
	CLI::App *topo = app.add_subcommand(
		"topology", "Topologies: check one, bring it up, see it run, take it down.\n"
		"A topology: partitions on their CPUs, queues, regions and volumes, written\n"
			    "in a TOML file (docs/topology.md). Check one, bring it up (the supervisor\n"
			    "daemon and its partitions), see how it runs, take it down.\n"
			    "Examples:\n"
			    "  mkdp topology default > my.toml && mkdp topology check my.toml\n"
			    "  mkdp topology up my.toml && mkdp topology status && mkdp topology down");
	topo->require_subcommand(1);
	register_up(*topo);
	register_status(*topo);

	CLI::App *chk = topo->add_subcommand(
		"check", "Check a topology file against itself and this machine.\n"
		"Names every\n"
			 "conflict (overlapping CPUs, queues beyond the device, regions too small\n"
			 "for their frames, unknown partitions, duplicate names) with its line.\n"
			 "Without FILE, checks the built-in default topology.");
	chk->add_option("FILE", o.file, "topology file (TOML)")->check(CLI::ExistingFile);
	chk->add_flag("-j,--json", o.json, "print the verdict and the parsed topology as JSON");
	chk->callback([] { run_check(o); });

	static std::string def_netns = kTestbedDefaultName;
	static bool def_json = false;
	CLI::App *def = topo->add_subcommand(
		"default", "Print the built-in topology as a TOML file to start from.\n"
		"Print the built-in topology (two partitions on the testbed veth) as a TOML\n"
			   "file that 'mkdp topology up FILE' accepts: a starting point to edit.\n"
			   "Example: mkdp topology default > my.toml && mkdp topology check my.toml && mkdp topology up my.toml");
	def->add_option("--netns", def_netns, "the testbed namespace it names (mkdp testbed up --name)")
		->capture_default_str();
	def->add_flag("-j,--json", def_json, "print the parsed topology as JSON instead");
	def->callback([] {
		check_testbed_name(def_netns);
		std::string toml = Topology::testbed_toml(def_netns);
		if (def_json)
			std::cout << to_json(Topology::parse(toml, "<built-in>")).dump(2) << std::endl;
		else
			std::cout << "# mkdp's built-in topology for testbed " << def_netns
				  << " (docs/topology.md explains every key)\n"
				  << toml;
	});
}

} // namespace mkdp::cli
