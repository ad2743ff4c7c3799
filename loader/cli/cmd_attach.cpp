// SPDX-License-Identifier: BSD-2-Clause
// `mkdp steer attach`, `mkdp steer detach`, `mkdp steer status`: the steering program on an
// interface, in the manner of `xdp-loader load/unload/status`; the queue
// map, indirection table and hash seed in the manner of `ethtool -X`.
#include "cli_status.h"
#include "commands.h"
#include "device_option.h"
#include "netns_option.h"

#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <steer_loader.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

using json = nlohmann::json;

// Steering tables hold partition indexes; null where a queue or entry
// steers to none (docs/json.md).
json indexes_json(const std::vector<uint32_t> &t)
{
	json a = json::array();
	for (uint32_t p : t)
		a.push_back(p == MKDP_STEER_PART_NONE ? json(nullptr) : json(p));
	return a;
}

std::string index_text(const json &p) { return p.is_null() ? "none" : std::to_string(p.get<uint32_t>()); }

// The shortest prefix the table repeats (an "0 1" pattern prints as such).
size_t period_of(const json &t)
{
	for (size_t n = 1; n < t.size(); n++) {
		if (t.size() % n)
			continue;
		bool ok = true;
		for (size_t i = n; i < t.size() && ok; i++)
			ok = t[i] == t[i - n];
		if (ok)
			return n;
	}
	return t.size();
}

// "stale": pins whose namespace is gone, with the command that removes them.
std::string stale_hint(const SteerPins &p)
{
	return "mkdp steer detach " + p.ifname + " --netns " + p.netns;
}

// Steering that could not be read: what is known of it, the same keys.
json unread_json(const SteerPins &p, bool stale, const json &attached)
{
	return {{"interface", p.ifname}, {"netns", p.netns}, {"attached", attached}, {"stale", stale},
		{"pin_dir", p.dir}};
}

} // namespace

json steering_json(const SteerStatus &s, const json &names)
{
	json socks = json::array();
	for (const auto &[q, parts] : s.sockets)
		socks.push_back({{"queue", q}, {"partition_indexes", parts}});
	return {{"interface", s.ifname},
		{"netns", s.netns},
		{"ifindex", s.ifindex},
		{"attached", s.attached},
		{"stale", false},
		{"prog_id", s.prog_id},
		{"xdp_mode", to_string(s.mode)},
		{"attach_mode", s.multiprog ? "multiprog" : "single"},
		{"policy", policy_string(s.config.policy)},
		{"default_verdict", to_string(s.config.default_action)},
		{"partition_count", s.config.partitions},
		{"partition_names", names},
		{"symmetric", s.config.symmetric},
		{"hash_seed", s.config.hash_seed},
		{"rx_queues", s.rx_queues},
		{"queue_map", indexes_json(s.queue_map)},
		{"indirection", indexes_json(s.indirection)},
		{"rule_count", s.rules},
		{"owner_pid", s.owner_pid},
		{"attach_time_seconds", s.attach_time},
		{"pin_dir", Steering::pin_dir(s.netns, s.ifname)},
		{"sockets", socks}};
}

