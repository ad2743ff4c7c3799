// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's control thread: partition processes (start, stop, reap,
// reclaim, restart) and the control socket. Nothing here runs on the data
// path; what the data path must learn goes through DataPath::call().
#include "partition_process.h"
#include "supervisor_daemon.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/supervisor.h>
#include <mkdp/xsk_wakeup.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mkdp {

const char *to_string(PState s)
{
	switch (s) {
	case PState::stopped: return "stopped";
	case PState::starting: return "starting";
	case PState::running: return "running";
	case PState::stopping: return "stopping";
	default: return "reclaiming";
	}
}

std::string Supervisor::start_failure(const Part &p) const
{
	std::string why(p.ctl->error, strnlen(p.ctl->error, sizeof(p.ctl->error)));
	return "partition " + p.spec.name + " exited during start-up (status " + std::to_string(p.last_status) +
	       (why.empty() ? "" : ": " + why) + ")";
}

// ---- sockets -----------------------------------------------------------------------

void Supervisor::make_sockets(Part &p)
{
	auto open = [&] {
		for (uint32_t qi : p.qidx) {
			int fd = open_partition_socket(ifindex_, data_->queues()[qi], kRxEntries);
			p.xsk.push_back(fd);
			apply_xsk_wake_mode(fd, parse_xsk_wake_mode(p.spec.wakeup),
					    {p.spec.busy_poll_usecs, p.spec.busy_poll_budget});
			p.rx.emplace_back(fd, XskRingKind::rx, kRxEntries);
		}
	};
	if (topo_.netns.empty())
		open();
	else
		run_in_netns_fn(topo_.netns, open);
}

void Supervisor::close_sockets(Part &p) noexcept
{
	p.rx.clear();
	for (int fd : p.xsk)
		close(fd);
	p.xsk.clear();
}
// The program a partition runs: mkdp-partition, or for tests the one
// MKDP_PARTITION_EXEC=NAME=PATH in up's environment names for partition
// NAME (tests/hostile_partition.cpp joins as a partition and misbehaves).
std::string Supervisor::executable_for(const std::string &name) const
{
	const char *e = std::getenv("MKDP_PARTITION_EXEC");
	std::string spec = e ? e : "";
	size_t eq = spec.find('=');
	if (eq != std::string::npos && spec.compare(0, eq, name) == 0)
		return spec.substr(eq + 1);
	return opts_.exe;
}


// ---- partition life ------------------------------------------------------------------

void Supervisor::start(Part &p)
{
	make_sockets(p);
	__atomic_store_n(&p.ctl->ready, 0, __ATOMIC_RELAXED);
	std::memset(p.ctl->error, 0, sizeof(p.ctl->error));
	data_->call([&] { data_->attach(p.index, &p.rx); });
	PartitionPlan plan;
	plan.name = p.spec.name;
	plan.index = p.index;
	plan.cpus = p.spec.cpus;
	plan.netns = p.spec.netns;
	plan.frame_size = frame_size_;
	plan.forward_every = opts_.forward_every;
	plan.forward_to = p.umem ? forward_to(p) : -1;
	plan.rx_entries = kRxEntries;
	plan.queues = p.spec.queues;
	plan.frames = nframes_;
	plan.umem = p.umem;
	plan.uid = opts_.run_as.uid;
	plan.gid = opts_.run_as.gid;
	plan.verify_tags = opts_.verify_tags;
	// Only what is named for it: the UMEM region only if it shares it,
	// the other regions only where shared_with names it.
	std::vector<int> fds{p.ctl_fd};
	if (p.umem)
		fds.push_back(region_.fd());
	fds.insert(fds.end(), p.xsk.begin(), p.xsk.end());
	for (size_t r : p.regions) {
		fds.push_back(extra_[r].fd());
		plan.regions.push_back(extra_names_[r]);
	}
	// Doorbells: how it waits, how its forward peer waits, and the
	// eventfds of the forward rings it produces or consumes.
	plan.wakeup = p.spec.wakeup;
	if (plan.forward_to >= 0)
		plan.forward_wakeup = parts_[size_t(plan.forward_to)].spec.wakeup;
	for (const auto &[ring, fd] : doorbell_fds_) {
		unsigned from, to;
		if (std::sscanf(ring.c_str(), "fwd%u-%u", &from, &to) == 2 && (from == p.index || to == p.index)) {
			plan.doorbells.push_back(ring);
			fds.push_back(fd);
		}
	}
	PartitionProcess pp;
	try {
		// Fresh storage rings for every volume it serves.
		if (storage_)
			storage_->hand_over(p.index, plan, fds);
		pp = spawn_partition(executable_for(plan.name), plan, fds, p.placement);
	} catch (...) {
		if (storage_)
			storage_->partition_gone(p.index);
		data_->call([&] { data_->reclaim(p.index); });
		close_sockets(p);
		throw;
	}
	p.pid = pp.pid;
	p.placement = pp.placement;
	write_state_file();
	p.state = PState::starting;
	p.deadline = now_ns() + kStartTimeoutNs;
	p.starts++;
}

