// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/veth_sender.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace mkdp {

VethSender::VethSender(const std::string &netns, uint32_t queues)
{
	info_ = require_testbed_device(netns, kTestbedTxDev);
	if (queues == 0 || queues > info_.queues)
		throw Error("the testbed has " + std::to_string(info_.queues) + " queues");
	run_in_netns(netns, [&] {
		for (uint32_t q = 0; q < queues; q++) {
			int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
			if (fd < 0)
				throw_errno("AF_PACKET socket");
			socks_.push_back(fd);
			int prio = int(q);
			if (setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)))
				throw_errno("SO_PRIORITY");
			sockaddr_ll sll{};
			sll.sll_family = AF_PACKET;
			sll.sll_ifindex = info_.tx.ifindex;
			sll.sll_protocol = 0;	// send only
			if (bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof(sll)))
				throw_errno("bind AF_PACKET to " + info_.tx.ifname);
		}
	});
}

VethSender::~VethSender()
{
	for (int fd : socks_)
		close(fd);
}

FrameSpec VethSender::udp(uint16_t sport, uint16_t dport, uint16_t payload) const
{
	FrameSpec s;
	s.src_mac = info_.tx.mac;
	s.dst_mac = info_.rx.mac;
	s.src_ip = info_.tx.ip4;
	s.dst_ip = info_.rx.ip4;
	s.src_port = sport;
	s.dst_port = dport;
	s.payload_len = payload;
	check_spec(s);
	return s;
}

uint64_t VethSender::send(const FrameSpec &spec, uint32_t queue, uint64_t count, uint64_t first_tag, uint64_t pps)
{
	std::vector<Flow> f{{spec, queue, first_tag, 0}};
	return send_flows(f, count, pps);
}

uint64_t VethSender::send_flows(std::vector<Flow> &flows, uint64_t per_flow, uint64_t pps)
{
	constexpr unsigned kBurst = 32;
	for (const Flow &f : flows)
		if (f.queue >= socks_.size())
			throw Error("queue " + std::to_string(f.queue) + " has no sender");
	uint8_t buf[kBurst][2048];
	mmsghdr msgs[kBurst];
	iovec iov[kBurst];
	uint64_t total = 0, t0 = now_ns();
	for (uint64_t i = 0; i < per_flow; i += kBurst) {
		unsigned n = unsigned(std::min<uint64_t>(kBurst, per_flow - i));
		for (Flow &f : flows) {
			for (unsigned k = 0; k < n; k++) {
				FrameSpec s = f.spec;
				s.tag = f.first_tag + i + k;
				size_t len = build_frame(s, buf[k]);
				iov[k] = {buf[k], len};
				msgs[k] = {};
				msgs[k].msg_hdr.msg_iov = &iov[k];
				msgs[k].msg_hdr.msg_iovlen = 1;
			}
			unsigned done = 0;
			while (done < n) {
				int r = sendmmsg(socks_[f.queue], msgs + done, n - done, 0);
				if (r < 0) {
					if (errno == ENOBUFS || errno == EAGAIN) {
						usleep(50);
						continue;
					}
					throw_errno("send on " + info_.tx.ifname);
				}
				done += unsigned(r);
			}
			f.sent += n;
			total += n;
		}
		if (pps) {
			// Pace: never ahead of the schedule.
			uint64_t due = t0 + total * 1'000'000'000ULL / pps;
			for (uint64_t now = now_ns(); now < due; now = now_ns()) {
				uint64_t left = due - now;
				if (left > 200'000)
					usleep(unsigned(left / 2000));
				else
					cpu_relax();
			}
		}
	}
	return total;
}

} // namespace mkdp
