// SPDX-License-Identifier: BSD-2-Clause
// Running a system tool (iproute2) by fork/exec with an argument vector:
// no shell, so nothing a user types is ever parsed as shell syntax.
#pragma once

#include <optional>
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

// A program started without waiting for it: its pid (to signal it) while
// it runs, its output and status once it is done. The output is collected
// by wait() (keep it small: the pipes hold 64 KiB each until then).
class RunningProgram {
public:
	// Starts argv[0] as run_program does; throws mkdp::Error when it
	// cannot be started.
	explicit RunningProgram(const std::vector<std::string> &argv);
	RunningProgram(const RunningProgram &) = delete;
	RunningProgram &operator=(const RunningProgram &) = delete;
	// One still running is killed (SIGKILL) and reaped.
	~RunningProgram();

	int pid() const noexcept { return pid_; }
	// Waits up to timeout_ms (-1: no bound) for it to exit and close its
	// output; the result, or nullopt while it still runs (call again).
	std::optional<ProgramResult> wait(int timeout_ms = -1);

private:
	int pid_ = -1, pidfd_ = -1;
	int out_ = -1, err_ = -1;
	bool exited_ = false;
	ProgramResult r_;
};

// Waits up to timeout_ms (-1: no bound) for process `pid`, which need not
// be a child, to exit (pidfd). True when it is gone; it is not reaped.
bool wait_for_exit(int pid, int timeout_ms);

// Runs it and throws mkdp::Error("<what>: <first line of stderr>") unless it
// exits 0; returns its stdout.
std::string run_checked(const std::vector<std::string> &argv, const std::string &what);

} // namespace mkdp
