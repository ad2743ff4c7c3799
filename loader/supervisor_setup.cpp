// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's set-up and teardown: the UMEM region and the other
// regions, the fill queues, the steering program, and undoing all of it.
#include "supervisor_daemon.h"

#include <mkdp/doorbell.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/supervisor.h>

#include <net/if.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace mkdp {

namespace {

void in_ns(const std::string &ns, const std::function<void()> &fn)
{
	if (ns.empty())
		fn();
	else
		run_in_netns_fn(ns, fn);
}

uint32_t pow2_floor(uint64_t v)
{
	uint32_t p = 1;
	while (uint64_t(p) * 2 <= v && p < (1U << 24))
		p *= 2;
	return p;
}

bool named(const std::vector<std::string> &names, const std::string &n)
{
	return std::find(names.begin(), names.end(), n) != names.end();
}

} // namespace

void Supervisor::setup()
{
	if (topo_.partitions.empty())
		throw Error("the topology has no partition");
	if (topo_.interface.empty())
		throw Error("the topology names no interface");
	// Network safety, whoever called us: the same verdict as `topology
	// check` (probe_machine), never an interface of the machine.
	if (std::string why = probe_machine(topo_).device_refused; !why.empty())
		throw Error(why);
	in_ns(topo_.netns, [&] { ifindex_ = int(if_nametoindex(topo_.interface.c_str())); });
	if (!ifindex_)
		throw Error("interface " + topo_.interface + " not found" +
			    (topo_.netns.empty() ? std::string() : " in namespace " + topo_.netns));
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	chld_fd_ = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (chld_fd_ < 0)
		throw_errno("signalfd");

	uint32_t i = 0;
	for (const PartitionSpec &s : topo_.partitions) {
		Part p;
		p.spec = s;
		p.index = i++;
		parts_.push_back(std::move(p));
	}
	// An interrupted `up` is noticed at each step, and the caller tears
	// down what exists so far.
	FramePool pool = setup_region();
	checkpoint("region");
	setup_queues(std::move(pool));
	attach_steering();
	data_->set_steering(&*steer_);
	checkpoint("steering");
	data_->start();
	setup_storage();
	checkpoint("volumes");
	for (Part &p : parts_) {
		start(p);
		checkpoint("partitions");
	}
	// Wait for every partition to be up before saying so.
	auto settled = [](const Part &p) { return p.state == PState::running || p.state == PState::stopped; };
	while (!std::all_of(parts_.begin(), parts_.end(), settled)) {
		reap();
		check_transitions();
		if (up_)
			up_->pause(1);
		else
			usleep(1000);
	}
	for (const Part &p : parts_)
		if (p.state != PState::running)
			throw Error(start_failure(p));
	if (storage_)
		start_exports();
	checkpoint("exports");
}

FramePool Supervisor::setup_region()
{
	// AF_XDP gives each (netdev, queue) one buffer pool, so every partition
	// receiving from the interface must share one UMEM (check() refuses a
	// topology without one).
	const RegionSpec *umem = umem_region(topo_);
	if (!umem)
		throw Error("no region is shared by every partition that receives from " + topo_.interface +
			    " (AF_XDP needs one UMEM per queue)");
	uint32_t quota = frames_per_partition(*umem);
	if (!quota)
		throw Error("region " + umem->name + " cannot give each of its partitions " +
			    std::to_string(kMinFramesPerPartition) + " frames");
	// The layout `topology check` judged (topology.h), with an eventfd
	// doorbell for each forward ring.
	RegionLayout l = region_layout(topo_, *umem);
	frame_size_ = umem->frame_size;
	nframes_ = uint32_t(umem->size / frame_size_);
	for (const mkdp_region_entry &e : l.table())
		if (e.kind == MKDP_ENTRY_RING && !std::strncmp(e.name, "fwd", 3))
			doorbell_fds_[e.name] = make_doorbell_eventfd();
	RegionOptions ro;
	ro.backing = umem->hugepages ? Backing::hugetlbfs : Backing::memfd;
	ro.name = "mkdp-" + umem->name;
	region_ = Region::create(l, ro);

	// Frame ownership: each sharing partition owns a disjoint range of
	// `quota` frames; what is left over is never lent.
	FramePool pool(nframes_, uint32_t(parts_.size()));
	uint32_t k = 0;
	for (Part &p : parts_) {
		p.umem = named(umem->shared_with, p.spec.name);
		if (p.umem)
			pool.give_range(p.index, k++ * quota, quota);
	}
	for (Part &p : parts_) {
		p.ctl_size = partition_ctl_size(nframes_);
		p.ctl_fd = memfd_create(("mkdp-ctl-" + p.spec.name).c_str(), MFD_CLOEXEC);
		if (p.ctl_fd < 0)
			throw_errno("memfd_create");
		if (ftruncate(p.ctl_fd, off_t(p.ctl_size)))
			throw_errno("size the control memfd");
		void *m = mmap(nullptr, p.ctl_size, PROT_READ | PROT_WRITE, MAP_SHARED, p.ctl_fd, 0);
		if (m == MAP_FAILED)
			throw_errno("map the control memfd");
		p.ctl = static_cast<PartitionCtl *>(m);
		p.ctl->magic = kPartitionCtlMagic;
		p.ctl->frames = nframes_;
	}

	// The other regions: shared memory for the partitions named for each,
	// and only for them (a ring_abi image with one data area).
	for (const RegionSpec &r : topo_.regions) {
		if (&r == umem)
			continue;
		RegionLayout rl;
		rl.area("data", r.size, r.frame_size);
		RegionOptions o;
		o.backing = r.hugepages ? Backing::hugetlbfs : Backing::memfd;
		o.name = "mkdp-" + r.name;
		extra_.push_back(Region::create(rl, o));
		extra_names_.push_back(r.name);
		for (Part &p : parts_)
			if (named(r.shared_with, p.spec.name))
				p.regions.push_back(extra_.size() - 1);
	}
	return pool;
}

