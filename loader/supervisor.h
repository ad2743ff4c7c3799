// SPDX-License-Identifier: BSD-2-Clause
// The supervisor daemon (see <mkdp/supervisor.h> for what it is and its
// client side): started by `mkdp topology up`, stopped by `mkdp topology down`.
#pragma once

#include <mkdp/privileges.h>
#include <mkdp/topology.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mkdp {

struct SupervisorOptions {
	uint32_t forward_every = 0;	// each partition forwards every Nth frame to the next one (0 = none)
	std::string exe;		// what partitions exec ("": mkdp-partition, partition_process.h)
	bool verify_tags = false;	// partitions read each frame's test tag (tag_sum, tag_order_errors)
	std::string log = "/dev/null";	// the daemon's stderr
	RunAs run_as;			// partitions' uid/gid after set-up (nobody/nogroup)
};

// What `up` has to say besides the supervisor's pid.
struct UpDetails {
	std::string cleaned;		// what a supervisor that died had left and was removed first ("" none)
	std::vector<std::string> notes;	// what up changed that the user set up (a steering program)
};

// Checks `t` against this machine (topology.h's check(), the first conflict
// is the error), removes what a supervisor that died left, then forks the supervisor for
// `t` and returns its pid once every partition is running and the
// steering program is attached. On failure the supervisor undoes
// everything it did and this throws mkdp::Error with its one-line reason.
// A SIGINT, SIGTERM or SIGHUP before the supervisor committed undoes it all
// too, and throws UpInterrupted (up_handshake.h); these signals stay
// blocked in the caller, so a caller that has more to undo is not killed
// half-way.
int supervisor_up(const Topology &t, const SupervisorOptions &o, UpDetails *details = nullptr);

// Asks the supervisor to stop everything and waits until it is gone; without
// a live supervisor, removes what a dead one left (steering pins, cgroups,
// files under /run/mkdp); one still setting up is stopped (SIGTERM) and
// rolls back. Returns a one-line summary; throws mkdp::Error naming what
// could not be removed.
std::string supervisor_down();

} // namespace mkdp
