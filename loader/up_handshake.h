// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology up` as a commit between the command and the supervisor daemon it
// forks, so that an interrupted `up` leaves nothing behind.
//
// The two talk over a socketpair (lines, daemon -> CLI: "note: ...",
// "ok", "error: ...", "left: ..."). The daemon sets up, checking at each
// checkpoint for SIGTERM/SIGINT/SIGHUP or a command that hung up; then it
// sends "ok" and waits for one ack byte. The CLI, which blocks those signals
// from before the fork and waits on the socket and a signalfd, acks only if
// it was not interrupted: no ack (the CLI was interrupted, or died, even by
// SIGKILL, which closes its end) means the daemon rolls everything back and
// exits. An interrupted CLI also sends the daemon SIGTERM and waits for it
// to finish rolling back.
#pragma once

#include <mkdp/error.h>

#include <functional>
#include <string>
#include <vector>

namespace mkdp {

// `mkdp topology up` was interrupted by a signal while the supervisor was setting
// up: what() says whether the roll-back removed everything.
class UpInterrupted : public Error {
public:
	UpInterrupted(int signo, const std::string &what) : Error(what), signo_(signo) {}
	int signo() const noexcept { return signo_; }
	int exit_code() const noexcept { return 128 + signo_; }	// as a shell reports a death by signo

private:
	int signo_;
};

// The daemon's end of the report channel. Its signals (SIGTERM, SIGINT,
// SIGHUP) must be blocked by the caller, in every thread.
class UpReport {
public:
	explicit UpReport(int fd);
	UpReport(const UpReport &) = delete;
	UpReport &operator=(const UpReport &) = delete;
	~UpReport();

	// A set-up checkpoint: throws mkdp::Error("interrupted ...") when one of
	// the signals is pending or the command hung up.
	//
	// Test hook, like MKDP_PARTITION_FAULT: with MKDP_UP_HOLD=<phase> in
	// up's environment, the first checkpoint of that phase creates
	// /run/mkdp/hold-<phase> and waits there (asleep in poll) until
	// interrupted, so that a test can interrupt `up` at a known point.
	// Phases, in order: region (the UMEM region exists), sockets (the
	// first queue's socket is bound), steering (the program is attached),
	// partitions (the first partition process runs), ready (everything is
	// up, just before the commit).
	void checkpoint(const char *phase);
	// Sleeps up to timeout_ms, returning early and throwing as checkpoint
	// does: the set-up's waits use it instead of a sleep.
	void pause(int timeout_ms);
	// A line the command prints on stdout once up has succeeded.
	void note(const std::string &line);
	// Sends "ok" and waits for the ack; throws mkdp::Error when none comes
	// (the caller then rolls back).
	void commit();
	// After a failed set-up was undone: why, and what the roll-back could
	// not remove ("" when nothing).
	void fail(const std::string &why, const std::string &left) noexcept;

private:
	void wait(int timeout_ms);
	void send_line(const std::string &line) noexcept;

	int fd_ = -1, sig_fd_ = -1;
	std::string hold_;
};

// What a successful up hands back.
struct UpStarted {
	int pid = 0;			// the supervisor
	std::vector<std::string> notes;	// lines for stdout
};

// The daemon died during set-up without saying why (killed): what it had
// set up is still there.
class SupervisorDied : public Error {
public:
	using Error::Error;
};

// Forks the daemon: in it, daemon(report) runs in a new session with stdin
// and stdout on /dev/null, stderr appended to `log`, and no fd of the
// caller but the report socket; its return value is the daemon's exit
// status. Returns once the daemon has committed. Throws UpInterrupted when
// a SIGINT, SIGTERM or SIGHUP came first (they stay blocked in this process
// afterwards: past the commit, up has happened and a late Ctrl-C changes
// nothing), SupervisorDied, or mkdp::Error with the daemon's one-line
// reason when its set-up failed.
UpStarted start_daemon(const std::string &log, const std::function<int(UpReport &)> &daemon);

} // namespace mkdp
