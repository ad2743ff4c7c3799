// SPDX-License-Identifier: BSD-2-Clause
// A steering rule and its text form, as `mkdp steer rule` reads and prints it.
// Pure: no BPF here (tests/steer_rule_grammar_test.cpp runs it without root);
// the maps the rules live in are steer_rule_maps.cpp's.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "steer.h"

namespace mkdp {

enum class SteerAction : uint32_t {
	pass = MKDP_STEER_ACT_PASS,
	drop = MKDP_STEER_ACT_DROP,
	steer = MKDP_STEER_ACT_STEER,
};

const char *to_string(SteerAction a) noexcept;

// Exact rules match the 5-tuple (ports 0 for protocols without ports and
// non-first fragments); prefix rules match the longest destination, then
// the longest source prefix.
struct SteerRule {
	enum class Match { exact, dst_prefix, src_prefix };
	Match match = Match::exact;
	uint8_t family = 4;			// 4 or 6
	uint8_t proto = 0;			// exact: IPPROTO_*
	uint16_t sport = 0, dport = 0;		// exact: host order
	std::array<uint8_t, 16> saddr{};	// exact: source; prefix: the prefix
	std::array<uint8_t, 16> daddr{};	// exact: destination
	uint8_t prefix_len = 0;			// prefix rules: 0..32 / 0..128
	SteerAction action = SteerAction::steer;
	uint32_t partition = 0;			// action steer
	uint32_t id = 0;			// assigned by add_rule(s)

	// "exact udp 10.0.0.1:5000 10.0.0.2:6000 part 3", "dst 10.1.0.0/16 drop",
	// "src fd00::/64 pass", "exact tcp [fd00::1]:80 [fd00::2]:9000 part 0";
	// throws mkdp::Error naming what it could not read.
	static SteerRule parse(std::string_view text);
	std::string to_string() const;	// the same syntax, with the id ("#5 ...")
	std::string text() const;	// the same without the id, for a rule not yet added
	bool same_match(const SteerRule &o) const;
	// Throws unless the fields make a rule the maps can hold (one built in
	// code need not have come from parse). The partition is checked
	// against the program's count when the rule is added.
	void check() const;
};

} // namespace mkdp
