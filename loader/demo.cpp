// SPDX-License-Identifier: BSD-2-Clause
// The demos `mkdp demo` runs: the most complete end-to-end scenario mkdp has, narrated:
// partitions on the veth testbed receiving real frames (run_partitions_demo).
//
// `mkdp demo ring`, the first demo: two processes exchange frame
// descriptors through one shared region.
// The parent (the "loader") lays out a region with a frame area, a forward
// ring and a return ring, hands the region's memfd to a child (the
// "partition") over a Unix socket with SCM_RIGHTS, then writes packets into
// frames and posts their descriptors. The child validates every descriptor,
// checksums the bytes it points at, and hands each frame back on the return
// ring, so frame ownership goes round. Both print what they did.
#include "demo.h"
#include "supervisor.h"

#include <mkdp/cpu.h>
#include <mkdp/doorbell.h>
#include <mkdp/fd_passing.h>
#include <mkdp/region.h>
#include <mkdp/supervisor.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>
#include <mkdp/traffic_gen.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <cinttypes>
#include <thread>
#include <cstdio>
#include <vector>

namespace mkdp {

namespace {



constexpr uint32_t kAreaFrames = 4096;
// Both rings wait adaptively (docs/doorbells.md); a wait that ends empty
// after this long just loops (a watchdog slot).
constexpr DoorbellOptions kDemoDoorbell{.strategy = DoorbellStrategy::adaptive};
constexpr uint64_t kDemoWaitNs = 100'000'000;

// The packet the loader writes into frame number `seq`: its length and
// bytes are a function of seq, so the child can check them.
uint32_t frame_len(uint64_t seq) { return 60 + uint32_t(seq % 1400); }
uint8_t frame_byte(uint64_t seq, uint32_t i) { return uint8_t(seq * 7 + i); }

// The partition side: runs in the child, returns its exit status.
int run_partition(int sock, const RingDemoOptions &o)
{
	ReceivedFds got = recv_fds(sock);
	if (got.fds.size() != 1)
		throw Error("demo: expected one region fd, got " + std::to_string(got.fds.size()));
	Region region = Region::open(got.fds[0]);
	close(got.fds[0]);
	std::printf("[partition %d] got region fd over SCM_RIGHTS (%s): %" PRIu64 " bytes, %zu entries\n",
		    getpid(), got.payload.c_str(), region.size(), region.entries().size());

	auto frames = region.area("frames");
	auto rx = region.consumer<mkdp_frame_desc>("forward");
	auto ret = region.producer<FrameAddr>("return");
	Doorbell rx_db(rx, kDemoDoorbell), ret_db(ret, kDemoDoorbell);

	uint64_t seq = 0, bytes = 0, bad_content = 0;
	std::vector<mkdp_frame_desc> batch(o.batch);
	while (seq < o.frames) {
		uint32_t taken;
		uint32_t n = rx.consume(batch.data(), o.batch, &taken);
		if (!taken) {
			rx_db.wait(rx, kDemoWaitNs);
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			const mkdp_frame_desc &d = batch[i];
			const uint8_t *p = frames.data() + d.addr;
			uint64_t s = seq + i;
			if (d.len != frame_len(s) || p[0] != frame_byte(s, 0) ||
			    p[d.len - 1] != frame_byte(s, d.len - 1))
				bad_content++;
			bytes += d.len;
			FrameAddr a{d.addr};
			while (!ret_db.produce(ret, &a, 1))
				cpu_relax();	// never long: the ring holds every frame
		}
		seq += taken;
	}
	std::printf("[partition %d] received %" PRIu64 " frames, %" PRIu64 " bytes; "
		    "rejected descriptors %" PRIu64 ", wrong content %" PRIu64 "; all frames returned\n",
		    getpid(), seq, bytes, rx.rejected(), bad_content);
	return (rx.rejected() || bad_content) ? 1 : 0;
}

} // namespace

void run_ring_demo(const RingDemoOptions &o)
{
	std::printf("mkdp demo: two processes exchanging frame descriptors through a shared region\n");
	RegionLayout layout;
	layout.area("frames", uint64_t(kAreaFrames) * o.frame_size, o.frame_size)
		.ring("forward", MKDP_DESC_FRAME, o.ring_entries, "frames")
		.ring("return", MKDP_DESC_ADDR, kAreaFrames, "frames");
	Region region = Region::create(layout);
	std::printf("[loader %d] region: memfd %d, %" PRIu64 " bytes: %u frames of %u B, "
		    "forward ring %u, return ring %u\n",
		    getpid(), region.fd(), region.size(), kAreaFrames, o.frame_size, o.ring_entries,
		    kAreaFrames);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		throw_errno("socketpair");
	std::fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		throw_errno("fork");
	if (child == 0) {
		close(sv[0]);
		int rc = 1;
		try {
			rc = run_partition(sv[1], o);
		} catch (const std::exception &e) {
			std::fprintf(stderr, "mkdp: partition: %s\n", e.what());
		}
		std::fflush(stdout);
		_exit(rc);
	}
	close(sv[1]);

	int fd = region.fd();
	try {
		send_fds(sv[0], {&fd, 1}, "region frames+forward+return");
	} catch (...) {
		close(sv[0]);
		kill(child, SIGKILL);
		waitpid(child, nullptr, 0);
		throw;
	}
	close(sv[0]);

	// The loader owns every frame at first; frames come back on "return".
	auto frames = region.area("frames");
	auto tx = region.producer<mkdp_frame_desc>("forward");
	auto back = region.consumer<FrameAddr>("return");
	Doorbell tx_db(tx, kDemoDoorbell), back_db(back, kDemoDoorbell);
	std::vector<uint64_t> free_frames;
	for (uint32_t i = 0; i < kAreaFrames; i++)
		free_frames.push_back(uint64_t(i) * o.frame_size);

	uint64_t t0 = now_ns(), sent = 0;
	std::vector<FrameAddr> returned(o.batch);
	while (sent < o.frames) {
		uint32_t got = back.consume(returned.data(), o.batch);
		for (uint32_t i = 0; i < got; i++)
			free_frames.push_back(returned[i].addr & ~uint64_t(o.frame_size - 1));
		uint32_t want = uint32_t(std::min<uint64_t>({o.batch, o.frames - sent, free_frames.size()}));
		uint32_t idx;
		if (!want || !tx.reserve(want, &idx)) {
			// No free frame or no room: both come back with returns.
			back_db.wait(back, kDemoWaitNs);
			continue;
		}
		for (uint32_t i = 0; i < want; i++) {
			uint64_t seq = sent + i, addr = free_frames.back();
			free_frames.pop_back();
			uint32_t len = frame_len(seq);
			for (uint32_t b = 0; b < len; b++)
				frames[addr + b] = frame_byte(seq, b);
			tx.slot(idx + i) = {addr, len, 0};
		}
		tx_db.submit(tx, want);
		sent += want;
	}
	int status = 0;
	waitpid(child, &status, 0);
	double secs = double(now_ns() - t0) / 1e9;
	// Drain the last returns so the accounting closes.
	while (uint32_t got = back.consume(returned.data(), o.batch))
		for (uint32_t i = 0; i < got; i++)
			free_frames.push_back(returned[i].addr);
	std::printf("[loader %d] sent %" PRIu64 " frames in %.3f s (%.2f M frames/s); "
		    "frames back home %zu/%u\n",
		    getpid(), sent, secs, double(sent) / secs / 1e6, free_frames.size(), kAreaFrames);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		throw Error("demo: the partition process failed");
	if (free_frames.size() != kAreaFrames)
		throw Error("demo: " + std::to_string(kAreaFrames - free_frames.size()) + " frames leaked");
	std::printf("mkdp demo: ok\n");
}


// The main scenario: partitions on the testbed, receiving real frames.
void run_partitions_demo(const PartDemoOptions &o)
{
	if (int pid = supervisor_pid())
		throw Error("mkdp is already up (supervisor " + std::to_string(pid) + "); run 'mkdp topology down' first");
	Topology t = Topology::builtin();
	std::printf("[demo] testbed %s: veth mkdp0 (the NIC) <-> mkdp1 (the wire)\n", t.netns.c_str());
	// Two queues, as many as the built-in partitions receive from (an
	// existing testbed is used as it is).
	std::optional<TestbedInfo> have = testbed_info(t.netns);
	TestbedUpResult tb = testbed_up(TestbedOptions{t.netns, have ? have->queues : 2});
	// Whatever happens from here, take down what we brought up.
	struct Teardown {
		bool testbed;
		std::string ns;
		~Teardown()
		{
			try {
				std::printf("[demo] %s\n", supervisor_down().c_str());
				if (testbed && testbed_down(ns))
					std::printf("[demo] testbed %s removed\n", ns.c_str());
			} catch (const std::exception &e) {
				std::fprintf(stderr, "mkdp: demo teardown: %s\n", e.what());
			}
		}
	} teardown{tb.created, t.netns};

	SupervisorOptions so;
	so.forward_every = o.forward_every;
	int pid = supervisor_up(t, so);
	std::printf("[demo] mkdp topology up: supervisor %d, partitions p0 (CPU %d) and p1 (CPU %d), region umem0 16 MiB "
		    "shared as UMEM, steering rules+hash+queue on mkdp0, every %u-th frame forwarded to the peer\n",
		    pid, t.partitions[0].cpus[0], t.partitions[1].cpus[0], o.forward_every);

	// The generator (traffic_gen.h, `mkdp testbed gen`), in-process on the wire end.
	GenOptions g;
	g.netns = t.netns;
	g.ifname = kTestbedTxDev;
	g.flows = o.flows;
	g.count = o.pps * o.seconds;
	g.rate_pps = o.pps;
	std::printf("[demo] mkdp testbed gen: %u UDP flows spread over the %u queues at %llu frames/s for %u s\n", o.flows,
		    tb.info.queues, (unsigned long long)o.pps, o.seconds);
	std::atomic<bool> done{false};
	std::exception_ptr err;
	GenReport rep;
	std::thread sender([&] {
		try {
			rep = generate(g);
		} catch (...) {
			err = std::current_exception();
		}
		done = true;
	});
	auto show = [](const nlohmann::json &st) {
		for (const auto &p : st["partitions"])
			std::printf("  %-3s pid %-7d cpu %d  rx %9llu  fwd %7llu  fwd_rx %7llu  in flight %5llu\n",
				    p["partition"].get<std::string>().c_str(), p["pid"].get<int>(), p["cpus"][0].get<int>(),
				    (unsigned long long)p["rx"], (unsigned long long)p["fwd"],
				    (unsigned long long)p["fwd_rx"],
				    (unsigned long long)p["frames"].value("in_flight", 0ULL));
		const auto &r = st["region"];
		std::printf("  frames: %llu free, %llu in fill rings, %llu in flight, %llu leaked\n",
			    (unsigned long long)r["free"], (unsigned long long)r["fill"],
			    (unsigned long long)r["in_flight"], (unsigned long long)r["leaked"]);
	};
	for (int s = 1; !done; s++) {
		for (int i = 0; i < 100 && !done; i++)
			usleep(10'000);
		if (done)
			break;
		std::printf("[demo] t=%ds\n", s);
		show(supervisor_request({{"cmd", "status"}}));
	}
	sender.join();
	if (err)
		std::rethrow_exception(err);
	usleep(200'000);
	nlohmann::json st = supervisor_request({{"cmd", "status"}});
	std::printf("[demo] traffic done:\n");
	show(st);
	uint64_t sent = rep.frames, got = 0;
	for (const auto &p : st["partitions"])
		got += p["rx"].get<uint64_t>();
	std::printf("[demo] sent %llu, partitions received %llu; leaked %llu\n", (unsigned long long)sent,
		    (unsigned long long)got, (unsigned long long)st["region"]["leaked"]);
	if (st["region"]["leaked"] != 0)
		throw Error("demo: frames leaked");
	for (const VolumeSpec &v : t.volumes)
		run_storage_demo(v.name);
	std::printf("mkdp demo: ok\n");
}

} // namespace mkdp
