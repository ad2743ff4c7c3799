// SPDX-License-Identifier: BSD-2-Clause
// Internal to the steering loader: checks and conversions of the
// configuration against an interface and the program's ABI.
#pragma once

#include <string>

#include "steer_config.h"

namespace mkdp {

// RX queue q must be one mkdp steers and, when the driver says, one ifname
// has ("" for a program only loaded).
void check_queue_on(const std::string &ifname, uint32_t queue);
// The queue map entries and indirection table of an attach, against the
// interface and the partition count they will apply to.
void check_tables(const std::string &ifname, const AttachOptions &o, uint32_t partitions);
// The steer_config entry, with an empty rule index.
mkdp_steer_config to_abi(const SteerConfig &c, uint32_t xsk_map_id);

} // namespace mkdp