// The next partition sharing the UMEM after p, cyclically; -1 if none.
int32_t Supervisor::forward_to(const Part &p) const
{
	for (size_t k = 1; k < parts_.size(); k++) {
		const Part &q = parts_[(p.index + k) % parts_.size()];
		if (q.umem)
			return int32_t(q.index);
	}
	return -1;
}

void Supervisor::setup_queues(FramePool pool)
{
	std::vector<uint32_t> ids;
	for (const Part &p : parts_)
		for (uint32_t q : p.spec.queues)
			if (std::find(ids.begin(), ids.end(), q) == ids.end())
				ids.push_back(q);
	std::sort(ids.begin(), ids.end());
	if (ids.empty())
		throw Error("no partition receives from any queue");
	// Split the lent frames between the fill rings, keeping a reserve in
	// the pool: a fill ring of a queue with no traffic holds its frames
	// for good, so together they must leave enough for the busy ones.
	uint64_t lent = 0;
	for (const Part &p : parts_)
		lent += pool.info(p.index).quota;
	uint32_t entries = std::min<uint32_t>(pow2_floor(lent / (ids.size() + 1)), 4096);
	std::vector<FillQueue> qs;
	std::span<uint8_t> umem = region_.area("frames");
	in_ns(topo_.netns, [&] {
		qs = open_fill_queues(ifindex_, ids, umem, frame_size_, entries, [&] { checkpoint("sockets"); });
	});
	bool forwarding = opts_.forward_every != 0;
	std::vector<uint8_t> gets_forwards(parts_.size(), 0);
	for (Part &p : parts_)
		if (p.umem && forwarding && forward_to(p) >= 0)
			gets_forwards[size_t(forward_to(p))] = 1;
	// The pool learns which queues each partition's frames may come
	// from, and which partitions lend to each queue.
	for (uint32_t qi = 0; qi < ids.size(); qi++) {
		std::vector<uint32_t> lenders;
		for (const Part &p : parts_)
			if (std::find(p.spec.queues.begin(), p.spec.queues.end(), ids[qi]) != p.spec.queues.end())
				lenders.push_back(p.index);
		pool.add_queue(entries, lenders);
	}
	for (Part &p : parts_) {
		std::vector<uint8_t> on_queue(ids.size(), 0);
		for (uint32_t q : p.spec.queues) {
			uint32_t qi = uint32_t(std::find(ids.begin(), ids.end(), q) - ids.begin());
			p.qidx.push_back(qi);
			on_queue[qi] = 1;
		}
		pool.set_sources(p.index, std::move(on_queue), gets_forwards[p.index]);
	}
	data_.emplace(region_, frame_size_, std::move(pool), std::move(qs));
	for (Part &p : parts_) {
		if (!p.umem)
			continue;
		Consumer<FrameAddr> ret = region_.consumer<FrameAddr>("ret" + std::to_string(p.index));
		// Return rings are drained by polling in the data path: say so
		// in the ring, so a partition's producer side agrees.
		Doorbell polled(ret, {.strategy = DoorbellStrategy::polled});
		data_->add_partition(p.index, std::move(ret), p.ctl);
	}
	data_->refill();
}

