// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/testbed.h>
#include <mkdp/traffic_gen.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace mkdp {

namespace {

constexpr uint32_t kRingFrameSize = 2048;	// one frame slot: header + up to 1518 bytes
constexpr uint32_t kRingBlockSize = 1 << 16;
constexpr uint32_t kRingBlocks = 8;		// 256 slots per TX queue
constexpr uint32_t kEthHeader = 14, kVlanTag = 4;

// One TPACKET_V2 TX ring on one socket, pinned to one TX queue.
class TxRing {
public:
	TxRing(int ifindex, uint32_t queue)
	{
		fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);	// protocol 0: never receives
		if (fd_ < 0)
			throw_errno("gen: AF_PACKET socket");
		try {
			int v = TPACKET_V2, prio = int(queue);
			if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
				throw_errno("gen: PACKET_VERSION");
			if (setsockopt(fd_, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) < 0)
				throw_errno("gen: SO_PRIORITY");
			tpacket_req req{kRingBlockSize, kRingBlocks, kRingFrameSize,
					kRingBlockSize / kRingFrameSize * kRingBlocks};
			if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0)
				throw_errno("gen: PACKET_TX_RING");
			slots_ = req.tp_frame_nr;
			map_size_ = size_t(req.tp_block_size) * req.tp_block_nr;
			void *m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
			if (m == MAP_FAILED)
				throw_errno("gen: mmap TX ring");
			ring_ = static_cast<uint8_t *>(m);
			sockaddr_ll sll{};
			sll.sll_family = AF_PACKET;
			sll.sll_ifindex = ifindex;
			if (bind(fd_, reinterpret_cast<sockaddr *>(&sll), sizeof(sll)) < 0)
				throw_errno("gen: bind AF_PACKET");
		} catch (...) {
			reset();
			throw;
		}
	}
	~TxRing() { reset(); }
	void reset() noexcept
	{
		if (ring_)
			munmap(ring_, map_size_);
		if (fd_ >= 0)
			close(fd_);
		ring_ = nullptr;
		fd_ = -1;
	}
	TxRing(const TxRing &) = delete;
	TxRing &operator=(const TxRing &) = delete;

	// The next slot's frame buffer once the kernel has released it.
	uint8_t *next_slot()
	{
		auto *h = hdr(head_);
		while (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) {
			if (h->tp_status & TP_STATUS_WRONG_FORMAT)
				throw Error("gen: the kernel refused a frame (wrong format)");
			flush();
		}
		return reinterpret_cast<uint8_t *>(h) + TPACKET_ALIGN(sizeof(tpacket2_hdr));
	}
	void post(uint32_t len)
	{
		auto *h = hdr(head_);
		h->tp_len = len;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		head_ = (head_ + 1) % slots_;
		pending_++;
	}
	// Hands every posted frame to the kernel and waits until it has
	// taken them (blocking send() returns when the ring is drained).
	void flush()
	{
		if (!pending_)
			return;
		if (send(fd_, nullptr, 0, 0) < 0 && errno != ENOBUFS)
			throw_errno("gen: send on TX ring");
		pending_ = 0;
	}
	uint32_t pending() const { return pending_; }

private:
	tpacket2_hdr *hdr(uint32_t i) const
	{
		uint32_t per_block = kRingBlockSize / kRingFrameSize;
		return reinterpret_cast<tpacket2_hdr *>(ring_ + size_t(i / per_block) * kRingBlockSize +
							size_t(i % per_block) * kRingFrameSize);
	}

	int fd_ = -1;
	uint8_t *ring_ = nullptr;
	size_t map_size_ = 0;
	uint32_t slots_ = 0, head_ = 0, pending_ = 0;
};

