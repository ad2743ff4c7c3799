// SPDX-License-Identifier: BSD-2-Clause
// Dropping privileges once set-up is over, like xdpsock's reduced-
// capabilities mode but further: a partition keeps the fds it was given
// (sockets, mappings) and runs as an unprivileged user with no capability,
// so it can neither reconfigure the machine nor signal or ptrace the
// supervisor (root) or, being non-dumpable, be ptraced by a peer.
#pragma once

#include <cstdint>
#include <string>

namespace mkdp {

// Who a partition runs as after set-up. Defaults to nobody/nogroup.
struct RunAs {
	uint32_t uid = 65534;
	uint32_t gid = 65534;
};

// nobody/nogroup from the user database (65534 when absent), or the uid
// and gid given as "UID[:GID]" or a user name. Throws mkdp::Error for an
// unknown name or for uid/gid 0 (a partition never runs as root).
RunAs resolve_run_as(const std::string &spec = {});

// Clears the supplementary groups, switches real, effective and saved
// uid and gid to `who` (setresgid/setresuid), clears every capability set
// and the ambient set, marks the process non-dumpable and sets
// no_new_privs so no exec can regain anything. Throws mkdp::Error. Note
// that the credential change clears PR_SET_PDEATHSIG: callers set it again.
void drop_privileges(const RunAs &who);

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
// Removes the cgroup directory (and its mkdp/ parent when empty).
void remove_cpuset(const CpuPlacement &p) noexcept;
void remove_cgroup_dir(const std::string &path) noexcept;

} // namespace mkdp
