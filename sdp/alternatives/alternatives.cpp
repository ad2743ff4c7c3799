// SPDX-License-Identifier: BSD-2-Clause
#include "alternatives.h"
#include "user_ringbuf_abi.h"

#include <mkdp/error.h>

#include <sys/mman.h>

#include <cstdarg>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sdp_alt_ctx_batch.skel.h"
#include "sdp_alt_user_ringbuf.skel.h"

namespace mkdp::sdp::alt {

namespace {

// The refusals are a result here, not noise: libbpf stays quiet and the
// verifier log goes to a buffer (libbpf retries a failed load at log level
// 1 into it).
int quiet(enum libbpf_print_level, const char *, va_list)
{
	return 0;
}

struct QuietLibbpf {
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	~QuietLibbpf() { libbpf_set_print(old); }
};

// The line before "processed N insns" is the verifier's reason; without
// one, the last line.
std::string refusal_line(const std::string &log)
{
	std::vector<std::string> lines;
	for (size_t b = 0; b < log.size();) {
		size_t e = log.find('\n', b);
		if (e == std::string::npos)
			e = log.size();
		if (e > b)
			lines.push_back(log.substr(b, e - b));
		b = e + 1;
	}
	for (size_t i = 1; i < lines.size(); i++)
		if (lines[i].rfind("processed ", 0) == 0)
			return lines[i - 1];
	return lines.empty() ? "" : lines.back();
}

void set_ro_range(bpf_map *m, uint64_t first, uint64_t end)
{
	uint32_t key = 0;
	uint64_t v[2] = {first, end};
	if (bpf_map_update_elem(bpf_map__fd(m), &key, v, BPF_ANY))
		throw_errno("set ro_range");
}

// The kernel copies a syscall program's context back into ctx_in itself
// (it refuses ctx_out with EINVAL).
void run_syscall(int fd, void *ctx, uint32_t size, const char *what)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = ctx, .ctx_size_in = size);
	if (bpf_prog_test_run_opts(fd, &o))
		throw_errno(std::string("run ") + what);
}

} // namespace

UserRingbuf::UserRingbuf(bool wakeup)
{
	QuietLibbpf q;
	static char log[1 << 16];
	skel_ = sdp_alt_user_ringbuf__open();
	if (!skel_)
		throw_errno("open the user ring buffer alternative");
	bpf_program *prog = wakeup ? skel_->progs.user_ringbuf_batch_wakeup : skel_->progs.user_ringbuf_batch;
	bpf_program__set_autoload(wakeup ? skel_->progs.user_ringbuf_batch : skel_->progs.user_ringbuf_batch_wakeup,
				  false);
	bpf_program__set_log_buf(prog, log, sizeof(log));
	if (int err = sdp_alt_user_ringbuf__load(skel_)) {
		sdp_alt_user_ringbuf__destroy(skel_);
		throw Error("load the user ring buffer alternative: " + refusal_line(log), -err);
	}
	prog_fd_ = bpf_program__fd(prog);
	rb_ = user_ring_buffer__new(bpf_map__fd(skel_->maps.reqs), nullptr);
	if (!rb_) {
		int e = errno;
		sdp_alt_user_ringbuf__destroy(skel_);
		throw_errno("map the user ring buffer", e);
	}
	out_len_ = (sizeof(sdp_alt_out) + 4095) & ~size_t(4095);
	void *m = mmap(nullptr, out_len_, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(skel_->maps.out), 0);
	if (m == MAP_FAILED) {
		int e = errno;
		user_ring_buffer__free(rb_);
		sdp_alt_user_ringbuf__destroy(skel_);
		throw_errno("map the user ring buffer's results", e);
	}
	out_ = static_cast<sdp_alt_out *>(m);
}

UserRingbuf::~UserRingbuf()
{
	munmap(out_, out_len_);
	user_ring_buffer__free(rb_);
	sdp_alt_user_ringbuf__destroy(skel_);
}

void UserRingbuf::set_range(uint64_t first, uint64_t end)
{
	set_ro_range(skel_->maps.ro_range, first, end);
}

