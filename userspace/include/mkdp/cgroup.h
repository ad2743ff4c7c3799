// SPDX-License-Identifier: BSD-2-Clause
// The cpuset cgroups partitions run in: mkdp/<partition> under the cgroup
// v2 root when it offers the cpuset controller, else under a v1 cpuset
// hierarchy (this machine's hybrid layout). Creating one is cheap; removing
// one is not always immediate: a cgroup refuses rmdir (EBUSY) while a task
// in it is still exiting, which is exactly the state right after its
// partitions were killed. Removal therefore waits for those tasks, with a
// bound, and says what stayed rather than failing silently.
#pragma once

#include <string>
#include <vector>

namespace mkdp {

// The cpuset placement of a partition process, besides its affinity.
struct CpuPlacement {
	enum Kind { none, v2, v1 } kind = none;
	std::string path;	// the cgroup directory, unless kind == none
	std::string mode() const;	// "cpuset cgroup v1 /sys/fs/cgroup/cpuset/mkdp/p0" | "affinity only"
	bool cgroup() const { return kind != none; }
};

// Puts pid in a cpuset cgroup mkdp/<name> with cpuset.cpus = cpus: cgroup
// v2 at /sys/fs/cgroup when it offers the cpuset controller, else a v1
// cpuset hierarchy at /sys/fs/cgroup/cpuset (cpuset.cpus and cpuset.mems
// set, the process moved with cgroup.procs); otherwise {kind = none}
// (affinity alone). Throws only when a cgroup that should work refuses the
// process.
CpuPlacement place_in_cpuset(const std::string &name, const std::string &cpus, int pid);

// How long removal waits for the tasks of a cgroup to finish exiting.
inline constexpr int kCgroupRemoveTimeoutMs = 3000;

// Removes the cgroup directory, then its mkdp/ parent when no other
// partition's directory is left in it. While rmdir says EBUSY it waits for
// the tasks listed in the cgroup to exit (pidfd) and tries again, up to
// timeout_ms. Returns "" when the directory is gone (or never existed),
// else one line saying why it stays (e.g. which pid is still in it). Never
// kills anything: a live task in an mkdp cgroup is not ours to end.
std::string remove_cgroup_dir(const std::string &path, int timeout_ms = kCgroupRemoveTimeoutMs);
std::string remove_cpuset(const CpuPlacement &p);

// Every directory mkdp creates in the cgroup hierarchies (mkdp/* and mkdp/
// itself, v1 and v2) that exists now: what a supervisor that died leaves.
std::vector<std::string> mkdp_cgroup_dirs();

} // namespace mkdp
