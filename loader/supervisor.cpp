// SPDX-License-Identifier: BSD-2-Clause
// The supervisor daemon. One thread, one loop: drain return rings, refill
// fill rings, reap and reclaim partitions, answer the control socket. See
// docs/partitions.md for the frame ownership protocol it enforces.
#include "supervisor.h"
#include "supervisor_leftovers.h"
#include "up_handshake.h"
#include "user_steering.h"

#include <mkdp/cgroup.h>
#include <mkdp/cpu.h>
#include <mkdp/doorbell.h>
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>
#include <mkdp/netns.h>
#include <mkdp/partition.h>
#include <mkdp/privileges.h>
#include <mkdp/region.h>
#include <mkdp/supervisor.h>
#include <mkdp/testbed.h>
#include <mkdp/xsk_ring_map.h>
#include <mkdp/xsk_wakeup.h>
#include <steer_loader.h>

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace mkdp {

namespace {

using json = nlohmann::json;

constexpr uint32_t kRxEntries = 2048;	// per (queue, partition) socket
constexpr uint32_t kFwdEntries = 1024;	// per forward ring
constexpr uint32_t kFillBatch = 512;	// per queue and pass: one pass restores a drained fill ring
constexpr uint64_t kSettleNs = 20'000'000;	// after clearing XSKMAP slots, before reading RX rings
constexpr uint64_t kStartTimeoutNs = 5'000'000'000;
constexpr uint64_t kStopTimeoutNs = 2'000'000'000;

enum : uint8_t { FREE = 0, FILL = 1, OUT = 2 };
constexpr uint16_t kNoOwner = UINT16_MAX;	// a frame beyond every partition's range: never lent

uint32_t pow2_floor(uint64_t v)
{
	uint32_t p = 1;
	while (uint64_t(p) * 2 <= v && p < (1U << 24))
		p *= 2;
	return p;
}

uint32_t pow2_ceil(uint64_t v)
{
	uint32_t p = 1;
	while (p < v)
		p *= 2;
	return p;
}

void in_ns(const std::string &ns, const std::function<void()> &fn)
{
	if (ns.empty())
		fn();
	else
		run_in_netns_fn(ns, fn);
}

// "a; b; c": several problems on one line.
std::string join(const std::vector<std::string> &v)
{
	std::string s;
	for (const std::string &x : v)
		s += (s.empty() ? "" : "; ") + x;
	return s;
}

std::string cpu_list(const std::vector<int> &cpus)
{
	std::string s;
	for (int c : cpus)
		s += (s.empty() ? "" : ",") + std::to_string(c);
	return s;
}

int xsk_socket()
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw_errno("create an AF_XDP socket");
	return fd;
}

void xsk_setopt(int fd, int opt, uint32_t v, const char *what)
{
	if (setsockopt(fd, SOL_XDP, opt, &v, sizeof(v)))
		throw_errno(what);
}

void xsk_bind(int fd, int ifindex, uint32_t queue, uint16_t flags, int shared_fd)
{
	sockaddr_xdp sa{};
	sa.sxdp_family = AF_XDP;
	sa.sxdp_ifindex = uint32_t(ifindex);
	sa.sxdp_queue_id = queue;
	sa.sxdp_flags = flags;
	sa.sxdp_shared_umem_fd = uint32_t(shared_fd);
	if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)))
		throw_errno("bind an AF_XDP socket to queue " + std::to_string(queue));
}

enum class PState { stopped, starting, running, stopping, reclaiming };

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

// A (netdev, queue): its anchor socket owns the fill/completion rings every
// partition socket bound there shares (it sits in no XSKMAP slot).
struct Queue {
	uint32_t id = 0;
	int anchor = -1;
	XskRingMap fill, comp;
	uint32_t prod = 0;	// what we published on the fill ring
	// Fill positions below this are known taken by the kernel: its
	// published consumer, or further (the ring is FIFO, so a frame that
	// came back proves every earlier slot was consumed; the kernel
	// publishes its consumer lazily).
	uint32_t seen_cons = 0;
	std::vector<uint32_t> shadow;	// frame posted in each fill slot
	std::vector<uint32_t> lenders;	// partitions whose frames feed this fill ring
	uint32_t rr = 0;		// round robin over lenders
	uint64_t fill_empty = 0;	// XDP_STATISTICS rx_fill_ring_empty_descs, last read
};

struct Part {
	PartitionSpec spec;
	uint32_t index = 0;
	std::vector<uint32_t> qidx;	// indices into Supervisor::queues_, per spec.queues
	PState state = PState::stopped;
	int pid = 0;
	int ctl_fd = -1;
	PartitionCtl *ctl = nullptr;
	size_t ctl_size = 0;
	std::vector<int> xsk;		// one per queue, this incarnation
	std::vector<XskRingMap> rx;
	CpuPlacement placement;
	Consumer<FrameAddr> ret;
	bool umem = false;		// shares the UMEM region (has ret/fwd rings and a frame range)
	std::vector<uint8_t> on_queue;	// per Supervisor::queues_ entry: it has a socket there
	bool gets_forwards = false;	// some peer forwards frames to it
	uint32_t base = 0, quota = 0;	// its frame range [base, base + quota)
	std::vector<uint32_t> free;	// FREE frames of its range
	bool throttled = false;		// over quota: its XSKMAP slots are cleared
	uint64_t throttles = 0;
	std::vector<size_t> regions;	// indices into Supervisor::extra_
	uint64_t xsk_dropped = 0, xsk_ring_full = 0;	// XDP_STATISTICS over its sockets
	uint64_t deadline = 0;		// starting: give up; stopping: SIGKILL
	uint64_t settle_at = 0;		// reclaiming: read RX rings after this
	bool restart_after = false;
	bool died_starting = false;	// exited before it was ready
	std::vector<int> waiters;	// clients waiting for the current transition
	std::string waiter_cmd;
	unsigned starts = 0;
	int last_status = -1;
	uint64_t refused = 0, reclaimed = 0;
	uint64_t started_ns = 0;
};

