// SPDX-License-Identifier: BSD-2-Clause
// One scrape (metrics_collect.h): the supervisor's status, then the
// steering of every interface with pins, then the scrape's own health.
#include "metrics_collect.h"

#include <mkdp/cpu.h>
#include <mkdp/netns.h>
#include <mkdp/supervisor.h>
#include <steer_loader.h>

#ifndef MKDP_VERSION
#define MKDP_VERSION "unknown"
#endif

namespace mkdp::metrics {

namespace {

using json = nlohmann::json;

void steering(Exposition &e, const SteerPins &p, const SteerStats &st, uint32_t parts,
	      const std::map<uint32_t, std::string> *names)
{
	Labels l{{"interface", p.ifname}, {"netns", p.netns}};
	const mkdp_steer_totals &t = st.totals;
	e.counter("mkdp_steer_frames_total", "Frames the steering program saw", l, double(t.packets));
	e.counter("mkdp_steer_bytes_total", "Bytes of the frames the steering program saw", l, double(t.bytes));
	for (auto [action, n] : {std::pair{"redirect", t.redirected}, {"pass", t.passed}, {"drop", t.dropped}}) {
		Labels la = l;
		la.emplace_back("action", action);
		e.counter("mkdp_steer_actions_total", "Frames by the XDP action the steering program returned", la, double(n));
	}
	e.counter("mkdp_steer_non_ip_frames_total", "Frames neither IPv4 nor IPv6", l, double(t.non_ip));
	e.counter("mkdp_steer_malformed_frames_total", "IP frames with truncated or invalid headers", l, double(t.malformed));
	e.counter("mkdp_steer_unsteered_frames_total", "IP frames no policy gave a valid partition", l, double(t.unsteered));
	for (uint32_t i = 0; i < parts && i < st.partitions.size(); i++) {
		const mkdp_steer_part_stats &s = st.partitions[i];
		Labels lp = l;
		// Without the supervisor the program's index is all there is.
		std::string name = std::to_string(i);
		if (names)
			if (auto it = names->find(i); it != names->end())
				name = it->second;
		lp.emplace_back("partition", name);
		e.counter("mkdp_steer_partition_frames_total", "Frames steered to the partition", lp, double(s.packets));
		e.counter("mkdp_steer_partition_bytes_total", "Bytes of the frames steered to the partition", lp, double(s.bytes));
		e.counter("mkdp_steer_partition_no_socket_frames_total", "Frames steered to the partition that found no socket in their (queue, partition) slot", lp, double(s.no_socket));
		e.counter("mkdp_steer_partition_dropped_frames_total", "No-socket frames dropped by the default action", lp, double(s.drops));
		e.counter("mkdp_steer_partition_redirect_errors_total", "Frames redirected to the partition's socket but refused (ring full, wrong queue)", lp, double(s.redirect_errors));
	}
	for (const auto &[rule, rs] : st.rules) {
		Labels lr = l;
		lr.emplace_back("rule", std::to_string(rule.id));
		lr.emplace_back("rule_text", rule.text());
		e.counter("mkdp_steer_rule_frames_total", "Frames the steering rule matched", lr, double(rs.packets));
		e.counter("mkdp_steer_rule_bytes_total", "Bytes of the frames the steering rule matched", lr, double(rs.bytes));
	}
}

} // namespace

int collect_steering(Exposition &e, const PartitionNames &names, std::string &errors)
{
	int failed = 0;
	std::string here = Steering::netns_label();
	for (const SteerPins &p : Steering::list_pins()) {
		// Pins of a namespace that is gone count nothing any more;
		// "netns-<inode>" names one that cannot be entered by name.
		if (p.netns_gone || (p.netns != here && p.netns.rfind("netns-", 0) == 0))
			continue;
		auto read = [&] {
			Steering s = Steering::open(p.ifname);
			return std::pair{s.read_stats(), s.config().partitions};
		};
		try {
			auto [st, parts] = p.netns == here ? read() : run_in_netns(p.netns, read);
			auto n = names.find({p.netns, p.ifname});
			steering(e, p, st, parts, n == names.end() ? nullptr : &n->second);
		} catch (const std::exception &ex) {
			// Detached between the listing and the read, most likely.
			failed++;
			errors += std::string(errors.empty() ? "" : "; ") + p.netns + "/" + p.ifname + ": " + ex.what();
		}
	}
	return failed;
}

Exposition collect(const CollectOptions &o)
{
	uint64_t t0 = now_ns();
	Exposition e;
	e.gauge("mkdp_build_info", "The exporter's mkdp version (always 1)", {{"version", MKDP_VERSION}}, 1);
	std::map<std::string, int> errors{{"supervisor", 0}, {"steering", 0}};
	json st;
	bool up = false;
	if (supervisor_pid()) {
		try {
			st = supervisor_request({{"cmd", "status"}}, o.supervisor_timeout_ms);
			up = true;
		} catch (const std::exception &) {
			errors["supervisor"]++;	// up but not answering in time
		}
	}
	e.gauge("mkdp_supervisor_up", "1 when the supervisor (mkdp topology up) answered this scrape's status request", {}, up);
	PartitionNames names;
	if (up) {
		try {
			collect_supervisor(e, st);
			names = partition_names(st);
		} catch (const std::exception &) {
			errors["supervisor"]++;
		}
	}
	std::string why;
	try {
		errors["steering"] += collect_steering(e, names, why);
	} catch (const std::exception &) {
		errors["steering"]++;
	}
	for (const auto &[source, n] : errors)
		e.gauge("mkdp_scrape_errors", "Parts of this scrape that could not be read, by source (left out of it)",
			{{"source", source}}, n);
	e.gauge("mkdp_scrape_duration_seconds", "How long this scrape took to gather", {}, double(now_ns() - t0) / 1e9);
	return e;
}

} // namespace mkdp::metrics
