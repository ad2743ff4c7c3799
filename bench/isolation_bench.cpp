// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench isolation`: what a partition crash costs the others. Two
// partitions on a testbed of the benchmark's own, one flow pinned to each by
// a rule; while both flows run, p1 is SIGKILLed and restarted, two ways:
// through the supervisor (`part kill`, which clears p1's XSKMAP slots before
// the signal) and from outside (kill -9: the supervisor learns of it from
// SIGCHLD, frames already in flight towards p1). Figures per repetition:
// survivor_loss (frames of p0's flow that did not reach p0, signed: a
// negative value would be frames received twice, reported separately as
// survivor_duplicates; goal 0 for both), recovery_ms (from `restart` until
// p1 receives again), leaked (frames unaccounted for once traffic stops;
// goal 0), and what the kernel counted meanwhile (survivor_kernel_drops:
// p0's RX ring full or no buffer; fill_ring_empty), which explains a
// survivor loss. Baseline: the same traffic with no kill, in the same run (its
// loss is the noise floor), and the control-path time of the restart
// command alone.
#include "bench.h"
#include "up_bed.h"

#include <supervisor.h>	// the loader library
#include <steer_loader.h>

#include <mkdp/cpu.h>
#include <mkdp/netns.h>
#include <mkdp/error.h>
#include <mkdp/subprocess.h>
#include <mkdp/supervisor.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>
#include <mkdp/veth_sender.h>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace mkdp::bench {