struct Client {
	int fd;
	std::string in;
};

std::string start_failure(const Part &p)
{
	std::string why(p.ctl->error, strnlen(p.ctl->error, sizeof(p.ctl->error)));
	return "partition " + p.spec.name + " exited during start-up (status " + std::to_string(p.last_status) +
	       (why.empty() ? "" : ": " + why) + ")";
}

// Per-partition frame accounting (see status())
struct FrameTally {
	uint64_t in_flight = 0;	// charged to it: held, in its RX rings, forwarded to it, on its return ring
	uint64_t fill = 0;	// of its range, in fill rings
	uint64_t leaked = 0;	// of its range, lent and found nowhere
};

class Supervisor {
public:
	// `up`, when given, is checked at each set-up step (up_handshake.h).
	Supervisor(const Topology &t, const SupervisorOptions &o, UpReport *up = nullptr)
		: topo_(t), opts_(o), up_(up) {}
	~Supervisor() { teardown(); }

	void setup();
	void listen_control();
	void loop();
	void teardown() noexcept;
	// What the last teardown could not remove ("" when nothing).
	std::string problems() const;

private:
	void checkpoint(const char *phase)
	{
		if (up_)
			up_->checkpoint(phase);
	}
	void undo_steering() noexcept;
	void setup_region();
	void setup_queues();
	void attach_steering();
	void start(Part &p);
	void spawn(Part &p);
	void make_sockets(Part &p);
	void close_sockets(Part &p) noexcept;
	void begin_stop(Part &p, int sig);
	void on_exit(Part &p, int status);
	void reclaim(Part &p);
	void release(uint32_t f);
	void learn_consumed(uint32_t f);
	bool held(const Part &p, uint32_t f) const;
	uint64_t charge(const Part &p) const;
	void enforce_quotas();
	void clear_slots(Part &p) noexcept;
	void set_slots(Part &p);
	int32_t forward_to(const Part &p) const;

	uint32_t drain_returns();
	uint32_t refill();
	void check_transitions();
	void reap();

	void serve(int timeout_us);
	void handle(Client &c, const std::string &line);
	void reply(int fd, const json &j) noexcept;
	void finish_waiters(Part &p, const json &j);
	Part *find(const std::string &name);
	json part_json(const Part &p, const std::vector<FrameTally> &fa) const;
	json status();
	void write_state_file();

	Topology topo_;
	SupervisorOptions opts_;
	UpReport *up_;
	std::optional<Steering> steer_;
	bool attached_ = false;
	std::optional<UserSteering> user_;	// the program the user had attached before up
	std::string steer_undone_;		// what teardown did with the steering
	std::vector<std::string> problems_;	// what teardown could not undo
	Region region_;
	std::span<uint8_t> frames_area_;
	uint32_t frame_size_ = 2048, nframes_ = 0;
	std::vector<uint8_t> state_;	// per frame: FREE, FILL, OUT
	std::vector<uint16_t> owner_;	// per frame: the partition whose range it is in
	std::vector<uint32_t> slot_;	// per FILL/OUT frame: the fill position it was posted at
	std::vector<uint16_t> fillq_;	// ... and the queue (index into queues_)
	std::vector<Region> extra_;	// the topology's other regions
	std::vector<std::string> extra_names_;
	std::vector<Queue> queues_;
	std::vector<Part> parts_;
	int ifindex_ = 0;
	int listen_fd_ = -1, sig_fd_ = -1;
	std::vector<Client> clients_;
	bool quit_ = false;
	int down_client_ = -1;
	uint64_t refused_ = 0;
	std::map<std::string, int> doorbell_fds_;	// forward ring -> its doorbell's eventfd
};

// ---- set-up ----------------------------------------------------------------------

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

	uint32_t i = 0;
	for (const PartitionSpec &s : topo_.partitions) {
		Part p;
		p.spec = s;
		p.index = i++;
		parts_.push_back(std::move(p));
	}
	// An interrupted `up` is noticed at each step, and the caller tears
	// down what exists so far.
	setup_region();
	checkpoint("region");
	setup_queues();
	attach_steering();
	checkpoint("steering");
	for (Part &p : parts_) {
		start(p);
		checkpoint("partitions");
	}
	// Wait for every partition to be up before saying so.
	auto settled = [](const Part &p) { return p.state == PState::running || p.state == PState::stopped; };
	while (!std::all_of(parts_.begin(), parts_.end(), settled)) {
		reap();
		check_transitions();
		drain_returns();
		refill();
		if (up_)
			up_->pause(1);
		else
			usleep(1000);
	}
	for (const Part &p : parts_)
		if (p.state != PState::running)
			throw Error(start_failure(p));
}

