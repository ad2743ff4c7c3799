// SPDX-License-Identifier: BSD-2-Clause
#include "storage_load.h"
#include "bench_volume.h"

#include <client.h>

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include <liburing.h>

namespace mkdp::bench {

uint64_t random_offset(std::mt19937_64 &rnd)
{
	return rnd() % (BenchVolume::kSize / kLoadBlock) * kLoadBlock;
}

LoadResult uring_load(int fd, bool write, unsigned qd, uint64_t ops, bool latency)
{
	io_uring ring;
	if (int err = io_uring_queue_init(qd, &ring, 0))
		throw Error(std::string("io_uring: ") + std::strerror(-err), -err);
	void *mem = nullptr;
	if (posix_memalign(&mem, kLoadBlock, size_t(qd) * kLoadBlock)) {
		io_uring_queue_exit(&ring);
		throw Error("no memory for buffers");
	}
	auto *bufs = static_cast<uint8_t *>(mem);
	std::memset(bufs, 0x5a, size_t(qd) * kLoadBlock);
	std::vector<uint64_t> started(qd);
	LoadResult r;
	if (latency)
		r.latency_ns.reserve(ops);
	std::mt19937_64 rnd(std::random_device{}());
	uint64_t submitted = 0, done = 0;
	auto prep = [&](unsigned slot) {
		io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		if (write)
			io_uring_prep_write(sqe, fd, bufs + size_t(slot) * kLoadBlock, kLoadBlock, random_offset(rnd));
		else
			io_uring_prep_read(sqe, fd, bufs + size_t(slot) * kLoadBlock, kLoadBlock, random_offset(rnd));
		io_uring_sqe_set_data64(sqe, slot);
		if (latency)
			started[slot] = now_ns();
		submitted++;
	};
	std::string failed;
	uint64_t t0 = now_ns();
	for (unsigned s = 0; s < qd && submitted < ops; s++)
		prep(s);
	io_uring_submit(&ring);
	while (done < ops) {
		io_uring_cqe *cqe;
		while (io_uring_peek_cqe(&ring, &cqe))
			cpu_relax();
		unsigned slot = unsigned(io_uring_cqe_get_data64(cqe));
		int res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (res != int(kLoadBlock)) {
			failed = res < 0 ? std::strerror(-res) : "short";
			break;
		}
		if (latency)
			r.latency_ns.push_back(double(now_ns() - started[slot]));
		done++;
		if (submitted < ops) {
			prep(slot);
			io_uring_submit(&ring);
		}
	}
	double secs = double(now_ns() - t0) / 1e9;
	io_uring_queue_exit(&ring);
	free(mem);
	if (!failed.empty())
		throw Error("io_uring " + std::string(write ? "write" : "read") + ": " + failed);
	r.iops = double(ops) / secs;
	return r;
}

LoadResult volume_load(sdp::Volume &v, bool write, unsigned qd, uint64_t ops, bool latency)
{
	std::mt19937_64 rnd(std::random_device{}());
	uint64_t submitted = 0, done = 0;
	uint64_t started[64];
	sdp::Io ios[64];
	sdp::IoResult c[64];
	LoadResult r;
	if (latency)
		r.latency_ns.reserve(ops);
	auto request = [&](uint16_t tag) {
		submitted++;
		if (latency)
			started[tag] = now_ns();
		return sdp::Io{uint8_t(write ? SDP_OP_WRITE : SDP_OP_READ), 0, tag, kLoadBlock,
			       random_offset(rnd) / MKDP_SECTOR_SIZE};
	};
	uint64_t t0 = now_ns();
	uint32_t n = 0;
	for (uint16_t t = 0; t < qd && t < 64 && submitted < ops; t++)
		ios[n++] = request(t);
	v.submit({ios, n});
	while (done < ops) {
		uint32_t k = v.reap(c, 5'000'000'000);
		if (!k)
			throw Error("SDP volume: no completion in 5 s");
		n = 0;
		for (uint32_t i = 0; i < k; i++) {
			if (c[i].status)
				throw Error("SDP volume " + std::string(write ? "write" : "read") + ": " +
					    std::strerror(-c[i].status));
			if (latency)
				r.latency_ns.push_back(double(now_ns() - started[c[i].tag]));
			done++;
			if (submitted < ops)
				ios[n++] = request(c[i].tag);
		}
		v.submit({ios, n});
	}
	r.iops = double(ops) / (double(now_ns() - t0) / 1e9);
	return r;
}

} // namespace mkdp::bench