void print_steering(const json &s)
{
	const std::string iface = s["interface"], netns = s["netns"];
	if (s["stale"] == true) {
		std::printf("%s in %s: STALE pins at %s: namespace %s is gone; remove them with: %s\n", iface.c_str(),
			    netns.c_str(), s["pin_dir"].get<std::string>().c_str(), netns.c_str(),
			    s.value("hint", "").c_str());
		return;
	}
	if (s["attached"].is_null()) {
		std::printf("%s in %s: pins at %s: %s\n", iface.c_str(), netns.c_str(),
			    s["pin_dir"].get<std::string>().c_str(),
			    s.value("error", "in an unnamed namespace (run status from inside it)").c_str());
		return;
	}
	const json &names = s["partition_names"];
	auto part = [&](const json &p) {
		std::string t = index_text(p);
		if (!p.is_null() && p.get<size_t>() < names.size() && !names[p.get<size_t>()].is_null())
			t += "(" + names[p.get<size_t>()].get<std::string>() + ")";
		return t;
	};
	bool multi = s["attach_mode"] == "multiprog";
	std::printf("%s in %s (ifindex %d): %s\n", iface.c_str(), netns.c_str(), s["ifindex"].get<int>(),
		    s["attached"] == true ? "steering attached"
					  : "pinned but NOT attached (attach again to re-attach, or detach to remove)");
	std::printf("  program   id %u, %s mode, %s attach%s\n", s["prog_id"].get<unsigned>(),
		    s["xdp_mode"].get<std::string>().c_str(), multi ? "multiprog (libxdp dispatcher)" : "single-program",
		    multi ? "" : " (libxdp's dispatcher is unavailable or not used)");
	std::printf("  policy    %s, default verdict %s, %u partitions, hash seed %u%s\n",
		    s["policy"].get<std::string>().c_str(), s["default_verdict"].get<std::string>().c_str(),
		    s["partition_count"].get<unsigned>(), s["hash_seed"].get<unsigned>(),
		    s["symmetric"] == true ? ", symmetric hash" : "");
	std::printf("  queue map");
	for (size_t q = 0; q < s["queue_map"].size(); q++)
		std::printf(" %zu=%s", q, part(s["queue_map"][q]).c_str());
	std::printf("%s\n", s["rx_queues"] != 0 ? "" : " (the driver does not say how many RX queues)");
	const json &indir = s["indirection"];
	size_t n = period_of(indir);
	std::printf("  indir     %zu entries:", indir.size());
	for (size_t i = 0; i < n; i++)
		std::printf("%s%s", i && i % 32 == 0 ? "\n            " : " ", index_text(indir[i]).c_str());
	if (n < indir.size())
		std::printf("  (repeated %zu times)", indir.size() / n);
	std::printf("\n  rules     %zu\n", s["rule_count"].get<size_t>());
	std::printf("  pins      %s\n", s["pin_dir"].get<std::string>().c_str());
	if (s["sockets"].empty())
		std::printf("  sockets   none (steered frames take the default verdict, counted as no_socket)\n");
	for (const json &q : s["sockets"]) {
		std::printf("  queue %-3u sockets for partitions", q["queue"].get<unsigned>());
		for (const json &p : q["partition_indexes"])
			std::printf(" %s", part(p).c_str());
		std::printf("\n");
	}
}

namespace {

struct AttachCmd {
	std::string ifname, netns, mode = "native", policy = "queue", dflt = "pass";
	std::string queue_map, indir_table, indir_weights;
	uint32_t partitions = 2, seed = 0;
	bool symmetric = false, force = false, json = false, allow_host = false;
	CLI::Option *o_policy, *o_default, *o_partitions, *o_symmetric, *o_seed;
};

uint32_t parse_u32(const std::string &what, const std::string &w, uint32_t max)
{
	char *end;
	unsigned long v = std::strtoul(w.c_str(), &end, 10);
	if (w.empty() || *end || w[0] == '-' || v > max)
		throw Error(what + ": '" + w + "' is not a number 0.." + std::to_string(max));
	return uint32_t(v);
}

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out;
	size_t b = 0;
	for (;;) {
		size_t e = s.find(sep, b);
		out.push_back(s.substr(b, e == s.npos ? e : e - b));
		if (e == s.npos)
			return out;
		b = e + 1;
	}
}

uint32_t parse_part(const std::string &what, const std::string &w)
{
	return w == "none" ? MKDP_STEER_PART_NONE : parse_u32(what, w, MKDP_STEER_MAX_PARTITIONS - 1);
}

// "0=1,1=0,3=none"
std::vector<std::pair<uint32_t, uint32_t>> parse_queue_map(const std::string &s)
{
	std::vector<std::pair<uint32_t, uint32_t>> out;
	for (const std::string &e : split(s, ',')) {
		auto eq = e.find('=');
		if (eq == e.npos)
			throw Error("--queue-map: '" + e + "' is not QUEUE=PARTITION (e.g. 0=1,1=0)");
		out.emplace_back(parse_u32("--queue-map queue", e.substr(0, eq), MKDP_STEER_MAX_QUEUES - 1),
				 parse_part("--queue-map partition", e.substr(eq + 1)));
	}
	return out;
}