void Supervisor::setup_region()
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
	frame_size_ = umem->frame_size;
	nframes_ = uint32_t(umem->size / frame_size_);
	std::vector<Part *> sharers;
	for (Part &p : parts_) {
		p.umem = std::find(umem->shared_with.begin(), umem->shared_with.end(), p.spec.name) !=
			 umem->shared_with.end();
		if (p.umem)
			sharers.push_back(&p);
	}
	RegionLayout l;
	l.area("frames", uint64_t(nframes_) * frame_size_, frame_size_);
	for (Part *p : sharers)
		l.ring("ret" + std::to_string(p->index), MKDP_DESC_ADDR, pow2_ceil(nframes_), "frames");
	for (Part *p : sharers)
		for (Part *q : sharers)
			if (p != q) {
				std::string name = "fwd" + std::to_string(p->index) + "-" + std::to_string(q->index);
				l.ring(name, MKDP_DESC_FRAME, kFwdEntries, "frames");
				doorbell_fds_[name] = make_doorbell_eventfd();
			}
	RegionOptions ro;
	ro.backing = umem->hugepages ? Backing::hugetlbfs : Backing::memfd;
	ro.name = "mkdp-" + umem->name;
	region_ = Region::create(l, ro);
	frames_area_ = region_.area("frames");

	// Frame ownership: each sharing partition owns a disjoint range of
	// `quota` frames; what is left over is never lent.
	state_.assign(nframes_, FREE);
	owner_.assign(nframes_, kNoOwner);
	slot_.assign(nframes_, 0);
	fillq_.assign(nframes_, 0);
	for (size_t k = 0; k < sharers.size(); k++) {
		Part &p = *sharers[k];
		p.base = uint32_t(k) * quota;
		p.quota = quota;
		for (uint32_t f = p.base + quota; f-- > p.base;) {
			owner_[f] = uint16_t(p.index);
			p.free.push_back(f);
		}
		p.ret = region_.consumer<FrameAddr>("ret" + std::to_string(p.index));
		// Return rings are drained by polling in the service loop: say
		// so in the ring, so a partition's producer side agrees.
		Doorbell polled(p.ret, {.strategy = DoorbellStrategy::polled});
	}
	for (Part &p : parts_)
		if (p.umem && opts_.forward_every && forward_to(p) >= 0)
			parts_[size_t(forward_to(p))].gets_forwards = true;

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
			if (std::find(r.shared_with.begin(), r.shared_with.end(), p.spec.name) != r.shared_with.end())
				p.regions.push_back(extra_.size() - 1);
	}
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

void Supervisor::setup_queues()
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
		lent += p.quota;
	uint32_t fill_entries = pow2_floor(lent / (ids.size() + 1));
	if (fill_entries > 4096)
		fill_entries = 4096;
	queues_.resize(ids.size());
	in_ns(topo_.netns, [&] {
		for (size_t i = 0; i < ids.size(); i++) {
			Queue &q = queues_[i];
			q.id = ids[i];
			q.anchor = xsk_socket();
			if (i == 0) {
				xdp_umem_reg mr{};
				mr.addr = reinterpret_cast<uint64_t>(frames_area_.data());
				mr.len = frames_area_.size();
				mr.chunk_size = frame_size_;
				if (setsockopt(q.anchor, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)))
					throw_errno("register the UMEM");
			}
			xsk_setopt(q.anchor, XDP_UMEM_FILL_RING, fill_entries, "size the fill ring");
			xsk_setopt(q.anchor, XDP_UMEM_COMPLETION_RING, fill_entries, "size the completion ring");
			xsk_setopt(q.anchor, XDP_RX_RING, 64, "size the anchor's RX ring");
			q.fill = XskRingMap(q.anchor, XskRingKind::fill, fill_entries);
			q.comp = XskRingMap(q.anchor, XskRingKind::completion, fill_entries);
			q.shadow.assign(fill_entries, 0);
			if (i == 0)
				xsk_bind(q.anchor, ifindex_, q.id, XDP_USE_NEED_WAKEUP, -1);
			else	// same UMEM, another queue: a buffer pool of its own
				xsk_bind(q.anchor, ifindex_, q.id, XDP_SHARED_UMEM, queues_[0].anchor);
			checkpoint("sockets");
		}
	});
	for (Part &p : parts_) {
		p.on_queue.assign(queues_.size(), 0);
		for (uint32_t q : p.spec.queues) {
			uint32_t qi = uint32_t(std::find(ids.begin(), ids.end(), q) - ids.begin());
			p.qidx.push_back(qi);
			p.on_queue[qi] = 1;
			queues_[qi].lenders.push_back(p.index);
		}
	}
	refill();
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

// ---- partitions ------------------------------------------------------------------

void Supervisor::make_sockets(Part &p)
{
	in_ns(topo_.netns, [&] {
		for (uint32_t qi : p.qidx) {
			int fd = xsk_socket();
			p.xsk.push_back(fd);
			xsk_setopt(fd, XDP_RX_RING, kRxEntries, "size the RX ring");
			xsk_bind(fd, ifindex_, queues_[qi].id, XDP_SHARED_UMEM, queues_[qi].anchor);
			apply_xsk_wake_mode(fd, parse_xsk_wake_mode(p.spec.wakeup),
					    {p.spec.busy_poll_usecs, p.spec.busy_poll_budget});
			p.rx.emplace_back(fd, XskRingKind::rx, kRxEntries);
		}
	});
}

void Supervisor::close_sockets(Part &p) noexcept
{
	p.rx.clear();
	for (int fd : p.xsk)
		close(fd);
	p.xsk.clear();
}

void Supervisor::clear_slots(Part &p) noexcept
{
	if (!steer_)
		return;
	for (uint32_t q : p.spec.queues) {
		try {
			steer_->clear_socket(q, p.index);
		} catch (const std::exception &) {
		}
	}
}

