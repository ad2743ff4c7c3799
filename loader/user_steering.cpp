// SPDX-License-Identifier: BSD-2-Clause
// Taking over and giving back a steering program the user attached (see
// user_steering.h).
#include "user_steering.h"

#include <mkdp/error.h>

#include <algorithm>
#include <set>

namespace mkdp {

namespace {

std::string plural(size_t n, const char *word)
{
	return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

} // namespace

std::optional<UserSteering> UserSteering::find(const std::string &ifname)
{
	std::optional<Steering> s;
	try {
		s.emplace(Steering::open(ifname));
	} catch (const Error &) {
		return std::nullopt;	// no pins, or pins attach() will call stale
	}
	SteerStatus st = s->status();
	if (!st.attached)
		return std::nullopt;
	UserSteering u;
	u.ifname = ifname;
	u.config = st.config;
	u.queue_map = st.queue_map;
	if (st.rx_queues && st.rx_queues < u.queue_map.size())
		u.queue_map.resize(st.rx_queues);	// beyond the device, set_queue_partition refuses
	u.indirection = st.indirection;
	for (const SteerRule &r : s->list_rules())
		u.rules.push_back(r.text());
	return u;
}

nlohmann::json UserSteering::to_json() const
{
	return {{"interface", ifname},
		{"policy", config.policy},
		{"default", uint32_t(config.default_action)},
		{"partitions", config.partitions},
		{"symmetric", config.symmetric},
		{"hash_seed", config.hash_seed},
		{"queue_map", queue_map},
		{"indirection", indirection},
		{"rules", rules}};
}

UserSteering UserSteering::from_json(const nlohmann::json &j)
{
	try {
		UserSteering u;
		u.ifname = j.at("interface").get<std::string>();
		u.config.policy = j.at("policy").get<uint32_t>();
		u.config.default_action = SteerAction(j.at("default").get<uint32_t>());
		u.config.partitions = j.at("partitions").get<uint32_t>();
		u.config.symmetric = j.at("symmetric").get<bool>();
		u.config.hash_seed = j.at("hash_seed").get<uint32_t>();
		u.queue_map = j.at("queue_map").get<std::vector<uint32_t>>();
		u.indirection = j.at("indirection").get<std::vector<uint32_t>>();
		u.rules = j.at("rules").get<std::vector<std::string>>();
		return u;
	} catch (const nlohmann::json::exception &e) {
		throw Error(std::string("the saved user steering is unreadable: ") + e.what());
	}
}

std::string UserSteering::changes_to(const SteerConfig &c) const
{
	std::string s;
	auto add = [&](const std::string &what, const std::string &from, const std::string &to) {
		if (from != to)
			s += (s.empty() ? "" : ", ") + what + " " + from + " -> " + to;
	};
	add("policy", policy_string(config.policy), policy_string(c.policy));
	add("default", to_string(config.default_action), to_string(c.default_action));
	add("partitions", std::to_string(config.partitions), std::to_string(c.partitions));
	if (config.partitions != c.partitions)
		s += " (queue map and indirection re-spread)";
	return s;
}

std::string UserSteering::summary() const
{
	return "policy " + policy_string(config.policy) + ", default " + to_string(config.default_action) + ", " +
	       plural(config.partitions, "partition") + ", " + plural(rules.size(), "rule");
}

void UserSteering::restore() const
{
	Steering s = Steering::open(ifname);
	// Rules first: those that are not the user's may steer beyond the
	// partition count being restored, which configure() refuses.
	std::set<std::string> want(rules.begin(), rules.end()), have;
	for (const SteerRule &r : s.list_rules()) {
		if (want.count(r.text()))
			have.insert(r.text());
		else
			s.del_rule(r.id);
	}
	s.configure(config);
	std::vector<uint32_t> qm = s.queue_map();
	for (uint32_t q = 0; q < queue_map.size() && q < qm.size(); q++)
		if (qm[q] != queue_map[q])
			s.set_queue_partition(q, queue_map[q]);
	if (s.indirection() != indirection)
		s.set_indirection(indirection);
	std::vector<SteerRule> back;
	for (const std::string &t : rules)
		if (!have.count(t))
			back.push_back(SteerRule::parse(t));
	if (!back.empty())
		s.add_rules(back);
}

} // namespace mkdp
