// SPDX-License-Identifier: BSD-2-Clause
// The partition runtime: what runs on a partition's dedicated CPUs. It is
// exec'd fresh by the supervisor (mkdp-partition), so its address space
// holds only what it was handed: one region, its control memfd and its
// AF_XDP sockets. See docs/partitions.md for the frame ownership protocol.
#include <mkdp/cpu.h>
#include <mkdp/doorbell.h>
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>
#include <mkdp/netns.h>
#include <mkdp/partition.h>
#include <mkdp/privileges.h>
#include <mkdp/region.h>
#include <mkdp/xsk_ring_map.h>
#include <mkdp/xsk_wakeup.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

namespace mkdp {

std::string PartitionPlan::to_json() const
{
	nlohmann::json vols = nlohmann::json::array();
	for (const PlanVolume &v : volumes)
		vols.push_back({{"volume", v.volume}, {"size", v.size}, {"memory", v.memory},
				{"direct", v.direct}, {"wakeup", v.wakeup}});
	return nlohmann::json{{"name", name},	       {"index", index},
			      {"cpus", cpus},	       {"netns", netns},
			      {"frame_size", frame_size}, {"forward_every", forward_every},
			      {"forward_to", forward_to}, {"rx_entries", rx_entries},
			      {"queues", queues},	       {"frames", frames},
			      {"umem", umem},	       {"regions", regions},
			      {"uid", uid},		       {"gid", gid},
			      {"wakeup", wakeup},	       {"forward_wakeup", forward_wakeup},
			      {"doorbells", doorbells},   {"verify_tags", verify_tags},
			      {"volumes", vols},	       {"topology_volumes", topology_volumes}}
		.dump();
}

PartitionPlan PartitionPlan::from_json(const std::string &s)
{
	try {
		auto j = nlohmann::json::parse(s);
		PartitionPlan p;
		p.name = j.at("name");
		p.index = j.at("index");
		p.cpus = j.at("cpus").get<std::vector<int>>();
		p.netns = j.at("netns");
		p.frame_size = j.at("frame_size");
		p.forward_every = j.at("forward_every");
		p.forward_to = j.at("forward_to");
		p.rx_entries = j.at("rx_entries");
		p.queues = j.at("queues").get<std::vector<uint32_t>>();
		p.frames = j.at("frames");
		p.umem = j.at("umem");
		p.regions = j.at("regions").get<std::vector<std::string>>();
		p.uid = j.at("uid");
		p.gid = j.at("gid");
		p.wakeup = j.at("wakeup");
		p.verify_tags = j.value("verify_tags", false);
		p.forward_wakeup = j.at("forward_wakeup");
		p.doorbells = j.at("doorbells").get<std::vector<std::string>>();
		for (const auto &v : j.at("volumes"))
			p.volumes.push_back({v.at("volume"), v.at("size"), v.at("memory"), v.at("direct"), v.at("wakeup")});
		p.topology_volumes = j.at("topology_volumes");
		return p;
	} catch (const nlohmann::json::exception &e) {
		throw Error(std::string("partition plan: ") + e.what());
	}
}

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int) { g_stop = 1; }

constexpr uint32_t kBatch = 64;
constexpr uint32_t kTagFlows = 64;	// flow slots of the tag order check
constexpr uint64_t kPollBudgetNs = 20000; // adaptive: spin this long on empty rings before sleeping
// A sleeping runtime wakes at least this often to look at g_stop (a
// SIGTERM just before poll() does not interrupt it) and beat its
// heartbeat. Frames and forwarded descriptors wake it at once.
constexpr int kSleepWatchdogMs = 100;
constexpr int kIdlePollMs = 1;		// run_idle's heartbeat period

// One AF_XDP RX ring, consumed by this process only.
struct RxRing {
	int fd = -1;
	XskRingMap map;
	uint32_t cons = 0;
};

