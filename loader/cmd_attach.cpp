// SPDX-License-Identifier: BSD-2-Clause
// `mkdp attach`, `mkdp detach`, `mkdp status`: the steering program on an
// interface, in the manner of `xdp-loader load/unload/status`.
#include "commands.h"
#include "netns_option.h"

#include <mkdp/error.h>
#include <steer_loader.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

nlohmann::json partitions_status_json(); // cmd_part.cpp

nlohmann::json status_json(const SteerStatus &s)
{
	nlohmann::json socks = nlohmann::json::object();
	for (const auto &[q, parts] : s.sockets)
		socks[std::to_string(q)] = parts;
	return {{"interface", s.ifname},
		{"ifindex", s.ifindex},
		{"attached", s.attached},
		{"prog_id", s.prog_id},
		{"mode", to_string(s.mode)},
		{"attach", s.multiprog ? "multiprog" : "single"},
		{"policy", policy_string(s.config.policy)},
		{"default", to_string(s.config.default_action)},
		{"partitions", s.config.partitions},
		{"symmetric", s.config.symmetric},
		{"rules", s.rules},
		{"owner_pid", s.owner_pid},
		{"attach_time", s.attach_time},
		{"pins", Steering::pin_dir(s.ifname)},
		{"sockets_by_queue", socks}};
}

namespace {

struct AttachCmd {
	std::string ifname, netns, mode = "native", policy = "queue", dflt = "pass";
	uint32_t partitions = 2;
	bool symmetric = false, force = false;
};

void print_status(const SteerStatus &s)
{
	std::printf("%s (ifindex %d): %s\n", s.ifname.c_str(), s.ifindex,
		    s.attached ? "steering attached" : "pinned but NOT attached (run attach again or detach)");
	std::printf("  program   id %u, %s mode, %s attach%s\n", s.prog_id, to_string(s.mode),
		    s.multiprog ? "multiprog (libxdp dispatcher)" : "single-program",
		    s.multiprog ? "" : " (libxdp's dispatcher is unavailable or not used)");
	std::printf("  policy    %s, default action %s, %u partitions%s\n",
		    policy_string(s.config.policy).c_str(), to_string(s.config.default_action),
		    s.config.partitions, s.config.symmetric ? ", symmetric hash" : "");
	std::printf("  rules     %zu\n", s.rules);
	std::printf("  pins      %s\n", Steering::pin_dir(s.ifname).c_str());
	if (s.sockets.empty())
		std::printf("  sockets   none (steered frames take the default action, counted as no_socket)\n");
	for (const auto &[q, parts] : s.sockets) {
		std::printf("  queue %-3u sockets for partitions", q);
		for (uint32_t p : parts)
			std::printf(" %u", p);
		std::printf("\n");
	}
}

XdpMode parse_mode(const std::string &m) { return m == "skb" ? XdpMode::skb : XdpMode::native; }

SteerAction parse_default(const std::string &d)
{
	return d == "drop" ? SteerAction::drop : SteerAction::pass;
}

// Interfaces with mkdp pins, for `status` without an interface.
std::vector<std::string> pinned_interfaces()
{
	std::vector<std::string> out;
	std::error_code ec;
	std::filesystem::path root = std::filesystem::path(Steering::pin_dir("x")).parent_path();
	for (auto &e : std::filesystem::directory_iterator(root, ec))
		if (e.is_directory())
			out.push_back(e.path().filename().string());
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace

void register_attach(CLI::App &app)
{
	static AttachCmd a;
	CLI::App *att = app.add_subcommand(
		"attach", "Attach mkdp's XDP steering program to an interface.\n"
			  "Frames are steered to partitions by rules, then the flow hash, then the\n"
			  "RX queue map (whichever policies are enabled); everything else takes the\n"
			  "default action. Maps are pinned under /sys/fs/bpf/mkdp/IFACE/.\n"
			  "Attaching again with the same mode updates the configuration in place.\n"
			  "Example: mkdp attach mkdp0 --netns mkdp-tb --policy rules,hash --partitions 2");
	att->add_option("IFACE", a.ifname, "interface to attach to")->required();
	att->add_option("--mode", a.mode, "native (driver) or skb (generic) XDP")
		->check(CLI::IsMember({"native", "skb"}))->capture_default_str();
	att->add_option("--policy", a.policy,
			"steering policies, combinable: queue, hash, rules (e.g. rules,hash)")
		->capture_default_str();
	att->add_option("--default", a.dflt, "action for frames no policy steers: pass (host stack) or drop")
		->check(CLI::IsMember({"pass", "drop"}))->capture_default_str();
	att->add_option("--partitions", a.partitions, "number of partitions steered to")
		->check(CLI::Range(1u, uint32_t(MKDP_STEER_MAX_PARTITIONS)))->capture_default_str();
	att->add_flag("--symmetric", a.symmetric, "hash both directions of a flow alike");
	att->add_flag("--force", a.force, "replace an XDP program mkdp did not attach");
	add_netns_option(att, a.netns);
	att->callback([] {
		InNetns in(a.netns);
		AttachOptions o;
		o.mode = parse_mode(a.mode);
		o.force = a.force;
		o.config.policy = parse_policy(a.policy);
		o.config.default_action = parse_default(a.dflt);
		o.config.partitions = a.partitions;
		o.config.symmetric = a.symmetric;
		Steering s = Steering::attach(a.ifname, o);
		SteerStatus st = s.status();
		std::printf("attached to %s: program id %u, %s mode, %s attach, policy %s, default %s\n",
			    a.ifname.c_str(), st.prog_id, to_string(st.mode),
			    st.multiprog ? "multiprog" : "single-program", policy_string(st.config.policy).c_str(),
			    to_string(st.config.default_action));
	});

	static std::string det_if, det_ns;
	CLI::App *det = app.add_subcommand(
		"detach", "Remove mkdp's steering program from an interface, with its pins and maps.");
	det->add_option("IFACE", det_if, "interface to detach from")->required();
	add_netns_option(det, det_ns);
	det->callback([] {
		InNetns in(det_ns);
		Steering::detach(det_if);
		std::printf("detached from %s\n", det_if.c_str());
	});

	static std::string st_if, st_ns;
	static bool st_json = false;
	CLI::App *st = app.add_subcommand(
		"status", "Show the steering on an interface (or on every interface mkdp has pins\n"
			  "for): program id, XDP mode, attach kind, policy, partitions, sockets per queue.");
	st->add_option("IFACE", st_if, "interface (default: all with mkdp pins)");
	st->add_flag("--json", st_json, "print JSON");
	add_netns_option(st, st_ns);
	st->callback([] {
		InNetns in(st_ns);
		std::vector<std::string> names = st_if.empty() ? pinned_interfaces()
							       : std::vector<std::string>{st_if};
		nlohmann::json all = nlohmann::json::array();
		for (const std::string &n : names) {
			SteerStatus s = Steering::open(n).status();
			if (st_json)
				all.push_back(status_json(s));
			else
				print_status(s);
		}
		if (st_json)
			std::cout << nlohmann::json{{"interfaces", all}, {"partitions", partitions_status_json()}}.dump(2) << std::endl;
		else if (names.empty())
			std::printf("no interface has mkdp steering attached\n");
	});
}

} // namespace mkdp::cli
