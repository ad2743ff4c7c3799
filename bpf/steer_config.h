// SPDX-License-Identifier: BSD-2-Clause
// What the steering program is told: its configuration (steer_config) and
// the options of an attach. Pure: no BPF here; the maps are written by
// steer_tables.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "steer_rule.h"

namespace mkdp {

enum class XdpMode { native, skb };

const char *to_string(XdpMode m) noexcept;
// "queue,hash,rules" (any order, '+' or ',' separated) or "none" to
// MKDP_STEER_POLICY_* bits; an empty policy or word is refused.
uint32_t parse_policy(std::string_view s);
std::string policy_string(uint32_t policy);

// What the program reads for every frame (steer_config), changeable live.
struct SteerConfig {
	uint32_t policy = MKDP_STEER_POLICY_QUEUE;	// MKDP_STEER_POLICY_* bits
	SteerAction default_action = SteerAction::pass;	// pass or drop
	uint32_t partitions = 1;			// 1..MKDP_STEER_MAX_PARTITIONS
	bool symmetric = false;				// A->B and B->A hash alike
	uint32_t hash_seed = 0;

	// Fields, for AttachOptions::fields.
	enum Field : uint32_t {
		f_policy = 1, f_default = 2, f_partitions = 4, f_symmetric = 8, f_seed = 16, f_all = 31
	};

	void check() const;	// throws unless the program can take it
	// This configuration with the `fields` of `given` (a re-attach).
	SteerConfig merged(const SteerConfig &given, uint32_t fields) const;
};

struct AttachOptions {
	XdpMode mode = XdpMode::native;
	SteerConfig config;
	// Replace an XDP program mkdp did not attach. When the attach then
	// fails, a program that was attached alone is put back; libxdp's
	// dispatcher and its programs are not (docs/steering.md).
	bool force = false;
	// When mkdp's program is already attached, only these fields of
	// `config` change and the others keep their values (re-attach changes
	// only what is given); a fresh attach takes `config` whole.
	uint32_t fields = SteerConfig::f_all;
	// Applied after the configuration (a changed partition count re-spreads
	// both tables first), checked before anything changes:
	std::vector<std::pair<uint32_t, uint32_t>> queue_map;	// queue -> partition (or PART_NONE)
	std::vector<uint32_t> indirection;	// repeated over the table, as set_indirection()
};

// The indirection table that gives partition p a share weights[p] / sum of
// the flow hash (ethtool -X weight): contiguous runs, like ethtool's.
std::vector<uint32_t> indirection_from_weights(std::span<const uint32_t> weights);

// "(3 partitions: 0..2)", for the errors of out-of-range partitions.
std::string partition_range(uint32_t n);

} // namespace mkdp
