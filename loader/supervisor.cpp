// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology up`'s side of the supervisor: the daemon's main, and starting it.
#include "supervisor.h"
#include "partition_process.h"
#include "supervisor_daemon.h"
#include "supervisor_leftovers.h"

#include <mkdp/error.h>
#include <mkdp/supervisor.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <fstream>

namespace mkdp {

int daemon_main(const Topology &t, const SupervisorOptions &o, UpReport &up)
{
	// Blocked in every thread (the data path's inherits the mask): the
	// control thread reads them from signalfds.
	sigset_t set;
	sigemptyset(&set);
	for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP})
		sigaddset(&set, s);
	sigprocmask(SIG_BLOCK, &set, nullptr);
	// A peer that hangs up (`up` interrupted, a `down` client gone) must
	// cost an EPIPE, not the daemon in the middle of a roll-back.
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "mkdp-supervisor");
	Supervisor sv(t, o, &up);
	try {
		// The pidfile first: a supervisor still setting up is a live one
		// (down stops it, up does not take its files for leftovers).
		mkdir(kRunDir, 0755);
		std::ofstream(kSupervisorPidfile) << getpid() << "\n";
		sv.setup();
		sv.listen_control();
		up.checkpoint("ready");
		up.commit();
	} catch (const std::exception &e) {
		sv.teardown();
		up.fail(e.what(), sv.problems());
		return 1;
	}
	sv.loop();
	return 0;
}

int supervisor_up(const Topology &t, const SupervisorOptions &opts, UpDetails *details)
{
	std::vector<Conflict> c = check(t, probe_machine(t));
	if (!c.empty())
		throw Error(t.source + (c[0].line ? ":" + std::to_string(c[0].line) : "") + ": " + c[0].what);
	if (int pid = supervisor_pid())
		throw Error("mkdp is already up (supervisor pid " + std::to_string(pid) + "); run 'mkdp topology down' first");
	SupervisorOptions o = opts;
	if (o.exe.empty())
		o.exe = partition_executable();
	UpDetails d;
	d.cleaned = clean_before_up();
	UpStarted u;
	try {
		u = start_daemon(o.log, [&](UpReport &rep) { return daemon_main(t, o, rep); });
	} catch (const SupervisorDied &e) {
		// Killed before it could undo anything: undo it here.
		std::string left;
		try {
			remove_supervisor_leftovers();
		} catch (const Error &c) {
			left = "; left: " + std::string(c.what());
		}
		throw Error(e.what() + left);
	}
	d.notes = u.notes;
	if (details)
		*details = d;
	return u.pid;
}

} // namespace mkdp
