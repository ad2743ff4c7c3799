// SPDX-License-Identifier: BSD-2-Clause
// How the control thread hands work to a data thread (the supervisor's
// data path, its storage plane): call() queues one job and waits; the data
// thread runs it between two of its passes, where it touches nothing else.
// The data thread's only cost when nothing is handed over is one relaxed
// load per pass (pending()). wake_fd() is an eventfd that call() rings, for
// a data thread that sleeps when idle.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>

namespace mkdp {

class Handoff {
public:
	Handoff();
	~Handoff();
	Handoff(const Handoff &) = delete;
	Handoff &operator=(const Handoff &) = delete;

	// Control side: runs fn on the data thread and waits for it (fn's
	// exception is rethrown here). With no data thread running, inline.
	// One caller at a time.
	void call(const std::function<void()> &fn, bool thread_running);
	// Either side: make wake_fd() readable (quit, a job).
	void wake() noexcept;

	// Data side, once per pass.
	bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }
	void run_pending() noexcept;
	// The eventfd to sleep on; drain() it after waking.
	int wake_fd() const noexcept { return fd_; }
	void drain() noexcept;

private:
	int fd_ = -1;
	std::atomic<bool> pending_{false};
	std::mutex m_;
	std::condition_variable cv_;
	const std::function<void()> *job_ = nullptr;
	std::exception_ptr error_;
	bool done_ = false;
};

} // namespace mkdp
