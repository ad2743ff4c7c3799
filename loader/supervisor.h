// SPDX-License-Identifier: BSD-2-Clause
// The supervisor daemon (see <mkdp/supervisor.h> for what it is and its
// client side): started by `mkdp up`, stopped by `mkdp down`.
#pragma once

#include <mkdp/privileges.h>
#include <mkdp/topology.h>

#include <cstdint>
#include <string>

namespace mkdp {

struct SupervisorOptions {
	uint32_t forward_every = 0;	// each partition forwards every Nth frame to the next one (0 = none)
	std::string exe = "/proc/self/exe"; // what partitions exec (`partition-run`)
	std::string log = "/dev/null";	// the daemon's stderr
	RunAs run_as;			// partitions' uid/gid after set-up (nobody/nogroup)
};

// Forks the supervisor for `t` and returns its pid once every partition is
// running and the steering program is attached. On failure the supervisor
// undoes everything it did and this throws mkdp::Error with its one-line
// reason.
int supervisor_up(const Topology &t, const SupervisorOptions &o);

// Asks the supervisor to stop everything and waits until it is gone; without
// a live supervisor, removes what a dead one left (steering pins, cgroups,
// files under /run/mkdp). Returns a one-line summary.
std::string supervisor_down();

} // namespace mkdp
