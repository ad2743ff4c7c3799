// SPDX-License-Identifier: BSD-2-Clause
// `mkdp steer stats IFACE`: live per-partition rates from the steering program's
// per-CPU counters, in the manner of xdp-bench's periodic output.
#include "commands.h"
#include "device_option.h"
#include "cli_status.h"
#include "netns_option.h"

#include <mkdp/cpu.h>
#include <steer_loader.h>

#include <cinttypes>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct StatsCmd {
	std::string ifname, netns;
	double interval = 1.0;
	uint32_t count = 0;
	bool json = false, allow_host = false;
};

volatile sig_atomic_t g_stop = 0;

double rate(uint64_t now, uint64_t before, double secs)
{
	return secs > 0 ? double(now - before) / secs : 0;
}

// One sample (docs/json.md: steer-stats). Rates in the unit their name
// says: packets per second (_pps) and bits per second (_bps).
nlohmann::json sample_json(const StatsCmd &o, const std::string &netns, const SteerStats &now,
			   const SteerStats &before, double secs, const nlohmann::json &names)
{
	nlohmann::json p = nlohmann::json::array();
	for (uint32_t i = 0; i < names.size() && i < now.partitions.size(); i++) {
		const auto &n = now.partitions[i], &b = before.partitions[i];
		p.push_back({{"partition", names[i]},
			     {"partition_index", i},
			     {"packets", n.packets},
			     {"bytes", n.bytes},
			     {"rate_pps", rate(n.packets, b.packets, secs)},
			     {"rate_bps", 8 * rate(n.bytes, b.bytes, secs)},
			     {"no_socket", n.no_socket},
			     {"drops", n.drops},
			     {"redirect_errors", n.redirect_errors}});
	}
	const auto &t = now.totals;
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return {{"interface", o.ifname},
		{"netns", netns},
		{"time_seconds", double(ts.tv_sec) + double(ts.tv_nsec) / 1e9},	// CLOCK_REALTIME
		{"interval_seconds", secs},
		{"partitions", p},
		{"totals",
		 {{"packets", t.packets}, {"bytes", t.bytes}, {"rate_pps", rate(t.packets, before.totals.packets, secs)},
		  {"rate_bps", 8 * rate(t.bytes, before.totals.bytes, secs)}, {"redirected", t.redirected},
		  {"passed", t.passed}, {"dropped", t.dropped}, {"non_ip", t.non_ip}, {"malformed", t.malformed},
		  {"unsteered", t.unsteered}}}};
}

std::string name_of(const nlohmann::json &p)
{
	return p["partition"].is_null() ? std::to_string(p["partition_index"].get<uint32_t>())
					: p["partition"].get<std::string>();
}

void print_sample(const nlohmann::json &s)
{
	std::printf("%-10s %12s %14s %12s %10s %10s %10s\n", "partition", "pps", "bits/s", "packets",
		    "no_socket", "drops", "redir_err");
	uint64_t no_socket = 0, drops = 0, redirect_errors = 0;
	for (const auto &p : s["partitions"]) {
		no_socket += p["no_socket"].get<uint64_t>();
		drops += p["drops"].get<uint64_t>();
		redirect_errors += p["redirect_errors"].get<uint64_t>();
		std::printf("%-10s %12.0f %14.0f %12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
			    name_of(p).c_str(), p["rate_pps"].get<double>(), p["rate_bps"].get<double>(),
			    p["packets"].get<uint64_t>(), p["no_socket"].get<uint64_t>(), p["drops"].get<uint64_t>(),
			    p["redirect_errors"].get<uint64_t>());
	}
	const auto &t = s["totals"];
	std::printf("%-10s %12.0f %14.0f %12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", "total",
		    t["rate_pps"].get<double>(), t["rate_bps"].get<double>(), t["packets"].get<uint64_t>(), no_socket,
		    drops, redirect_errors);
	std::printf("  program: redirected %" PRIu64 ", passed %" PRIu64 ", dropped %" PRIu64 ", non-ip %" PRIu64
		    ", malformed %" PRIu64 ", unsteered %" PRIu64 "\n\n",
		    t["redirected"].get<uint64_t>(), t["passed"].get<uint64_t>(), t["dropped"].get<uint64_t>(),
		    t["non_ip"].get<uint64_t>(), t["malformed"].get<uint64_t>(), t["unsteered"].get<uint64_t>());
	std::fflush(stdout);
}

void run_stats(const StatsCmd &o)
{
	guard_interface_cli(o.netns, o.ifname, o.allow_host);
	InNetns in(o.netns);
	Steering s = Steering::open(o.ifname);
	const std::string netns = Steering::netns_label();
	const nlohmann::json names = partition_names(netns, o.ifname, s.config().partitions);
	std::signal(SIGINT, [](int) { g_stop = 1; });
	std::signal(SIGTERM, [](int) { g_stop = 1; });

	SteerStats before = s.read_stats();
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; (o.count == 0 || i < o.count) && !g_stop; i++) {
		// Sleep in slices so Ctrl-C answers at once.
		uint64_t until = t0 + uint64_t(o.interval * 1e9);
		while (now_ns() < until && !g_stop)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		SteerStats now = s.read_stats();
		uint64_t t1 = now_ns();
		nlohmann::json j = sample_json(o, netns, now, before, double(t1 - t0) / 1e9, names);
		if (o.json)
			std::cout << j.dump() << std::endl; // one JSON object per line
		else
			print_sample(j);
		before = std::move(now);
		t0 = t1;
	}
}

} // namespace

void register_stats(CLI::App &app)
{
	static StatsCmd o;
	CLI::App *cmd = app.add_subcommand(
		"stats", "Live per-partition packet and byte rates of the steering.\n"
		"Live per-partition counters of the steering on an interface: packets and\n"
			 "bytes per second steered to each partition, frames that found no socket,\n"
			 "drops and redirect errors, and the program's totals. Runs until Ctrl-C or\n"
			 "--count samples; --json prints one JSON object per sample and line, with\n"
			 "the interface, namespace and time (CLOCK_REALTIME seconds).");
	cmd->add_option("IFACE", o.ifname, "interface with mkdp steering")->required();
	cmd->add_option("--interval,-i", o.interval, "seconds between samples")
		->check(CLI::Range(0.05, 3600.0))->capture_default_str();
	cmd->add_option("--count,-c", o.count, "samples to print (0: until interrupted)")->capture_default_str();
	cmd->add_flag("-j,--json", o.json, "print JSON lines");
	add_netns_option(cmd, o.netns);
	add_allow_host_device_option(cmd, o.allow_host);
	cmd->callback([] { run_stats(o); });
}

} // namespace mkdp::cli