std::vector<uint32_t> parse_list(const std::string &what, const std::string &s, bool parts)
{
	std::vector<uint32_t> out;
	for (const std::string &w : split(s, ','))
		out.push_back(parts ? parse_part(what, w) : parse_u32(what, w, 1000000));
	return out;
}

void run_attach(const AttachCmd &a)
{
	AttachOptions o;
	o.mode = a.mode == "skb" ? XdpMode::skb : XdpMode::native;
	o.force = a.force;
	o.config.policy = parse_policy(a.policy);
	o.config.default_action = a.dflt == "drop" ? SteerAction::drop : SteerAction::pass;
	o.config.partitions = a.partitions;
	o.config.symmetric = a.symmetric;
	o.config.hash_seed = a.seed;
	o.fields = 0;
	for (auto [opt, f] : {std::pair{a.o_policy, SteerConfig::f_policy}, {a.o_default, SteerConfig::f_default},
			      {a.o_partitions, SteerConfig::f_partitions}, {a.o_symmetric, SteerConfig::f_symmetric},
			      {a.o_seed, SteerConfig::f_seed}})
		if (opt->count())
			o.fields |= f;
	if (!a.queue_map.empty())
		o.queue_map = parse_queue_map(a.queue_map);
	if (!a.indir_table.empty())
		o.indirection = parse_list("--indir-table", a.indir_table, true);
	if (!a.indir_weights.empty())
		o.indirection = indirection_from_weights(parse_list("--indir-weights", a.indir_weights, false));

	guard_interface_cli(a.netns, a.ifname, a.allow_host);	// before anything changes
	InNetns in(a.netns);
	bool had = false;
	try {
		had = Steering::open(a.ifname).status().attached;
	} catch (const Error &) {
	}
	Steering s = Steering::attach(a.ifname, o);
	SteerStatus st = s.status();
	if (a.json) {
		json names = partition_names(st.netns, st.ifname, st.config.partitions);
		std::cout << json{{"result", had ? "updated" : "attached"}, {"steering", steering_json(st, names)}}.dump(2)
			  << std::endl;
		return;
	}
	std::printf("%s %s in %s: program id %u, %s mode, %s attach, policy %s, default %s, %u partitions\n",
		    had ? "updated steering on" : "attached to", a.ifname.c_str(), st.netns.c_str(), st.prog_id,
		    to_string(st.mode), st.multiprog ? "multiprog" : "single-program",
		    policy_string(st.config.policy).c_str(), to_string(st.config.default_action), st.config.partitions);
}

} // namespace

// Every steering to show, each with its status when it can be read: printed,
// or the document --json prints ({"interfaces": [...]}) when as_json is set.
nlohmann::json steer_status(const std::string &ifname, const std::string &netns, bool as_json)
{
	std::vector<SteerPins> pins;
	if (netns.empty() && ifname.empty()) {
		pins = Steering::list_pins();
	} else if (!netns.empty() && !netns_exists(netns)) {
		for (const SteerPins &p : Steering::list_pins())
			if (p.netns == netns && (ifname.empty() || p.ifname == ifname))
				pins.push_back(p);
		if (pins.empty())
			throw Error("no network namespace " + netns + " (and no steering pins left for it)");
	} else {
		InNetns in(netns);
		std::string label = Steering::netns_label();
		if (!ifname.empty())
			pins.push_back({label, ifname, Steering::pin_dir(label, ifname), false});
		else
			for (const SteerPins &p : Steering::list_pins())
				if (p.netns == label)
					pins.push_back(p);
	}
	std::string here = Steering::netns_label();
	json all = json::array();
	for (const SteerPins &p : pins) {
		if (p.netns_gone) {
			json j = unread_json(p, true, false);
			j["hint"] = stale_hint(p);
			all.push_back(j);
			continue;
		}
		auto get = [&] { return Steering::open(p.ifname).status(); };
		SteerStatus s;
		if (p.netns == here || !netns.empty() || !ifname.empty()) {
			InNetns in(netns);
			s = get();
		} else if (p.netns.rfind("netns-", 0) != 0) {
			// One unreadable directory must not hide the others.
			try {
				s = run_in_netns(p.netns, get);
			} catch (const Error &e) {
				json j = unread_json(p, false, nullptr);
				j["error"] = e.what();
				all.push_back(j);
				continue;
			}
		} else {
			all.push_back(unread_json(p, false, nullptr));
			continue;
		}
		all.push_back(steering_json(s, partition_names(s.netns, s.ifname, s.config.partitions)));
	}
	if (!as_json)
		for (const json &j : all)
			print_steering(j);
	if (!as_json && pins.empty())
		std::printf("no interface has mkdp steering attached%s\n",
			    netns.empty() ? "" : (" in " + netns).c_str());
	return as_json ? json{{"interfaces", all}} : json();
}


