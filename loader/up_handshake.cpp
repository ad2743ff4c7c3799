// SPDX-License-Identifier: BSD-2-Clause
// The commit between `mkdp topology up` and its supervisor (see up_handshake.h).
#include "up_handshake.h"

#include <mkdp/cpu.h>
#include <mkdp/subprocess.h>
#include <mkdp/supervisor.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mkdp {

namespace {

constexpr char kAck = 'A';
constexpr int kAckTimeoutMs = 30'000;		// the command answers at once unless stopped
constexpr int kRollbackTimeoutMs = 20'000;	// an interrupted command waits this long for the roll-back

sigset_t up_signals()
{
	sigset_t s;
	sigemptyset(&s);
	for (int sig : {SIGINT, SIGTERM, SIGHUP})
		sigaddset(&s, sig);
	return s;
}

// The signal pending on a non-blocking signalfd (consumed), 0 when none.
int take_signal(int sig_fd)
{
	signalfd_siginfo si;
	return read(sig_fd, &si, sizeof(si)) == sizeof(si) ? int(si.ssi_signo) : 0;
}

std::string signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "signal " + std::to_string(sig);
}

int ms_until(uint64_t deadline)
{
	uint64_t now = now_ns();
	return now >= deadline ? 0 : int((deadline - now + 999'999) / 1'000'000);
}

} // namespace

// ---- the daemon's side -----------------------------------------------------

UpReport::UpReport(int fd) : fd_(fd)
{
	sigset_t s = up_signals();
	sig_fd_ = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd_ < 0)
		throw_errno("signalfd");
	if (const char *h = std::getenv("MKDP_UP_HOLD"))
		hold_ = h;
}

UpReport::~UpReport()
{
	if (fd_ >= 0)
		close(fd_);
	if (sig_fd_ >= 0)
		close(sig_fd_);
}