class Runtime {
public:
	Runtime(const PartitionPlan &plan, Region region, PartitionCtl *ctl, std::vector<RxRing> rx,
		const std::map<std::string, int> &doorbell_fds)
		: plan_(plan), region_(std::move(region)), ctl_(ctl), rx_(std::move(rx)),
		  mode_(parse_xsk_wake_mode(plan.wakeup)), strategy_(parse_doorbell_strategy(plan.wakeup))
	{
		frames_ = region_.area("frames");
		ret_ = region_.producer<FrameAddr>("ret" + std::to_string(plan.index));
		// The supervisor drains return rings in its service loop: a
		// polled consumer (it records that in the ring).
		ret_db_ = Doorbell(ret_, {.strategy = DoorbellStrategy::polled});
		forwarding_ = plan.forward_to >= 0 && plan.forward_every;
		if (const char *f = std::getenv("MKDP_PARTITION_FAULT")) {
			std::string spec = f, want = plan.name + ":kill-after-return:";
			uint64_t n = spec.rfind(want, 0) == 0 ? std::strtoull(spec.c_str() + want.size(), nullptr, 10) : 0;
			if (ctl_->c.returned < n)	// first incarnation only
				fault_after_ = n;
		}
		// The forward ring's consumer waits with the peer's strategy,
		// so its producer (here) must kick the same way.
		auto doorbell = [&](const std::string &ring, const std::string &strategy) {
			auto fd = doorbell_fds.find(ring);
			return DoorbellOptions{.strategy = parse_doorbell_strategy(strategy),
					       .mechanism = WakeMechanism::eventfd,
					       .poll_budget_ns = kPollBudgetNs,
					       .eventfd = fd == doorbell_fds.end() ? -1 : fd->second};
		};
		if (forwarding_) {
			std::string name = fwd_name(plan.index, plan.forward_to);
			fwd_out_ = region_.producer<mkdp_frame_desc>(name);
			fwd_db_ = Doorbell(fwd_out_, doorbell(name, plan.forward_wakeup));
		}
		for (const mkdp_region_entry &e : region_.entries()) {
			unsigned from, to;
			if (e.kind == MKDP_ENTRY_RING && std::sscanf(e.name, "fwd%u-%u", &from, &to) == 2 &&
			    to == plan.index) {
				fwd_in_.push_back(region_.consumer<mkdp_frame_desc>(e.name));
				fwd_in_db_.emplace_back(fwd_in_.back(), doorbell(e.name, plan.wakeup));
			}
		}
	}

	static std::string fwd_name(uint32_t from, uint32_t to)
	{
		return "fwd" + std::to_string(from) + "-" + std::to_string(to);
	}

	// The wait loop, per wake-up mode (docs/doorbells.md, "In the
	// partition runtime"): after an empty pass over every source, kick the
	// AF_XDP sockets if the mode says so; polled spins on, adaptive spins
	// for its budget, then (and interrupt at once) arms the doorbells of its
	// incoming forward rings and sleeps in poll() on its sockets and their
	// eventfds, so a frame or a forwarded descriptor wakes it.
	void run()
	{
		std::vector<pollfd> pfds;
		for (RxRing &r : rx_)
			pfds.push_back({r.fd, POLLIN, 0});
		for (Doorbell &d : fwd_in_db_)
			if (d.wake_fd() >= 0)
				pfds.push_back({d.wake_fd(), POLLIN, 0});
		uint64_t idle_since = 0;
		while (!g_stop) {
			uint32_t work = 0;
			for (RxRing &r : rx_)
				work += poll_rx(r);
			for (auto &f : fwd_in_)
				work += poll_forwarded(f);
			bump(ctl_->c.heartbeat, 1);
			if (work) {
				idle_since = 0;
				continue;
			}
			kick_rx();
			if (strategy_ == DoorbellStrategy::adaptive) {
				uint64_t now = now_ns();
				if (!idle_since)
					idle_since = now;
				if (now - idle_since < kPollBudgetNs) {
					cpu_relax();
					continue;
				}
			}
			if (strategy_ == DoorbellStrategy::polled) {
				cpu_relax();
				continue;
			}
			sleep(pfds);
			idle_since = 0;
		}
	}

private:
	static void bump(uint64_t &c, uint64_t n) { __atomic_store_n(&c, c + n, __ATOMIC_RELAXED); }

