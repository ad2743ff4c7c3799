// SPDX-License-Identifier: BSD-2-Clause
#include "executor.h"

#include <mkdp/error.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <utility>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

namespace mkdp::sdp {

namespace {

// libbpf's diagnostics (the verifier log among them) become the error's
// reason instead of stderr noise.
thread_local std::string g_log;

int capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	g_log += buf;
	return 0;
}

std::string last_lines(const std::string &log, size_t n)
{
	size_t pos = log.size();
	while (n-- && pos != std::string::npos && pos > 0)
		pos = log.rfind('\n', pos - 2);
	std::string s = log.substr(pos == std::string::npos ? 0 : pos + 1);
	for (char &c : s)
		if (c == '\n')
			c = ' ';
	while (!s.empty() && s.back() == ' ')
		s.pop_back();
	return s;
}

} // namespace

Program Program::load(const std::string &path)
{
	Program p;
	g_log.clear();
	libbpf_print_fn_t old = libbpf_set_print(capture);
	auto restore = [&] { libbpf_set_print(old); };
	p.obj_ = bpf_object__open_file(path.c_str(), nullptr);
	if (!p.obj_) {
		int e = errno;
		restore();
		throw Error("open SDP program " + path + ": " + std::strerror(e), e);
	}
	bpf_program *prog = nullptr, *it;
	bpf_object__for_each_program(it, p.obj_) {
		if (bpf_program__type(it) == BPF_PROG_TYPE_SYSCALL) {
			if (prog) {
				restore();
				throw Error(path + ": more than one SEC(\"syscall\") program; an SDP object has one SDP_PROGRAM");
			}
			prog = it;
		}
	}
	bpf_map *map = bpf_object__find_map_by_name(p.obj_, "sdp_batch");
	if (!prog || !map) {
		restore();
		throw Error(path + " is not an SDP program (no SDP_PROGRAM: its SEC(\"syscall\") entry and sdp_batch map)");
	}
	if (bpf_map__value_size(map) != sizeof(sdp_batch)) {
		restore();
		throw Error(path + ": its sdp_batch is " + std::to_string(bpf_map__value_size(map)) +
			    " bytes, this executor's " + std::to_string(sizeof(sdp_batch)) + " (built against another sdp.h)");
	}
	if (int err = bpf_object__load(p.obj_)) {
		restore();
		throw Error("load SDP program " + path + ": " + std::strerror(-err) +
				    (g_log.empty() ? "" : " (" + last_lines(g_log, 3) + ")"),
			    -err);
	}
	restore();
	p.name_ = bpf_program__name(prog);
	p.prog_fd_ = bpf_program__fd(prog);
	p.batch_map_len_ = (sizeof(sdp_batch) + 4095) & ~size_t(4095);
	void *m = mmap(nullptr, p.batch_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	if (m == MAP_FAILED)
		throw_errno("map the SDP batch of " + path);
	p.batch_ = static_cast<sdp_batch *>(m);
	return p;
}

Program::Program(Program &&o) noexcept
	: obj_(std::exchange(o.obj_, nullptr)), prog_fd_(std::exchange(o.prog_fd_, -1)),
	  batch_(std::exchange(o.batch_, nullptr)), batch_map_len_(o.batch_map_len_), name_(std::move(o.name_))
{
}

Program &Program::operator=(Program &&o) noexcept
{
	if (this != &o) {
		this->~Program();
		new (this) Program(std::move(o));
	}
	return *this;
}

Program::~Program()
{
	if (batch_)
		munmap(batch_, batch_map_len_);
	if (obj_)
		bpf_object__close(obj_);	// closes prog_fd_ too
}

void Program::run_batch(sdp_md *reqs, uint32_t n, uint8_t *verdicts)
{
	std::memcpy(batch_->req, reqs, n * sizeof(sdp_md));
	batch_->count = n;
	batch_->done = 0;
	// A syscall program takes its context from the caller; it reads none
	// (the batch is in the map), but the kernel wants one.
	uint64_t ctx = 0;
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	if (bpf_prog_test_run_opts(prog_fd_, &o))
		throw_errno("run SDP program " + name_);
	if (batch_->done != n)
		throw Error("SDP program " + name_ + " judged " + std::to_string(batch_->done) + " of " +
			    std::to_string(n) + " requests");
	std::memcpy(reqs, batch_->req, n * sizeof(sdp_md));
	std::memcpy(verdicts, batch_->verdict, n);
}

void Program::run(std::span<sdp_md> reqs, uint8_t *verdicts)
{
	for (size_t i = 0; i < reqs.size(); i += SDP_BATCH_MAX) {
		uint32_t n = uint32_t(std::min<size_t>(SDP_BATCH_MAX, reqs.size() - i));
		run_batch(reqs.data() + i, n, verdicts + i);
	}
}

void Program::set_map(const std::string &map, std::span<const uint8_t> key, std::span<const uint8_t> value)
{
	bpf_map *m = bpf_object__find_map_by_name(obj_, map.c_str());
	if (!m || map == "sdp_batch")
		throw Error("program " + name_ + " has no map '" + map + "'");
	if (key.size() != bpf_map__key_size(m) || value.size() != bpf_map__value_size(m))
		throw Error("map " + map + " takes " + std::to_string(bpf_map__key_size(m)) + "-byte keys and " +
			    std::to_string(bpf_map__value_size(m)) + "-byte values, not " + std::to_string(key.size()) +
			    " and " + std::to_string(value.size()));
	if (bpf_map_update_elem(bpf_map__fd(m), key.data(), value.data(), BPF_ANY))
		throw_errno("update map " + map);
}

const char *to_string(sdp_action a) noexcept
{
	switch (a) {
	case SDP_ABORTED: return "aborted";
	case SDP_DROP: return "drop";
	case SDP_PASS: return "pass";
	case SDP_REDIRECT: return "redirect";
	case SDP_COMPLETE: return "complete";
	}
	return "?";
}

const char *op_name(uint8_t op) noexcept
{
	static const char *const names[] = {"read", "write", "flush", "discard", "write-zeroes"};
	return op <= SDP_OP_MAX ? names[op] : "?";
}

} // namespace mkdp::sdp
