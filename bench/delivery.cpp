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
#include "steer_loader.h"

namespace mkdp::bench {

namespace {

constexpr uint16_t kPort = 9;
constexpr uint32_t kFrameSize = 2048, kFrames = 8192;

// Runs `frames` live frames through prog on queue 0 of the device; returns
// when the kernel has processed all of them.
void inject(int prog_fd, int ifindex, const std::vector<uint8_t> &frame, uint32_t frames)
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

double run_once(int prog_fd, int ifindex, const std::vector<uint8_t> &frame, uint32_t frames,
		const std::function<uint32_t()> &poll, const std::string &netns, const char *what)
{
	std::atomic<bool> injected{false};
	std::exception_ptr err;
	uint64_t t0 = now_ns();
	std::thread inj([&] {
		try {
			run_in_netns(netns, [&] {
				pin_to_cpu(0);
				inject(prog_fd, ifindex, frame, frames);
			});
		} catch (...) {
			err = std::current_exception();
		}
		injected.store(true, std::memory_order_release);
	});
	Receive r = receive_until_quiet(injected, poll);
	inj.join();
	if (err)
		std::rethrow_exception(err);
	if (!r.frames)
		throw Error(std::string("delivery: nothing reached the ") + what);
	return double(r.frames) * 1e9 / double(r.last_ns - t0);
}

} // namespace

nlohmann::json measure_delivery(bool quick, int reps)
{
	const uint32_t frames = quick ? 200'000 : 2'000'000;
	const std::string ns = "mkdp-bd-" + std::to_string(getpid());
	Testbed tb({ns, 1});
	const TestbedInfo &ti = tb.info();

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
	std::vector<uint8_t> frame = make_frame(spec);

	// The mkdp side: steering (queue policy) into partition 0's socket.
	std::unique_ptr<Steering> steer;
	Region region;
	std::unique_ptr<Umem> umem;
	std::unique_ptr<XskSocket> xsk;
	// The baseline: a UDP socket on the same address, bare_redirect passing.
	int udp = -1;
	bare_redirect *bare = nullptr;
	struct Cleanup {
		std::function<void()> fn;
		~Cleanup() { fn(); }
	} cleanup{[&] {
		if (udp >= 0)
			close(udp);
		bare_redirect__destroy(bare);
		xsk.reset();
		umem.reset();
		if (steer) {
			steer.reset();
			try {
				run_in_netns(ns, [] { Steering::detach(kTestbedRxDev); });
			} catch (...) {
			}
		}
	}};

	run_in_netns(ns, [&] {
		AttachOptions o;
		o.config.partitions = 1;
		steer = std::make_unique<Steering>(Steering::attach(kTestbedRxDev, o));
		region = Region::create(RegionLayout().area("umem", uint64_t(kFrames) * kFrameSize, kFrameSize));
		umem = std::make_unique<Umem>(region, "umem");
		XskConfig cfg;
		cfg.tx_size = 0;
		cfg.rx_size = 4096;
		xsk = std::make_unique<XskSocket>(*umem, kTestbedRxDev, 0, cfg);
		steer->set_socket(0, 0, xsk->fd());
		xsk->refill(kFrames);

		udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (udp < 0)
			throw_errno("udp socket");
		int big = 64 << 20;
		setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_port = htons(kPort);
		std::memcpy(&a.sin_addr, ti.rx.ip4.b.data(), 4);
		if (bind(udp, reinterpret_cast<sockaddr *>(&a), sizeof(a)))
			throw_errno("bind udp socket");
		bare = bare_redirect__open_and_load();
		if (!bare)
			throw_errno("load bare_redirect");
	});

	pin_to_cpu(1);	// the receivers; the injector runs on CPU 0
	mkdp_frame_desc descs[64];
	auto poll_xsk = [&]() -> uint32_t {
		uint32_t n = xsk->rx_burst(descs, 64);
		if (n)
			xsk->recycle(descs, n);
		return n;
	};
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
		int n = recvmmsg(udp, msgs, kVlen, MSG_DONTWAIT, nullptr);
		return n > 0 ? uint32_t(n) : 0;
	};

	std::vector<double> mkdp_pps, udp_pps, ratio;
	int ifindex = ti.rx.ifindex;
	for (int r = 0; r < reps; r++) {
		mkdp_pps.push_back(run_once(steer->prog_fd(), ifindex, frame, frames, poll_xsk, ns, "AF_XDP socket"));
		udp_pps.push_back(run_once(bpf_program__fd(bare->progs.bare_redirect), ifindex, frame, frames,
					   poll_udp, ns, "UDP socket"));
		ratio.push_back(mkdp_pps.back() / udp_pps.back());
	}
	xdp_statistics ks = xsk->kernel_stats();
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
