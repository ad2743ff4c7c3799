// SPDX-License-Identifier: BSD-2-Clause
// A steering program the user attached (mkdp steer attach) before `mkdp topology up`. Up
// takes it over rather than replacing it, changing only what partitions
// need (policy, default action, partition count; a new count re-spreads the
// queue map and indirection table), and says so. `down` gives it back as up
// found it: configuration, queue map, indirection table and rule set (rules
// added while mkdp was up are removed, rules deleted meanwhile come back
// with new ids). The snapshot is kept in /run/mkdp/state.json, so that a
// supervisor that died is undone the same way.
#pragma once

#include <steer_loader.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mkdp {

struct UserSteering {
	std::string ifname;
	SteerConfig config;
	std::vector<uint32_t> queue_map;	// the device's RX queues
	std::vector<uint32_t> indirection;	// all MKDP_STEER_INDIR_SIZE entries
	std::vector<std::string> rules;		// SteerRule::text(), by id

	// mkdp's program attached to ifname (calling thread's namespace), as
	// its pins say; nullopt when there is none or only stale pins.
	static std::optional<UserSteering> find(const std::string &ifname);

	nlohmann::json to_json() const;
	static UserSteering from_json(const nlohmann::json &j);	// throws mkdp::Error

	// "policy queue -> rules,hash,queue, default drop -> pass, partitions
	// 4 -> 2 (queue map and indirection re-spread)"; "" when c changes none.
	std::string changes_to(const SteerConfig &c) const;
	// "policy queue, default drop, 4 partitions, 1 rule"
	std::string summary() const;

	// Puts it back on the program pinned for ifname (calling thread's
	// namespace). Throws mkdp::Error (ENOENT: the user detached it).
	void restore() const;
};

} // namespace mkdp
