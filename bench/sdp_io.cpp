// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench sdp`'s storage figures: 4 KiB random reads and writes at queue
// depth 1 and 32 on one backing file, through the SDP path (front end with
// the program attached -> storage ring -> storage worker on io_uring) and
// through io_uring directly from one thread, interleaved, same file.
//
// Two SDP paths. "SDP path": the front end in the benchmark's thread and a
// worker thread pinned to CPU 1, both polling (nobody sleeps): the path's
// own cost, a second CPU spent on the worker, which the figures do not hide.
// "mkdp topology up": the whole path as deployed, the same file as a volume served
// by partition p1 (its process on CPU 1), the supervisor's storage plane
// between, adaptive doorbells. The client runs on CPU 0 (see docs/sdp.md).
#include "bench.h"
#include "bench_volume.h"
#include "storage_load.h"

#include <client.h>

#include <frontend.h>
#include <storage_worker.h>

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/region.h>
#include <mkdp/supervisor.h>

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>


namespace mkdp::bench {

namespace {

constexpr uint64_t kFileSize = BenchVolume::kSize;
constexpr uint32_t kBlock = kLoadBlock;

// The SDP path: the same requests through the front end, a ring and a
// worker thread.
double sdp_iops(const sdp::Backend &backend, sdp::Program *prog, bool write, unsigned qd, uint64_t ops)
{
	constexpr uint32_t kEntries = 64;
	Region r = Region::create(RegionLayout()
					  .area("data", uint64_t(kEntries) * kBlock)
					  .ring("sq", MKDP_DESC_SREQ, kEntries, "data")
					  .ring("cq", MKDP_DESC_SCPL, kEntries, "data"));
	sdp::StorageWorker w(r.requests("sq", 1), r.producer<mkdp_scpl_desc>("cq"), r.area("data"), {backend}, kEntries);
	std::atomic<bool> stop{false};
	std::thread worker([&] {
		pin_to_cpu(1);
		while (!stop.load(std::memory_order_relaxed))
			w.poll();
	});
	std::vector<sdp::Lane> lanes;
	lanes.push_back({r.producer<mkdp_sreq_desc>("sq"), r.completions("cq", "sq"), r.area("data"), 0});
	sdp::Frontend fe(prog, std::move(lanes), {{kFileSize, 0}});
	std::vector<uint8_t> bufs(size_t(qd) * kBlock, 0x5a);
	std::mt19937_64 rnd(std::random_device{}());
	uint64_t submitted = 0, done = 0;
	auto request = [&](uint32_t slot) {
		submitted++;
		return sdp::Request{uint8_t(write ? SDP_OP_WRITE : SDP_OP_READ), 0, 0, slot,
				    random_offset(rnd) / MKDP_SECTOR_SIZE, kBlock, bufs.data() + size_t(slot) * kBlock, 0};
	};
	uint64_t t0 = now_ns();
	std::vector<sdp::Request> batch;
	for (uint32_t s = 0; s < qd && submitted < ops; s++)
		batch.push_back(request(s));
	fe.submit(batch);
	sdp::Completion c[64];
	std::string failed;
	while (done < ops && failed.empty()) {
		uint32_t n = fe.reap(c);
		batch.clear();
		for (uint32_t i = 0; i < n; i++) {
			if (c[i].status)
				failed = std::strerror(-c[i].status);
			done++;
			if (submitted < ops)
				batch.push_back(request(c[i].tag));
		}
		if (!batch.empty())
			fe.submit(batch);
	}
	double secs = double(now_ns() - t0) / 1e9;
	while (fe.outstanding())
		fe.reap(c);
	stop = true;
	worker.join();
	if (!failed.empty())
		throw Error("SDP path " + std::string(write ? "write" : "read") + ": " + failed);
	return double(ops) / secs;
}

} // namespace

nlohmann::json measure_sdp_io(BenchVolume &bv, sdp::Program *prog, const std::string &prog_path, bool quick,
			      int reps, std::string &text)
{
	// The volume served by p1 (CPU 1) with the program attached; the
	// client runs here, on CPU 0.
	const sdp::Backend &b = bv.backend();
	supervisor_request({{"cmd", "sdp-attach"}, {"volume", BenchVolume::kName}, {"prog", prog_path}});
	sdp::Volume vol = sdp::Volume::open(BenchVolume::kName);
	pin_to_cpu(0);
	uint64_t ops = quick ? 4000 : 40000;
	nlohmann::json results, ratios, up_ratios;
	text += std::string("  storage, 4 KiB random, ") + (b.direct ? "O_DIRECT" : "page cache") + " file, " +
		std::to_string(ops) + " ops per run:\n";
	for (bool write : {false, true}) {
		for (unsigned qd : {1u, 32u}) {
			std::vector<double> s, u, m;
			for (int rep = 0; rep < reps; rep++) {
				// Rotating which goes first: none always finds
				// the others' cache state.
				for (int k = 0; k < 3; k++) {
					switch ((rep + k) % 3) {
					case 0:
						s.push_back(sdp_iops(b, prog, write, qd, ops));
						break;
					case 1:
						u.push_back(uring_load(b.fd, write, qd, ops).iops);
						break;
					default:
						m.push_back(volume_load(vol, write, qd, ops).iops);
					}
				}
			}
			std::string key = std::string(write ? "randwrite" : "randread") + "_qd" + std::to_string(qd);
			Summary ss = summarize(s), us = summarize(u), ms = summarize(m);
			results["sdp_iops"][key] = to_json(ss);
			results["io_uring_iops"][key] = to_json(us);
			results["mkdp_up_iops"][key] = to_json(ms);
			ratios[key] = ss.median / us.median;
			up_ratios[key] = ms.median / us.median;
			char line[200];
			std::snprintf(line, sizeof(line),
				      "    %-14s SDP path %8.0f IOPS (%.2fx), mkdp topology up %8.0f IOPS (%.2fx), io_uring %8.0f IOPS\n",
				      key.c_str(), ss.median, ss.median / us.median, ms.median, ms.median / us.median,
				      us.median);
			text += line;
		}
	}
	return {{"results", results}, {"ratios", ratios}, {"up_ratios", up_ratios}, {"direct", b.direct}};
}

} // namespace mkdp::bench