void UserRingbuf::run(std::span<sdp_md> reqs, uint8_t *verdicts)
{
	uint32_t n = uint32_t(reqs.size());
	if (n > SDP_BATCH_MAX)
		throw Error("user ring buffer: at most " + std::to_string(SDP_BATCH_MAX) + " requests per run");
	for (sdp_md &r : reqs) {
		void *p = user_ring_buffer__reserve(rb_, sizeof(sdp_md));
		if (!p)
			throw_errno("reserve a request in the user ring buffer");
		std::memcpy(p, &r, sizeof(r));
		user_ring_buffer__submit(rb_, p);
	}
	out_->done = 0;
	uint64_t ctx = 0;
	run_syscall(prog_fd_, &ctx, sizeof(ctx),
		    "the user ring buffer alternative");
	if (out_->done != n)
		throw Error("user ring buffer alternative judged " + std::to_string(out_->done) + " of " +
			    std::to_string(n) + " requests");
	for (uint32_t i = 0; i < n; i++) {
		reqs[i].err = out_->res[i].err;
		reqs[i].target = out_->res[i].target;
	}
	std::memcpy(verdicts, out_->verdict, n);
}

ProgSize prog_size(int prog_fd)
{
	bpf_prog_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		throw_errno("read a program's info");
	return {info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns};
}

const std::vector<CtxProgram> &ctx_programs()
{
	static const std::vector<CtxProgram> all = {
		{"ctx_loop", SDP_BATCH_MAX},
		{"ctx_bpf_loop", SDP_BATCH_MAX},
		{"ctx_unrolled_16", 16},
		{"ctx_unrolled_64", 64},
	};
	return all;
}

CtxBatch::CtxBatch(const CtxProgram &p) : max_batch_(p.max_batch)
{
	QuietLibbpf q;
	static char log[1 << 20];	// the unrolled programs' logs are long
	log[0] = 0;
	skel_ = sdp_alt_ctx_batch__open();
	if (!skel_)
		throw_errno("open the context-batch alternative");
	bpf_program *prog, *chosen = nullptr;
	bpf_object__for_each_program(prog, skel_->obj) {
		bool it = std::strcmp(bpf_program__name(prog), p.name) == 0;
		bpf_program__set_autoload(prog, it);
		if (it)
			chosen = prog;
	}
	if (!chosen) {
		sdp_alt_ctx_batch__destroy(skel_);
		throw Error(std::string("no program ") + p.name + " in ctx_batch.bpf.c");
	}
	bpf_program__set_log_buf(chosen, log, sizeof(log));
	if (int err = sdp_alt_ctx_batch__load(skel_)) {
		sdp_alt_ctx_batch__destroy(skel_);
		throw CtxRefused{p.name, refusal_line(log), -err};
	}
	prog_fd_ = bpf_program__fd(chosen);
}

CtxBatch::~CtxBatch()
{
	sdp_alt_ctx_batch__destroy(skel_);
}

void CtxBatch::set_range(uint64_t first, uint64_t end)
{
	set_ro_range(skel_->maps.ro_range, first, end);
}

void CtxBatch::run(std::span<sdp_md> reqs, uint8_t *verdicts)
{
	uint32_t n = uint32_t(reqs.size());
	if (n > max_batch_)
		throw Error("context batch: at most " + std::to_string(max_batch_) + " requests per run");
	batch_.count = n;
	batch_.done = 0;
	std::memcpy(batch_.req, reqs.data(), n * sizeof(sdp_md));
	run_syscall(prog_fd_, &batch_, sizeof(batch_), "the context-batch alternative");
	if (batch_.done != n)
		throw Error("context-batch alternative judged " + std::to_string(batch_.done) + " of " +
			    std::to_string(n) + " requests");
	std::memcpy(reqs.data(), batch_.req, n * sizeof(sdp_md));
	std::memcpy(verdicts, batch_.verdict, n);
}

} // namespace mkdp::sdp::alt
