// SPDX-License-Identifier: BSD-2-Clause
#include "handoff.h"

#include <mkdp/error.h>

#include <sys/eventfd.h>
#include <unistd.h>

namespace mkdp {

Handoff::Handoff()
{
	fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd_ < 0)
		throw_errno("eventfd");
}

Handoff::~Handoff()
{
	if (fd_ >= 0)
		close(fd_);
}

void Handoff::wake() noexcept
{
	uint64_t one = 1;
	(void)!write(fd_, &one, sizeof(one));
}

void Handoff::drain() noexcept
{
	uint64_t v;
	(void)!read(fd_, &v, sizeof(v));
}

void Handoff::call(const std::function<void()> &fn, bool thread_running)
{
	if (!thread_running)
		return fn();
	std::unique_lock lk(m_);
	job_ = &fn;
	done_ = false;
	error_ = nullptr;
	pending_.store(true, std::memory_order_release);
	wake();
	cv_.wait(lk, [this] { return done_; });
	if (error_)
		std::rethrow_exception(error_);
}

void Handoff::run_pending() noexcept
{
	std::lock_guard lk(m_);
	try {
		(*job_)();
	} catch (...) {
		error_ = std::current_exception();
	}
	job_ = nullptr;
	pending_.store(false, std::memory_order_relaxed);
	done_ = true;
	cv_.notify_all();
}

} // namespace mkdp
