// SPDX-License-Identifier: BSD-2-Clause
// Internal to the steering loader: network interfaces by name and index,
// and their RX queue count, in the calling thread's network namespace.
#pragma once

#include <cstdint>
#include <string>

namespace mkdp {

// Throws "unknown interface" (ENODEV).
int ifindex_of(const std::string &ifname);
// The name, or "ifindex N" when it is gone.
std::string ifname_of(int ifindex);
// Refuses what cannot be an interface name (and so a pin directory name).
void check_ifname(const std::string &ifname);
// RX queues as the driver reports them (ethtool channels); 0 when it does not say.
uint32_t rx_queues_of(const std::string &ifname);

} // namespace mkdp
