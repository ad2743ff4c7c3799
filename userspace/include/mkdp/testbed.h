// SPDX-License-Identifier: BSD-2-Clause
// The veth testbed: a network namespace of our own holding one multi-queue
// veth pair, ready for native XDP and AF_XDP, that stands in for a NIC and
// the wire in front of it.
//
//   namespace NAME (default mkdp-tb)
//     mkdp0  10.77.0.1/24 fd77::1/64   the "NIC": steering programs and
//                                      AF_XDP sockets attach here
//     mkdp1  10.77.0.2/24 fd77::2/64   the "wire": the generator sends here
//
// veth delivers a frame sent on TX queue i of one end to RX queue i of the
// other, so the generator picks the RX queue by picking the TX queue. What
// testbed_up() does so that this and native XDP work (docs/testbed.md):
// TSO off on both ends (veth only runs native XDP, through its NAPI path,
// on skbs it may aggregate, and a TSO-capable sender disqualifies
// AF_PACKET's), and a tc egress classifier on both ends that maps socket
// priority q < queues to TX queue q (SO_PRIORITY selects the queue).
//
// Both ends have IPv6 address generation off (addrgenmode none): no
// link-local address, so the kernel sends no router solicitations or DAD
// probes, and a quiet wire carries only what the generator sends.
//
// Everything lives inside the namespace, so `down` (deleting it) removes all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "packet.h"

namespace mkdp {

inline constexpr const char *kTestbedDefaultName = "mkdp-tb";
inline constexpr const char *kTestbedRxDev = "mkdp0";
inline constexpr const char *kTestbedTxDev = "mkdp1";
inline constexpr const char *kTestbedAlias = "mkdp-testbed";	// marks devices we made
inline constexpr uint32_t kTestbedMaxQueues = 64;

struct TestbedOptions {
	std::string name = kTestbedDefaultName;
	uint32_t queues = 4;
};

struct TestbedEnd {
	std::string ifname;
	int ifindex = 0;
	MacAddr mac;
	IpAddr ip4, ip6;
	uint32_t rx_queues = 0, tx_queues = 0;
	uint32_t mtu = 0;
	bool up = false;
	std::string xdp_prog;	// name of the attached XDP program, if any
};

struct TestbedInfo {
	std::string name;
	uint32_t queues = 0;
	TestbedEnd rx;	// mkdp0
	TestbedEnd tx;	// mkdp1
};

// Throws mkdp::Error unless name starts with "mkdp" and is a plain
// file name (letters, digits, '-', '_', '.'; at most 32 characters).
void check_testbed_name(const std::string &name);

struct TestbedUpResult {
	TestbedInfo info;
	bool created = false;	// false: an identical testbed was already up
};

// Creates the testbed. Idempotent when one with the same queue count is up;
// throws mkdp::Error when the namespace exists with anything else in it.
// A failure removes whatever this call created.
TestbedUpResult testbed_up(const TestbedOptions &opts);

// Removes the namespace and so everything in it. Returns false when there
// was nothing to remove.
bool testbed_down(const std::string &name);

// What is in the namespace, or nothing when it does not exist. Throws when
// it exists but is not a complete testbed (that message says what is off).
std::optional<TestbedInfo> testbed_info(const std::string &name);

// Network safety: throws a one-line mkdp::Error unless ifname is one of the
// veth ends of the testbed in namespace netns (a namespace named mkdp*,
// which is not the machine's initial namespace, holding devices mkdp made).
TestbedInfo require_testbed_device(const std::string &netns, const std::string &ifname);

// RAII for tests and tools: creates a fresh testbed (refuses an existing
// namespace) and removes it on destruction.
class Testbed {
public:
	explicit Testbed(const TestbedOptions &opts);
	~Testbed();
	Testbed(const Testbed &) = delete;
	Testbed &operator=(const Testbed &) = delete;

	const TestbedInfo &info() const noexcept { return info_; }
	const std::string &name() const noexcept { return info_.name; }

private:
	TestbedInfo info_;
};

} // namespace mkdp
