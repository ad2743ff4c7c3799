// SPDX-License-Identifier: BSD-2-Clause
// Byte-addressed I/O on a volume, asynchronous, for a server that takes
// requests as files have them (an offset and a length in bytes, any
// alignment) and answers each when it is done: the FUSE export. A request
// becomes SDP requests of at most one client buffer (max_io()), as many in
// flight as the volume has tags; the rest wait in arrival order. A write
// that starts or ends inside a sector reads those edge sectors first and
// writes the whole range back (two writes overlapping in a sector at the
// same time may lose one's bytes there, as on a disk with bigger sectors).
//
//	ByteIo io(std::move(volume), answer, ctx);
//	io.start(cookie, SDP_OP_READ, off, len, nullptr);
//	while (...) { io.pump(); sleep on io.volume() ... }
//	// answer(ctx, cookie, op, err, data, len) once per start()
//
// Nothing is allocated once the requests in flight have been seen once:
// requests and their buffers are reused. Not thread-safe.
#pragma once

#include "client.h"

#include <memory>
#include <vector>

namespace mkdp::sdp {

class ByteIo {
public:
	// op: the request's SDP_OP_*; err: 0 or a negative errno; data: a
	// read's bytes (valid during the call), else nullptr; len: the
	// request's length.
	using Answer = void (*)(void *ctx, void *cookie, uint8_t op, int err, const uint8_t *data, uint64_t len);

	ByteIo(Volume v, Answer answer, void *ctx);
	~ByteIo();

	Volume &volume() noexcept { return v_; }
	uint64_t size() const noexcept { return v_.size(); }

	// An SDP_OP_* on the bytes [off, off + len) (flush: 0, 0). A write's
	// data is copied before start() returns. The range must be inside
	// the volume; discard and write-zeroes whole sectors.
	void start(void *cookie, uint8_t op, uint64_t off, uint64_t len, const void *wdata);
	// Submits what waits (one batch), collects what completed and
	// answers; true if anything completed.
	bool pump();

private:
	struct Op;
	struct Piece {
		Op *op = nullptr;
		uint64_t at = 0;	// relative to the op's aligned start
		uint32_t len = 0;
	};

	Op *get_op();
	void queue(Op *op);
	void issue();
	void complete(const IoResult &r);
	void finish(Op *op);

	Volume v_;
	Answer answer_;
	void *ctx_;
	std::vector<Piece> chunk_;		// by tag
	std::vector<uint16_t> free_tags_;
	std::vector<Io> ios_;
	std::vector<std::unique_ptr<Op>> ops_;	// every Op made, reused
	std::vector<Op *> spare_;
	Op *head_ = nullptr, *tail_ = nullptr;	// waiting for tags, in arrival order
};

} // namespace mkdp::sdp