	// The AF_XDP doorbell (xsk_wakeup.h): always (interrupt), on every
	// empty pass (polled: the syscall runs the busy-poll NAPI), or when
	// the kernel flagged the ring (adaptive). On RX the kernel raises
	// need_wakeup on the fill ring, which the supervisor owns and kicks;
	// the RX ring's own flag stays down, so an adaptive partition does
	// not kick its RX sockets.
	void kick_rx() noexcept
	{
		for (RxRing &r : rx_)
			if (xsk_should_kick(mode_, r.map.need_wakeup())) {
				xsk_kick_rx(r.fd);
				bump(ctl_->c.kicks, 1);
			}
	}

	// Arms every incoming forward ring (a ring that already holds work
	// means no sleep), sleeps until a socket or a doorbell is readable,
	// and disarms what it armed.
	void sleep(std::vector<pollfd> &pfds)
	{
		size_t armed = 0;
		while (armed < fwd_in_.size() && fwd_in_db_[armed].arm(fwd_in_[armed]))
			armed++;
		if (armed == fwd_in_.size()) {
			bump(ctl_->c.sleeps, 1);
			::poll(pfds.data(), pfds.size(), kSleepWatchdogMs);
		}
		for (size_t i = 0; i < armed; i++)
			fwd_in_db_[i].disarm(fwd_in_[i]);
	}

	// The held bit is set before the slot a frame came from is released. We
	// clear it only after a frame is on a forward ring (the receiver holds
	// it from then on); a returned frame's bit is cleared by the
	// supervisor when it takes the frame back. So a frame is always
	// visible to the supervisor somewhere if we die.
	void hold(uint64_t addr) noexcept
	{
		uint64_t f = addr / plan_.frame_size;
		__atomic_fetch_or(&ctl_->held[f / 64], 1ULL << (f % 64), __ATOMIC_RELAXED);
	}
	void unhold(uint64_t addr) noexcept
	{
		uint64_t f = addr / plan_.frame_size;
		__atomic_fetch_and(&ctl_->held[f / 64], ~(1ULL << (f % 64)), __ATOMIC_RELAXED);
	}

	// Diagnostic probe: the tag packet.h's builder writes into the first
	// payload bytes of an untagged IPv4/UDP frame (offset 42).
	uint64_t tag_of(const uint8_t *p, uint32_t len) const noexcept
	{
		if (len < 50 || p[12] != 0x08 || p[13] != 0x00 || (p[14] & 0x0f) != 5 || p[23] != 17)
			return 0;
		uint64_t t;
		std::memcpy(&t, p + 42, sizeof(t));
		return t;
	}

	// Per-flow order of the tags read from RX or from forward rings (see
	// tag_order_errors). `last` holds the last sequence + 1 seen for each
	// flow slot, 0 = none yet.
	uint64_t check_tag(uint64_t tag, uint64_t (&last)[kTagFlows]) noexcept
	{
		if (!tag)
			return 0;
		uint32_t flow = uint32_t(tag >> 32) % kTagFlows;
		uint64_t seq = (tag & 0xffffffffU) + 1;
		if (seq <= last[flow]) [[unlikely]]
			bump(ctl_->c.tag_order_errors, 1);
		else
			last[flow] = seq;
		return tag;
	}

