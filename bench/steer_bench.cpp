// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench steer`: what the steering program costs per frame, against
// bpf/bare_redirect.bpf.c (the frame to the socket of its RX queue, nothing
// else), both run by the kernel through BPF_PROG_RUN in the same process.
//
// Two views of the same programs, both kernel-timed means per frame:
//   program    BPF_PROG_RUN on one frame, stopping at the verdict: the
//              program alone (a bare redirect is a few ns here, so every
//              map lookup weighs heavily);
//   delivered  BPF_PROG_RUN in live-frame mode on the testbed's mkdp0:
//              the verdict is carried out, the frame copied into an AF_XDP
//              socket that a receiver on the other CPU drains. This is the
//              cost per frame on the receive CPU, the figure a NIC queue's
//              budget is spent on.
// Figures are interleaved per repetition so drift on a shared machine hits
// all alike, and ratios are taken per repetition (paired) before the median.
// Every slot the frames hit holds the testbed's socket, so every program
// returns XDP_REDIRECT.
#include "bench.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_xdp.h>
#include <netinet/in.h>

#include <mkdp/error.h>
#include <mkdp/packet.h>

#include "bare_redirect.skel.h"
#include "steer_loader.h"

namespace mkdp::bench {

namespace {

struct SteerBenchOptions {
	CommonOptions common;
	uint32_t packets = 1'000'000;		// BPF_PROG_RUN repeat per figure and repetition
	uint32_t live_frames = 500'000;		// live frames per delivered figure and repetition
	uint32_t exact_rules = MKDP_STEER_MAX_EXACT_RULES;
	uint32_t prefix_rules = 10'000;		// half destination, half source, IPv4
};

std::vector<uint8_t> udp_frame(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	FrameSpec s;
	s.src_mac = MacAddr::parse("02:00:00:00:00:01");
	s.dst_mac = MacAddr::parse("02:00:00:00:00:02");
	s.src_ip = IpAddr::parse(src);
	s.dst_ip = IpAddr::parse(dst);
	s.src_port = sport;
	s.dst_port = dport;
	return make_frame(s);
}

// Average ns per run of prog on frame, as the kernel timed it.
double ns_per_run(int prog_fd, const std::vector<uint8_t> &frame, uint32_t repeat, int expect)
{
	xdp_md md{};
	md.data_end = uint32_t(frame.size());
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_size_in = uint32_t(frame.size()),
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = int(repeat));
	if (bpf_prog_test_run_opts(prog_fd, &o))
		throw_errno("BPF_PROG_RUN");
	if (int(o.retval) != expect)
		throw Error("steer bench: verdict " + std::to_string(o.retval) + ", expected " + std::to_string(expect));
	return double(o.duration);
}

// 64k exact 5-tuples and the prefixes: what the rules figures run against.
void load_rules(Steering &s, const SteerBenchOptions &o)
{
	std::vector<SteerRule> rules;
	rules.reserve(o.exact_rules + o.prefix_rules);
	for (uint32_t i = 0; i < o.exact_rules; i++) {
		SteerRule r;
		r.match = SteerRule::Match::exact;
		r.proto = IPPROTO_UDP;
		r.saddr = {192, 168, uint8_t(i >> 8), uint8_t(i)};
		r.daddr = {10, 200, 0, 1};
		r.sport = uint16_t(1024 + (i % 7));
		r.dport = 4789;
		r.partition = i % 4;
		rules.push_back(r);
	}
	for (uint32_t i = 0; i < o.prefix_rules; i++) {
		SteerRule r;
		bool dst = i % 2 == 0;
		uint32_t n = i / 2;
		r.match = dst ? SteerRule::Match::dst_prefix : SteerRule::Match::src_prefix;
		r.saddr = {uint8_t(dst ? 10 : 172), uint8_t(dst ? n >> 8 : 16 + (n >> 8)), uint8_t(n), 0};
		r.prefix_len = 24;
		r.partition = i % 4;
		rules.push_back(r);
	}
	s.add_rules(rules);
}

struct Figure {
	std::string name;	// JSON key
	std::string what;	// for people
	int prog_fd;
	std::vector<uint8_t> frame;
	std::vector<double> ns, live_ns;
	std::vector<double> ratio, live_ratio;	// per repetition, against the bare program
};

void run(const SteerBenchOptions &o)
{
	uint32_t packets = o.common.quick ? std::min<uint32_t>(o.packets, 100'000) : o.packets;
	uint32_t live = o.common.quick ? std::min<uint32_t>(o.live_frames, 100'000) : o.live_frames;
	int reps = o.common.quick ? std::min(o.common.repetitions, 3) : o.common.repetitions;

	DeliveryBed bed;
	int xsk = bed.xsk_fd();
	struct Closer {
		bare_redirect *bare = nullptr;
		~Closer() { bare_redirect__destroy(bare); }
	} closer;

	closer.bare = bare_redirect__open_and_load();
	if (!closer.bare)
		throw_errno("load bare_redirect");
	uint32_t q0 = 0;
	if (bpf_map_update_elem(bpf_map__fd(closer.bare->maps.xsks_by_queue), &q0, &xsk, BPF_ANY))
		throw_errno("bare_redirect: socket into xsks_by_queue");

	auto steering = [&](uint32_t policy) {
		SteerConfig c;
		c.policy = policy;
		c.partitions = 4;
		Steering s = Steering::load(c);
		for (uint32_t p = 0; p < c.partitions; p++)
			s.set_socket(0, p, xsk);
		return s;
	};
	Steering queue = steering(MKDP_STEER_POLICY_QUEUE);
	Steering hash = steering(MKDP_STEER_POLICY_HASH);
	Steering rules = steering(MKDP_STEER_POLICY_RULES);
	load_rules(rules, o);
	Steering all = steering(MKDP_STEER_POLICY_ALL);
	load_rules(all, o);

	auto frame = udp_frame("192.168.0.7", "10.200.0.1", 1024, 4789);	// exact rule #7
	auto prefix_frame = udp_frame("172.16.1.9", "10.99.0.1", 5000, 53);	// misses exact and dst: src /24
	auto miss_frame = udp_frame("198.18.0.1", "198.19.0.1", 5000, 53);	// no rule: falls to the hash
	std::vector<Figure> figs = {
		{"bare_redirect", "bare_redirect.bpf.c (baseline)", bpf_program__fd(closer.bare->progs.bare_redirect), frame},
		{"queue", "queue map", queue.prog_fd(), frame},
		{"hash", "flow hash", hash.prog_fd(), frame},
		{"rules_exact", "rules, exact 5-tuple hit", rules.prog_fd(), frame},
		{"rules_prefix", "rules, source prefix hit", rules.prog_fd(), prefix_frame},
		{"all_miss", "rules+hash+queue, no rule matches", all.prog_fd(), miss_frame},
	};

	// warm-up: caches, JIT'd code, map pages
	for (auto &f : figs) {
		ns_per_run(f.prog_fd, f.frame, std::max<uint32_t>(packets / 10, 1000), XDP_REDIRECT);
		bed.live_ns_per_frame(f.prog_fd, f.frame, std::max<uint32_t>(live / 10, 1000));
	}
	for (int r = 0; r < reps; r++) {
		for (auto &f : figs) {
			f.ns.push_back(ns_per_run(f.prog_fd, f.frame, packets, XDP_REDIRECT));
			f.live_ns.push_back(bed.live_ns_per_frame(f.prog_fd, f.frame, live));
		}
		for (auto &f : figs) {
			f.ratio.push_back(f.ns.back() / figs[0].ns.back());
			f.live_ratio.push_back(f.live_ns.back() / figs[0].live_ns.back());
		}
	}

	nlohmann::json results, ratios, live_ratios, goals;
	std::ostringstream text;
	char line[200];
	std::snprintf(line, sizeof(line), "%-38s %9s %7s %13s   %9s %7s %13s\n", "60-byte UDP frame", "program", "x bare",
		      "p25-p75", "delivered", "x bare", "p25-p75");
	text << line;
	for (auto &f : figs) {
		Summary ns = summarize(f.ns), ratio = summarize(f.ratio);
		Summary lns = summarize(f.live_ns), lratio = summarize(f.live_ratio);
		results[f.name] = {{"what", f.what},
				   {"ns_per_frame", to_json(ns)},
				   {"ratio_vs_bare", to_json(ratio)},
				   {"delivered_ns_per_frame", to_json(lns)},
				   {"delivered_ratio_vs_bare", to_json(lratio)}};
		if (f.name != "bare_redirect") {
			ratios[f.name] = ratio.median;
			live_ratios[f.name] = lratio.median;
		}
		std::snprintf(line, sizeof(line), "%-38s %6.1f ns %7.2f %6.2f-%-6.2f   %6.1f ns %7.2f %6.2f-%-6.2f\n",
			      f.what.c_str(), ns.median, ratio.median, ratio.p25, ratio.p75, lns.median, lratio.median,
			      lratio.p25, lratio.p75);
		text << line;
	}
	auto goal = [](double limit, double ratio) {
		return nlohmann::json{{"max_ratio", limit}, {"ratio", ratio}, {"met", ratio <= limit}};
	};
	auto worst = [](const nlohmann::json &r) {
		return std::max(r["rules_exact"].get<double>(), r["rules_prefix"].get<double>());
	};
	goals["queue"] = goal(1.2, ratios["queue"].get<double>());
	goals["rules"] = goal(2.0, worst(ratios));
	goals["queue_delivered"] = goal(1.2, live_ratios["queue"].get<double>());
	goals["rules_delivered"] = goal(2.0, worst(live_ratios));
	auto met = [&](const char *g) { return goals[g]["met"].get<bool>() ? "met" : "NOT met"; };
	text << "goals, program alone: queue <= 1.2x bare " << met("queue") << ", rules <= 2x bare " << met("rules")
	     << "; delivered: queue " << met("queue_delivered") << ", rules " << met("rules_delivered") << "\n";
	text << "(" << reps << " repetitions of " << packets << " runs and " << live << " live frames; "
	     << o.exact_rules << " exact rules, " << o.prefix_rules << " prefixes loaded)\n";

	// End to end: the whole path into a socket, against the kernel stack.
	nlohmann::json e2e = measure_delivery(bed, o.common.quick, reps);
	double vs_netns = e2e["ratio"]["median"].get<double>();
	goals["delivery"] = {{"min_ratio", 3.0}, {"ratio", vs_netns}, {"met", vs_netns >= 3.0}};
	std::snprintf(line, sizeof(line),
		      "end to end (live frames into mkdp0): AF_XDP socket %.0f pps, netns UDP socket %.0f pps: %.2fx "
		      "(goal >= 3x: %s)\n",
		      e2e["mkdp_xsk_pps"]["median"].get<double>(), e2e["netns_udp_pps"]["median"].get<double>(),
		      vs_netns, goals["delivery"]["met"].get<bool>() ? "met" : "NOT met");
	text << line;

	nlohmann::json doc = {
		{"benchmark", "steer"},
		{"machine", machine_info()},
		{"parameters",
		 {{"packets_per_run", packets}, {"live_frames_per_run", live}, {"repetitions", reps},
		  {"frame_bytes", frame.size()},
		  {"exact_rules", o.exact_rules}, {"prefix_rules", o.prefix_rules}, {"partitions", 4},
		  {"method", "bpf_prog_test_run_opts duration (kernel-timed mean per frame); program: verdict only; "
			     "delivered: live frames on the testbed's mkdp0 queue 0, redirected into an AF_XDP socket "
			     "drained on the other CPU"}}},
		{"results", results},
		{"ratios",
		 {{"vs_bare_redirect", ratios}, {"vs_bare_redirect_delivered", live_ratios}, {"vs_netns_socket", vs_netns}}},
		{"goals", goals},
		{"end_to_end", e2e},
	};
	emit(o.common, doc, text.str());
}

} // namespace

void register_steer(CLI::App &bench)
{
	auto o = std::make_shared<SteerBenchOptions>();
	CLI::App *cmd = bench.add_subcommand(
		"steer", "The cost of each steering policy per frame, and delivery end to end.\n"
		"Per-frame cost of the XDP steering policies (queue, hash, rules with 64k exact\n"
			 "rules and 10k prefixes) against a bare XDP redirect, through BPF_PROG_RUN: the program\n"
			 "alone, and delivered (live frames redirected into an AF_XDP socket on a testbed of\n"
			 "its own); end to end, frames/s into the socket against the kernel stack into a\n"
			 "UDP socket in a namespace. Needs root.");
	add_common_options(*cmd, o->common);
	cmd->add_option("--packets", o->packets, "BPF_PROG_RUN repeat count per figure and repetition")
		->check(CLI::Range(1000u, 100'000'000u))
		->capture_default_str();
	cmd->add_option("--live-frames", o->live_frames, "live frames per delivered figure and repetition")
		->check(CLI::Range(1000u, 100'000'000u))
		->capture_default_str();
	cmd->add_option("--exact-rules", o->exact_rules, "exact 5-tuple rules loaded for the rules figures")
		->check(CLI::Range(1u, uint32_t(MKDP_STEER_MAX_EXACT_RULES)))
		->capture_default_str();
	cmd->add_option("--prefix-rules", o->prefix_rules, "IPv4 prefixes loaded (half dst, half src)")
		->check(CLI::Range(2u, uint32_t(2 * MKDP_STEER_MAX_PREFIX_RULES)))
		->capture_default_str();
	cmd->callback([o] { run(*o); });
}

} // namespace mkdp::bench