void UpReport::wait(int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ns() + uint64_t(timeout_ms) * 1'000'000;
	for (;;) {
		// The command writes nothing before our "ok": anything readable on
		// its end, or a hang-up, means it is gone or was interrupted.
		pollfd p[2] = {{sig_fd_, POLLIN, 0}, {fd_, POLLIN | POLLRDHUP, 0}};
		int n = poll(p, 2, timeout_ms < 0 ? -1 : ms_until(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (p[0].revents)
			throw Error("interrupted by " + signal_name(take_signal(sig_fd_)));
		if (p[1].revents)
			throw Error("interrupted: the mkdp topology up command is gone");
		if (n <= 0)
			return;
	}
}

void UpReport::checkpoint(const char *phase)
{
	if (!hold_.empty() && hold_ == phase) {
		hold_.clear();	// once
		std::string marker = std::string(kRunDir) + "/hold-" + phase;
		int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		try {
			wait(-1);
		} catch (...) {
			unlink(marker.c_str());	// /run/mkdp must be removable by the roll-back
			throw;
		}
	}
	wait(0);
}

void UpReport::pause(int timeout_ms)
{
	wait(timeout_ms);
}

void UpReport::send_line(const std::string &line) noexcept
{
	std::string l = line + "\n";
	// MSG_NOSIGNAL: a command that is gone must not kill us mid-roll-back.
	if (fd_ >= 0)
		(void)!send(fd_, l.data(), l.size(), MSG_NOSIGNAL);
}

void UpReport::note(const std::string &line)
{
	send_line("note: " + line);
}

void UpReport::commit()
{
	std::string ok = "ok\n";
	if (send(fd_, ok.data(), ok.size(), MSG_NOSIGNAL) != ssize_t(ok.size()))
		throw Error("interrupted: the mkdp topology up command is gone");
	pollfd p[2] = {{fd_, POLLIN | POLLRDHUP, 0}, {sig_fd_, POLLIN, 0}};
	int n;
	do
		n = poll(p, 2, kAckTimeoutMs);
	while (n < 0 && errno == EINTR);
	char c = 0;
	// The ack first: a signal that came with it is served by the main loop
	// (SIGTERM = down), as after any commit.
	if (p[0].revents && read(fd_, &c, 1) == 1 && c == kAck) {
		close(fd_);
		fd_ = -1;
		close(sig_fd_);
		sig_fd_ = -1;
		return;
	}
	if (p[1].revents)
		throw Error("interrupted by " + signal_name(take_signal(sig_fd_)));
	throw Error(n == 0 ? "mkdp topology up did not confirm in time" : "interrupted: the mkdp topology up command is gone");
}

void UpReport::fail(const std::string &why, const std::string &left) noexcept
{
	send_line("error: " + why);
	if (!left.empty())
		send_line("left: " + left);
	if (fd_ >= 0)
		close(fd_);
	fd_ = -1;
}

// ---- the command's side ----------------------------------------------------

namespace {

[[noreturn]] void run_daemon(int report, const std::string &log, const std::function<int(UpReport &)> &daemon)
{
	// The daemon outlives this command: it must not keep what the caller
	// had open (a `flock` lock fd would stay held until down).
	if (dup2(report, 3) < 0)
		_exit(1);
	fcntl(3, F_SETFD, FD_CLOEXEC);
	syscall(SYS_close_range, 4U, ~0U, 0U);
	setsid();
	int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
	int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	dup2(null, 0);
	dup2(null, 1);
	dup2(err >= 0 ? err : null, 2);
	int rc = 1;
	try {
		UpReport r(3);
		rc = daemon(r);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mkdp supervisor: %s\n", e.what());
	}
	_exit(rc);
}

// Reaps the daemon if it exits within timeout_ms; false if it is still there.
bool reap(int pid, int timeout_ms)
{
	if (!wait_for_exit(pid, timeout_ms))
		return false;
	while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR)
		;
	return true;
}

} // namespace

UpStarted start_daemon(const std::string &log, const std::function<int(UpReport &)> &daemon)
{
	// Blocked from here on, in the daemon too (it inherits the mask): a
	// Ctrl-C now is a request to undo, not a death in mid-set-up.
	sigset_t sigs = up_signals();
	sigprocmask(SIG_BLOCK, &sigs, nullptr);
	int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0)
		throw_errno("signalfd");
	if (int sig = take_signal(sig_fd)) {
		close(sig_fd);
		throw UpInterrupted(sig, "interrupted before anything was set up");
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		int e = errno;
		close(sig_fd);
		throw_errno("socketpair", e);
	}
	std::fflush(nullptr);
	int pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sig_fd);
		close(sv[0]);
		close(sv[1]);
		throw_errno("fork", e);
	}
	if (pid == 0) {
		close(sv[0]);
		close(sig_fd);
		run_daemon(sv[1], log, daemon);
	}
	close(sv[1]);
	int fd = sv[0];

	UpStarted up{pid, {}};
	std::string in, error, left;
	int sig = 0;
	uint64_t deadline = UINT64_MAX;
	auto interrupted = [&](int s) {
		// No ack will come: tell the daemon at once (it also sees our
		// end shut), then read its last words until it closes.
		sig = s;
		kill(pid, SIGTERM);
		shutdown(fd, SHUT_WR);
		deadline = now_ns() + uint64_t(kRollbackTimeoutMs) * 1'000'000;
	};
	for (bool eof = false; !eof;) {
		pollfd p[2] = {{fd, POLLIN, 0}, {sig ? -1 : sig_fd, POLLIN, 0}};
		int n = poll(p, 2, sig ? ms_until(deadline) : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;	// interrupted, and the roll-back takes too long
		if (p[1].revents) {
			interrupted(take_signal(sig_fd));
			continue;
		}
		char buf[512];
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		eof = got <= 0;
		if (got > 0)
			in.append(buf, size_t(got));
		for (size_t nl; (nl = in.find('\n')) != std::string::npos; in.erase(0, nl + 1)) {
			std::string line = in.substr(0, nl);
			if (line.rfind("note: ", 0) == 0) {
				up.notes.push_back(line.substr(6));
			} else if (line.rfind("error: ", 0) == 0) {
				error = line.substr(7);
			} else if (line.rfind("left: ", 0) == 0) {
				left = line.substr(6);
			} else if (line == "ok" && !sig) {
				// The last moment a signal can still undo it all.
				if (int s = take_signal(sig_fd)) {
					interrupted(s);
				} else if (send(fd, &kAck, 1, MSG_NOSIGNAL) == 1) {
					close(fd);
					close(sig_fd);
					return up;
				}
			}
		}
	}
	close(fd);
	close(sig_fd);
	if (sig) {
		if (!reap(pid, ms_until(deadline)))
			throw UpInterrupted(sig, "interrupted; the supervisor (pid " + std::to_string(pid) +
						 ") is still undoing the set-up: run 'mkdp topology down'");
		if (!left.empty())
			throw UpInterrupted(sig, "interrupted; undoing the set-up left " + left);
		throw UpInterrupted(sig, "interrupted; everything it had set up was removed");
	}
	// It closes the channel as it exits; the bound only guards a daemon
	// that would hang on its way out.
	bool gone = reap(pid, kRollbackTimeoutMs);
	if (!error.empty())
		throw Error(error + (left.empty() ? "" : "; undoing the set-up left " + left));
	if (!gone)
		throw Error("the supervisor (pid " + std::to_string(pid) + ") stopped answering during set-up");
	throw SupervisorDied("the supervisor died during set-up");
}

} // namespace mkdp
