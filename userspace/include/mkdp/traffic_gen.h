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

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "packet.h"

namespace mkdp {

// The largest values generate() accepts: beyond what this generator can
// send in any run worth having (about 150k frames/s here), and small enough
// that no count, rate or time computed from them overflows.
inline constexpr uint64_t kGenMaxCount = 1'000'000'000'000;	// frames
inline constexpr uint64_t kGenMaxRate = 100'000'000;		// frames per second
inline constexpr double kGenMaxDuration = 1'000'000;		// seconds (11.5 days)
inline constexpr uint32_t kGenMaxFlows = 1'000'000;
inline constexpr uint32_t kGenFlowsPerAddr = 50'000;		// flows per source address

struct GenOptions {
	std::string netns;		// the testbed's namespace (required)
	std::string ifname;		// mkdp1 (or mkdp0)
	uint32_t flows = 1;		// flow f: source port + f % 50000, source address + f / 50000
	uint32_t size = 0;		// frame bytes without FCS; 0: 64, or the headers + tag if larger
	uint64_t count = 1000;		// 1..kGenMaxCount; 0: no limit (needs duration_s)
	uint64_t rate_pps = 0;		// 0: as fast as the rings go
	double duration_s = 0;		// > 0: stop after this long (or at count, whichever is first)
	// Set from elsewhere (a signal handler) to stop early; checked once per
	// batch, the one cost the send loop pays for it.
	const std::atomic<bool> *stop = nullptr;
	L4Proto proto = L4Proto::udp;
	bool ipv6 = false;
	uint16_t vlan = 0;
	int queue = -1;			// -1: spread flows over every queue
	uint16_t src_port = 10000, dst_port = 9;
	uint64_t first_tag = 0;		// frame i carries tag first_tag + i in its payload
	uint32_t batch = 64;		// frames per send()
};

// Why generate() stopped sending.
enum class GenStop { count, duration, stop_flag };
const char *to_string(GenStop s) noexcept;	// "count", "duration", "signal"

struct GenReport {
	std::string netns, ifname;
	GenStop stopped_by = GenStop::count;
	uint64_t frames = 0, bytes = 0;		// what was sent, also when stopped early
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

// Sends; throws a one-line mkdp::Error on refusal (any option out of range,
// a device that is not a testbed's: nothing is sent) or failure.
GenReport generate(const GenOptions &o);

} // namespace mkdp