	uint64_t check_rx_tag(uint64_t tag) noexcept
	{
		uint64_t bit = 1ULL << (uint32_t(tag >> 32) % kTagFlows);
		if (tag && !(flows_seen_ & bit)) [[unlikely]] {
			flows_seen_ |= bit;
			__atomic_store_n(&ctl_->c.rx_flows, flows_seen_, __ATOMIC_RELAXED);
		}
		return check_tag(tag, rx_seq_);
	}

	uint32_t poll_rx(RxRing &r)
	{
		uint32_t prod = r.map.load_producer();
		uint32_t n = prod - r.cons;
		if (!n)
			return 0;
		if (n > kBatch)
			n = kBatch;
		uint64_t bytes = 0, tags = 0;
		uint32_t nret = 0, nfwd = 0;
		for (uint32_t i = 0; i < n; i++) {
			xdp_desc d = *r.map.rx_desc(r.cons + i);
			if (!in_area(d.addr, d.len, frames_.size())) [[unlikely]]
				continue;	// the kernel wrote it: cannot happen
			hold(d.addr);
			bytes += d.len;
			// The tag is in the frame's data: reading it costs a cache
			// miss per frame, so only when asked (tests).
			if (plan_.verify_tags) [[unlikely]]
				tags += check_rx_tag(tag_of(frames_.data() + d.addr, d.len));
			if (forwarding_ && ++since_fwd_ == plan_.forward_every) {
				since_fwd_ = 0;
				fwd_batch_[nfwd++] = {d.addr, d.len, 0};
			} else {
				ret_batch_[nret++] = {d.addr};
			}
		}
		r.cons += n;
		r.map.store_consumer(r.cons);
		bump(ctl_->c.rx, n);
		bump(ctl_->c.rx_bytes, bytes);
		bump(ctl_->c.tag_sum, tags);
		if (nfwd)
			forward(nfwd, nret);
		give_back(nret);
		return n;
	}

	void forward(uint32_t nfwd, uint32_t &nret)
	{
		uint32_t sent = fwd_db_.produce(fwd_out_, fwd_batch_, nfwd);
		if (sent) {
			__atomic_store_n(&ctl_->c.doorbell_kicks, fwd_db_.stats().kicks, __ATOMIC_RELAXED);
			__atomic_store_n(&ctl_->c.doorbell_suppressed, fwd_db_.stats().suppressed, __ATOMIC_RELAXED);
		}
		uint64_t sum = 0;
		for (uint32_t i = 0; i < sent; i++) {
			sum += fwd_batch_[i].addr;
			unhold(fwd_batch_[i].addr);
		}
		// A full forward ring: the peer is slow or dead; the frame goes
		// back to the supervisor rather than wait.
		for (uint32_t i = sent; i < nfwd; i++)
			ret_batch_[nret++] = {fwd_batch_[i].addr};
		bump(ctl_->c.fwd, sent);
		bump(ctl_->c.fwd_addr_sum, sum);
		bump(ctl_->c.drops, nfwd - sent);
	}

	uint32_t poll_forwarded(Consumer<mkdp_frame_desc> &f)
	{
		uint32_t idx;
		uint32_t n = f.peek(kBatch, &idx);
		if (!n) {
			if (f.corrupt()) [[unlikely]]
				count_corrupt();
			return 0;
		}
		uint32_t nret = 0;
		uint64_t sum = 0;
		for (uint32_t i = 0; i < n; i++) {
			mkdp_frame_desc d;
			if (f.fetch(idx + i, &d) != DescError::ok) {
				bump(ctl_->c.bad_desc, 1);
				continue;
			}
			hold(d.addr);
			sum += d.addr;
			if (plan_.verify_tags) [[unlikely]]
				check_tag(tag_of(frames_.data() + d.addr, d.len), fwd_seq_);
			ret_batch_[nret++] = {d.addr};
		}
		f.release(n);
		bump(ctl_->c.fwd_rx, nret);
		bump(ctl_->c.fwd_rx_addr_sum, sum);
		give_back(nret);
		return n;
	}

