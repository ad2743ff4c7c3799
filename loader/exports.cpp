// SPDX-License-Identifier: BSD-2-Clause
#include "exports.h"

#include "partition_process.h"
#include "storage_plane.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace mkdp {

namespace {

constexpr int kReadyTimeoutMs = 10000;
constexpr uint64_t kStopTimeoutNs = 2'000'000'000;

} // namespace

void Exports::start(StoragePlane &plane, const ExportSpec &s)
{
	std::string mp = std::filesystem::absolute(s.mountpoint).lexically_normal();
	for (const Proc &p : procs_)
		if (p.spec.mountpoint == mp)
			throw Error(mp + " is already an export of volume '" + p.spec.volume + "'");
	struct stat st {};
	bool created = false;
	if (s.create && stat(mp.c_str(), &st) && errno == ENOENT) {
		int fd = open(mp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			throw_errno("create export file " + mp);
		close(fd);
		created = true;
	}
	if (stat(mp.c_str(), &st) || !S_ISREG(st.st_mode))
		throw Error("mountpoint " + mp + " must be an existing regular file (as for qemu-storage-daemon)");
	std::string exe = helper_executable("mkdp-export");
	int sv[2], ready[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		throw_errno("socketpair");
	if (pipe2(ready, O_CLOEXEC)) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		throw_errno("pipe", e);
	}
	auto close_all = [&] {
		for (int fd : {sv[0], sv[1], ready[0], ready[1]})
			if (fd >= 0)
				close(fd);
	};
	try {
		plane.open_session(sv[0], s.volume, "");	// the plane keeps sv[0]
		sv[0] = -1;
	} catch (...) {
		close_all();
		throw;
	}
	int pid = fork();
	if (pid == 0) {
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, nullptr);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (dup2(sv[1], 3) < 0 || dup2(ready[1], 4) < 0)
			_exit(127);
		syscall(SYS_close_range, 5U, ~0U, 0U);
		std::vector<const char *> argv{"mkdp-export", "--volume", s.volume.c_str(), "--mountpoint", mp.c_str()};
		if (s.writable)
			argv.push_back("--writable");
		if (s.direct)
			argv.push_back("--direct");
		argv.push_back(nullptr);
		execv(exe.c_str(), const_cast<char **>(argv.data()));
		_exit(127);
	}
	int fork_errno = errno;
	close(sv[1]);
	sv[1] = -1;
	close(ready[1]);
	ready[1] = -1;
	if (pid < 0) {
		close_all();
		throw_errno("fork", fork_errno);
	}
	std::string said;
	char buf[512];
	pollfd p{ready[0], POLLIN, 0};
	while (said.find('\n') == std::string::npos && poll(&p, 1, kReadyTimeoutMs) > 0) {
		ssize_t n = read(ready[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		said.append(buf, size_t(n));
	}
	close_all();
	said = said.substr(0, said.find('\n'));
	Proc pr{{s.volume, mp, s.writable, s.direct, s.create}, pid, created};
	if (said != "ok") {
		finish(pr);
		throw Error("export of volume '" + s.volume + "' on " + mp + ": " +
			    (said.empty() ? "mkdp-export did not start" : said));
	}
	procs_.push_back(pr);
}

// Stops the process (it unmounts on SIGTERM) and makes sure nothing stays
// mounted, whatever it managed.
void Exports::finish(Proc &p) noexcept
{
	if (p.pid > 0) {
		kill(p.pid, SIGTERM);
		uint64_t until = now_ns() + kStopTimeoutNs;
		for (;;) {
			int status;
			int r = waitpid(p.pid, &status, WNOHANG);
			if (r == p.pid || (r < 0 && errno == ECHILD))
				break;
			if (now_ns() > until)
				kill(p.pid, SIGKILL);
			usleep(1000);
		}
		p.pid = 0;
	}
	umount2(p.spec.mountpoint.c_str(), MNT_DETACH);	// EINVAL when not mounted: fine
	if (p.created)
		unlink(p.spec.mountpoint.c_str());
}

void Exports::stop(const std::string &mountpoint)
{
	std::string mp = std::filesystem::absolute(mountpoint).lexically_normal();
	auto it = std::find_if(procs_.begin(), procs_.end(), [&](const Proc &p) { return p.spec.mountpoint == mp; });
	if (it == procs_.end())
		throw Error("nothing is exported on " + mp);
	finish(*it);
	procs_.erase(it);
}

void Exports::stop_all() noexcept
{
	for (Proc &p : procs_)
		finish(p);
	procs_.clear();
}

bool Exports::on_exit(int pid) noexcept
{
	auto it = std::find_if(procs_.begin(), procs_.end(), [&](const Proc &p) { return p.pid == pid; });
	if (it == procs_.end())
		return false;
	it->pid = 0;	// reaped already
	finish(*it);
	procs_.erase(it);
	return true;
}

nlohmann::json Exports::list() const
{
	nlohmann::json a = nlohmann::json::array();
	for (const Proc &p : procs_)
		a.push_back({{"volume", p.spec.volume},
			     {"mountpoint", p.spec.mountpoint},
			     {"writable", p.spec.writable},
			     {"direct", p.spec.direct},
			     {"pid", p.pid}});
	return a;
}

} // namespace mkdp
