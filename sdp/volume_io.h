// SPDX-License-Identifier: BSD-2-Clause
// A dd-like job on a volume, through the client API (client.h), with up to
// `qd` requests in flight: what `mkdp sdp io`, the demo and the tests run.
// Data is a deterministic pattern (so a read can verify what a write of
// the same seed left, wherever the bytes went), or the caller's buffer.
#pragma once

#include "client.h"

#include <cstdint>
#include <map>
#include <span>

namespace mkdp::sdp {

struct IoJob {
	uint8_t op = SDP_OP_READ;	// READ, WRITE, DISCARD or WRITE_ZEROES
	uint64_t offset = 0;		// bytes, a multiple of 512
	uint64_t size = 0;		// bytes, a multiple of 512
	uint32_t bs = 4096;		// bytes per request, a multiple of 512, <= max_io()
	uint32_t qd = 1;		// requests in flight, <= depth()
	bool random = false;		// blocks in a random order (each once)
	bool fua = false;		// writes durable on completion
	bool flush = false;		// a FLUSH once every block completed
	// Data: the pattern of `seed` (writes write it, reads check it), or,
	// when `data` is set, its bytes (writes take them, reads fill it).
	uint64_t seed = 1;
	bool verify = false;		// reads: compare with the pattern
	std::span<uint8_t> data;	// size bytes
};

struct IoJobResult {
	uint64_t requests = 0, bytes = 0;
	std::map<int32_t, uint64_t> errors;	// negative errno -> requests that failed with it
	int32_t first_error = 0;		// negative errno of the first failure
	uint64_t first_error_offset = 0;
	uint64_t mismatches = 0;		// blocks that did not read back as the pattern
	uint64_t first_mismatch_offset = 0;
	uint64_t checksum = 0;			// FNV-1a of what was read or written, in offset order
	uint64_t elapsed_ns = 0;
};

// Throws mkdp::Error on a job that cannot run (sizes, alignment) or when a
// request is not answered within timeout_ns; request errors are counted.
IoJobResult run_io(Volume &v, const IoJob &job, uint64_t timeout_ns = 30'000'000'000);

// The pattern's bytes for [offset, offset + buf.size()) of a volume.
void fill_pattern(std::span<uint8_t> buf, uint64_t offset, uint64_t seed) noexcept;

} // namespace mkdp::sdp