	void count_corrupt() noexcept
	{
		uint64_t n = 0;
		for (const auto &f : fwd_in_)
			n += f.corrupt();
		__atomic_store_n(&ctl_->c.fwd_corrupt, n, __ATOMIC_RELAXED);
	}

	// The return ring has a slot for every frame of the area, so it is
	// never full for long: spin until the supervisor makes room. Returned
	// frames stay held: the supervisor clears the bit when it takes the
	// frame back, so a set bit always means "not yet back in the pool"
	// and a return is accepted only for a frame this partition holds.
	void give_back(uint32_t n)
	{
		uint32_t done = 0;
		while (done < n && !g_stop) {
			uint32_t k = ret_db_.produce(ret_, ret_batch_ + done, n - done);
			if (!k)
				cpu_relax();
			done += k;
		}
		bump(ctl_->c.returned, done);
		if (fault_after_ && ctl_->c.returned >= fault_after_) [[unlikely]]
			raise(SIGKILL);	// test hook, see fault_after_
	}

	PartitionPlan plan_;
	Region region_;
	PartitionCtl *ctl_;
	std::vector<RxRing> rx_;
	std::span<uint8_t> frames_;
	XskWakeMode mode_;
	DoorbellStrategy strategy_;
	Producer<FrameAddr> ret_;
	Doorbell ret_db_;
	Producer<mkdp_frame_desc> fwd_out_;
	Doorbell fwd_db_;
	std::vector<Consumer<mkdp_frame_desc>> fwd_in_;
	std::vector<Doorbell> fwd_in_db_;	// one per fwd_in_, same order
	bool forwarding_ = false;
	uint32_t since_fwd_ = 0;
	// MKDP_PARTITION_FAULT=NAME:kill-after-return:N (tests only): SIGKILL
	// itself right after its return count reaches N, frames on the return
	// ring and still held: the window reclaim must get right.
	uint64_t fault_after_ = 0;
	uint64_t rx_seq_[kTagFlows] = {};
	uint64_t fwd_seq_[kTagFlows] = {};
	uint64_t flows_seen_ = 0;
	FrameAddr ret_batch_[2 * kBatch];
	mkdp_frame_desc fwd_batch_[kBatch];
};

void set_affinity(const std::vector<int> &cpus)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int c : cpus)
		CPU_SET(c, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		throw_errno("pin to the partition's CPUs");
}

void join_netns(const std::string &name)
{
	int fd = ::open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw_errno("open network namespace " + name);
	int rc = setns(fd, CLONE_NEWNET);
	int e = errno;
	close(fd);
	if (rc)
		throw_errno("join network namespace " + name, e);
}

} // namespace

// A partition that does not share the UMEM region has nothing to receive
// (check() makes every receiving partition share it): it only keeps its
// regions mapped and its heartbeat going.
void run_idle(PartitionCtl *ctl)
{
	while (!g_stop) {
		__atomic_store_n(&ctl->c.heartbeat, ctl->c.heartbeat + 1, __ATOMIC_RELAXED);
		::poll(nullptr, 0, kIdlePollMs);
	}
}

int run_mapped(int sock, const PartitionPlan &plan, const ReceivedFds &got, std::optional<Region> umem,
	       PartitionCtl *ctl, StorageStarter storage, PartitionLoop loop);

bool partition_stopping() noexcept
{
	return g_stop != 0;
}

