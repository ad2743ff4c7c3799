// SPDX-License-Identifier: BSD-2-Clause
// `mkdp testbed gen IFACE`: the traffic generator (userspace/include/mkdp/traffic_gen.h).
// It sends only on the veth ends of a testbed namespace.
#include "commands.h"
#include "netns_option.h"

#include <mkdp/error.h>
#include <mkdp/testbed.h>
#include <mkdp/traffic_gen.h>

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct GenCli {
	GenOptions g;
	std::string proto = "udp";
	bool json = false;
	CLI::Option *o_count = nullptr, *o_duration = nullptr;
};

// SIGINT/SIGTERM stop the send loop (it loads this flag once per batch)
// and the report of what was sent is printed all the same.
std::atomic<bool> g_stop{false};
volatile sig_atomic_t g_signal = 0;
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_signal(int sig)
{
	g_signal = sig;
	g_stop.store(true, std::memory_order_relaxed);
}

void catch_stop_signals()
{
	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;	// a signal must not fail a send or an ip command
	for (int sig : {SIGINT, SIGTERM})
		sigaction(sig, &sa, nullptr);
}

// Which testbed: --netns, else the one we already run in (ip netns exec),
// else the default. Never the caller's own namespace unless it is a testbed.
std::string pick_netns(const std::string &given)
{
	if (!given.empty())
		return given;
	if (std::optional<std::string> cur = current_netns_name(); cur && cur->rfind("mkdp", 0) == 0)
		return *cur;
	return kTestbedDefaultName;
}

void run_gen(GenCli &c)
{
	c.g.netns = pick_netns(c.g.netns);
	if (c.proto == "udp")
		c.g.proto = L4Proto::udp;
	else if (c.proto == "tcp")
		c.g.proto = L4Proto::tcp;
	else
		throw Error("gen: --proto must be udp or tcp");
	// --duration alone means "for that long", not "1000 frames or that long".
	if (c.o_duration->count() && !c.o_count->count())
		c.g.count = 0;
	catch_stop_signals();
	c.g.stop = &g_stop;
	GenReport r;
	try {
		r = generate(c.g);
	} catch (const Error &) {
		// Ctrl-C in a terminal reaches the whole process group: an `ip`
		// the set-up was running dies of it and fails the set-up. Say
		// the signal, not that failure.
		if (!g_stop.load())
			throw;
		std::fprintf(stderr, "mkdp: gen: interrupted by SIG%s before sending\n", sigabbrev_np(int(g_signal)));
		std::exit(128 + int(g_signal));
	}
	const bool interrupted = r.stopped_by == GenStop::stop_flag;
	const int sig = g_signal ? int(g_signal) : SIGINT;
	double secs = double(r.duration_ns) / 1e9;
	if (c.json) {
		nlohmann::json j = {{"result", interrupted ? "interrupted" : "sent"},
				    {"netns", r.netns},
				    {"interface", r.ifname},
				    {"frames", r.frames},
				    {"bytes", r.bytes},
				    {"flows", r.flows},
				    {"frame_size_bytes", r.frames ? r.bytes / r.frames : 0},
				    {"proto", c.proto},
				    {"ipv6", c.g.ipv6},
				    {"vlan", c.g.vlan ? nlohmann::json(c.g.vlan) : nlohmann::json(nullptr)},
				    {"rate_limit_pps", c.g.rate_pps},
				    {"frames_per_queue", r.per_queue},
				    {"duration_seconds", secs},
				    {"rate_pps", r.pps()},
				    {"rate_bps", secs > 0 ? double(r.bytes) * 8 / secs : 0.0},
				    {"stopped_by", to_string(r.stopped_by)},
				    {"interrupted", interrupted},
				    {"signal", interrupted ? nlohmann::json(sigabbrev_np(sig)) : nlohmann::json(nullptr)}};
		std::printf("%s\n", j.dump(2).c_str());
	} else {
		std::printf("gen %s in %s: %lu frames, %lu bytes, %u flows, %s%s, %.3f s, %.0f pps\n",
			    r.ifname.c_str(), r.netns.c_str(), (unsigned long)r.frames, (unsigned long)r.bytes,
			    r.flows, c.proto.c_str(), c.g.ipv6 ? "/ipv6" : "/ipv4", secs, r.pps());
		std::printf("  per TX queue (= peer RX queue):");
		for (size_t q = 0; q < r.per_queue.size(); q++)
			std::printf(" %zu:%lu", q, (unsigned long)r.per_queue[q]);
		std::printf("\n");
		if (interrupted)
			std::printf("  interrupted by SIG%s: the figures above are what was sent until then\n",
				    sigabbrev_np(sig));
		else if (r.stopped_by == GenStop::duration)
			std::printf("  stopped after --duration %g s\n", c.g.duration_s);
	}
	// A shell's convention for a command a signal ended: 128 + the signal.
	if (interrupted) {
		std::fflush(stdout);
		std::exit(128 + sig);
	}
}

} // namespace