// Token bucket: `rate` tokens a second, at most `depth` saved up.
class TokenBucket {
public:
	TokenBucket(uint64_t rate, uint32_t depth) : rate_(rate), depth_(depth), last_(now_ns()) {}
	// Waits for n tokens; false when stopping() turned true meanwhile.
	// Sleeps in slices of at most 10 ms so that a stop is seen at once
	// even at --rate 1.
	template <class Stop> bool take(uint32_t n, Stop stopping)
	{
		if (!rate_)
			return true;
		for (;;) {
			uint64_t now = now_ns();
			tokens_ += double(now - last_) * double(rate_) / 1e9;
			last_ = now;
			if (tokens_ > depth_)
				tokens_ = depth_;
			if (tokens_ >= n) {
				tokens_ -= n;
				return true;
			}
			if (stopping())
				return false;
			double wait_ns = (n - tokens_) * 1e9 / double(rate_);
			if (wait_ns > 50'000)
				std::this_thread::sleep_for(
					std::chrono::nanoseconds(std::min<uint64_t>(uint64_t(wait_ns) - 20'000, 10'000'000)));
			else
				cpu_relax();
		}
	}

private:
	uint64_t rate_;
	double depth_, tokens_ = 0;
	uint64_t last_;
};

// Raises `flag` once `seconds` have passed, from a thread of its own: the
// send loop then pays a flag load per batch for --duration, not a clock read.
class Deadline {
public:
	Deadline(double seconds, std::atomic<bool> &flag)
	{
		if (seconds <= 0)
			return;
		thread_ = std::thread([this, seconds, &flag] {
			std::unique_lock lock(mutex_);
			if (!cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; }))
				flag.store(true, std::memory_order_relaxed);
		});
	}
	~Deadline()
	{
		{
			std::lock_guard lock(mutex_);
			done_ = true;
		}
		cv_.notify_all();
		if (thread_.joinable())
			thread_.join();
	}
	Deadline(const Deadline &) = delete;
	Deadline &operator=(const Deadline &) = delete;

private:
	std::mutex mutex_;
	std::condition_variable cv_;
	bool done_ = false;
	std::thread thread_;
};

uint32_t min_frame(const GenOptions &o)
{
	FrameSpec s;
	s.src_ip.v6 = s.dst_ip.v6 = o.ipv6;
	s.proto = o.proto;
	s.vlan = o.vlan;
	s.payload_len = kTagBytes;
	return uint32_t(frame_len(s));
}

} // namespace

FrameSpec gen_frame_spec(const GenOptions &o, const MacAddr &src_mac, const MacAddr &dst_mac,
			 const IpAddr &src_ip, const IpAddr &dst_ip, uint64_t i)
{
	uint32_t flow = uint32_t(i % o.flows);
	FrameSpec s;
	s.src_mac = src_mac;
	s.dst_mac = dst_mac;
	s.vlan = o.vlan;
	s.src_ip = src_ip.plus(flow / kGenFlowsPerAddr);
	s.dst_ip = dst_ip;
	s.proto = o.proto;
	s.src_port = uint16_t(o.src_port + flow % kGenFlowsPerAddr);
	s.dst_port = o.dst_port;
	// Size the payload from the real header length: the 60-byte padding
	// is not payload.
	size_t hdrs = 14 + (s.vlan ? 4 : 0) + (s.src_ip.v6 ? 40 : 20) + (s.proto == L4Proto::tcp ? 20 : 8);
	uint32_t size = o.size ? o.size : std::max<uint32_t>(64, min_frame(o));
	s.payload_len = uint16_t(size > hdrs ? size - hdrs : 0);
	s.tag = o.first_tag + i;
	return s;
}

const char *to_string(GenStop s) noexcept
{
	switch (s) {
	case GenStop::count: return "count";
	case GenStop::duration: return "duration";
	default: return "signal";
	}
}

uint32_t gen_frame_queue(const GenOptions &o, uint32_t queues, uint64_t i) noexcept
{
	if (o.queue >= 0)
		return uint32_t(o.queue);
	return uint32_t((i % o.flows) % queues);
}

GenReport generate(const GenOptions &opts)
{
	GenOptions o = opts;
	if (!o.size)
		o.size = std::max<uint32_t>(64, min_frame(o));
	if (o.flows < 1 || o.flows > kGenMaxFlows)
		throw Error("gen: --flows must be 1.." + std::to_string(kGenMaxFlows));
	// Flow f takes source port sport + f % 50000: the ports must not wrap
	// past 65535 into ports that belong to other flows (or to port 0).
	uint32_t last_port = uint32_t(o.src_port) + std::min(o.flows, kGenFlowsPerAddr) - 1;
	if (last_port > 65535)
		throw Error("gen: --sport " + std::to_string(o.src_port) + " with --flows " + std::to_string(o.flows) +
			    " needs source ports up to " + std::to_string(last_port) + ", past 65535 (at most --sport " +
			    std::to_string(65536 - std::min(o.flows, kGenFlowsPerAddr)) + " for these flows)");
	// NaN fails every comparison: written so that it is refused too.
	if (!(o.duration_s >= 0 && o.duration_s <= kGenMaxDuration))
		throw Error("gen: --duration must be 0.." + std::to_string(uint64_t(kGenMaxDuration)) + " seconds");
	if (o.count > kGenMaxCount || (o.count < 1 && o.duration_s <= 0))
		throw Error("gen: --count must be 1.." + std::to_string(kGenMaxCount) +
			    " (no limit only with --duration)");
	if (o.rate_pps > kGenMaxRate)
		throw Error("gen: --rate must be 0.." + std::to_string(kGenMaxRate) + " frames per second");
	TestbedInfo tb = require_testbed_device(o.netns, o.ifname);
	const bool on_tx = o.ifname == tb.tx.ifname;
	const TestbedEnd &me = on_tx ? tb.tx : tb.rx, &peer = on_tx ? tb.rx : tb.tx;
	if (o.queue >= int(me.tx_queues))
		throw Error("gen: --queue " + std::to_string(o.queue) + " but " + o.ifname + " has " +
			    std::to_string(me.tx_queues) + " queues");
	if (o.vlan > 4094)
		throw Error("gen: --vlan must be 1..4094");
	// What the device takes: its MTU plus the Ethernet header, plus the
	// tag when there is one (AF_PACKET refuses more with EMSGSIZE), within
	// one TX ring slot.
	uint32_t max = std::min<uint32_t>(me.mtu + kEthHeader + (o.vlan ? kVlanTag : 0),
					  kRingFrameSize - TPACKET_ALIGN(sizeof(tpacket2_hdr)));
	if (o.size < min_frame(o) || o.size > max)
		throw Error("gen: --size must be " + std::to_string(min_frame(o)) + ".." + std::to_string(max) +
			    " for these headers (" + o.ifname + " MTU " + std::to_string(me.mtu) +
			    (o.vlan ? " + Ethernet header + VLAN tag)" : " + Ethernet header; 4 more with --vlan)"));
	if (o.batch < 1 || o.batch > 256)
		throw Error("gen: batch must be 1..256");
	const IpAddr &src_ip = o.ipv6 ? me.ip6 : me.ip4, &dst_ip = o.ipv6 ? peer.ip6 : peer.ip4;
	check_spec(gen_frame_spec(o, me.mac, peer.mac, src_ip, dst_ip, 0));

	GenReport r;
	r.netns = o.netns;
	r.ifname = o.ifname;
	r.flows = o.flows;
	r.queues = me.tx_queues;
	r.per_queue.assign(me.tx_queues, 0);

	const uint64_t limit = o.count ? o.count : UINT64_MAX;
	run_in_netns(o.netns, [&] {
		int ifindex = int(if_nametoindex(o.ifname.c_str()));
		if (!ifindex)
			throw_errno("gen: device " + o.ifname);
		std::vector<std::unique_ptr<TxRing>> rings(me.tx_queues);
		for (uint64_t i = 0; i < std::min<uint64_t>(limit, o.flows); i++) {
			uint32_t q = gen_frame_queue(o, me.tx_queues, i);
			if (!rings[q])
				rings[q] = std::make_unique<TxRing>(ifindex, q);
		}

		// At low rates a full batch would be a visible burst: keep
		// batches to about a millisecond of traffic. The bucket holds
		// 20 ms of tokens, so a late wake-up on a busy machine is made
		// up for instead of lowering the rate.
		uint32_t batch = o.batch;
		if (o.rate_pps)
			batch = uint32_t(std::clamp<uint64_t>(o.rate_pps / 1000, 1, o.batch));
		TokenBucket bucket(o.rate_pps, uint32_t(std::max<uint64_t>(2 * batch, o.rate_pps / 50)));
		std::atomic<bool> expired{false};
		auto stopping = [&] {
			return expired.load(std::memory_order_relaxed) ||
			       (o.stop && o.stop->load(std::memory_order_relaxed));
		};
		Deadline deadline(o.duration_s, expired);
		uint64_t t0 = now_ns();
		uint64_t i = 0;
		while (i < limit && !stopping()) {
			uint32_t n = uint32_t(std::min<uint64_t>(batch, limit - i));
			if (!bucket.take(n, stopping))
				break;
			for (uint32_t k = 0; k < n; k++, i++) {
				uint32_t q = gen_frame_queue(o, me.tx_queues, i);
				TxRing &ring = *rings[q];
				FrameSpec s = gen_frame_spec(o, me.mac, peer.mac, src_ip, dst_ip, i);
				uint8_t *buf = ring.next_slot();
				size_t len = build_frame(s, {buf, kRingFrameSize - TPACKET_ALIGN(sizeof(tpacket2_hdr))});
				ring.post(uint32_t(len));
				r.per_queue[q]++;
				r.bytes += len;
			}
			for (auto &ring : rings)
				if (ring)
					ring->flush();
		}
		r.duration_ns = now_ns() - t0;
		r.frames = i;
		if (i < limit)	// the stop flag wins: the user asked, whatever else happened
			r.stopped_by = o.stop && o.stop->load() ? GenStop::stop_flag : GenStop::duration;
	});
	return r;
}

} // namespace mkdp