int partition_run(int sock, StorageStarter storage, PartitionLoop loop)
{
	std::signal(SIGTERM, on_term);
	std::signal(SIGINT, on_term);
	ReceivedFds got = recv_fds(sock);
	PartitionPlan plan = PartitionPlan::from_json(got.payload);
	size_t want = 1 + (plan.umem ? 1 : 0) + plan.queues.size() + plan.regions.size() + plan.doorbells.size() +
		      4 * plan.volumes.size();
	if (got.fds.size() != want || (!plan.umem && !plan.queues.empty()))
		throw Error("partition " + plan.name + ": expected " + std::to_string(want) + " fds, got " +
			    std::to_string(got.fds.size()));

	size_t ctl_size = partition_ctl_size(plan.frames);
	void *m = mmap(nullptr, ctl_size, PROT_READ | PROT_WRITE, MAP_SHARED, got.fds[0], 0);
	close(got.fds[0]);
	if (m == MAP_FAILED)
		throw_errno("map the control memfd");
	auto *ctl = static_cast<PartitionCtl *>(m);
	if (ctl->magic != kPartitionCtlMagic || ctl->frames != plan.frames)
		throw Error("partition " + plan.name + ": control memfd does not match the plan");

	// From here a failure is worth telling the supervisor about.
	try {
		std::optional<Region> umem;
		if (plan.umem) {
			umem.emplace(Region::open(got.fds[1]));
			close(got.fds[1]);
			if (umem->entry("frames").size / plan.frame_size != plan.frames)
				throw Error("the UMEM region does not match the plan");
		}
		return run_mapped(sock, plan, got, std::move(umem), ctl, storage, loop);
	} catch (const std::exception &e) {
		std::snprintf(ctl->error, sizeof(ctl->error), "%s", e.what());
		throw;
	}
}

int run_mapped(int sock, const PartitionPlan &plan, const ReceivedFds &got, std::optional<Region> umem,
	       PartitionCtl *ctl, StorageStarter storage, PartitionLoop loop)
{
	size_t next = plan.umem ? 2 : 1;
	std::span<const int> xsk_fds(got.fds.data() + next, plan.queues.size());
	std::vector<RxRing> rx;
	for (size_t i = 0; i < plan.queues.size(); i++) {
		RxRing r;
		r.fd = got.fds[next++];
		r.map = XskRingMap(r.fd, XskRingKind::rx, plan.rx_entries);
		r.cons = r.map.load_consumer();
		rx.push_back(std::move(r));
	}
	// The other regions named for it: mapped for its lifetime (a ring_abi
	// image each, area "data"); nothing else of the runtime uses them yet.
	std::vector<Region> regions;
	for (size_t i = 0; i < plan.regions.size(); i++) {
		int fd = got.fds[next++];
		regions.push_back(Region::open(fd));
		close(fd);
	}
	// The eventfds of the doorbells of its forward rings (kept open).
	std::map<std::string, int> doorbell_fds;
	for (const std::string &ring : plan.doorbells)
		doorbell_fds[ring] = got.fds[next++];
	std::span<const int> volume_fds(got.fds.data() + next, 4 * plan.volumes.size());
	if (!plan.volumes.empty() && !storage && !loop)
		throw Error("partition " + plan.name + " serves volumes but has no storage worker");

	set_affinity(plan.cpus);
	if (!plan.netns.empty())
		join_netns(plan.netns);
	pid_t supervisor = getppid();
	drop_privileges(RunAs{plan.uid, plan.gid});
	// The credential change cleared the parent-death signal: a partition
	// must still not outlive its supervisor.
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != supervisor)
		throw Error("the supervisor went away during set-up");

	// The storage worker runs beside the network loop, on the same CPUs,
	// with the same (no) privileges.
	if (loop) {
		PartitionAttach a{plan, ctl, umem ? &*umem : nullptr, xsk_fds, volume_fds};
		__atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
		close(sock);
		return loop(a);
	}
	std::unique_ptr<PartitionStorage> store;
	if (!plan.volumes.empty())
		store = storage(plan, volume_fds, &ctl->c.storage);
	if (!umem) {
		__atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
		close(sock);
		run_idle(ctl);
		return 0;
	}
	Runtime rt(plan, std::move(*umem), ctl, std::move(rx), doorbell_fds);
	__atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
	close(sock);
	rt.run();
	return 0;
}

} // namespace mkdp