void Supervisor::set_slots(Part &p)
{
	for (size_t i = 0; i < p.xsk.size(); i++)
		steer_->set_socket(p.spec.queues[i], p.index, p.xsk[i]);
}

void Supervisor::start(Part &p)
{
	make_sockets(p);
	__atomic_store_n(&p.ctl->ready, 0, __ATOMIC_RELAXED);
	std::memset(p.ctl->error, 0, sizeof(p.ctl->error));
	spawn(p);
	p.state = PState::starting;
	p.deadline = now_ns() + kStartTimeoutNs;
	p.starts++;
}

void Supervisor::spawn(Part &p)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		throw_errno("socketpair");
	int pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		throw_errno("fork", e);
	}
	if (pid == 0) {
		// A fresh image: nothing of the supervisor's memory (other
		// partitions' control blocks, the fill rings) survives exec, and
		// no fd but the socket does.
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, nullptr);
		signal(SIGPIPE, SIG_DFL);	// ignored by the supervisor; exec would keep that
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		std::string name = "mkdp-part-" + p.spec.name;
		execl(opts_.exe.c_str(), name.c_str(), "partition-run", "--sock", "3", (char *)nullptr);
		_exit(127);
	}
	close(sv[1]);
	p.pid = pid;
	p.started_ns = now_ns();
	try {
		CpuPlacement np = place_in_cpuset(p.spec.name, cpu_list(p.spec.cpus), pid);
		if (p.placement.cgroup() && p.placement.path != np.path)
			remove_cpuset(p.placement);
		p.placement = np;
		write_state_file();
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
			if (std::sscanf(ring.c_str(), "fwd%u-%u", &from, &to) == 2 &&
			    (from == p.index || to == p.index)) {
				plan.doorbells.push_back(ring);
				fds.push_back(fd);
			}
		}
		send_fds(sv[0], fds, plan.to_json());
	} catch (...) {
		close(sv[0]);
		kill(pid, SIGKILL);
		throw;
	}
	close(sv[0]);
}

void Supervisor::begin_stop(Part &p, int sig)
{
	// No new frames for it: the steering program counts them no_socket
	// and applies the default action from now on.
	clear_slots(p);
	kill(p.pid, sig);
	p.state = PState::stopping;
	p.deadline = now_ns() + kStopTimeoutNs;
}

void Supervisor::on_exit(Part &p, int status)
{
	p.last_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	p.pid = 0;
	p.died_starting = p.state == PState::starting;
	clear_slots(p);
	// Its cpuset cgroup stays for a restart: removing one (a v1 cpuset
	// waits for an RCU grace period, ~50 ms here) would stall this loop
	// and the survivors' fill rings with it. teardown() removes it.
	// Let redirects already in flight on other CPUs land before the RX
	// rings are read for the last time.
	p.state = PState::reclaiming;
	p.settle_at = now_ns() + kSettleNs;
}

bool Supervisor::held(const Part &p, uint32_t f) const
{
	return (__atomic_load_n(&p.ctl->held[f / 64], __ATOMIC_ACQUIRE) >> (f % 64)) & 1;
}

// The kernel takes fill slots in order: a frame that was delivered proves
// every slot up to its own was consumed, whatever the published consumer
// says yet.
void Supervisor::learn_consumed(uint32_t f)
{
	Queue &q = queues_[fillq_[f]];
	uint32_t s = slot_[f];
	if (s - q.seen_cons >= q.prod - q.seen_cons)
		return;	// already known consumed
	for (uint32_t i = q.seen_cons; i != s + 1; i++) {
		uint32_t g = q.shadow[i & q.fill.mask()];
		if (state_[g] == FILL && slot_[g] == i)
			state_[g] = OUT;
	}
	q.seen_cons = s + 1;
}

// Back into its owner's pool. Every partition's held bit for it is cleared
// first, so a FREE (and later a FILL) frame never has a held bit: a set
// bit always names a frame that left the fill ring and is not back yet,
// which is what reclaim and the return check rely on.
void Supervisor::release(uint32_t f)
{
	for (Part &o : parts_)
		__atomic_fetch_and(&o.ctl->held[f / 64], ~(1ULL << (f % 64)), __ATOMIC_RELEASE);
	if (state_[f] == FILL)
		learn_consumed(f);
	state_[f] = FREE;
	parts_[owner_[f]].free.push_back(f);
}

