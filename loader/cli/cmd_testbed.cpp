// SPDX-License-Identifier: BSD-2-Clause
// `mkdp testbed up|down|show`: the veth testbed in its own network namespace
// (userspace/include/mkdp/testbed.h, docs/testbed.md).
#include "commands.h"

#include <mkdp/device_safety.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/testbed.h>
#include <steer_loader.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct TestbedCliOptions {
	TestbedOptions tb;
	bool json = false;
};

nlohmann::json end_json(const TestbedEnd &e)
{
	return {{"interface", e.ifname},   {"ifindex", e.ifindex},     {"mac", e.mac.str()},
		{"ipv4", e.ip4.str()},	   {"ipv6", e.ip6.str()},      {"rx_queues", e.rx_queues},
		{"tx_queues", e.tx_queues}, {"up", e.up},
		{"xdp_program", e.xdp_prog.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.xdp_prog)}};
}

// `result` is what `up` did ("created", "unchanged"); `show` reports only.
void print_info(const TestbedInfo &i, const char *result, bool as_json)
{
	if (as_json) {
		nlohmann::json j = {{"netns", i.name}, {"queues", i.queues}, {"rx", end_json(i.rx)}, {"tx", end_json(i.tx)}};
		if (result)
			j["result"] = result;
		std::printf("%s\n", j.dump(2).c_str());
		return;
	}
	const char *state = !result ? "up" : std::string(result) == "created" ? "up" : "already up";
	std::printf("testbed %s: %s, %u queues, native XDP ready\n", i.name.c_str(), state, i.queues);
	for (const TestbedEnd *e : {&i.rx, &i.tx})
		std::printf("  %-6s %s  %s/24  %s/64  rx %u tx %u queues%s%s\n", e->ifname.c_str(),
			    e->mac.str().c_str(), e->ip4.str().c_str(), e->ip6.str().c_str(), e->rx_queues,
			    e->tx_queues, e->xdp_prog.empty() ? "" : "  xdp ", e->xdp_prog.c_str());
	std::printf("  steer on %s, send with: mkdp testbed gen %s --netns %s\n", i.rx.ifname.c_str(),
		    i.tx.ifname.c_str(), i.name.c_str());
}

// Deleting the namespace takes the devices and so the attachments with it,
// but not the pins in the shared bpffs (the program, the maps, the
// tracepoint link would live on): detach mkdp's steering from the testbed's
// devices first. Returns the interfaces detached.
std::vector<std::string> detach_steering(const std::string &name)
{
	std::vector<std::string> done;
	bool gone = !netns_exists(name);
	if (!gone && !testbed_info(name))	// throws for a namespace that is no testbed
		return done;
	for (const SteerPins &p : Steering::list_pins())
		if (p.netns == name) {
			if (gone)	// pins left by a namespace removed otherwise
				Steering::remove_stale(name, p.ifname);
			else
				run_in_netns(name, [&] { Steering::detach(p.ifname); });
			done.push_back(p.ifname);
		}
	return done;
}

} // namespace

void register_testbed(CLI::App &app)
{
	static TestbedCliOptions o;
	CLI::App *tb = app.add_subcommand(
		"testbed", "A veth pair in a namespace of its own: where steering runs safely.\n"
		"The veth testbed: a network namespace (default mkdp-tb) holding a\n"
			   "multi-queue veth pair, mkdp0 (where steering attaches) and mkdp1 (where\n"
			   "the generator sends). Everything stays inside the namespace.");
	tb->require_subcommand(1);
	auto name_opt = [](CLI::App *c) {
		c->add_option("--name", o.tb.name, "namespace name (must start with mkdp)")->capture_default_str();
		c->add_flag("-j,--json", o.json, "print the testbed as JSON");
	};

	CLI::App *up = tb->add_subcommand("up", "Create the testbed (idempotent for the same --queues).");
	name_opt(up);
	up->add_option("--queues", o.tb.queues, "RX/TX queues on each veth end")
		->check(CLI::Range(1u, kTestbedMaxQueues))
		->capture_default_str();
	up->callback([] {
		TestbedUpResult r = testbed_up(o.tb);
		print_info(r.info, r.created ? "created" : "unchanged", o.json);
	});

	CLI::App *down = tb->add_subcommand(
		"down", "Remove the testbed and everything mkdp set up in it.\n"
		"Remove the testbed namespace and all in it, mkdp steering (program, maps,\n"
			"pins) on its devices included. Refused while 'mkdp topology up' runs partitions on\n"
			"it: 'mkdp topology down' first.");
	name_opt(down);
	down->callback([] {
		check_testbed_name(o.tb.name);
		refuse_while_held(o.tb.name, "", "remove testbed " + o.tb.name);
		std::vector<std::string> detached = detach_steering(o.tb.name);
		bool removed = testbed_down(o.tb.name);
		if (o.json) {
			std::printf("%s\n", nlohmann::json{{"result", removed ? "removed" : "unchanged"},
							   {"netns", o.tb.name},
							   {"detached_interfaces", detached}}
						    .dump(2)
						    .c_str());
			return;
		}
		for (const std::string &d : detached)
			std::printf("testbed %s: detached mkdp steering from %s\n", o.tb.name.c_str(), d.c_str());
		std::printf("testbed %s: %s\n", o.tb.name.c_str(), removed ? "removed" : "was not up");
	});

	CLI::App *show = tb->add_subcommand("show", "Describe the testbed; exit 1 when it is not up.");
	name_opt(show);
	show->callback([] {
		std::optional<TestbedInfo> i = testbed_info(o.tb.name);
		if (!i)
			throw mkdp::Error("testbed " + o.tb.name + " is not up");
		print_info(*i, nullptr, o.json);
	});

	register_gen(*tb);
}

} // namespace mkdp::cli
