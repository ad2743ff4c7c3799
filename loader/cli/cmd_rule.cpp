// SPDX-License-Identifier: BSD-2-Clause
// `mkdp steer rule add|del|list`: exact 5-tuple and prefix rules of the steering
// program on an interface.
#include "commands.h"
#include "device_option.h"
#include "cli_status.h"
#include "netns_option.h"

#include <steer_loader.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
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
	bool json = false, allow_host = false;
};

std::string join(const std::vector<std::string> &w)
{
	std::string s;
	for (const auto &x : w)
		s += (s.empty() ? "" : " ") + x;
	return s;
}

std::string addr(uint8_t family, const std::array<uint8_t, 16> &a)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf));
	return buf;
}

// A rule as fields, for scripts: no need to parse the text form. Every key
// is always there (null where it does not apply): docs/json.md.
nlohmann::json rule_json(const SteerRule &r, const nlohmann::json &names)
{
	using json = nlohmann::json;
	bool exact = r.match == SteerRule::Match::exact;
	bool ports = exact && (r.proto == IPPROTO_TCP || r.proto == IPPROTO_UDP);
	json j = {{"rule_id", r.id},
		  {"text", r.text()},
		  {"family", r.family == 4 ? "ipv4" : "ipv6"},
		  {"match", exact ? "exact" : r.match == SteerRule::Match::dst_prefix ? "dst" : "src"},
		  {"proto", nullptr},
		  {"src", nullptr},
		  {"dst", nullptr},
		  {"sport", ports ? json(r.sport) : json(nullptr)},
		  {"dport", ports ? json(r.dport) : json(nullptr)},
		  {"prefix", nullptr},
		  {"prefix_len", nullptr}};
	if (exact) {
		const char *p = r.proto == IPPROTO_TCP ? "tcp" : r.proto == IPPROTO_UDP ? "udp"
			: r.proto == IPPROTO_ICMP ? "icmp" : r.proto == IPPROTO_ICMPV6 ? "icmp6" : nullptr;
		j["proto"] = p ? json(p) : json(std::to_string(r.proto));
		j["src"] = addr(r.family, r.saddr);
		j["dst"] = addr(r.family, r.daddr);
	} else {
		j["prefix"] = addr(r.family, r.saddr) + "/" + std::to_string(r.prefix_len);
		j["prefix_len"] = r.prefix_len;
	}
	bool steer = r.action == SteerAction::steer;
	j["verdict"] = steer ? "steer" : to_string(r.action);
	j["partition_index"] = steer ? json(r.partition) : json(nullptr);
	j["partition"] = steer && r.partition < names.size() ? names[r.partition] : json(nullptr);
	return j;
}

// What `rule add|del` print: what was done to which rule, where.
void print_rule_result(bool json_out, const char *result, const Steering &s, const std::string &ifname,
		       const SteerRule &r)
{
	if (!json_out) {
		std::printf("%s rule %s\n", result, r.to_string().c_str());
		return;
	}
	std::string netns = Steering::netns_label();
	nlohmann::json names = partition_names(netns, ifname, s.config().partitions);
	std::cout << nlohmann::json{{"result", result}, {"interface", ifname}, {"netns", netns},
				    {"rule", rule_json(r, names)}}
			     .dump(2)
		  << std::endl;
}

} // namespace