// Every frame the dead partition could have: in its RX rings, on its return
// ring, in forward rings towards it, and those its held bitmap names that
// are not elsewhere.
void Supervisor::reclaim(Part &p)
{
	auto take = [&](uint64_t f) {
		if (f < nframes_ && state_[f] != FREE) {
			release(uint32_t(f));
			p.reclaimed++;
		}
	};
	for (XskRingMap &r : p.rx) {
		uint32_t prod = r.load_producer();
		for (uint32_t i = r.load_consumer(); i != prod; i++)
			take(r.rx_desc(i)->addr / frame_size_);
	}
	close_sockets(p);
	drain_returns();	// its own return ring included: those were its frames
	std::vector<uint8_t> elsewhere(nframes_, 0);
	auto mark = [&](uint64_t f) {
		if (f < nframes_)
			elsewhere[f] = 1;
	};
	for (const mkdp_region_entry &e : region_.entries()) {
		unsigned from, to;
		if (e.kind != MKDP_ENTRY_RING || std::sscanf(e.name, "fwd%u-%u", &from, &to) != 2)
			continue;
		auto *ctl = reinterpret_cast<mkdp_ring *>(region_.base() + e.offset);
		auto *slots = reinterpret_cast<const mkdp_frame_desc *>(ctl + 1);
		uint32_t prod = __atomic_load_n(&ctl->producer, __ATOMIC_ACQUIRE);
		uint32_t cons = __atomic_load_n(&ctl->consumer, __ATOMIC_ACQUIRE);
		if (prod - cons > e.entries)
			continue;
		if (to == p.index) {
			// Nobody consumes it while p is dead: take it all back.
			for (uint32_t i = cons; i != prod; i++)
				take(slots[i & (e.entries - 1)].addr / frame_size_);
			__atomic_store_n(&ctl->consumer, prod, __ATOMIC_RELEASE);
		} else if (from == p.index) {
			// Its peer will hold and return these.
			for (uint32_t i = cons; i != prod; i++)
				mark(slots[i & (e.entries - 1)].addr / frame_size_);
		}
	}
	// A bit of p's can be stale only for a frame it forwarded and died
	// before clearing: that frame moves forward ring -> peer's held bit
	// (which stays set until we take it back); reading in that order
	// cannot miss it. Live RX rings are read too: a frame the kernel gave
	// a live partition is never p's.
	for (const Part &o : parts_) {
		if (&o == &p || o.state == PState::stopped || o.state == PState::reclaiming)
			continue;
		for (uint32_t w = 0; w < (nframes_ + 63) / 64; w++)
			for (uint64_t b = __atomic_load_n(&o.ctl->held[w], __ATOMIC_ACQUIRE); b; b &= b - 1)
				mark(w * 64 + uint64_t(__builtin_ctzll(b)));
		for (const XskRingMap &r : o.rx) {
			uint32_t prod = r.load_producer();
			for (uint32_t i = r.load_consumer(); i != prod; i++)
				mark(r.rx_desc(i)->addr / frame_size_);
		}
	}
	// What is left is p's: FREE and FILL frames carry no bit (release()
	// clears them), so a set bit names a frame the kernel gave p (or a
	// peer forwarded to it) that never came back.
	for (uint32_t w = 0; w < (nframes_ + 63) / 64; w++) {
		for (uint64_t b = p.ctl->held[w]; b; b &= b - 1) {
			uint32_t f = w * 64 + uint32_t(__builtin_ctzll(b));
			if (f < nframes_ && !elsewhere[f])
				take(f);
		}
		__atomic_store_n(&p.ctl->held[w], 0, __ATOMIC_RELEASE);
	}
	p.state = PState::stopped;
}

// What a partition is charged for: frames it holds (returned ones count
// until we take them back) and frames waiting in its RX rings.
uint64_t Supervisor::charge(const Part &p) const
{
	uint64_t n = 0;
	for (uint32_t w = 0; w < (nframes_ + 63) / 64; w++)
		n += uint64_t(__builtin_popcountll(__atomic_load_n(&p.ctl->held[w], __ATOMIC_RELAXED)));
	for (const XskRingMap &r : p.rx)
		n += r.load_producer() - r.load_consumer();
	return n;
}

// A partition may have at most its range's worth of frames out: one that is
// stuck (alive, not returning) would otherwise soak up the frames the
// others' queues are filled with. Over quota, its XSKMAP slots are cleared
// (its traffic takes the default action, as if it were dead) until it is
// back under half its quota.
void Supervisor::enforce_quotas()
{
	for (Part &p : parts_) {
		if (p.state != PState::running || !p.umem)
			continue;
		uint64_t c = charge(p);
		if (!p.throttled && c >= p.quota) {
			clear_slots(p);
			p.throttled = true;
			p.throttles++;
		} else if (p.throttled && c <= p.quota / 2) {
			set_slots(p);
			p.throttled = false;
		}
	}
}

// ---- the data path: returns and refills ---------------------------------------

uint32_t Supervisor::drain_returns()
{
	uint32_t total = 0;
	FrameAddr batch[256];
	for (Part &p : parts_) {
		if (!p.umem)
			continue;
		uint32_t idx, n = p.ret.peek(256, &idx);
		for (uint32_t i = 0; i < n; i++) {
			if (p.ret.fetch(idx + i, &batch[i]) != DescError::ok) {
				p.refused++;
				refused_++;
				continue;
			}
			uint32_t f = uint32_t(batch[i].addr / frame_size_);
			// Only a frame lent to p comes back from p: out of the
			// pool, held by p (its bit stays set until now), and
			// from a queue p receives from unless a peer forwards
			// to p. A second return finds it FREE or not held.
			if (state_[f] == FREE || !held(p, f) || (!p.on_queue[fillq_[f]] && !p.gets_forwards)) {
				p.refused++;
				refused_++;
				continue;
			}
			release(f);
		}
		if (n)
			p.ret.release(n);
		total += n;
	}
	return total;
}

