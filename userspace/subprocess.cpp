// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/subprocess.h>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
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

struct Pipe {
	int fd[2] = {-1, -1};
	Pipe()
	{
		if (pipe2(fd, O_CLOEXEC) < 0)
			throw_errno("pipe");
	}
	~Pipe()
	{
		for (int f : fd)
			if (f >= 0)
				close(f);
	}
	void close_end(int i)
	{
		close(fd[i]);
		fd[i] = -1;
	}
};

} // namespace

ProgramResult run_program(const std::vector<std::string> &argv)
{
	if (argv.empty())
		throw Error("run_program: empty command");
	std::string path = resolve(argv[0]);
	std::vector<char *> args;
	for (const std::string &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);

	Pipe out, err;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
	pid_t pid;
	int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, args.data(), environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		throw_errno("cannot run " + path, rc);
	out.close_end(1);
	err.close_end(1);

	ProgramResult r;
	pollfd pfd[2] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}};
	std::string *dst[2] = {&r.out, &r.err};
	int open_fds = 2;
	char buf[4096];
	while (open_fds) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pfd[i].fd, buf, sizeof(buf));
			if (n > 0) {
				dst[i]->append(buf, size_t(n));
			} else if (n == 0 || errno != EINTR) {
				pfd[i].fd = -1;
				open_fds--;
			}
		}
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r;
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
