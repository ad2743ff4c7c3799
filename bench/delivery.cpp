// SPDX-License-Identifier: BSD-2-Clause
// End-to-end delivery: frames entering a testbed veth, delivered either by
// mkdp's steering program into a partition's AF_XDP socket, or by the
// kernel stack into a UDP socket in the same namespace (the baseline a
// namespace/cgroup "partition" would get).
//
// The offered load must exceed what either path can take, or the ratio
// measures the generator. An AF_PACKET sender manages ~150k frames/s here,
// so frames are injected with BPF_PROG_RUN in live-frame mode
// (BPF_F_TEST_XDP_LIVE_FRAMES): the kernel runs the XDP program on the
// device's receive path for every frame and acts on its verdict for real —
// XDP_REDIRECT into the socket for mkdp, XDP_PASS up the stack for the
// baseline (bare_redirect with no socket in its map passes everything).
// Both paths see the same frames, the same injector and the same CPUs; the
// figure is frames the application actually received per second.
#include "bench.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/packet.h>
#include <mkdp/region.h>
#include <mkdp/testbed.h>
#include <mkdp/xsk.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bare_redirect.skel.h"
#include "doorbell_measure.h"	// thread_cpu_ns
#include "steer_loader.h"

namespace mkdp::bench {

namespace {

constexpr uint16_t kPort = 9;
constexpr uint32_t kFrameSize = 2048, kFrames = 8192;
// Where the latency runs put the sender's clock: the UDP payload of a
// 60-byte frame (Ethernet 14, IPv4 20, UDP 8).
constexpr size_t kStampOffset = 42;
constexpr size_t kUdpCsumOffset = 40;

// Runs `frames` live frames through prog on queue 0 of the device; returns
// when the kernel has processed all of them.
// Returns the kernel's mean time per frame (program, redirect and the copy
// into the socket's frame, all on the injecting CPU).
uint32_t inject(int prog_fd, int ifindex, const std::vector<uint8_t> &frame, uint32_t frames)
{
	xdp_md ctx{};
	ctx.ingress_ifindex = uint32_t(ifindex);
	ctx.rx_queue_index = 0;
	ctx.data_end = uint32_t(frame.size());	// the kernel insists ctx and data agree
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	opts.data_in = frame.data();
	opts.data_size_in = uint32_t(frame.size());
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = frames;
	opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
	opts.batch_size = 64;
	int err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		throw Error(std::string("BPF_PROG_RUN live frames: ") + strerror(-err), -err);
	return opts.duration;
}

// Counts what a receiver takes until the injector is done and the socket has
// been quiet for a moment; returns frames per second from the first
// injected frame to the last received one.
struct Receive {
	uint64_t frames = 0;
	uint64_t last_ns = 0;
};

template <class Poll> Receive receive_until_quiet(std::atomic<bool> &injected, Poll &&poll)
{
	Receive r;
	uint64_t quiet_since = now_ns();
	for (;;) {
		uint32_t n = poll();
		uint64_t t = now_ns();
		if (n) {
			r.frames += n;
			r.last_ns = t;
			quiet_since = t;
		} else if (injected.load(std::memory_order_acquire) && t - quiet_since > 50'000'000) {
			return r;
		} else {
			cpu_relax();
		}
	}
}

struct Run {
	double pps;			// frames the application received per second
	double kernel_ns_per_frame;	// the injector's kernel-timed cost per frame
	double cpu_ns_per_frame;	// injector and receiver thread CPU per frame received
};

Run run_once(int prog_fd, int ifindex, const std::vector<uint8_t> &frame, uint32_t frames,
	     const std::function<uint32_t()> &poll, const std::string &netns, const char *what)
{
	std::atomic<bool> injected{false};
	uint32_t kernel_ns = 0;
	uint64_t inject_cpu = 0;
	std::exception_ptr err;
	using doorbell::thread_cpu_ns;
	uint64_t t0 = now_ns(), cpu0 = thread_cpu_ns();
	std::thread inj([&] {
		try {
			run_in_netns(netns, [&] {
				pin_to_cpu(0);
				uint64_t c = thread_cpu_ns();
				kernel_ns = inject(prog_fd, ifindex, frame, frames);
				inject_cpu = thread_cpu_ns() - c;
			});
		} catch (...) {
			err = std::current_exception();
		}
		injected.store(true, std::memory_order_release);
	});
	Receive r = receive_until_quiet(injected, poll);
	// The receiver polls, so its CPU tracks its wall time; the quiet
	// tail it waits out after the last frame is not the frames' cost.
	uint64_t t1 = now_ns();
	double recv_cpu = double(thread_cpu_ns() - cpu0) * double(r.last_ns - t0) / double(t1 - t0);
	inj.join();
	if (err)
		std::rethrow_exception(err);
	if (!r.frames)
		throw Error(std::string("delivery: nothing reached the ") + what);
	return {double(r.frames) * 1e9 / double(r.last_ns - t0), double(kernel_ns),
		(double(inject_cpu) + recv_cpu) / double(r.frames)};
}

// Sends one frame at a time with the sender's clock in its payload and
// waits for the receiver to report it: the latency of each from the moment
// before BPF_PROG_RUN to the moment the application holds it.
std::vector<double> one_by_one(int prog_fd, int ifindex, std::vector<uint8_t> frame, uint32_t samples,
			       const std::function<uint64_t()> &poll_stamp, const std::string &netns)
{
	std::vector<double> lat;
	lat.reserve(samples);
	std::atomic<uint32_t> got{0};
	std::atomic<bool> done{false};
	std::exception_ptr err;
	std::thread inj([&] {
		try {
			run_in_netns(netns, [&] {
				pin_to_cpu(0);
				for (uint32_t i = 0; i < samples && !done.load(); i++) {
					uint64_t t = now_ns();
					std::memcpy(frame.data() + kStampOffset, &t, sizeof(t));
					inject(prog_fd, ifindex, frame, 1);
					uint64_t deadline = now_ns() + 1'000'000'000;
					while (got.load(std::memory_order_acquire) <= i)
						if (now_ns() > deadline)
							throw Error("delivery: a frame did not arrive in 1 s");
						else
							cpu_relax();
				}
			});
		} catch (...) {
			err = std::current_exception();
		}
		done.store(true);
	});
	while (!done.load()) {
		uint64_t stamp = poll_stamp();
		if (stamp) {
			lat.push_back(double(now_ns() - stamp));
			got.fetch_add(1, std::memory_order_release);
		} else {
			cpu_relax();
		}
	}
	inj.join();
	if (err)
		std::rethrow_exception(err);
	return lat;
}

} // namespace

struct DeliveryBed::State {
	std::string ns;
	std::unique_ptr<Testbed> tb;
	std::vector<uint8_t> udp_frame;
	std::unique_ptr<Steering> steer;
	Region region;
	std::unique_ptr<Umem> umem;
	std::unique_ptr<XskSocket> xsk;
	int udp = -1;
	bare_redirect *pass = nullptr;	// no socket in its map: everything to the stack