uint32_t Supervisor::refill()
{
	uint32_t total = 0;
	for (uint32_t qi = 0; qi < queues_.size(); qi++) {
		Queue &q = queues_[qi];
		uint32_t cons = q.fill.load_consumer();
		if (int32_t(cons - q.seen_cons) > 0) {
			for (uint32_t i = q.seen_cons; i != cons; i++) {
				uint32_t f = q.shadow[i & q.fill.mask()];
				if (state_[f] == FILL && slot_[f] == i)
					state_[f] = OUT;
			}
			q.seen_cons = cons;
		}
		// Room from what we know consumed, not from the published
		// consumer: the kernel takes the ring's entries into a private
		// cache and publishes only when that runs out, then looks for
		// new entries at once. Waiting for the publication would leave
		// it nothing to find (fill_ring_empty, frames dropped) every
		// time round; slots before seen_cons are proven consumed (a
		// frame posted at or after them came back).
		uint32_t room = q.fill.entries() - (q.prod - q.seen_cons);
		uint32_t n = 0;
		for (; n < std::min(room, kFillBatch); n++) {
			// Round robin over the partitions that receive here:
			// each lends from its own range.
			uint32_t f = UINT32_MAX;
			for (size_t k = 0; k < q.lenders.size() && f == UINT32_MAX; k++) {
				Part &l = parts_[q.lenders[q.rr++ % q.lenders.size()]];
				if (!l.free.empty()) {
					f = l.free.back();
					l.free.pop_back();
				}
			}
			if (f == UINT32_MAX)
				break;
			uint32_t pos = q.prod + n;
			state_[f] = FILL;
			slot_[f] = pos;
			fillq_[f] = uint16_t(qi);
			q.shadow[pos & q.fill.mask()] = f;
			*q.fill.addr(pos) = uint64_t(f) * frame_size_;
		}
		if (n) {
			q.prod += n;
			q.fill.store_producer(q.prod);
			if (q.fill.need_wakeup())
				recvfrom(q.anchor, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
		}
		total += n;
	}
	return total;
}

// ---- process life --------------------------------------------------------------

void Supervisor::reap()
{
	for (;;) {
		int status;
		int pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		for (Part &p : parts_)
			if (p.pid == pid)
				on_exit(p, status);
	}
}

void Supervisor::check_transitions()
{
	uint64_t now = now_ns();
	for (Part &p : parts_) {
		switch (p.state) {
		case PState::starting:
			if (__atomic_load_n(&p.ctl->ready, __ATOMIC_ACQUIRE)) {
				set_slots(p);
				p.throttled = false;
				p.state = PState::running;
				finish_waiters(p, {{"ok", true}, {"partition", part_json(p, {})}});
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
				reclaim(p);
				if (p.restart_after && !quit_) {
					p.restart_after = false;
					try {
						start(p);
					} catch (const std::exception &e) {
						close_sockets(p);
						finish_waiters(p, {{"ok", false}, {"error", e.what()}});
					}
				} else if (p.died_starting) {
					finish_waiters(p, {{"ok", false}, {"error", start_failure(p)}});
				} else {
					finish_waiters(p, {{"ok", true}, {"partition", part_json(p, {})}});
				}
			}
			break;
		default:
			break;
		}
	}
}

// ---- control socket ------------------------------------------------------------

void Supervisor::reply(int fd, const json &j) noexcept
{
	std::string s = j.dump() + "\n";
	(void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL);
	close(fd);
}

void Supervisor::finish_waiters(Part &p, const json &j)
{
	for (int fd : p.waiters)
		reply(fd, j);
	p.waiters.clear();
}

Part *Supervisor::find(const std::string &name)
{
	for (Part &p : parts_)
		if (p.spec.name == name)
			return &p;
	return nullptr;
}

// `fa` is empty outside status(): then only the supervisor's own counters.
json Supervisor::part_json(const Part &p, const std::vector<FrameTally> &fa) const
{
	PartitionCounters c;
	std::memcpy(&c, &p.ctl->c, sizeof(c));
	json j{{"name", p.spec.name},
	       {"index", p.index},
	       {"pid", p.pid},
	       {"cpus", p.spec.cpus},
	       {"state", to_string(p.state)},
	       {"placement", p.state == PState::stopped ? "none" : p.placement.mode()},
	       {"netns", p.spec.netns},
	       {"queues", p.spec.queues},
	       {"uid", opts_.run_as.uid},
	       {"gid", opts_.run_as.gid},
	       {"starts", p.starts},
	       {"last_exit", p.last_status},
	       {"rx", c.rx},
	       {"rx_bytes", c.rx_bytes},
	       {"fwd", c.fwd},
	       {"fwd_rx", c.fwd_rx},
	       {"drops", c.drops},
	       {"returned", c.returned},
	       {"tag_sum", c.tag_sum},
	       {"tag_order_errors", c.tag_order_errors},
	       {"rx_flows", c.rx_flows},
	       {"fwd_addr_sum", c.fwd_addr_sum},
	       {"fwd_rx_addr_sum", c.fwd_rx_addr_sum},
	       {"bad_desc", c.bad_desc},
	       {"heartbeat", c.heartbeat},
	       {"wakeup", p.spec.wakeup},
	       {"kicks", c.kicks},
	       {"sleeps", c.sleeps},
	       {"doorbell_kicks", c.doorbell_kicks},
	       {"doorbell_suppressed", c.doorbell_suppressed}};
	json fr{{"quota", p.quota},
		{"range", {p.base, p.base + p.quota}},
		{"free", p.free.size()},
		{"refused_returns", p.refused},
		{"reclaimed", p.reclaimed},
		{"throttled", p.throttled},
		{"throttles", p.throttles}};
	if (!fa.empty()) {
		fr["in_flight"] = fa[p.index].in_flight;
		fr["fill"] = fa[p.index].fill;
		fr["leaked"] = fa[p.index].leaked;
	}
	j["frames"] = fr;
	j["xsk"] = {{"rx_dropped", p.xsk_dropped}, {"rx_ring_full", p.xsk_ring_full}};
	return j;
}

// Where every frame is. Exact when traffic is quiet; under traffic a frame
// moving between two places may be seen in neither (counted leaked) or both.
json Supervisor::status()
{
	drain_returns();
	std::vector<uint8_t> seen(nframes_, 0);
	std::vector<FrameTally> fa(parts_.size());
	uint64_t fill = 0, leaked = 0, free_n = 0, twice = 0;
	auto mark = [&](uint64_t f, int part) {
		if (f >= nframes_ || state_[f] == FREE)
			return;
		if (seen[f]) {
			twice++;	// quiet, this would be a frame lent twice
			return;
		}
		seen[f] = 1;
		if (part >= 0) {
			fa[size_t(part)].in_flight++;
		} else {
			fill++;
			if (owner_[f] != kNoOwner)
				fa[owner_[f]].fill++;
		}
	};
	for (Part &p : parts_) {
		if (p.state == PState::stopped)
			continue;
		for (uint32_t w = 0; w < (nframes_ + 63) / 64; w++)
			for (uint64_t b = __atomic_load_n(&p.ctl->held[w], __ATOMIC_ACQUIRE); b; b &= b - 1)
				mark(w * 64 + uint64_t(__builtin_ctzll(b)), int(p.index));
		for (const XskRingMap &r : p.rx) {
			uint32_t prod = r.load_producer();
			for (uint32_t i = r.load_consumer(); i != prod; i++)
				mark(r.rx_desc(i)->addr / frame_size_, int(p.index));
		}
		p.xsk_dropped = p.xsk_ring_full = 0;
		for (int fd : p.xsk) {
			xdp_statistics xs{};
			socklen_t len = sizeof(xs);
			if (!getsockopt(fd, SOL_XDP, XDP_STATISTICS, &xs, &len)) {
				p.xsk_dropped += xs.rx_dropped;
				p.xsk_ring_full += xs.rx_ring_full;
			}
		}
	}
	for (const mkdp_region_entry &e : region_.entries()) {
		unsigned from, to;
		if (e.kind != MKDP_ENTRY_RING)
			continue;
		auto *ctl = reinterpret_cast<mkdp_ring *>(region_.base() + e.offset);
		uint32_t prod = __atomic_load_n(&ctl->producer, __ATOMIC_ACQUIRE);
		uint32_t cons = __atomic_load_n(&ctl->consumer, __ATOMIC_ACQUIRE);
		if (prod - cons > e.entries)
			continue;
		if (std::sscanf(e.name, "fwd%u-%u", &from, &to) == 2) {
			auto *s = reinterpret_cast<const mkdp_frame_desc *>(ctl + 1);
			for (uint32_t i = cons; i != prod; i++)
				mark(s[i & (e.entries - 1)].addr / frame_size_, int(to));
		} else if (std::sscanf(e.name, "ret%u", &from) == 1) {
			auto *s = reinterpret_cast<const FrameAddr *>(ctl + 1);
			for (uint32_t i = cons; i != prod; i++)
				mark(s[i & (e.entries - 1)].addr / frame_size_, int(from));
		}
	}
	json queues = json::array();
	for (Queue &q : queues_) {
		for (uint32_t i = q.seen_cons; i != q.prod; i++) {
			uint32_t f = q.shadow[i & q.fill.mask()];
			if (state_[f] == FILL && slot_[f] == i)
				mark(f, -1);
		}
		xdp_statistics xs{};
		socklen_t len = sizeof(xs);
		if (!getsockopt(q.anchor, SOL_XDP, XDP_STATISTICS, &xs, &len))
			q.fill_empty = xs.rx_fill_ring_empty_descs;
		queues.push_back({{"queue", q.id}, {"fill_ring_empty", q.fill_empty}});
	}
	uint64_t spare = 0;
	for (uint32_t f = 0; f < nframes_; f++) {
		if (owner_[f] == kNoOwner)
			spare++;
		if (state_[f] == FREE) {
			free_n++;
		} else if (!seen[f]) {
			leaked++;
			fa[owner_[f]].leaked++;
		}
	}
	json parts = json::array();
	SteerStats st;
	try {
		st = steer_->read_stats();
	} catch (const std::exception &) {
	}
	for (const Part &p : parts_) {
		json j = part_json(p, fa);
		if (p.index < st.partitions.size()) {
			const auto &s = st.partitions[p.index];
			j["steering"] = {{"packets", s.packets},
					 {"no_socket", s.no_socket},
					 {"drops", s.drops},
					 {"redirect_errors", s.redirect_errors}};
		}
		parts.push_back(j);
	}
	json regions = json::array();
	for (size_t r = 0; r < extra_.size(); r++) {
		json who = json::array();
		for (const Part &p : parts_)
			if (std::find(p.regions.begin(), p.regions.end(), r) != p.regions.end())
				who.push_back(p.spec.name);
		regions.push_back({{"name", extra_names_[r]},
				   {"size", extra_[r].area("data").size()},
				   {"backing", extra_[r].hugetlb() ? "hugetlbfs" : "memfd"},
				   {"shared_with", who}});
	}
	return {{"ok", true},
		{"supervisor_pid", getpid()},
		{"interface", topo_.interface},
		{"netns", topo_.netns},
		{"topology", topo_.source},
		{"partitions", parts},
		{"queues", queues},
		{"regions", regions},
		{"region",
		 {{"frames", nframes_},
		  {"frame_size", frame_size_},
		  {"backing", region_.hugetlb() ? "hugetlbfs" : "memfd"},
		  {"spare", spare},
		  {"free", free_n - spare},
		  {"fill", fill},
		  {"in_flight", nframes_ - free_n - fill - leaked},
		  {"leaked", leaked},
		  {"seen_twice", twice},
		  {"refused_returns", refused_}}}};
}

void Supervisor::handle(Client &c, const std::string &line)
{
	json req;
	try {
		req = json::parse(line);
	} catch (const json::exception &) {
		return reply(c.fd, {{"ok", false}, {"error", "request is not JSON"}});
	}
	std::string cmd = req.value("cmd", "");
	if (cmd == "status" || cmd == "list")
		return reply(c.fd, status());
	if (cmd == "down") {
		quit_ = true;
		down_client_ = c.fd;
		return;
	}
	Part *p = find(req.value("name", ""));
	if (!p)
		return reply(c.fd, {{"ok", false},
				    {"error", cmd.empty() ? "no command" : "no partition named '" + req.value("name", "") + "'"}});
	bool running = p->state == PState::running || p->state == PState::starting;
	if (!p->waiters.empty() && p->state != PState::running && p->state != PState::stopped)
		return reply(c.fd, {{"ok", false}, {"error", "partition " + p->spec.name + " is " + to_string(p->state)}});
	try {
		if (cmd == "start") {
			if (p->state != PState::stopped)
				return reply(c.fd, {{"ok", false}, {"error", "partition " + p->spec.name + " is " + to_string(p->state)}});
			start(*p);
		} else if (cmd == "stop" || cmd == "kill") {
			if (!running)
				return reply(c.fd, {{"ok", false}, {"error", "partition " + p->spec.name + " is not running"}});
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
			return reply(c.fd, {{"ok", false}, {"error", "unknown command '" + cmd + "'"}});
		}
	} catch (const std::exception &e) {
		close_sockets(*p);
		return reply(c.fd, {{"ok", false}, {"error", e.what()}});
	}
	p->waiters.push_back(c.fd);
}

void Supervisor::serve(int timeout_us)
{
	std::vector<pollfd> pfds{{sig_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
	for (const Client &c : clients_)
		pfds.push_back({c.fd, POLLIN, 0});
	timespec ts{0, long(timeout_us) * 1000};
	if (ppoll(pfds.data(), pfds.size(), &ts, nullptr) <= 0)
		return;
	if (pfds[0].revents) {
		signalfd_siginfo si;
		while (read(sig_fd_, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo != SIGCHLD)
				quit_ = true;
	}
	if (pfds[1].revents) {
		int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			clients_.push_back({fd, {}});
	}
	for (size_t i = 2; i < pfds.size(); i++) {
		if (!pfds[i].revents)
			continue;
		Client &c = clients_[i - 2];
		char buf[4096];
		ssize_t n = read(c.fd, buf, sizeof(buf));
		if (n > 0)
			c.in.append(buf, size_t(n));
		size_t nl = c.in.find('\n');
		if (nl != std::string::npos) {
			std::string line = c.in.substr(0, nl);
			Client req{c.fd, {}};
			c.fd = -c.fd - 1;	// handed over: reply() closes it
			handle(req, line);
		} else if (n <= 0) {
			close(c.fd);
			c.fd = -c.fd - 1;
		}
	}
	std::erase_if(clients_, [](const Client &c) { return c.fd < 0; });
}

void Supervisor::listen_control()
{
	sigset_t set;
	sigemptyset(&set);
	for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP})
		sigaddset(&set, s);
	sig_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strncpy(sa.sun_path, kSupervisorSocket, sizeof(sa.sun_path) - 1);
	unlink(kSupervisorSocket);
	if (sig_fd_ < 0 || listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) ||
	    listen(listen_fd_, 16))
		throw_errno("control socket " + std::string(kSupervisorSocket));
}

void Supervisor::teardown() noexcept
{
	for (Part &p : parts_) {
		if (p.pid > 0) {
			clear_slots(p);
			kill(p.pid, SIGTERM);
		}
	}
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
	undo_steering();
	steer_.reset();
	for (Queue &q : queues_) {
		q.fill = {};
		q.comp = {};
		if (q.anchor >= 0)
			close(q.anchor);
		q.anchor = -1;
	}
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
	for (Client &c : clients_)
		close(c.fd);
	clients_.clear();
	if (listen_fd_ >= 0)
		close(listen_fd_);
	if (sig_fd_ >= 0)
		close(sig_fd_);
	listen_fd_ = sig_fd_ = -1;
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
	return join(problems_);
}

void Supervisor::loop()
{
	uint32_t idle = 0;
	while (!quit_) {
		uint32_t work = drain_returns() + refill();
		enforce_quotas();
		reap();
		check_transitions();
		// Busy: look at the control socket without waiting. Idle: sleep a
		// little longer each time, up to 1 ms, so an unpinned supervisor
		// does not steal the partitions' CPUs.
		idle = work ? 0 : std::min<uint32_t>(idle + 1, 20);
		serve(idle ? int(idle) * 50 : 0);
	}
	int fd = down_client_;
	teardown();
	if (fd >= 0)
		reply(fd, {{"ok", true}, {"steering", steer_undone_}, {"problems", problems()}});
}

// The daemon's main: set up, commit with `up` (up_handshake.h), loop.
int daemon_main(const Topology &t, const SupervisorOptions &o, UpReport &up)
{
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

} // namespace

int supervisor_up(const Topology &t, const SupervisorOptions &o, UpDetails *details)
{
	if (int pid = supervisor_pid())
		throw Error("mkdp is already up (supervisor pid " + std::to_string(pid) + "); run 'mkdp down' first");
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
