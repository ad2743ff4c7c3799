// SPDX-License-Identifier: BSD-2-Clause
// A forked child process for tests that need the two ends of a region in
// different address spaces, as two partitions have them.
//
// The child runs a function and _exit()s with its result, so it never
// returns into the test framework. A pidfd lets the parent notice at once
// when the child has died (a spinning producer must not wait for a consumer
// that is gone) and bounds every wait: a hang becomes a failure.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

namespace mkdp::test {

class Child {
public:
	// Exit status of a child whose function threw.
	static constexpr int kThrew = 100;
	// What wait() returns for a child the watchdog had to kill.
	static constexpr int kTimedOut = -1;

	// Forks; the child runs fn() -> int (its exit status, 0 = success)
	// and dies with its parent.
	template <class F> explicit Child(F &&fn)
	{
		std::fflush(nullptr);
		pid_ = fork();
		if (pid_ < 0)
			throw std::runtime_error("fork failed");
		if (pid_ == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			int rc;
			try {
				rc = fn();
			} catch (const std::exception &e) {
				std::fprintf(stderr, "child: %s\n", e.what());
				rc = kThrew;
			}
			std::fflush(nullptr);
			_exit(rc);
		}
		pidfd_ = int(syscall(SYS_pidfd_open, pid_, 0));
		if (pidfd_ < 0) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
			throw std::runtime_error("pidfd_open failed");
		}
	}
	Child(const Child &) = delete;
	Child &operator=(const Child &) = delete;

	// A child still running when the test gives up is killed and reaped.
	~Child()
	{
		if (pid_ > 0) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
		}
		if (pidfd_ >= 0)
			close(pidfd_);
	}

	pid_t pid() const noexcept { return pid_; }

	// True once the child has terminated (it is not reaped here).
	bool exited() const noexcept { return ready(0); }

	// Waits up to timeout_ms. Returns the exit status, 128 + signal
	// number if a signal ended it, or kTimedOut after killing it.
	int wait(int timeout_ms)
	{
		if (!ready(timeout_ms)) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
			pid_ = -1;
			return kTimedOut;
		}
		int st = 0;
		if (waitpid(pid_, &st, 0) < 0)
			throw std::runtime_error("waitpid failed");
		pid_ = -1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}

private:
	bool ready(int timeout_ms) const noexcept
	{
		pollfd p{pidfd_, POLLIN, 0};
		int n;
		do
			n = poll(&p, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		return n > 0;
	}

	pid_t pid_ = -1;
	int pidfd_ = -1;
};

} // namespace mkdp::test
