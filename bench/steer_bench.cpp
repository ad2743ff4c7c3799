// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench steer`: what the steering program costs per frame, against
// bpf/bare_redirect.bpf.c (the frame to the socket of its RX queue, nothing
// else), both run by the kernel through BPF_PROG_RUN in the same process.
//
// Each figure is the kernel's own average over `--packets` runs of one
// program on one frame (bpf_prog_test_run_opts' duration); figures are
// interleaved per repetition so drift on a shared machine hits all alike,
// and the ratio is taken per repetition (paired) before the median.
//
// Every slot the frames hit holds an (unbound) AF_XDP socket, so each
// program returns XDP_REDIRECT: BPF_PROG_RUN stops at the verdict, which is
// exactly the program's cost. What the frame then costs on its way into a
// socket is the end-to-end figure (see end_to_end() below).
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
	std::vector<double> ns;
	std::vector<double> ratio;	// per repetition, against the bare program
};

void run(const SteerBenchOptions &o)
{
	uint32_t packets = o.common.quick ? std::min<uint32_t>(o.packets, 100'000) : o.packets;
	int reps = o.common.quick ? std::min(o.common.repetitions, 3) : o.common.repetitions;

	int xsk = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (xsk < 0)
		throw_errno("socket(AF_XDP)");
	struct Closer {
		int fd;
		bare_redirect *bare = nullptr;
		~Closer()
		{
			bare_redirect__destroy(bare);
			::close(fd);
		}
	} closer{xsk};

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
		{"rules_prefix", "rules, source prefix hit (3 lookups)", rules.prog_fd(), prefix_frame},
		{"all_miss", "rules+hash+queue, no rule matches", all.prog_fd(), miss_frame},
	};

	// warm-up: caches, JIT'd code, map pages
	for (auto &f : figs)
		ns_per_run(f.prog_fd, f.frame, std::max<uint32_t>(packets / 10, 1000), XDP_REDIRECT);
	for (int r = 0; r < reps; r++) {
		for (auto &f : figs)
			f.ns.push_back(ns_per_run(f.prog_fd, f.frame, packets, XDP_REDIRECT));
		for (auto &f : figs)
			f.ratio.push_back(f.ns.back() / figs[0].ns.back());
	}

	nlohmann::json results, ratios, goals;
	std::ostringstream text;
	char line[160];
	std::snprintf(line, sizeof(line), "%-40s %12s %10s %14s\n", "program (BPF_PROG_RUN, 60-byte UDP)", "ns/frame",
		      "x bare", "ratio p25-p75");
	text << line;
	for (auto &f : figs) {
		Summary ns = summarize(f.ns), ratio = summarize(f.ratio);
		results[f.name] = {{"what", f.what}, {"ns_per_frame", to_json(ns)}, {"ratio_vs_bare", to_json(ratio)}};
		if (f.name != "bare_redirect")
			ratios[f.name] = ratio.median;
		std::snprintf(line, sizeof(line), "%-40s %12.1f %10.2f %7.2f-%-6.2f\n", f.what.c_str(), ns.median,
			      ratio.median, ratio.p25, ratio.p75);
		text << line;
	}
	double rules_worst = std::max(ratios["rules_exact"].get<double>(), ratios["rules_prefix"].get<double>());
	goals["queue"] = {{"max_ratio", 1.2}, {"ratio", ratios["queue"]}, {"met", ratios["queue"].get<double>() <= 1.2}};
	goals["rules"] = {{"max_ratio", 2.0}, {"ratio", rules_worst}, {"met", rules_worst <= 2.0}};
	text << "goals: queue <= 1.2x bare: " << (goals["queue"]["met"].get<bool>() ? "met" : "NOT met")
	     << "; rules <= 2x bare: " << (goals["rules"]["met"].get<bool>() ? "met" : "NOT met") << "\n";
	text << "(" << reps << " repetitions of " << packets << " runs; " << o.exact_rules << " exact rules, "
	     << o.prefix_rules << " prefixes loaded)\n";

	// End to end: the whole path into a socket, against the kernel stack.
	nlohmann::json e2e = measure_delivery(o.common.quick, reps);
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
		 {{"packets_per_run", packets}, {"repetitions", reps}, {"frame_bytes", frame.size()},
		  {"exact_rules", o.exact_rules}, {"prefix_rules", o.prefix_rules}, {"partitions", 4},
		  {"method", "bpf_prog_test_run_opts duration (kernel-timed mean per run), every slot holding a socket"}}},
		{"results", results},
		{"ratios", {{"vs_bare_redirect", ratios}, {"vs_netns_socket", vs_netns}}},
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
		"steer", "Per-frame cost of the XDP steering policies (queue, hash, rules with 64k exact\n"
			 "rules and 10k prefixes) against a bare XDP redirect, through BPF_PROG_RUN.");
	add_common_options(*cmd, o->common);
	cmd->add_option("--packets", o->packets, "BPF_PROG_RUN repeat count per figure and repetition")
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
