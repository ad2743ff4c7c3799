// SPDX-License-Identifier: BSD-2-Clause
// `mkdp rule add|del|list`: exact 5-tuple and prefix rules of the steering
// program on an interface.
#include "commands.h"
#include "netns_option.h"

#include <steer_loader.h>

#include <cinttypes>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct RuleCmd {
	std::string ifname, netns;
	std::vector<std::string> words;
	uint32_t id = 0;
	bool json = false;
};

std::string join(const std::vector<std::string> &w)
{
	std::string s;
	for (const auto &x : w)
		s += (s.empty() ? "" : " ") + x;
	return s;
}

} // namespace

void register_rule(CLI::App &app)
{
	static RuleCmd add, del, list;
	CLI::App *rule = app.add_subcommand(
		"rule", "Steering rules on an interface: exact 5-tuples and source/destination\n"
			"prefixes, each steering to a partition, dropping, or passing to the host.\n"
			"Rules win over the flow hash and the queue map when the rules policy is on.");
	rule->require_subcommand(1);

	CLI::App *a = rule->add_subcommand(
		"add", "Add one rule; prints its id. Duplicate or conflicting rules are refused.\n"
		       "Syntax:\n"
		       "  exact udp|tcp SRC:PORT DST:PORT part N|drop|pass\n"
		       "  dst PREFIX/LEN part N|drop|pass\n"
		       "  src PREFIX/LEN part N|drop|pass\n"
		       "IPv6 addresses with ports go in brackets: [fd77::1]:80.\n"
		       "Examples:\n"
		       "  mkdp rule add mkdp0 --netns mkdp-tb exact udp 10.77.0.2:1000 10.77.0.1:2000 part 1\n"
		       "  mkdp rule add mkdp0 --netns mkdp-tb dst 10.99.0.0/16 drop");
	a->add_option("IFACE", add.ifname, "interface with mkdp steering")->required();
	a->add_option("RULE", add.words, "the rule, as above")->required();
	add_netns_option(a, add.netns);
	a->callback([] {
		InNetns in(add.netns);
		SteerRule r = SteerRule::parse(join(add.words));
		Steering s = Steering::open(add.ifname);
		uint32_t id = s.add_rule(r);
		r.id = id;
		std::printf("added rule %s\n", r.to_string().c_str());
	});

	CLI::App *d = rule->add_subcommand("del", "Delete a rule by the id `rule list` shows.");
	d->add_option("IFACE", del.ifname, "interface with mkdp steering")->required();
	d->add_option("ID", del.id, "rule id")->required();
	add_netns_option(d, del.netns);
	d->callback([] {
		InNetns in(del.netns);
		Steering::open(del.ifname).del_rule(del.id);
		std::printf("deleted rule #%u\n", del.id);
	});

	CLI::App *l = rule->add_subcommand("list", "List the rules with their ids and hit counters.");
	l->add_option("IFACE", list.ifname, "interface with mkdp steering")->required();
	l->add_flag("--json", list.json, "print JSON");
	add_netns_option(l, list.netns);
	l->callback([] {
		InNetns in(list.netns);
		Steering s = Steering::open(list.ifname);
		SteerStats st = s.read_stats();
		nlohmann::json arr = nlohmann::json::array();
		for (const auto &[r, c] : st.rules) {
			if (list.json)
				arr.push_back({{"id", r.id}, {"rule", r.to_string()}, {"packets", c.packets},
					       {"bytes", c.bytes}});
			else
				std::printf("%-60s %12" PRIu64 " pkts %14" PRIu64 " bytes\n", r.to_string().c_str(),
					    uint64_t(c.packets), uint64_t(c.bytes));
		}
		if (list.json)
			std::cout << nlohmann::json{{"interface", list.ifname}, {"rules", arr}}.dump(2) << std::endl;
		else if (st.rules.empty())
			std::printf("no rules on %s\n", list.ifname.c_str());
	});
}

} // namespace mkdp::cli
