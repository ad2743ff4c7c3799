// SPDX-License-Identifier: BSD-2-Clause
// The traffic generator: UDP/TCP frames (packet.h) sent on one end of a
// testbed veth (testbed.h) through AF_PACKET TPACKET_V2 TX rings, one ring
// per TX queue used, batched (one send() flushes a batch), paced by a token
// bucket.
//
// Queue choice: veth hands a frame sent on TX queue q to RX queue q of the
// peer. Each TX ring's socket carries SO_PRIORITY q, and the testbed's tc
// egress selector turns priority q into TX queue q (docs/testbed.md has why
// neither PACKET_QDISC_BYPASS, XPS nor PACKET_FANOUT can do it here). So
// frame i, of flow i % flows, leaves on queue `queue` when one is given and
// on (flow % queues) otherwise, and the report's per-queue counts are exact.
//
// Network safety: generate() only ever sends on mkdp0/mkdp1 of a testbed
// namespace (require_testbed_device), whatever the caller's namespace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "packet.h"

namespace mkdp {

struct GenOptions {
	std::string netns;		// the testbed's namespace (required)
	std::string ifname;		// mkdp1 (or mkdp0)
	uint32_t flows = 1;		// flow f: source port + f, source address + f / 50000
	uint32_t size = 0;		// frame bytes without FCS; 0: 64, or the headers + tag if larger
	uint64_t count = 1000;
	uint64_t rate_pps = 0;		// 0: as fast as the rings go
	L4Proto proto = L4Proto::udp;
	bool ipv6 = false;
	uint16_t vlan = 0;
	int queue = -1;			// -1: spread flows over every queue
	uint16_t src_port = 10000, dst_port = 9;
	uint64_t first_tag = 0;		// frame i carries tag first_tag + i in its payload
	uint32_t batch = 64;		// frames per send()
};

struct GenReport {
	std::string netns, ifname;
	uint64_t frames = 0, bytes = 0;
	uint32_t flows = 0, queues = 0;
	std::vector<uint64_t> per_queue;	// frames handed to each TX (= peer RX) queue
	uint64_t duration_ns = 0;
	double pps() const { return duration_ns ? double(frames) * 1e9 / double(duration_ns) : 0; }
};

// The spec of frame i (before its tag), for checks on the receiving side.
FrameSpec gen_frame_spec(const GenOptions &o, const MacAddr &src_mac, const MacAddr &dst_mac,
			 const IpAddr &src_ip, const IpAddr &dst_ip, uint64_t i);
// The TX queue frame i leaves on, given the testbed's queue count.
uint32_t gen_frame_queue(const GenOptions &o, uint32_t queues, uint64_t i) noexcept;

// Sends; throws a one-line mkdp::Error on refusal or failure.
GenReport generate(const GenOptions &o);

} // namespace mkdp
