// SPDX-License-Identifier: BSD-2-Clause
#include "partition_process.h"

#include <mkdp/error.h>
#include <mkdp/fd_passing.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>

#ifndef MKDP_PARTITION_BUILD_PATH
#define MKDP_PARTITION_BUILD_PATH ""
#endif

namespace mkdp {

std::string helper_executable(const std::string &name)
{
	std::error_code ec;
	std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
	if (!ec) {
		std::filesystem::path next = self.parent_path() / name;
		if (access(next.c_str(), X_OK) == 0)
			return next;
	}
	// Where the build put it: next to mkdp-partition.
	std::filesystem::path built = std::filesystem::path(MKDP_PARTITION_BUILD_PATH).parent_path() / name;
	if (access(built.c_str(), X_OK) == 0)
		return built;
	throw Error(name + " not found next to " + (ec ? std::string("this program") : self.string()) +
		    " (it is built with the mkdp CLI)");
}

std::string partition_executable()
{
	return helper_executable("mkdp-partition");
}

PartitionProcess spawn_partition(const std::string &exe, const PartitionPlan &plan, std::span<const int> fds,
				 const CpuPlacement &previous)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		throw_errno("socketpair");
	std::string name = "mkdp-part-" + plan.name;
	int pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		throw_errno("fork", e);
	}
	if (pid == 0) {
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, nullptr);
		signal(SIGPIPE, SIG_DFL);	// ignored by the supervisor; exec would keep that
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		execl(exe.c_str(), name.c_str(), "--sock", "3", (char *)nullptr);
		_exit(127);
	}
	close(sv[1]);
	PartitionProcess pp{pid, {}};
	try {
		std::string cpus;
		for (int c : plan.cpus)
			cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
		pp.placement = place_in_cpuset(plan.name, cpus, pid);
		if (previous.cgroup() && previous.path != pp.placement.path)
			remove_cpuset(previous);
		send_fds(sv[0], fds, plan.to_json());
	} catch (...) {
		close(sv[0]);
		kill(pid, SIGKILL);
		throw;
	}
	close(sv[0]);
	return pp;
}

} // namespace mkdp