void register_attach(CLI::App &app)
{
	static AttachCmd a;
	CLI::App *att = app.add_subcommand(
		"attach", "Attach mkdp's XDP steering program to an interface.\n"
			  "Frames are steered to partitions by rules, then the flow hash, then the\n"
			  "RX queue map (whichever policies are enabled); everything else takes the\n"
			  "default action. Maps are pinned under /sys/fs/bpf/mkdp/NETNS/IFACE/\n"
			  "(NETNS: 'host', or the --netns name).\n"
			  "Attaching again changes only the options given (the defaults shown are\n"
			  "for a first attach); rules and sockets stay.\n"
			  "The queue map and the indirection table start spread as i % partitions\n"
			  "(a new partition count spreads them again).\n"
			  "Only testbed devices (mkdp0/mkdp1 of an mkdp testbed namespace) unless\n"
			  "--allow-host-device.\n"
			  "Examples:\n"
			  "  mkdp steer attach mkdp0 --netns mkdp-tb --policy rules,hash --partitions 2\n"
			  "  mkdp steer attach mkdp0 --netns mkdp-tb --queue-map 0=1,1=0 --indir-weights 1,3 --seed 7");
	att->add_option("IFACE", a.ifname, "interface to attach to")->required();
	att->add_option("--mode", a.mode, "native (driver) or skb (generic) XDP")
		->check(CLI::IsMember({"native", "skb"}))->capture_default_str();
	a.o_policy = att->add_option("--policy", a.policy,
				     "steering policies, combinable: queue, hash, rules (e.g. rules,hash), or none")
			     ->capture_default_str();
	a.o_default = att->add_option("--default", a.dflt,
				      "action for frames no policy steers: pass (host stack) or drop")
			      ->check(CLI::IsMember({"pass", "drop"}))->capture_default_str();
	a.o_partitions = att->add_option("--partitions", a.partitions, "number of partitions steered to")
				 ->check(CLI::Range(1u, uint32_t(MKDP_STEER_MAX_PARTITIONS)))->capture_default_str();
	a.o_symmetric = att->add_flag("--symmetric,!--no-symmetric", a.symmetric,
				      "hash both directions of a flow alike (or not)");
	a.o_seed = att->add_option("--seed", a.seed, "flow hash seed (changes which flows share a partition)")
			   ->capture_default_str();
	att->add_option("--queue-map", a.queue_map,
			"RX queue -> partition entries to set, e.g. 0=1,1=0 ('none': the queue falls\n"
			"through to the default action); the other queues keep theirs");
	auto *tbl = att->add_option("--indir-table", a.indir_table,
				    "flow-hash indirection table: partitions repeated over the 128 entries\n"
				    "(their count must divide 128), e.g. 0,1,1,1: a quarter to 0, the rest to 1");
	auto *wts = att->add_option("--indir-weights", a.indir_weights,
				    "indirection by weight per partition, like ethtool -X weight: 1,3 sends a\n"
				    "quarter of the hash space to partition 0 and the rest to 1");
	tbl->excludes(wts);
	att->add_flag("--force", a.force,
		      "replace an XDP program mkdp did not attach (put back as it was if the attach then\n"
		      "fails, unless it was libxdp's dispatcher)");
	add_allow_host_device_option(att, a.allow_host);
	att->add_flag("-j,--json", a.json, "print the resulting status as JSON");
	add_netns_option(att, a.netns);
	att->callback([] { run_attach(a); });

	static std::string det_if, det_ns;
	static bool det_json = false;
	CLI::App *det = app.add_subcommand(
		"detach", "Remove mkdp's steering program from an interface, with its pins and maps.\n"
			  "With --netns of a namespace that is gone, removes the pins left behind.\n"
			  "Refused while 'mkdp topology up' runs partitions on the interface: 'mkdp topology down' stops\n"
			  "them and detaches.");
	det->add_option("IFACE", det_if, "interface to detach from")->required();
	det->add_flag("-j,--json", det_json, "print what was removed as JSON");
	add_netns_option(det, det_ns);
	det->callback([] {
		refuse_while_held(det_ns, det_if, "detach from " + det_if);
		DetachResult r;
		bool stale = !det_ns.empty() && !netns_exists(det_ns);
		try {
			if (stale) {
				r = Steering::remove_stale(det_ns, det_if);
			} else {
				InNetns in(det_ns);
				r = Steering::detach(det_if);
			}
		} catch (const Error &e) {
			// Nothing of mkdp's is there: what detach asks for holds,
			// unless the interface has steering in another namespace
			// (a --netns forgotten): the error says where.
			if (e.code() != ENOENT)
				throw;
			for (const SteerPins &p : Steering::list_pins())
				if (p.ifname == det_if)
					throw;
			if (det_json)
				std::cout << json{{"result", "unchanged"},
						  {"interface", det_if},
						  {"netns", det_ns.empty() ? Steering::netns_label() : det_ns},
						  {"detached_from", nullptr},
						  {"pin_dir", nullptr},
						  {"netns_gone", stale}}
						     .dump(2)
					  << std::endl;
			else
				std::printf("%s: no mkdp steering here; nothing to do (%s)\n", det_if.c_str(), e.what());
			return;
		}
		if (det_json) {
			std::cout << json{{"result", r.detached_from.empty() ? "removed_stale_pins" : "detached"},
					  {"interface", det_if},
					  {"netns", det_ns.empty() ? Steering::netns_label() : det_ns},
					  {"detached_from", r.detached_from.empty() ? json(nullptr) : json(r.detached_from)},
					  {"pin_dir", r.pins},
					  {"netns_gone", stale}}
					     .dump(2)
				  << std::endl;
		} else if (stale) {
			std::printf("namespace %s is gone: removed the stale pins %s%s\n", det_ns.c_str(), r.pins.c_str(),
				    r.detached_from.empty() ? "" : (" (and the program from " + r.detached_from + ")").c_str());
		} else if (r.detached_from.empty()) {
			std::printf("%s: the program was no longer attached; removed the stale pins %s\n", det_if.c_str(),
				    r.pins.c_str());
		} else {
			std::printf("detached from %s%s, removed %s\n", r.detached_from.c_str(),
				    r.detached_from == det_if ? "" : (" (pinned as " + det_if + ")").c_str(), r.pins.c_str());
		}
	});

	static std::string st_if, st_ns;
	static bool st_json = false;
	CLI::App *st = app.add_subcommand(
		"status", "Show the steering on an interface (or all of them).\n"
		"Show the steering on an interface: program id, XDP mode, attach kind,\n"
			  "policy, partitions, queue map, indirection table, hash seed, sockets per\n"
			  "queue. Without IFACE and --netns: every interface mkdp has pins for, in\n"
			  "every namespace, including stale pins whose namespace is gone.");
	st->add_option("IFACE", st_if, "interface (default: all with mkdp pins)");
	st->add_flag("-j,--json", st_json, "print JSON");
	add_netns_option(st, st_ns);
	st->callback([] {
		nlohmann::json j = steer_status(st_if, st_ns, st_json);
		if (st_json)
			std::cout << j.dump(2) << std::endl;
	});
}

} // namespace mkdp::cli
