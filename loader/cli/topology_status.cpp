// SPDX-License-Identifier: BSD-2-Clause
// The health view: `topology status` (the whole running system) and
// `part list`, as documents (docs/json.md) and as text printed from them.
#include "cli_status.h"
#include "netns_option.h"

#include <csignal>
#include <cstring>
#include <cstdio>
#include <string>

namespace mkdp::cli {

namespace {

using json = nlohmann::json;

std::string label_of(const json &st)
{
	return Steering::netns_label(st.value("netns", ""));
}

unsigned long long u(const json &j, const char *k)
{
	const json &v = j.contains(k) ? j[k] : json();
	return v.is_number() ? v.get<unsigned long long>() : 0;
}

// Exit status as a shell reports it: 137 is SIGKILL.
std::string exit_text(const json &e)
{
	if (e.is_null())
		return "-";
	int s = e.get<int>();
	if (s > 128)
		return std::string("SIG") + (sigabbrev_np(s - 128) ? sigabbrev_np(s - 128) : std::to_string(s - 128).c_str());
	return std::to_string(s);
}

uint64_t sum_values(const json &m)
{
	uint64_t n = 0;
	for (const auto &[k, v] : m.items())
		n += v.get<uint64_t>();
	return n;
}

} // namespace

std::string cpus_text(const json &cpus)
{
	std::string s;
	for (int c : cpus)
		s += (s.empty() ? "" : ",") + std::to_string(c);
	return s;
}

json partition_names(const std::string &netns_label, const std::string &ifname, uint32_t count)
{
	json names = json::array();
	for (uint32_t i = 0; i < count; i++)
		names.push_back(nullptr);
	json st;
	try {
		st = partitions_status_json();
	} catch (const std::exception &) {
		return names;	// names are a courtesy: a supervisor going down must not fail the command
	}
	if (st.is_null() || st["interface"] != ifname || label_of(st) != netns_label)
		return names;
	for (const json &p : st["partitions"])
		if (uint32_t i = p["partition_index"]; i < count)
			names[i] = p["partition"];
	return names;
}

json topology_status_json()
{
	json st = partitions_status_json();
	if (st.is_null())
		return {{"running", false}, {"supervisor", nullptr}, {"interface", nullptr}, {"netns", nullptr},
			{"partitions", json::array()}, {"queues", json::array()}, {"region", nullptr},
			{"regions", json::array()}, {"volumes", json::array()}, {"exports", json::array()},
			{"steering", nullptr}};
	std::string iface = st["interface"], label = label_of(st);
	json steering;
	try {
		InNetns in(st.value("netns", ""));
		SteerStatus s = Steering::open(iface).status();
		steering = steering_json(s, partition_names(label, iface, s.config.partitions));
	} catch (const std::exception &e) {
		steering = {{"interface", iface}, {"netns", label}, {"attached", nullptr}, {"stale", false},
			    {"pin_dir", Steering::pin_dir(label, iface)}, {"error", e.what()}};
	}
	st["running"] = true;
	st["steering"] = steering;
	return st;
}

void print_partitions(const json &st)
{
	std::printf("%-8s %-5s %-8s %-11s %-7s %6s %9s %12s %10s %10s %8s %9s %6s %9s %6s %6s\n", "NAME", "INDEX",
		    "PID", "STATE", "CPUS", "STARTS", "LAST_EXIT", "RX", "FWD", "FWD_RX", "DROPS", "XSK_DROPS", "FREE",
		    "IN_FLIGHT", "LEAKED", "QUOTA");
	bool throttled = false;
	for (const json &p : st["partitions"]) {
		const json &f = p["frames"];
		throttled |= f.value("throttled", false);
		std::string state = p["state"].get<std::string>() + (f.value("throttled", false) ? "*" : "");
		std::printf("%-8s %-5u %-8d %-11s %-7s %6llu %9s %12llu %10llu %10llu %8llu %9llu %6llu %9llu %6llu %6llu\n",
			    p["partition"].get<std::string>().c_str(), p["partition_index"].get<unsigned>(),
			    p["pid"].get<int>(), state.c_str(), cpus_text(p["cpus"]).c_str(), u(p, "starts"),
			    exit_text(p["last_exit"]).c_str(), u(p, "rx"), u(p, "fwd"), u(p, "fwd_rx"), u(p, "drops"),
			    u(p["xsk"], "rx_dropped") + u(p["xsk"], "rx_ring_full"), u(f, "free"), u(f, "in_flight"),
			    u(f, "leaked"), u(f, "quota"));
	}
	const json &r = st["region"];
	std::printf("frames: %llu total, %llu free, %llu in fill rings, %llu in flight, %llu leaked, "
		    "%llu returns refused, %llu spare (in no partition's range)\n",
		    u(r, "frames"), u(r, "free"), u(r, "fill"), u(r, "in_flight"), u(r, "leaked"),
		    u(r, "refused_returns"), u(r, "spare"));
	std::string fills;
	for (const json &q : st["queues"])
		fills += std::string(fills.empty() ? "" : ", ") + "queue " + std::to_string(q["queue"].get<unsigned>()) +
			 " " + std::to_string(q["fill_ring_empty"].get<uint64_t>());
	if (!fills.empty())
		std::printf("fill ring found empty (a packet the kernel had no frame for): %s\n", fills.c_str());
	for (const json &p : st["partitions"])
		std::printf("%s: %s, runs as uid %u; XSK rx_dropped %llu, rx_ring_full %llu\n",
			    p["partition"].get<std::string>().c_str(), p["placement"].get<std::string>().c_str(),
			    p.value("uid", 0U), u(p["xsk"], "rx_dropped"), u(p["xsk"], "rx_ring_full"));
	if (throttled)
		std::printf("*: over its frame quota; its traffic takes the default verdict until it returns frames\n");
}

void print_topology_status(const json &doc)
{
	if (!doc.value("running", false)) {
		std::printf("mkdp is not up (mkdp topology up starts a topology)\n");
		return;
	}
	const json &s = doc["supervisor"];
	std::printf("supervisor pid %d, up %.0f s, control socket %s, topology %s\n", s["pid"].get<int>(),
		    s["uptime_seconds"].get<double>(), s["control_socket"].get<std::string>().c_str(),
		    s["topology"].get<std::string>().c_str());
	std::printf("interface %s in %s\n\n", doc["interface"].get<std::string>().c_str(), label_of(doc).c_str());
	print_partitions(doc);
	for (const json &p : doc["partitions"])
		if (u(p["storage"], "requests"))
			std::printf("%s storage worker: %llu requests, %llu errors, %llu bytes\n",
				    p["partition"].get<std::string>().c_str(), u(p["storage"], "requests"),
				    u(p["storage"], "errors"), u(p["storage"], "bytes"));
	if (!doc["volumes"].empty())
		std::printf("\n");
	for (const json &v : doc["volumes"]) {
		const json &prog = v["program"];
		std::printf("volume %s: %s, owner %s, program %s, %llu requests, %llu errors (mkdp sdp stats)\n",
			    v["volume"].get<std::string>().c_str(), v["backend"].get<std::string>().c_str(),
			    v["owner"].get<std::string>().c_str(), prog.is_null() ? "none" : prog.get<std::string>().c_str(),
			    u(v, "requests"), (unsigned long long)sum_values(v["errors_by_errno"]));
	}
	for (const json &e : doc["exports"])
		std::printf("export of %s on %s (pid %d)\n", e["volume"].get<std::string>().c_str(),
			    e["mountpoint"].get<std::string>().c_str(), e["pid"].get<int>());
	std::printf("\n");
	print_steering(doc["steering"]);
}

} // namespace mkdp::cli
