// SPDX-License-Identifier: BSD-2-Clause
// Running a system tool (iproute2) by fork/exec with an argument vector:
// no shell, so nothing a user types is ever parsed as shell syntax.
#pragma once

#include <string>
#include <vector>

namespace mkdp {

struct ProgramResult {
	int status = -1;	// exit code, or 128 + signal
	std::string out, err;	// everything the program wrote
};

// Runs argv[0] (looked up in PATH, then /usr/sbin and /sbin) and waits for
// it. Throws mkdp::Error only when it cannot be started.
ProgramResult run_program(const std::vector<std::string> &argv);

// Runs it and throws mkdp::Error("<what>: <first line of stderr>") unless it
// exits 0; returns its stdout.
std::string run_checked(const std::vector<std::string> &argv, const std::string &what);

} // namespace mkdp