void register_gen(CLI::App &app)
{
	static GenCli c;
	CLI::App *cmd = app.add_subcommand(
		"gen", "Send UDP/TCP frames on a testbed veth end.\n"
		"AF_PACKET TX rings, one per queue.\n"
		       "Refuses any device that is not mkdp0/mkdp1 of an mkdp testbed namespace.\n"
		       "Stops at --count frames or after --duration, whichever is first. On SIGINT or\n"
		       "SIGTERM it stops, prints what it sent until then (--json: \"interrupted\": true)\n"
		       "and exits 130 or 143.\n"
		       "Example: mkdp testbed gen mkdp1 --netns mkdp-tb --flows 16 --count 100000 --rate 50000");
	cmd->add_option("IFACE", c.g.ifname, "mkdp1 (towards mkdp0) or mkdp0")->required();
	add_netns_option(cmd, c.g.netns);
	// Every number is range-checked as a signed 64-bit value before it is
	// converted: CLI11 would read "-5" into an unsigned 64-bit option as
	// 2^64 - 5 and "99999999999999999999" as 2^64 - 1 ("send forever").
	auto in = [](int64_t lo, uint64_t hi) { return CLI::Range(lo, int64_t(hi)); };
	cmd->add_option("--flows", c.g.flows, "flows (flow f: source port + f)")
		->check(in(1, kGenMaxFlows))->capture_default_str();
	cmd->add_option("--size", c.g.size, "frame bytes without FCS (default: 64, or the smallest that fits)")
		->check(in(0, 65535));
	c.o_count = cmd->add_option("--count", c.g.count, "frames to send (with --duration: at most)")
			    ->check(in(1, kGenMaxCount))->capture_default_str();
	c.o_duration = cmd->add_option("--duration", c.g.duration_s,
				       "stop after SECONDS (with --count, whichever comes first; alone, no frame limit)")
			       ->check(CLI::Range(0.001, kGenMaxDuration));
	cmd->add_option("--rate", c.g.rate_pps, "frames per second, 0 = unlimited")
		->check(in(0, kGenMaxRate))->capture_default_str();
	cmd->add_option("--proto", c.proto, "udp or tcp")->check(CLI::IsMember({"udp", "tcp"}))->capture_default_str();
	cmd->add_flag("--ipv6", c.g.ipv6, "IPv6 instead of IPv4");
	cmd->add_option("--vlan", c.g.vlan, "802.1Q VLAN id")->check(CLI::Range(1, 4094));
	cmd->add_option("--queue", c.g.queue, "send every frame on this TX queue (default: flow % queues)")
		->check(CLI::Range(0, int(kTestbedMaxQueues) - 1));
	cmd->add_option("--dport", c.g.dst_port, "destination port")->check(in(0, 65535))->capture_default_str();
	cmd->add_option("--sport", c.g.src_port, "first source port (sport + flows - 1 must stay within 65535)")
		->check(in(0, 65535))->capture_default_str();
	cmd->add_flag("-j,--json", c.json, "print the report as JSON");
	cmd->callback([] { run_gen(c); });
}

} // namespace mkdp::cli
