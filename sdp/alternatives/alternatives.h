// SPDX-License-Identifier: BSD-2-Clause
// The SDP executor's alternatives, for measurement only (bench/sdp_alternatives.cpp).
//
// The executor (../executor.h) hands a batch to the program in a mmap'ed
// array map. Issue 11 asks for the other ways to be measured, not argued:
// a user ring buffer drained by the program (user_ringbuf.bpf.c), and the
// batch as the syscall program's context (ctx_batch.bpf.c), which the
// verifier may refuse. Both run readonly_range's request function, the
// same code as the real example (../examples/readonly_range.h).
#pragma once

#include "sdp.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

struct sdp_alt_user_ringbuf;
struct sdp_alt_ctx_batch;
struct user_ring_buffer;
struct sdp_alt_out;

namespace mkdp::sdp::alt {

// readonly_range behind a user ring buffer: one record per request, one
// BPF_PROG_RUN to drain them.
class UserRingbuf {
public:
	// wakeup: drain with the default flags, which wake producers (an
	// irq_work) after every drain; else BPF_RB_NO_WAKEUP.
	explicit UserRingbuf(bool wakeup = false);	// throws mkdp::Error with the verifier's line
	~UserRingbuf();
	UserRingbuf(const UserRingbuf &) = delete;
	UserRingbuf &operator=(const UserRingbuf &) = delete;

	// ro_range's element: sectors [first, end) read-only.
	void set_range(uint64_t first, uint64_t end);
	// At most SDP_BATCH_MAX requests; err/target and verdicts back, as
	// sdp::Program::run.
	void run(std::span<sdp_md> reqs, uint8_t *verdicts);
	int prog_fd() const noexcept { return prog_fd_; }

private:
	sdp_alt_user_ringbuf *skel_ = nullptr;
	int prog_fd_ = -1;
	user_ring_buffer *rb_ = nullptr;
	sdp_alt_out *out_ = nullptr;
	size_t out_len_ = 0;
};

// One of ctx_batch.bpf.c's programs, loaded alone so that one refusal does
// not hide another's figures.
struct CtxProgram {
	const char *name;	// "ctx_loop", "ctx_bpf_loop", "ctx_unrolled_16", ...
	uint32_t max_batch;	// requests it walks
};
const std::vector<CtxProgram> &ctx_programs();

class CtxBatch {
public:
	// Throws CtxRefused when the verifier says no.
	explicit CtxBatch(const CtxProgram &p);
	~CtxBatch();
	CtxBatch(const CtxBatch &) = delete;
	CtxBatch &operator=(const CtxBatch &) = delete;

	void set_range(uint64_t first, uint64_t end);
	// At most max_batch() requests, the batch copied in and back as the context.
	void run(std::span<sdp_md> reqs, uint8_t *verdicts);
	uint32_t max_batch() const noexcept { return max_batch_; }
	int prog_fd() const noexcept { return prog_fd_; }

private:
	sdp_alt_ctx_batch *skel_ = nullptr;
	int prog_fd_ = -1;
	uint32_t max_batch_;
	sdp_batch batch_{};
};

// What the verifier and the JIT made of a loaded program: the cost of
// unrolling shows here rather than in the timings.
struct ProgSize {
	uint32_t xlated_insns, jited_bytes, verified_insns;
};
ProgSize prog_size(int prog_fd);

// The verifier's refusal: `line` is the line that names the reason.
struct CtxRefused {
	std::string program, line;
	int err;
};

} // namespace mkdp::sdp::alt
