// SPDX-License-Identifier: BSD-2-Clause
#include "steer_config.h"

#include <mkdp/error.h>

namespace mkdp {

const char *to_string(XdpMode m) noexcept
{
	return m == XdpMode::native ? "native" : "skb";
}

uint32_t parse_policy(std::string_view s)
{
	if (s.empty())
		throw Error("empty policy (queue, hash, rules, combined like rules,hash; or none)");
	uint32_t bits = 0;
	for (;;) {
		auto sep = s.find_first_of(",+");
		std::string_view w = s.substr(0, sep);
		if (w.empty())
			throw Error("policy '" + std::string(s) + "': empty word (queue, hash, rules)");
		if (w == "queue")
			bits |= MKDP_STEER_POLICY_QUEUE;
		else if (w == "hash")
			bits |= MKDP_STEER_POLICY_HASH;
		else if (w == "rules")
			bits |= MKDP_STEER_POLICY_RULES;
		else if (w == "none")
			;
		else
			throw Error("unknown policy '" + std::string(w) + "' (queue, hash, rules)");
		if (sep == s.npos)
			return bits;
		s = s.substr(sep + 1);
	}
}

std::string policy_string(uint32_t policy)
{
	std::string s;
	if (policy & MKDP_STEER_POLICY_RULES)
		s += "rules,";
	if (policy & MKDP_STEER_POLICY_HASH)
		s += "hash,";
	if (policy & MKDP_STEER_POLICY_QUEUE)
		s += "queue,";
	if (s.empty())
		return "none";
	s.pop_back();
	return s;
}

void SteerConfig::check() const
{
	if (policy & ~uint32_t(MKDP_STEER_POLICY_ALL))
		throw Error("unknown policy bits " + std::to_string(policy));
	if (default_action != SteerAction::pass && default_action != SteerAction::drop)
		throw Error("the default action is pass or drop");
	if (partitions < 1 || partitions > MKDP_STEER_MAX_PARTITIONS)
		throw Error("partitions " + std::to_string(partitions) + " out of range 1.." +
			    std::to_string(MKDP_STEER_MAX_PARTITIONS));
}

SteerConfig SteerConfig::merged(const SteerConfig &given, uint32_t fields) const
{
	SteerConfig c = *this;
	if (fields & f_policy)
		c.policy = given.policy;
	if (fields & f_default)
		c.default_action = given.default_action;
	if (fields & f_partitions)
		c.partitions = given.partitions;
	if (fields & f_symmetric)
		c.symmetric = given.symmetric;
	if (fields & f_seed)
		c.hash_seed = given.hash_seed;
	return c;
}

std::vector<uint32_t> indirection_from_weights(std::span<const uint32_t> weights)
{
	uint64_t sum = 0;
	for (uint32_t w : weights)
		sum += w;
	if (weights.empty() || weights.size() > MKDP_STEER_MAX_PARTITIONS || !sum)
		throw Error("indirection weights: 1.." + std::to_string(MKDP_STEER_MAX_PARTITIONS) +
			    " weights, one per partition, not all 0");
	// Entry i goes to the partition whose cumulative weight range holds
	// i * sum / size, as ethtool_rxfh_indir_default-style spreading does.
	std::vector<uint32_t> t(MKDP_STEER_INDIR_SIZE);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint64_t x = uint64_t(i) * sum / MKDP_STEER_INDIR_SIZE, acc = 0;
		uint32_t p = 0;
		while (acc + weights[p] <= x)
			acc += weights[p++];
		t[i] = p;
	}
	return t;
}

std::string partition_range(uint32_t n)
{
	return "(" + std::to_string(n) + " partition" + (n == 1 ? "" : "s") + ": 0.." + std::to_string(n - 1) + ")";
}

} // namespace mkdp
