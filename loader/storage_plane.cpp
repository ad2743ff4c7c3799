// SPDX-License-Identifier: BSD-2-Clause
// The storage plane's thread, lanes and sessions (storage_plane.h).
#include "storage_plane_parts.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>

#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace mkdp {

namespace {

constexpr int kWatchdogMs = 100;		// a sleeping plane looks at its sessions this often
constexpr uint64_t kHangupCheckNs = 10'000'000;	// a busy one, this often

void close_fds(std::span<int> fds) noexcept
{
	for (int &fd : fds)
		if (fd >= 0) {
			close(fd);
			fd = -1;
		}
}

} // namespace

StoragePlane::Lane::~Lane() { close_fds(bells); }
StoragePlane::Session::~Session()
{
	close_fds(bells);
	if (sock >= 0)
		close(sock);
}
StoragePlane::Vol::~Vol()
{
	if (backend_fd >= 0)
		close(backend_fd);
}

// ---- set-up ----------------------------------------------------------------

StoragePlane::StoragePlane(const Topology &t) : topo_(t)
{
	sessions_.resize(256);
	auto index_of = [&](const std::string &name) {
		for (uint32_t i = 0; i < t.partitions.size(); i++)
			if (t.partitions[i].name == name)
				return i;
		throw Error("no partition '" + name + "'");
	};
	for (const VolumeSpec &s : t.volumes) {
		auto v = std::make_unique<Vol>();
		v->spec = s;
		v->id = uint32_t(vols_.size());
		v->owner = index_of(s.owner.empty() ? s.partitions.at(0) : s.owner);
		v->servers.push_back(v->owner);
		for (const std::string &p : s.partitions)
			if (index_of(p) != v->owner)
				v->servers.push_back(index_of(p));
		v->wakeup = parse_doorbell_strategy(s.wakeup);
		if (v->wakeup != DoorbellStrategy::polled && strategy_ != DoorbellStrategy::interrupt)
			strategy_ = v->wakeup;
		v->size = s.size;
		if (s.backend == "memory") {
			// A memfd the plane owns: the volume's contents outlive
			// every partition that serves it.
			v->memory = true;
			v->backend_fd = memfd_create(("mkdp-vol-" + s.name).c_str(), MFD_CLOEXEC);
			if (v->backend_fd < 0 || ftruncate(v->backend_fd, off_t(s.size)))
				throw_errno("volume '" + s.name + "': memory of " + std::to_string(s.size) + " bytes");
		} else {
			sdp::Backend b = sdp::Backend::open_file(s.path, s.backend == "file" ? s.size : 0);
			v->backend_fd = b.fd;
			v->direct = b.direct;
			struct stat st {};
			uint64_t dev = 0;
			if (!fstat(b.fd, &st) && S_ISBLK(st.st_mode) && !ioctl(b.fd, BLKGETSIZE64, &dev))
				v->size = dev;
		}
		std::vector<sdp::VolumeInfo> infos;	// a front end per volume: only its own id is valid
		for (uint32_t i = 0; i <= v->id; i++)
			infos.push_back({v->size, v->owner});
		v->fe = std::make_unique<sdp::Frontend>(nullptr, std::vector<sdp::Lane>{}, infos);
		vols_.push_back(std::move(v));
	}
	for (const auto &v : vols_)
		if (!v->spec.program.empty())
			attach(v->spec.name, v->spec.program, {});
}

StoragePlane::~StoragePlane()
{
	stop();
}

void StoragePlane::start()
{
	if (vols_.empty() || thread_.joinable())
		return;
	quit_ = false;
	thread_ = std::thread([this] { run(); });
}

void StoragePlane::stop() noexcept
{
	if (thread_.joinable()) {
		quit_ = true;
		handoff_.wake();
		thread_.join();
	}
}

StoragePlane::Vol &StoragePlane::volume(const std::string &name)
{
	std::string names;
	for (auto &v : vols_) {
		if (v->spec.name == name)
			return *v;
		names += (names.empty() ? "" : ", ") + v->spec.name;
	}
	throw Error("volume '" + name + "' does not exist" + (names.empty() ? " (the topology has none)" : "; volumes: " + names));
}

// ---- lanes -----------------------------------------------------------------

