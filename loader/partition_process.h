// SPDX-License-Identifier: BSD-2-Clause
// Starting one partition process: the mkdp-partition executable, in a
// cpuset cgroup of its CPUs, handed its plan and file descriptors over a
// Unix socket (docs/partitions.md).
#pragma once

#include <mkdp/cgroup.h>
#include <mkdp/partition.h>

#include <span>
#include <string>

namespace mkdp {

// Where the supervisor finds one of its executables (mkdp-partition,
// mkdp-export): next to the running program, else where the build put it.
std::string helper_executable(const std::string &name);
std::string partition_executable();

struct PartitionProcess {
	int pid = 0;
	CpuPlacement placement;
};

// Forks and execs `exe` for `plan` (its name as the process name), places
// it in a cpuset of `cpus` ("0,1"; `previous` is removed if the new one is
// elsewhere) and sends it `plan` with `fds` in the plan's order. A fresh
// image: nothing of the caller's memory, and no fd but the socket, reaches
// it. Throws, having killed the child.
PartitionProcess spawn_partition(const std::string &exe, const PartitionPlan &plan, std::span<const int> fds,
				 const CpuPlacement &previous);

} // namespace mkdp
