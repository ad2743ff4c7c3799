// SPDX-License-Identifier: BSD-2-Clause
// Dropping privileges once set-up is over, like xdpsock's reduced-
// capabilities mode but further: a partition keeps the fds it was given
// (sockets, mappings) and runs as an unprivileged user with no capability,
// so it can neither reconfigure the machine nor signal or ptrace the
// supervisor (root) or, being non-dumpable, be ptraced by a peer. Its CPUs
// are kept by affinity and a cpuset cgroup (<mkdp/cgroup.h>).
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

} // namespace mkdp