void StoragePlane::hand_over(uint32_t p, PartitionPlan &plan, std::vector<int> &fds)
{
	plan.topology_volumes = uint32_t(vols_.size());
	for (auto &vp : vols_) {
		Vol &v = *vp;
		if (std::find(v.servers.begin(), v.servers.end(), p) == v.servers.end())
			continue;
		auto l = std::make_unique<Lane>();
		l->rings = Region::create(sdp::storage_rings_layout(),
					  {.name = "mkdp-sdp-" + v.spec.name + "-" + plan.name});
		l->bells[0] = make_doorbell_eventfd();
		l->bells[1] = make_doorbell_eventfd();
		// Record both consumers' strategy before anyone produces: the
		// worker's on the request ring, the plane's on the completion ring.
		Consumer<mkdp_sreq_desc> worker_side = l->rings.requests("sq", uint32_t(vols_.size()));
		Doorbell record(worker_side, storage_bell(v.wakeup, l->bells[0]));
		plan.volumes.push_back({v.id, v.size, v.memory, v.direct, to_string(v.wakeup)});
		for (int fd : {l->rings.fd(), v.backend_fd, l->bells[0], l->bells[1]})
			fds.push_back(fd);
		call([&] {
			sdp::Lane lane{l->rings.producer<mkdp_sreq_desc>("sq"), l->rings.completions("cq", "sq"),
				       l->rings.area("data"), p, &l->sq_bell};
			l->sq_bell = Doorbell(lane.sq, storage_bell(v.wakeup, l->bells[0]));
			l->cq_bell = Doorbell(lane.cq, storage_bell(v.wakeup, l->bells[1]));
			v.fe->set_lane(std::move(lane));	// fails what the old rings held
			v.lanes[p] = std::move(l);
		});
	}
}

void StoragePlane::partition_gone(uint32_t p)
{
	call([&] {
		for (auto &v : vols_) {
			v->fe->drop_lane(p);
			v->lanes.erase(p);
		}
	});
}

uint32_t StoragePlane::pass() noexcept
{
	uint32_t work = 0;
	for (auto &vp : vols_) {
		Vol &v = *vp;
		work += take(v);
		uint32_t n = v.fe->reap(done_);
		uint64_t now = n ? now_ns() : 0;
		for (uint32_t i = 0; i < n; i++) {
			Session *s = sessions_[done_[i].tag >> 16].get();
			if (!s)
				continue;
			s->outstanding--;
			v.latency.record(now - s->taken_ns[(done_[i].tag & 0xffff) % sdp::kStorageEntries]);
			deliver(*s, {done_[i].tag & 0xffff, done_[i].status, done_[i].bytes, 0});
		}
		work += n;
	}
	return work + flush_sessions();
}

void StoragePlane::run() noexcept
{
	done_.resize(256);
	batch_.reserve(SDP_BATCH_MAX);
	uint64_t idle_since = 0;
	while (!quit_.load(std::memory_order_relaxed)) {
		uint32_t work = pass();
		if (handoff_.pending()) [[unlikely]]
			handoff_.run_pending();
		uint64_t now = now_ns();
		if (now >= next_hangup_check_) {
			end_sessions();
			next_hangup_check_ = now + kHangupCheckNs;
		}
		if (work) {
			idle_since = 0;
			continue;
		}
		if (strategy_ != DoorbellStrategy::interrupt) {
			if (!idle_since)
				idle_since = now;
			if (strategy_ == DoorbellStrategy::polled || now - idle_since < sdp::kStoragePollBudgetNs) {
				cpu_relax();
				continue;
			}
		}
		sleep();
		idle_since = 0;
	}
}

// Arms every session's request ring and every lane's completion ring, and
// sleeps in poll() on their eventfds, the sessions' sockets (a hang-up) and
// the hand-off's eventfd. A session with a backlog waits for its client to
// reap: the plane looks again after a millisecond.
void StoragePlane::sleep() noexcept
{
	std::vector<pollfd> &p = sleep_fds_;
	p.clear();
	armed_sessions_.clear();
	armed_lanes_.clear();
	bool backlog = false, ready = false;
	for (auto &s : sessions_) {
		if (!s || s->closing)
			continue;
		backlog |= !s->backlog.empty();
		if (!s->sq_bell.arm(s->sq)) {
			ready = true;
			break;
		}
		armed_sessions_.push_back(s.get());
		p.push_back({s->bells[0], POLLIN, 0});
		if (s->sock >= 0)
			p.push_back({s->sock, POLLIN | POLLRDHUP, 0});
	}
	for (auto &v : vols_)
		for (auto &[part, l] : v->lanes) {
			Consumer<mkdp_scpl_desc> *cq = v->fe->lane_cq(part);
			if (ready || !cq)
				continue;
			if (!l->cq_bell.arm(*cq)) {
				ready = true;
				continue;
			}
			armed_lanes_.push_back({l.get(), cq});
			p.push_back({l->bells[1], POLLIN, 0});
		}
	p.push_back({handoff_.wake_fd(), POLLIN, 0});
	if (!ready && ::poll(p.data(), p.size(), backlog ? 1 : kWatchdogMs) > 0)
		for (const pollfd &f : p)
			if (f.revents & (POLLRDHUP | POLLHUP | POLLERR))
				next_hangup_check_ = 0;	// a client went away: look now
	handoff_.drain();
	for (Session *s : armed_sessions_)
		s->sq_bell.disarm(s->sq);
	for (auto &[l, cq] : armed_lanes_)
		l->cq_bell.disarm(*cq);
}

} // namespace mkdp