void Supervisor::begin_stop(Part &p, int sig)
{
	// No new frames for it: the steering program counts them no_socket
	// and applies the default action from now on.
	data_->call([&] { data_->deactivate(p.index, false); });
	kill(p.pid, sig);
	p.state = PState::stopping;
	p.deadline = now_ns() + kStopTimeoutNs;
}

void Supervisor::on_exit(Part &p, int status)
{
	p.last_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	p.last_pid = p.pid;
	p.pid = 0;
	p.died_starting = p.state == PState::starting;
	data_->call([&] { data_->deactivate(p.index, true); });
	// Its storage requests in flight complete with EIO, not never.
	if (storage_)
		storage_->partition_gone(p.index);
	// Its cpuset cgroup stays for a restart: removing one (a v1 cpuset
	// waits for an RCU grace period, ~50 ms here) would stall this loop.
	// teardown() removes it. Let redirects already in flight on other
	// CPUs land before the RX rings are read for the last time.
	p.state = PState::reclaiming;
	p.settle_at = now_ns() + kSettleNs;
}

// SIGCHLD arrived (or may have): collect every child that exited.
void Supervisor::reap()
{
	signalfd_siginfo si;
	bool any = false;
	while (read(chld_fd_, &si, sizeof(si)) == sizeof(si))
		any = true;
	if (!any)
		return;
	for (;;) {
		int status;
		int pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		for (Part &p : parts_)
			if (p.pid == pid)
				on_exit(p, status);
		exports_.on_exit(pid);	// an export that died: its mount goes too
	}
}

bool Supervisor::in_transition() const
{
	for (const Part &p : parts_)
		if (p.state != PState::running && p.state != PState::stopped)
			return true;
	return false;
}

void Supervisor::check_transitions()
{
	uint64_t now = now_ns();
	for (Part &p : parts_) {
		switch (p.state) {
		case PState::starting:
			if (__atomic_load_n(&p.ctl->ready, __ATOMIC_ACQUIRE)) {
				std::vector<XskSlot> slots;
				for (size_t i = 0; i < p.xsk.size(); i++)
					slots.push_back({p.spec.queues[i], p.xsk[i]});
				data_->call([&] { data_->activate(p.index, std::move(slots)); });
				p.state = PState::running;
				finish_waiters(p, {{"ok", true}, {"partition", part_json(p)}});
			} else if (now > p.deadline) {
				kill(p.pid, SIGKILL);
				p.deadline = UINT64_MAX;
			}
			break;
		case PState::stopping:
			if (now > p.deadline) {
				kill(p.pid, SIGKILL);
				p.deadline = UINT64_MAX;
			}
			break;
		case PState::reclaiming:
			if (now >= p.settle_at) {
				data_->call([&] { p.last_reclaimed = data_->reclaim(p.index); });
				close_sockets(p);
				p.state = PState::stopped;
				if (p.restart_after && !quit_) {
					p.restart_after = false;
					try {
						start(p);
					} catch (const std::exception &e) {
						finish_waiters(p, {{"ok", false}, {"error", e.what()}});
					}
				} else if (p.died_starting) {
					finish_waiters(p, {{"ok", false}, {"error", start_failure(p)}});
				} else {
					finish_waiters(p, {{"ok", true}, {"partition", part_json(p)}});
				}
			}
			break;
		default:
			break;
		}
	}
}

