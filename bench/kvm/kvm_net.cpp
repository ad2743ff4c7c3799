// SPDX-License-Identifier: BSD-2-Clause
// The KVM network path: the device thread copies frames into the guest's
// RX virtqueue; the guest (KVMB_CMD_NET_RX) reads them and gives the
// buffers back. The device trusts nothing the guest wrote: every head and
// every buffer is checked against the queue and guest memory.
#include "kvm_bench.h"
#include "virtq.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/packet.h>

#include <cstring>

namespace mkdp::bench::kvm {

namespace {

const std::vector<uint8_t> &frame()
{
	static const std::vector<uint8_t> f = [] {
		FrameSpec spec;
		spec.src_ip = IpAddr::parse("10.99.0.100");
		spec.dst_ip = IpAddr::parse("10.99.0.2");
		spec.src_port = 10000;
		spec.dst_port = 9;
		spec.payload_len = 18;	// 60 bytes, as the other paths
		std::vector<uint8_t> v = make_frame(spec);
		v[40] = v[41] = 0;	// no UDP checksum: the stamp may change
		return v;
	}();
	return f;
}

template <class T> T load_acquire(const T &v)
{
	return __atomic_load_n(&v, __ATOMIC_ACQUIRE);
}

template <class T> void store_release(T &v, T x)
{
	__atomic_store_n(&v, x, __ATOMIC_RELEASE);
}

// The back end's side of the RX queue.
class RxDevice {
public:
	explicit RxDevice(Vm &vm) : vm_(vm), q_(kvmb_vq_at(vm.at<void>(KVMB_NET_RING), KVMB_NET_QSIZE)) {}

	// Buffers the guest has posted and the device has not filled.
	uint16_t posted() const { return uint16_t(load_acquire(q_.avail->idx) - next_avail_); }
	uint16_t consumed_upto() const { return load_acquire(q_.avail->idx); }

	// Fills the next posted buffer with the frame (stamped with `stamp`
	// when not 0); publish() makes the filled ones visible.
	void fill(uint64_t stamp)
	{
		uint16_t head = q_.avail->ring[next_avail_ % KVMB_NET_QSIZE];
		if (head >= KVMB_NET_QSIZE)
			throw Error("KVM net: the guest posted descriptor " + std::to_string(head));
		const kvmb_vq_desc &d = q_.desc[head];
		const std::vector<uint8_t> &f = frame();
		if (d.len < f.size() || d.addr >= KVMB_MEM_SIZE || KVMB_MEM_SIZE - d.addr < d.len)
			throw Error("KVM net: the guest posted a buffer outside its memory or too small");
		uint8_t *buf = vm_.ram() + d.addr;
		std::memcpy(buf, f.data(), f.size());
		if (stamp)
			std::memcpy(buf + KVMB_NET_STAMP_OFF, &stamp, sizeof(stamp));
		q_.used->ring[used_ % KVMB_NET_QSIZE] = {head, uint32_t(f.size())};
		used_++;
		next_avail_++;
	}
	void publish() { store_release(q_.used->idx, used_); }

private:
	Vm &vm_;
	kvmb_vq q_;
	uint16_t next_avail_ = 0, used_ = 0;
};

} // namespace

NetRun net_run(Vm &vm, uint32_t frames)
{
	vm.reset_ring(KVMB_NET_RING, KVMB_NET_QSIZE);
	uint32_t placed = 0;
	GuestRun g = with_guest(vm, KVMB_CMD_NET_RX, frames, 0, 0, 0, [&](const std::atomic<bool> &running) {
		RxDevice dev(vm);
		while (running.load(std::memory_order_acquire)) {
			uint16_t n = dev.posted();
			if (!n || placed == frames) {
				cpu_relax();
				continue;
			}
			for (; n && placed < frames; n--, placed++)
				dev.fill(0);
			dev.publish();
		}
	});
	if (vm.mailbox().result[1] != frames)
		throw Error("KVM net: the guest consumed " + std::to_string(vm.mailbox().result[1]) + " of " +
			    std::to_string(frames) + " frames");
	NetRun r;
	r.pps = double(frames) / (double(g.wall_ns) / 1e9);
	r.host_cpu_ns_per_frame = double(g.device_cpu_ns) / frames;
	r.guest_cpu_ns_per_frame = double(g.vcpu_cpu_ns) / frames;
	r.cpu_ns_per_frame = r.host_cpu_ns_per_frame + r.guest_cpu_ns_per_frame;
	return r;
}

std::vector<double> net_latency_ns(Vm &vm, uint32_t samples)
{
	samples = std::min(samples, KVMB_LAT_MAX);
	vm.reset_ring(KVMB_NET_RING, KVMB_NET_QSIZE);
	with_guest(vm, KVMB_CMD_NET_RX, samples, 1, 0, 0, [&](const std::atomic<bool> &running) {
		RxDevice dev(vm);
		uint32_t sent = 0;
		while (running.load(std::memory_order_acquire) && sent < samples) {
			vm.tick();
			if (!dev.posted())
				continue;
			// The guest gives each buffer back once it has read it:
			// the next post means the frame is consumed.
			uint16_t before = dev.consumed_upto();
			uint64_t t = now_ns();
			__atomic_store_n(&vm.mailbox().clock_ns, t, __ATOMIC_RELAXED);
			dev.fill(t);
			dev.publish();
			sent++;
			while (running.load(std::memory_order_acquire) && dev.consumed_upto() == before)
				vm.tick();
		}
	});
	uint64_t n = std::min<uint64_t>(vm.mailbox().lat_count, samples);
	const uint64_t *log = vm.at<uint64_t>(KVMB_LAT_LOG);
	return std::vector<double>(log, log + n);
}

} // namespace mkdp::bench::kvm