	~State()
	{
		if (udp >= 0)
			close(udp);
		bare_redirect__destroy(pass);
		xsk.reset();
		umem.reset();
		if (steer) {
			steer.reset();
			try {
				run_in_netns(ns, [] { Steering::detach(kTestbedRxDev); });
			} catch (...) {
			}
		}
		tb.reset();
	}

	// The consumer reads every byte it receives, as the UDP path's copy
	// to user space does and the KVM guest does: equal work.
	uint32_t poll_xsk()
	{
		mkdp_frame_desc descs[64];
		uint32_t n = xsk->rx_burst(descs, 64);
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *d = umem->data(descs[i].addr);
			for (uint32_t b = 0; b < descs[i].len; b++)
				touched += d[b];
		}
		if (n)
			xsk->recycle(descs, n);
		return n;
	}

	// One frame's stamp, or 0.
	uint64_t stamp_xsk()
	{
		mkdp_frame_desc d;
		if (!xsk->rx_burst(&d, 1))
			return 0;
		uint64_t t;
		std::memcpy(&t, umem->data(d.addr) + kStampOffset, sizeof(t));
		xsk->recycle(&d, 1);
		return t;
	}

	uint64_t stamp_udp()
	{
		uint64_t t = 0;
		ssize_t n = recv(udp, &t, sizeof(t), MSG_DONTWAIT);
		return n == ssize_t(sizeof(t)) ? t : 0;
	}

	uint64_t touched = 0;
};

DeliveryBed::DeliveryBed() : s_(std::make_unique<State>())
{
	State &s = *s_;
	s.ns = "mkdp-bd-" + std::to_string(getpid());
	s.tb = std::make_unique<Testbed>(TestbedOptions{s.ns, 1});
	const TestbedInfo &ti = s.tb->info();

	FrameSpec spec;
	spec.src_mac = ti.tx.mac;
	spec.dst_mac = ti.rx.mac;
	// A host out on the wire: mkdp1's own address is local to the
	// namespace, and the stack drops local sources as martians.
	spec.src_ip = ti.tx.ip4.plus(98);
	spec.dst_ip = ti.rx.ip4;
	spec.src_port = 10000;
	spec.dst_port = kPort;
	spec.payload_len = 18;	// a 60-byte frame
	s.udp_frame = make_frame(spec);
	// No UDP checksum (IPv4 allows it), so the latency runs may write
	// their stamps into the payload.
	s.udp_frame[kUdpCsumOffset] = s.udp_frame[kUdpCsumOffset + 1] = 0;

	run_in_netns(s.ns, [&] {
		AttachOptions o;
		o.config.partitions = 1;
		s.steer = std::make_unique<Steering>(Steering::attach(kTestbedRxDev, o));
		s.region = Region::create(RegionLayout().area("umem", uint64_t(kFrames) * kFrameSize, kFrameSize));
		s.umem = std::make_unique<Umem>(s.region, "umem");
		XskConfig cfg;
		cfg.tx_size = 0;
		cfg.rx_size = 4096;
		s.xsk = std::make_unique<XskSocket>(*s.umem, kTestbedRxDev, 0, cfg);
		s.steer->set_socket(0, 0, s.xsk->fd());
		s.xsk->refill(kFrames);

		s.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s.udp < 0)
			throw_errno("udp socket");
		int big = 64 << 20;
		setsockopt(s.udp, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_port = htons(kPort);
		std::memcpy(&a.sin_addr, ti.rx.ip4.b.data(), 4);
		if (bind(s.udp, reinterpret_cast<sockaddr *>(&a), sizeof(a)))
			throw_errno("bind udp socket");
		s.pass = bare_redirect__open_and_load();
		if (!s.pass)
			throw_errno("load bare_redirect");
	});
}