namespace {

using json = nlohmann::json;

struct IsolationOptions {
	CommonOptions common;
	uint64_t frames = 40'000;	// per flow and run
	uint64_t pps = 40'000;		// both flows together
};

// p's flow (10.77.0.2:500N -> 10.77.0.1:700N) steered to partition p.
void pin_flow(const std::string &ns, int p)
{
	NetNsGuard in(ns);
	Steering s = Steering::open("mkdp0");
	std::string n = std::to_string(p + 1);
	s.add_rule(SteerRule::parse("exact udp 10.77.0.2:500" + n + " 10.77.0.1:700" + n + " part " + std::to_string(p)));
}

json part(const json &st, const std::string &name)
{
	for (const auto &p : st["partitions"])
		if (p["partition"] == name)
			return p;
	throw Error("no partition " + name + " in the supervisor's status");
}

uint64_t rx(const std::string &name)
{
	return part(supervisor_request({{"cmd", "status"}}), name)["rx"];
}

// Everything the benchmark brings up, torn down whatever happens, with
// one flow pinned to each partition.
class Bed : public UpBed {
public:
	Bed() : UpBed("i")
	{
		pin_flow(ns(), 0);
		pin_flow(ns(), 1);
	}
};

struct Run {
	double survivor_loss = 0, survivor_duplicates = 0, recovery_ms = 0, restart_cmd_ms = 0, leaked = 0;
	// What the kernel counted while the run lasted: p0's sockets found
	// its RX ring full or had no buffer, and the fill rings ran empty
	// (any partition's frames): where a survivor loss comes from.
	double survivor_kernel_drops = 0, fill_ring_empty = 0;
};

// p0's AF_XDP drops (its sockets persist across p1's restarts) and the
// fill rings' empty count, summed.
std::pair<uint64_t, uint64_t> kernel_drops(const json &st)
{
	json x = part(st, "p0")["xsk"];
	uint64_t fill = 0;
	for (const auto &q : st["queues"])
		fill += q["fill_ring_empty"].get<uint64_t>();
	return {x["rx_dropped"].get<uint64_t>() + x["rx_ring_full"].get<uint64_t>(), fill};
}

enum class Kill { none, supervisor, external };

Run one_run(VethSender &tx, const IsolationOptions &o, Kill how)
{
	std::vector<VethSender::Flow> flows{{tx.udp(5001, 7001), 0, 1, 0}, {tx.udp(5002, 7002), 1, 1, 0}};
	json st0 = supervisor_request({{"cmd", "status"}});
	uint64_t p0_before = part(st0, "p0")["rx"];
	auto [drops_before, fill_before] = kernel_drops(st0);
	std::thread sender([&] { tx.send_flows(flows, o.frames, o.pps); });
	Run r;
	// The run lasts frames * 2 / pps seconds: kill at 30%, restart at 50%.
	uint64_t run_us = o.frames * 2 * 1'000'000 / o.pps;
	usleep(useconds_t(run_us * 3 / 10));
	if (how != Kill::none) {
		if (how == Kill::supervisor) {
			supervisor_request({{"cmd", "kill"}, {"name", "p1"}});
		} else {
			int pid = part(supervisor_request({{"cmd", "status"}}), "p1")["pid"];
			if (pid <= 0 || kill(pid, SIGKILL))
				throw Error("cannot kill partition p1 (pid " + std::to_string(pid) + ")");
			// `restart` is refused while the supervisor still reclaims.
			while (part(supervisor_request({{"cmd", "status"}}), "p1")["state"] != "stopped")
				usleep(500);
		}
		usleep(useconds_t(run_us / 5));
		uint64_t before = rx("p1"), t0 = now_ns();
		supervisor_request({{"cmd", "restart"}, {"name", "p1"}});
		r.restart_cmd_ms = double(now_ns() - t0) / 1e6;
		while (rx("p1") == before && now_ns() - t0 < 5'000'000'000ULL)
			usleep(500);
		r.recovery_ms = double(now_ns() - t0) / 1e6;
	}
	sender.join();
	// Quiet: let the last frames land and go back to the pool.
	json st;
	for (int i = 0; i < 200; i++) {
		st = supervisor_request({{"cmd", "status"}});
		if (st["region"]["in_flight"] == 0 && st["region"]["leaked"] == 0)
			break;
		usleep(10000);
	}
	// Not clamped: more frames than were sent would be a frame delivered
	// twice, and must show rather than read as zero loss.
	int64_t got = int64_t(part(st, "p0")["rx"].get<uint64_t>() - p0_before);
	r.survivor_loss = double(std::max<int64_t>(0, int64_t(o.frames) - got));
	r.survivor_duplicates = double(std::max<int64_t>(0, got - int64_t(o.frames)));
	r.leaked = double(st["region"]["leaked"].get<uint64_t>());
	auto [drops_after, fill_after] = kernel_drops(st);
	r.survivor_kernel_drops = double(drops_after - drops_before);
	r.fill_ring_empty = double(fill_after - fill_before);
	return r;
}

void run(const IsolationOptions &o)
{
	int reps = o.common.quick ? std::min(o.common.repetitions, 2) : o.common.repetitions;
	uint64_t frames = o.common.quick ? std::min<uint64_t>(o.frames, 20'000) : o.frames;
	IsolationOptions opt = o;
	opt.frames = frames;
	Bed bed;
	VethSender tx(bed.ns(), 2);
	struct Series {
		std::vector<double> loss, dup, rec, cmd, leaked, kdrops, fempty;
		void add(const Run &r)
		{
			kdrops.push_back(r.survivor_kernel_drops);
			fempty.push_back(r.fill_ring_empty);
			loss.push_back(r.survivor_loss);
			dup.push_back(r.survivor_duplicates);
			rec.push_back(r.recovery_ms);
			cmd.push_back(r.restart_cmd_ms);
			leaked.push_back(r.leaked);
		}
	} base, sup, ext;
	for (int i = 0; i < reps; i++) {
		base.add(one_run(tx, opt, Kill::none));
		sup.add(one_run(tx, opt, Kill::supervisor));
		ext.add(one_run(tx, opt, Kill::external));
	}
	Summary sb = summarize(base.loss);
	double base_delivered = double(frames) - sb.median;
	auto results = [&](const Series &s) {
		return json{{"survivor_loss", to_json(summarize(s.loss))},
			    {"survivor_duplicates", to_json(summarize(s.dup))},
			    {"recovery_ms", to_json(summarize(s.rec))},
			    {"restart_command_ms", to_json(summarize(s.cmd))},
			    {"leaked", to_json(summarize(s.leaked))},
			    {"survivor_kernel_drops", to_json(summarize(s.kdrops))},
			    {"fill_ring_empty", to_json(summarize(s.fempty))}};
	};
	auto ratios = [&](const Series &s) {
		Summary l = summarize(s.loss), r = summarize(s.rec), c = summarize(s.cmd);
		return json{{"survivor_delivery_vs_no_kill", base_delivered > 0 ? (double(frames) - l.median) / base_delivered : 0.0},
			    {"recovery_vs_restart_command", c.median > 0 ? r.median / c.median : 0.0}};
	};
	json res = results(sup);	// the supervisor-kill figures keep their historical names
	res["baseline_survivor_loss"] = to_json(sb);
	res["baseline_survivor_duplicates"] = to_json(summarize(base.dup));
	res["external_kill"] = results(ext);
	json rat = ratios(sup);
	rat["external_kill"] = ratios(ext);
	json doc{{"benchmark", "isolation"},
		 {"machine", machine_info()},
		 {"parameters", {{"frames_per_flow", frames}, {"pps", opt.pps}, {"repetitions", reps}}},
		 {"results", res},
		 {"ratios", rat}};
	std::ostringstream text;
	char line[512];
	std::snprintf(line, sizeof(line), "isolation (%d repetitions, %llu frames per flow at %llu pps):\n", reps,
		      (unsigned long long)frames, (unsigned long long)opt.pps);
	text << line;
	for (const auto &[name, s] : {std::pair<const char *, const Series *>{"part kill", &sup}, {"kill -9", &ext}}) {
		Summary sl = summarize(s->loss), sd = summarize(s->dup), sr = summarize(s->rec),
			sc = summarize(s->cmd), lk = summarize(s->leaked);
		std::snprintf(line, sizeof(line),
			      "  %-9s survivor loss median %.0f max %.0f (no-kill baseline %.0f), duplicates max %.0f; "
			      "recovery median %.1f ms (restart command alone %.1f ms); leaked max %.0f; "
			      "kernel-counted survivor drops max %.0f, fill ring empty max %.0f\n",
			      name, sl.median, sl.max, sb.median, sd.max, sr.median, sc.median, lk.max,
			      summarize(s->kdrops).max, summarize(s->fempty).max);
		text << line;
	}
	emit(o.common, doc, text.str());
}

} // namespace

void register_isolation(CLI::App &bench)
{
	static IsolationOptions o;
	CLI::App *cmd = bench.add_subcommand(
		"isolation", "Kill a partition under traffic: what the others lose, how fast it is back.\n"
		"Kill a partition with SIGKILL while traffic flows and restart it: survivor loss\n"
			     "(goal 0), recovery time, leaked frames (goal 0). Needs root; brings up its own\n"
			     "testbed and partitions (refuses while 'mkdp topology up' is running) and removes them.");
	add_common_options(*cmd, o.common);
	cmd->add_option("--frames", o.frames, "frames per flow and run")->capture_default_str();
	cmd->add_option("--pps", o.pps, "send rate, both flows together")->capture_default_str();
	cmd->callback([] { run(o); });
}

} // namespace mkdp::bench