void Supervisor::attach_steering()
{
	AttachOptions o;
	o.config.policy = MKDP_STEER_POLICY_RULES | MKDP_STEER_POLICY_HASH | MKDP_STEER_POLICY_QUEUE;
	o.config.default_action = SteerAction::pass;
	o.config.partitions = uint32_t(parts_.size());
	// Over a program the user attached already, keep what up has no say in
	// (hash seed, symmetry), say what changes, and remember the rest for
	// down (user_steering.h). Recorded before the change: a supervisor
	// that dies during it is undone by giving the user's program back.
	o.fields = SteerConfig::f_policy | SteerConfig::f_default | SteerConfig::f_partitions;
	in_ns(topo_.netns, [&] { user_ = UserSteering::find(topo_.interface); });
	write_state_file();
	in_ns(topo_.netns, [&] { steer_.emplace(Steering::attach(topo_.interface, o)); });
	attached_ = true;
	write_state_file();
	if (user_ && up_) {
		std::string where = topo_.interface + (topo_.netns.empty() ? "" : " in " + topo_.netns);
		std::string ch = user_->changes_to(steer_->config());
		up_->note("steering on " + where + " was attached before up: " +
			  (ch.empty() ? "up changes nothing in it" : "up changes " + ch) +
			  "; down gives it back as it was (" + user_->summary() + ")");
	}
}

// What `down` needs to clean up after a supervisor that died.
void Supervisor::write_state_file()
{
	json cg = json::array();
	for (const Part &p : parts_)
		if (p.placement.cgroup())
			cg.push_back(p.placement.path);
	json st{{"interface", topo_.interface}, {"netns", topo_.netns}, {"cgroups", cg}};
	if (user_)
		st["user_steering"] = user_->to_json();
	std::ofstream f(kSupervisorState);
	f << st.dump() << "\n";
}

void Supervisor::teardown() noexcept
{
	// The data path first: what follows unmaps what it reads.
	if (data_) {
		data_->stop();
		for (Part &p : parts_)
			data_->deactivate(p.index, true);
	}
	for (Part &p : parts_)
		if (p.pid > 0)
			kill(p.pid, SIGTERM);
	uint64_t until = now_ns() + kStopTimeoutNs;
	for (Part &p : parts_) {
		while (p.pid > 0) {
			int status;
			int r = waitpid(p.pid, &status, WNOHANG);
			if (r == p.pid || (r < 0 && errno == ECHILD)) {
				p.pid = 0;
				break;
			}
			if (now_ns() > until)
				kill(p.pid, SIGKILL);
			usleep(1000);
		}
		close_sockets(p);
		// Its tasks are reaped, so this is quick; a stranger put in the
		// cgroup is waited for a little, then named.
		if (std::string why = remove_cpuset(p.placement); !why.empty())
			problems_.push_back(why);
		p.placement = {};
		finish_waiters(p, {{"ok", false}, {"error", "the supervisor is going down"}});
	}
	exports_.stop_all();	// unmounted before their sessions go
	storage_.reset();	// its sessions end; the partitions serving it are gone
	undo_steering();
	steer_.reset();
	if (data_)
		data_->close_queues();
	data_.reset();
	for (Part &p : parts_) {
		if (p.ctl)
			munmap(p.ctl, p.ctl_size);
		p.ctl = nullptr;
		if (p.ctl_fd >= 0)
			close(p.ctl_fd);
		p.ctl_fd = -1;
	}
	region_ = Region();
	extra_.clear();
	for (const auto &[ring, fd] : doorbell_fds_)
		close(fd);
	doorbell_fds_.clear();
	server_.close();
	for (int *fd : {&chld_fd_, &term_fd_})
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
	unlink(kSupervisorSocket);
	unlink(kSupervisorState);
	unlink(kSupervisorPidfile);
	rmdir(kRunDir);
}

// Detaches the program up attached, or gives the user's back as it was.
void Supervisor::undo_steering() noexcept
{
	if (!attached_ && !user_)
		return;
	std::string where = topo_.interface + (topo_.netns.empty() ? "" : " in " + topo_.netns);
	try {
		in_ns(topo_.netns, [&] {
			if (user_) {
				user_->restore();
				steer_undone_ = "steering on " + where + " given back as attached before up (" +
						user_->summary() + ")";
			} else {
				Steering::detach(topo_.interface);
				steer_undone_ = "steering detached from " + where;
			}
		});
	} catch (const std::exception &e) {
		problems_.push_back(std::string(user_ ? "give back" : "detach") + " the steering on " + where + ": " +
				    e.what());
	}
	attached_ = false;
	user_.reset();
}

std::string Supervisor::problems() const
{
	std::string s;
	for (const std::string &x : problems_)
		s += (s.empty() ? "" : "; ") + x;
	return s;
}

} // namespace mkdp
