// SPDX-License-Identifier: BSD-2-Clause
// A small paced frame sender for the testbed's "wire" end (mkdp1): what the
// partition tests, the isolation benchmark and the demo use to put frames
// with known content on a chosen RX queue of mkdp0. AF_PACKET sockets made
// inside the testbed namespace, one per queue with SO_PRIORITY = queue (the
// testbed's tc classifier turns that into the TX queue, and veth delivers TX
// queue q to RX queue q of the peer). Refuses anything but a testbed device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "packet.h"
#include "testbed.h"

namespace mkdp {

class VethSender {
public:
	// Opens senders for queues [0, queues) on the testbed's TX end.
	VethSender(const std::string &netns, uint32_t queues);
	~VethSender();
	VethSender(const VethSender &) = delete;
	VethSender &operator=(const VethSender &) = delete;

	// A UDP/IPv4 frame from the wire end to the NIC end of the testbed.
	FrameSpec udp(uint16_t sport, uint16_t dport, uint16_t payload = 64) const;

	// Sends `count` copies of spec on queue q, the tag counting up from
	// first_tag, at most pps frames per second (0 = as fast as possible).
	// Returns the frames the kernel accepted.
	uint64_t send(const FrameSpec &spec, uint32_t queue, uint64_t count, uint64_t first_tag, uint64_t pps = 0);

	// Round-robin over several (spec, queue) flows, frame by frame, so they
	// interleave on the wire; flow i's tags count from first_tags[i].
	struct Flow {
		FrameSpec spec;
		uint32_t queue = 0;
		uint64_t first_tag = 0;
		uint64_t sent = 0;	// out
	};
	uint64_t send_flows(std::vector<Flow> &flows, uint64_t per_flow, uint64_t pps = 0);

	const TestbedInfo &info() const noexcept { return info_; }

private:
	TestbedInfo info_;
	std::vector<int> socks_;	// by queue
};

} // namespace mkdp