// ---- control socket --------------------------------------------------------------

void Supervisor::finish_waiters(Part &p, const json &j)
{
	for (int fd : p.waiters)
		ControlServer::reply(fd, j);
	p.waiters.clear();
}

Part *Supervisor::find(const std::string &name)
{
	for (Part &p : parts_)
		if (p.spec.name == name)
			return &p;
	return nullptr;
}

void Supervisor::handle(int fd, const std::string &line)
{
	auto fail = [fd](const std::string &why) { ControlServer::reply(fd, {{"ok", false}, {"error", why}}); };
	ControlRequest req;
	try {
		req = parse_control_request(line);
	} catch (const Error &e) {
		return fail(e.what());
	}
	const std::string &cmd = req.cmd;
	if (cmd == "status" || cmd == "list") {
		try {
			return ControlServer::reply(fd, status());
		} catch (const std::exception &e) {
			return fail(e.what());
		}
	}
	if (cmd == "down") {
		quit_ = true;
		down_client_ = fd;
		return;
	}
	if (cmd.rfind("sdp-", 0) == 0)
		return handle_sdp(fd, req);
	Part *p = find(req.name);
	if (!p)
		return fail("no partition named '" + req.name + "'");
	bool running = p->state == PState::running || p->state == PState::starting;
	if (!p->waiters.empty() && p->state != PState::running && p->state != PState::stopped)
		return fail("partition " + p->spec.name + " is " + to_string(p->state));
	try {
		// Asked for what already holds: done, and the reply says so
		// ("unchanged"), as `topology down` when nothing is up.
		auto unchanged = [&] {
			ControlServer::reply(fd, {{"ok", true}, {"unchanged", true}, {"partition", part_json(*p)}});
		};
		if (cmd == "start") {
			if (p->state == PState::running)
				return unchanged();
			if (p->state != PState::stopped)
				return fail("partition " + p->spec.name + " is " + to_string(p->state));
			start(*p);
		} else if (cmd == "stop" || cmd == "kill") {
			if (p->state == PState::stopped)
				return unchanged();
			if (!running)
				return fail("partition " + p->spec.name + " is " + to_string(p->state));
			begin_stop(*p, cmd == "kill" ? SIGKILL : SIGTERM);
		} else if (cmd == "restart") {
			if (running) {
				begin_stop(*p, SIGTERM);
				p->restart_after = true;
			} else if (p->state == PState::stopped) {
				start(*p);
			} else {
				p->restart_after = true;
			}
		} else {
			return fail("unknown command '" + cmd + "'");
		}
	} catch (const std::exception &e) {
		return fail(e.what());
	}
	p->waiters.push_back(fd);
}

void Supervisor::listen_control()
{
	sigset_t set;
	sigemptyset(&set);
	for (int s : {SIGTERM, SIGINT, SIGHUP})
		sigaddset(&set, s);
	term_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (term_fd_ < 0)
		throw_errno("signalfd");
	server_.listen(kSupervisorSocket);
}

// The control loop. It wakes for a signal or a client, and every
// millisecond while a partition is between two states (its readiness and
// deadlines are read, not signalled).
void Supervisor::loop()
{
	// The control thread sleeps until a client or a signal comes; when one
	// does, a busy data path or partitions may hold both CPUs, and a
	// command would wait a scheduler slice for its turn. A little priority
	// for this thread only (the data path keeps the partitions' nice).
	(void)!setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), kControlNice);
	pollfd sig[2] = {{chld_fd_, POLLIN, 0}, {term_fd_, POLLIN, 0}};
	while (!quit_) {
		server_.serve(sig, in_transition() ? 1 : 100,
			      [this](int fd, const std::string &line) { handle(fd, line); });
		if (sig[0].revents)
			reap();
		if (sig[1].revents) {
			signalfd_siginfo si;
			while (read(term_fd_, &si, sizeof(si)) == sizeof(si))
				quit_ = true;
		}
		check_transitions();
	}
	int fd = down_client_;
	teardown();
	if (fd >= 0)
		ControlServer::reply(fd, {{"ok", true}, {"steering", steer_undone_}, {"problems", problems()}});
}

} // namespace mkdp
