// SPDX-License-Identifier: BSD-2-Clause
#include "byte_io.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace mkdp::sdp {

namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kBigChunk = 1ULL << 30;	// discard and write-zeroes: no buffer, large pieces

uint64_t align_down(uint64_t x) { return x & ~(kSector - 1); }
uint64_t align_up(uint64_t x) { return (x + kSector - 1) & ~(kSector - 1); }

// Memory that keeps its capacity from one request to the next, so that a
// steady stream of requests allocates nothing.
class Scratch {
public:
	uint8_t *get(size_t n)
	{
		if (n > cap_) {
			p_.reset(static_cast<uint8_t *>(std::aligned_alloc(4096, align_up(n) + 4096)));
			if (!p_)
				throw std::bad_alloc();
			cap_ = n;
		}
		return p_.get();
	}

private:
	struct Free {
		void operator()(uint8_t *p) const noexcept { std::free(p); }
	};
	std::unique_ptr<uint8_t[], Free> p_;
	size_t cap_ = 0;
};

} // namespace

// One request on its way through the volume. Its I/O covers the
// sector-aligned range [off, off + len), held in `data`; the client's bytes
// are [uoff, uoff + ulen) of it. An unaligned write runs in two phases: the
// edge sectors are read first, then the whole range is written.
struct ByteIo::Op {
	void *cookie;			// the caller's, given back with the answer
	uint8_t op;			// SDP_OP_* of the current phase
	bool rmw;			// phase one of an unaligned write
	uint64_t off, len, uoff, ulen;
	struct Segment {
		uint64_t at, len;	// relative to off
	} seg[2];
	uint32_t nseg, cur;
	uint64_t issued;		// bytes of seg[cur] handed out
	uint32_t out;			// pieces in flight
	int32_t err;			// the first failure
	Scratch data, user;
	Op *next;			// in the waiting list
};

ByteIo::ByteIo(Volume v, Answer answer, void *ctx) : v_(std::move(v)), answer_(answer), ctx_(ctx), chunk_(v_.depth())
{
	for (uint32_t t = v_.depth(); t-- > 0;)
		free_tags_.push_back(uint16_t(t));
	ios_.reserve(v_.depth());
}

ByteIo::~ByteIo() = default;

ByteIo::Op *ByteIo::get_op()
{
	if (spare_.empty()) {
		ops_.push_back(std::make_unique<Op>());
		return ops_.back().get();
	}
	Op *op = spare_.back();
	spare_.pop_back();
	return op;
}

void ByteIo::queue(Op *op)
{
	op->cur = 0;
	op->issued = 0;
	op->out = 0;
	op->next = nullptr;
	(tail_ ? tail_->next : head_) = op;
	tail_ = op;
}

void ByteIo::start(void *cookie, uint8_t kind, uint64_t uoff, uint64_t ulen, const void *wdata)
{
	Op *op = get_op();
	uint64_t a = align_down(uoff), b = align_up(uoff + ulen);
	op->cookie = cookie;
	op->op = kind;
	op->rmw = false;
	op->off = a;
	op->len = b - a;
	op->uoff = uoff;
	op->ulen = ulen;
	op->seg[0] = {0, b - a};
	op->nseg = 1;
	op->err = 0;
	if (kind == SDP_OP_WRITE) {
		bool head = a != uoff, tail = b != uoff + ulen;
		std::memcpy((head || tail ? op->user.get(ulen) : op->data.get(ulen)), wdata, ulen);
		if (head || tail) {
			// Read the edge sectors the client's bytes only partly cover.
			op->op = SDP_OP_READ;
			op->rmw = true;
			op->nseg = 0;
			if (head)
				op->seg[op->nseg++] = {0, kSector};
			if (tail && !(head && b - a == kSector))
				op->seg[op->nseg++] = {b - a - kSector, kSector};
		}
	}
	queue(op);
}

// Hands out pieces of the waiting ops while tags are free, then submits
// them all at once.
void ByteIo::issue()
{
	ios_.clear();
	while (head_ && !free_tags_.empty()) {
		Op *op = head_;
		const Op::Segment &s = op->seg[op->cur];
		bool data = op->op == SDP_OP_READ || op->op == SDP_OP_WRITE;
		uint64_t piece = data ? v_.max_io() : op->op == SDP_OP_FLUSH ? 0 : kBigChunk;
		uint32_t len = uint32_t(std::min(piece, s.len - op->issued));
		uint16_t t = free_tags_.back();
		free_tags_.pop_back();
		uint64_t at = s.at + op->issued;
		chunk_[t] = {op, at, len};
		if (op->op == SDP_OP_WRITE)
			std::memcpy(v_.buffer(t).data(), op->data.get(op->len) + at, len);
		ios_.push_back({op->op, 0, t, len, (op->off + at) / kSector});
		op->issued += len;
		op->out++;
		if (op->issued == s.len && ++op->cur == op->nseg) {
			head_ = op->next;
			if (!head_)
				tail_ = nullptr;
		} else if (op->issued == s.len) {
			op->issued = 0;
		}
	}
	if (!ios_.empty())
		v_.submit(ios_);
}

void ByteIo::complete(const IoResult &r)
{
	Piece &c = chunk_[r.tag];
	Op *op = c.op;
	if (r.status && !op->err)
		op->err = r.status;
	else if (!r.status && op->op == SDP_OP_READ)
		std::memcpy(op->data.get(op->len) + c.at, v_.buffer(r.tag).data(), c.len);
	free_tags_.push_back(r.tag);
	if (--op->out == 0 && op->cur == op->nseg)
		finish(op);
}

// The op's last piece is back: answer it, or start the write of a
// read-modify-write.
void ByteIo::finish(Op *op)
{
	if (op->rmw && !op->err) {
		std::memcpy(op->data.get(op->len) + (op->uoff - op->off), op->user.get(op->ulen), op->ulen);
		op->op = SDP_OP_WRITE;
		op->rmw = false;
		op->seg[0] = {0, op->len};
		op->nseg = 1;
		queue(op);
		return;
	}
	const uint8_t *data = op->op == SDP_OP_READ && !op->err ? op->data.get(op->len) + (op->uoff - op->off) : nullptr;
	answer_(ctx_, op->cookie, op->op, op->err, data, op->ulen);
	spare_.push_back(op);
}

bool ByteIo::pump()
{
	issue();
	IoResult res[64];
	uint32_t n = v_.reap(res, 0);
	for (uint32_t i = 0; i < n; i++)
		complete(res[i]);
	return n > 0;
}

} // namespace mkdp::sdp
