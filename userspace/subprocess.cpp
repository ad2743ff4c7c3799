// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/subprocess.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

extern char **environ;

namespace mkdp {

namespace {

// Root's PATH under sudo or cron may lack the sbin directories iproute2
// lives in.
std::string resolve(const std::string &prog)
{
	if (prog.find('/') != std::string::npos)
		return prog;
	std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
	path += ":/usr/sbin:/sbin:/usr/bin:/bin";
	size_t start = 0;
	while (start <= path.size()) {
		size_t end = path.find(':', start);
		if (end == std::string::npos)
			end = path.size();
		std::string cand = path.substr(start, end - start) + "/" + prog;
		if (end > start && access(cand.c_str(), X_OK) == 0)
			return cand;
		start = end + 1;
	}
	throw Error("cannot find '" + prog + "' (is it installed?)");
}

void close_fd(int &fd) noexcept
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

int open_pidfd(int pid)
{
	return int(syscall(SYS_pidfd_open, pid, 0));
}

int ms_left(uint64_t deadline_ns)
{
	uint64_t now = now_ns();
	return now >= deadline_ns ? 0 : int((deadline_ns - now + 999'999) / 1'000'000);
}

} // namespace

RunningProgram::RunningProgram(const std::vector<std::string> &argv)
{
	if (argv.empty())
		throw Error("run_program: empty command");
	std::string path = resolve(argv[0]);
	std::vector<char *> args;
	for (const std::string &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);

	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		throw_errno("pipe");
	if (pipe2(err, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		throw_errno("pipe", e);
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	// A caller may block signals (a daemon's signal thread) or ignore
	// SIGPIPE; a program started from it must not inherit either, or a
	// daemon such as qemu-storage-daemon never sees the SIGTERM it is sent.
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawn(&pid, path.c_str(), &fa, &attr, args.data(), environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	out_ = out[0];
	err_ = err[0];
	if (rc != 0) {
		close_fd(out_);
		close_fd(err_);
		throw_errno("cannot run " + path, rc);
	}
	pid_ = pid;
	// Not yet reaped, so the pid cannot have been reused: the pidfd names it.
	pidfd_ = open_pidfd(pid_);
}

RunningProgram::~RunningProgram()
{
	if (pid_ > 0) {
		kill(pid_, SIGKILL);
		while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR)
			;
	}
	close_fd(out_);
	close_fd(err_);
	close_fd(pidfd_);
}

std::optional<ProgramResult> RunningProgram::wait(int timeout_ms)
{
	if (pid_ <= 0)
		return r_;
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ns() + uint64_t(timeout_ms) * 1'000'000;
	std::string *dst[2] = {&r_.out, &r_.err};
	int *fds[2] = {&out_, &err_};
	char buf[4096];
	// Done once both pipes are closed and the process has exited (without
	// a pidfd, waitpid below waits for the exit).
	for (;;) {
		if (out_ < 0 && err_ < 0 && (exited_ || pidfd_ < 0))
			break;
		pollfd pfd[3] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}, {exited_ ? -1 : pidfd_, POLLIN, 0}};
		int n = poll(pfd, 3, timeout_ms < 0 ? -1 : ms_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw_errno("poll");
		if (n == 0)
			return std::nullopt;
		for (int i = 0; i < 2; i++) {
			if (*fds[i] < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = read(*fds[i], buf, sizeof(buf));
			if (got > 0)
				dst[i]->append(buf, size_t(got));
			else if (got == 0 || errno != EINTR)
				close_fd(*fds[i]);
		}
		if (pfd[2].revents & POLLIN)
			exited_ = true;
	}
	int status;
	while (waitpid(pid_, &status, 0) < 0 && errno == EINTR)
		;
	pid_ = -1;
	close_fd(pidfd_);
	r_.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r_;
}

ProgramResult run_program(const std::vector<std::string> &argv)
{
	return *RunningProgram(argv).wait(-1);
}

bool wait_for_exit(int pid, int timeout_ms)
{
	int fd = open_pidfd(pid);
	if (fd < 0)
		return errno == ESRCH;
	pollfd p{fd, POLLIN, 0};
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ns() + uint64_t(timeout_ms) * 1'000'000;
	int n;
	do
		n = poll(&p, 1, timeout_ms < 0 ? -1 : ms_left(deadline));
	while (n < 0 && errno == EINTR);
	close(fd);
	return n > 0;
}

std::string run_checked(const std::vector<std::string> &argv, const std::string &what)
{
	ProgramResult r = run_program(argv);
	if (r.status != 0) {
		std::string line = r.err.substr(0, r.err.find('\n'));
		if (line.empty())
			line = argv[0] + " exited with status " + std::to_string(r.status);
		throw Error(what + ": " + line);
	}
	return r.out;
}

} // namespace mkdp
