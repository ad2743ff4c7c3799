// SPDX-License-Identifier: BSD-2-Clause
// Dropping privileges once set-up is over, like xdpsock's reduced-
// capabilities mode: a partition keeps the fds it was given (sockets,
// mappings) and nothing that would let it reconfigure the machine.
#pragma once

#include <string>

namespace mkdp {

// Clears every capability from the effective, permitted and inheritable
// sets and the ambient set, and sets no_new_privs so no exec can regain
// any. Throws mkdp::Error.
void drop_all_privileges();

// The affinity (and, where cgroup v2 offers the cpuset controller, the
// cpuset cgroup /sys/fs/cgroup/mkdp/<name>) of a process.
struct CpuPlacement {
	bool cgroup = false;	// a cpuset cgroup was made and the process moved into it
	std::string path;	// the cgroup directory, when cgroup is true
	std::string mode() const { return cgroup ? "cpuset cgroup " + path : "affinity only"; }
};

// Creates /sys/fs/cgroup/mkdp/<name> with cpuset.cpus = cpus and moves pid
// into it, when the machine has cgroup v2 with a cpuset controller that can
// be enabled; otherwise returns {cgroup = false} (affinity alone). Throws
// only when a cgroup that should work refuses the process.
CpuPlacement place_in_cpuset(const std::string &name, const std::string &cpus, int pid);
// Removes the cgroup directory (and /sys/fs/cgroup/mkdp when empty).
void remove_cpuset(const CpuPlacement &p) noexcept;

} // namespace mkdp