void register_rule(CLI::App &app)
{
	static RuleCmd add, del, list;
	CLI::App *rule = app.add_subcommand(
		"rule", "Steering rules: exact 5-tuples and prefixes, to a partition, drop or pass.\n"
		"Steering rules on an interface: exact 5-tuples and source/destination\n"
			"prefixes, each steering to a partition, dropping, or passing to the host.\n"
			"Rules win over the flow hash and the queue map when the rules policy is on.\n"
			"Only on testbed devices unless --allow-host-device.");
	rule->require_subcommand(1);

	CLI::App *a = rule->add_subcommand(
		"add", "Add one rule; prints its id. Duplicate or conflicting rules are refused.\n"
		       "Syntax:\n"
		       "  exact udp|tcp SRC:PORT DST:PORT part N|drop|pass\n"
		       "  exact icmp|icmp6|PROTO SRC DST part N|drop|pass     (no ports)\n"
		       "  dst PREFIX/LEN part N|drop|pass\n"
		       "  src PREFIX/LEN part N|drop|pass\n"
		       "udp and tcp rules need both ports; port 0 (SRC:0 DST:0) matches the\n"
		       "non-first fragments of the pair, which carry no ports. N is below the\n"
		       "attached partition count. IPv6 addresses with ports go in brackets:\n"
		       "[fd77::1]:80. A destination prefix beats a source prefix; exact beats both.\n"
		       "Examples:\n"
		       "  mkdp steer rule add mkdp0 --netns mkdp-tb exact udp 10.77.0.2:1000 10.77.0.1:2000 part 1\n"
		       "  mkdp steer rule add mkdp0 --netns mkdp-tb dst 10.99.0.0/16 drop");
	a->add_option("IFACE", add.ifname, "interface with mkdp steering")->required();
	a->add_option("RULE", add.words, "the rule, as above")->required();
	a->add_flag("-j,--json", add.json, "print the rule added as JSON");
	add_netns_option(a, add.netns);
	add_allow_host_device_option(a, add.allow_host);
	a->callback([] {
		SteerRule r = SteerRule::parse(join(add.words));
		guard_interface_cli(add.netns, add.ifname, add.allow_host);
		InNetns in(add.netns);
		Steering s = Steering::open(add.ifname);
		r.id = s.add_rule(r);
		print_rule_result(add.json, "added", s, add.ifname, r);
	});

	CLI::App *d = rule->add_subcommand("del", "Delete a rule by the id `mkdp steer rule list` shows.");
	d->add_option("IFACE", del.ifname, "interface with mkdp steering")->required();
	d->add_option("ID", del.id, "rule id")->required();
	d->add_flag("-j,--json", del.json, "print the rule deleted as JSON");
	add_netns_option(d, del.netns);
	add_allow_host_device_option(d, del.allow_host);
	d->callback([] {
		guard_interface_cli(del.netns, del.ifname, del.allow_host);
		InNetns in(del.netns);
		Steering s = Steering::open(del.ifname);
		std::vector<SteerRule> rules = s.list_rules();
		auto r = std::find_if(rules.begin(), rules.end(), [](auto &x) { return x.id == del.id; });
		s.del_rule(del.id);	// refuses an unknown id
		print_rule_result(del.json, "deleted", s, del.ifname, *r);
	});

	CLI::App *l = rule->add_subcommand("list", "List the rules with their ids and hit counters.");
	l->add_option("IFACE", list.ifname, "interface with mkdp steering")->required();
	l->add_flag("-j,--json", list.json, "print JSON");
	add_netns_option(l, list.netns);
	add_allow_host_device_option(l, list.allow_host);
	l->callback([] {
		guard_interface_cli(list.netns, list.ifname, list.allow_host);
		InNetns in(list.netns);
		Steering s = Steering::open(list.ifname);
		SteerStats st = s.read_stats();
		nlohmann::json arr = nlohmann::json::array(),
			       names = list.json ? partition_names(Steering::netns_label(), list.ifname, s.config().partitions)
						 : nlohmann::json();
		for (const auto &[r, c] : st.rules) {
			if (!list.json) {
				std::printf("%-60s %12" PRIu64 " pkts %14" PRIu64 " bytes\n", r.to_string().c_str(),
					    uint64_t(c.packets), uint64_t(c.bytes));
				continue;
			}
			nlohmann::json j = rule_json(r, names);
			j["packets"] = c.packets;
			j["bytes"] = c.bytes;
			arr.push_back(j);
		}
		if (list.json)
			std::cout << nlohmann::json{{"interface", list.ifname}, {"netns", Steering::netns_label()}, {"rules", arr}}.dump(2)
				  << std::endl;
		else if (st.rules.empty())
			std::printf("no rules on %s\n", list.ifname.c_str());
	});
}

} // namespace mkdp::cli
