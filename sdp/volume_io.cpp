// SPDX-License-Identifier: BSD-2-Clause
#include "volume_io.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

namespace mkdp::sdp {

namespace {

uint64_t mix(uint64_t x) noexcept
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

uint64_t fnv1a(uint64_t h, std::span<const uint8_t> b) noexcept
{
	for (uint8_t c : b)
		h = (h ^ c) * 0x100000001b3ULL;
	return h;
}

} // namespace

void fill_pattern(std::span<uint8_t> buf, uint64_t offset, uint64_t seed) noexcept
{
	// Eight bytes per 8-byte word of the volume, a function of the seed
	// and the word's offset: a block read back from the wrong place fails.
	for (size_t i = 0; i < buf.size(); i += 8) {
		uint64_t w = mix(seed * 0x9e3779b97f4a7c15ULL ^ ((offset + i) >> 3));
		std::memcpy(buf.data() + i, &w, std::min<size_t>(8, buf.size() - i));
	}
}

IoJobResult run_io(Volume &v, const IoJob &job, uint64_t timeout_ns)
{
	auto bad = [](const std::string &why) { throw Error("sdp io: " + why); };
	if (job.bs == 0 || job.bs % 512 || job.bs > v.max_io())
		bad("--bs must be a multiple of 512 up to " + std::to_string(v.max_io()));
	if (job.offset % 512 || job.size % 512)
		bad("--offset and --size must be multiples of 512");
	if (job.offset > v.size() || job.size > v.size() - job.offset)
		bad("the range ends past the volume's " + std::to_string(v.size()) + " bytes");
	if (job.qd == 0 || job.qd > v.depth())
		bad("--qd must be 1.." + std::to_string(v.depth()));
	if (!job.data.empty() && job.data.size() != job.size)
		bad("the buffer does not hold --size bytes");
	uint64_t blocks = (job.size + job.bs - 1) / job.bs;
	std::vector<uint64_t> order(blocks);
	std::iota(order.begin(), order.end(), 0);
	if (job.random)
		std::shuffle(order.begin(), order.end(), std::mt19937_64(job.seed));
	bool rw = job.op == SDP_OP_READ || job.op == SDP_OP_WRITE;
	std::vector<uint64_t> block_of(v.depth());
	std::vector<uint16_t> free_tags;
	for (uint32_t t = job.qd; t-- > 0;)
		free_tags.push_back(uint16_t(t));
	std::vector<uint64_t> sums(job.op == SDP_OP_WRITE || job.op == SDP_OP_READ ? blocks : 0);
	IoJobResult res;
	uint64_t start = now_ns(), next = 0, done = 0;
	auto block_len = [&](uint64_t b) { return uint32_t(std::min<uint64_t>(job.bs, job.size - b * job.bs)); };
	auto fail = [&](int32_t status, uint64_t off) {
		res.errors[status]++;
		if (!res.first_error) {
			res.first_error = status;
			res.first_error_offset = off;
		}
	};
	IoResult out[64];
	while (done < blocks) {
		std::vector<Io> ios;
		while (next < blocks && !free_tags.empty()) {
			uint64_t b = order[next++];
			uint16_t t = free_tags.back();
			free_tags.pop_back();
			uint32_t len = block_len(b);
			uint64_t off = job.offset + b * job.bs;
			if (job.op == SDP_OP_WRITE) {
				std::span<uint8_t> buf = v.buffer(t).first(len);
				if (job.data.empty())
					fill_pattern(buf, off, job.seed);
				else
					std::memcpy(buf.data(), job.data.data() + b * job.bs, len);
				sums[b] = fnv1a(0xcbf29ce484222325ULL, buf);
			}
			block_of[t] = b;
			ios.push_back({job.op, uint8_t(job.fua && job.op == SDP_OP_WRITE ? SDP_F_FUA : 0), t, len, off / 512});
		}
		if (!ios.empty() && v.submit(ios) != ios.size())
			bad("the request ring had no room for " + std::to_string(ios.size()) + " requests");
		uint32_t n = v.reap(out, timeout_ns);
		if (!n)
			bad("no completion within " + std::to_string(timeout_ns / 1'000'000'000) + " s");
		for (uint32_t i = 0; i < n; i++) {
			uint64_t b = block_of[out[i].tag];
			uint32_t len = block_len(b);
			uint64_t off = job.offset + b * job.bs;
			res.requests++;
			if (out[i].status) {
				fail(out[i].status, off);
			} else {
				res.bytes += rw ? len : 0;
				if (job.op == SDP_OP_READ) {
					std::span<uint8_t> buf = v.buffer(out[i].tag).first(len);
					sums[b] = fnv1a(0xcbf29ce484222325ULL, buf);
					if (!job.data.empty())
						std::memcpy(job.data.data() + b * job.bs, buf.data(), len);
					if (job.verify) {
						std::vector<uint8_t> want(len);
						fill_pattern(want, off, job.seed);
						if (std::memcmp(want.data(), buf.data(), len) && !res.mismatches++)
							res.first_mismatch_offset = off;
					}
				}
			}
			free_tags.push_back(out[i].tag);
			done++;
		}
	}
	if (job.flush) {
		Io f{SDP_OP_FLUSH, 0, 0, 0, 0};
		v.submit({&f, 1});
		if (!v.reap({out, 1}, timeout_ns))
			bad("the flush was not answered");
		res.requests++;
		if (out[0].status)
			fail(out[0].status, 0);
	}
	res.elapsed_ns = now_ns() - start;
	res.checksum = 0xcbf29ce484222325ULL;
	for (uint64_t s : sums)
		res.checksum = (res.checksum ^ s) * 0x100000001b3ULL;
	return res;
}

} // namespace mkdp::sdp