DeliveryBed::~DeliveryBed() = default;

int DeliveryBed::xsk_fd() const noexcept
{
	return s_->xsk->fd();
}

int DeliveryBed::ifindex() const noexcept
{
	return s_->tb->info().rx.ifindex;
}

DeliveryBed::PathRun DeliveryBed::run(Path path, uint32_t frames)
{
	State &s = *s_;
	pin_to_cpu(1);	// the receiver; the injector runs on CPU 0
	Run r;
	if (path == Path::xsk) {
		r = run_once(s.steer->prog_fd(), ifindex(), s.udp_frame, frames, [&] { return s.poll_xsk(); }, s.ns,
			     "AF_XDP socket");
	} else {
		constexpr unsigned kVlen = 64;
		static char bufs[kVlen][128];
		iovec iov[kVlen];
		mmsghdr msgs[kVlen];
		for (unsigned i = 0; i < kVlen; i++) {
			iov[i] = {bufs[i], sizeof(bufs[i])};
			msgs[i] = {};
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		auto poll_udp = [&]() -> uint32_t {
			int n = recvmmsg(s.udp, msgs, kVlen, MSG_DONTWAIT, nullptr);
			return n > 0 ? uint32_t(n) : 0;
		};
		r = run_once(bpf_program__fd(s.pass->progs.bare_redirect), ifindex(), s.udp_frame, frames, poll_udp,
			     s.ns, "UDP socket");
	}
	return {r.pps, r.cpu_ns_per_frame};
}

double DeliveryBed::xsk_pps(uint32_t frames)
{
	return run(Path::xsk, frames).pps;
}

double DeliveryBed::udp_pps(uint32_t frames)
{
	return run(Path::udp, frames).pps;
}

std::vector<double> DeliveryBed::latency_ns(Path path, uint32_t samples)
{
	State &s = *s_;
	pin_to_cpu(1);
	if (path == Path::xsk)
		return one_by_one(s.steer->prog_fd(), ifindex(), s.udp_frame, samples, [&] { return s.stamp_xsk(); },
				  s.ns);
	return one_by_one(bpf_program__fd(s.pass->progs.bare_redirect), ifindex(), s.udp_frame, samples,
			  [&] { return s.stamp_udp(); }, s.ns);
}

double DeliveryBed::live_ns_per_frame(int prog_fd, const std::vector<uint8_t> &frame, uint32_t frames)
{
	State &s = *s_;
	pin_to_cpu(1);
	return run_once(prog_fd, ifindex(), frame, frames, [&] { return s.poll_xsk(); }, s.ns, "AF_XDP socket")
		.kernel_ns_per_frame;
}

xdp_statistics DeliveryBed::xsk_kernel_stats() const
{
	return s_->xsk->kernel_stats();
}

nlohmann::json measure_delivery(DeliveryBed &bed, bool quick, int reps)
{
	const uint32_t frames = quick ? 200'000 : 2'000'000;
	std::vector<double> mkdp_pps, udp_pps, ratio;
	for (int r = 0; r < reps; r++) {
		mkdp_pps.push_back(bed.xsk_pps(frames));
		udp_pps.push_back(bed.udp_pps(frames));
		ratio.push_back(mkdp_pps.back() / udp_pps.back());
	}
	xdp_statistics ks = bed.xsk_kernel_stats();
	return {{"measured", true},
		{"method", "BPF_PROG_RUN live frames (60-byte UDP) injected on the testbed's mkdp0 queue 0 from "
			   "CPU 0; receiver on CPU 1; frames received by the application per second"},
		{"frames_per_run", frames},
		{"repetitions", reps},
		{"mkdp_xsk_pps", to_json(summarize(mkdp_pps))},
		{"netns_udp_pps", to_json(summarize(udp_pps))},
		{"ratio", to_json(summarize(ratio))},
		{"xsk_rx_dropped", ks.rx_dropped},
		{"xsk_rx_ring_full", ks.rx_ring_full},
		{"xsk_fill_ring_empty", ks.rx_fill_ring_empty_descs}};
}

} // namespace mkdp::bench
