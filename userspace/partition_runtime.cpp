// SPDX-License-Identifier: BSD-2-Clause
// The partition runtime: what runs on a partition's dedicated CPUs. It is
// exec'd fresh by the supervisor (`mkdp partition-run`), so its address space
// holds only what it was handed: one region, its control memfd and its
// AF_XDP sockets. See docs/partitions.md for the frame ownership protocol.
#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>
#include <mkdp/netns.h>
#include <mkdp/partition.h>
#include <mkdp/privileges.h>
#include <mkdp/region.h>
#include <mkdp/xsk_ring_map.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

namespace mkdp {

std::string PartitionPlan::to_json() const
{
	return nlohmann::json{{"name", name},	       {"index", index},
			      {"cpus", cpus},	       {"netns", netns},
			      {"frame_size", frame_size}, {"forward_every", forward_every},
			      {"forward_to", forward_to}, {"rx_entries", rx_entries},
			      {"queues", queues}}
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
		return p;
	} catch (const nlohmann::json::exception &e) {
		throw Error(std::string("partition plan: ") + e.what());
	}
}

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int) { g_stop = 1; }

constexpr uint32_t kBatch = 64;
constexpr uint32_t kIdleSpins = 2048;	// empty loops before sleeping in poll()
constexpr int kIdlePollMs = 1;		// bounds forward-ring latency while idle

// One AF_XDP RX ring, consumed by this process only.
struct RxRing {
	int fd = -1;
	XskRingMap map;
	uint32_t cons = 0;
};

class Runtime {
public:
	Runtime(const PartitionPlan &plan, Region region, PartitionCtl *ctl, std::vector<RxRing> rx)
		: plan_(plan), region_(std::move(region)), ctl_(ctl), rx_(std::move(rx))
	{
		frames_ = region_.area("frames");
		ret_ = region_.producer<FrameAddr>("ret" + std::to_string(plan.index));
		forwarding_ = plan.forward_to >= 0 && plan.forward_every;
		if (forwarding_)
			fwd_out_ = region_.producer<mkdp_frame_desc>(fwd_name(plan.index, plan.forward_to));
		for (const mkdp_region_entry &e : region_.entries()) {
			unsigned from, to;
			if (e.kind == MKDP_ENTRY_RING && std::sscanf(e.name, "fwd%u-%u", &from, &to) == 2 &&
			    to == plan.index)
				fwd_in_.push_back(region_.consumer<mkdp_frame_desc>(e.name));
		}
	}

	static std::string fwd_name(uint32_t from, uint32_t to)
	{
		return "fwd" + std::to_string(from) + "-" + std::to_string(to);
	}

	void run()
	{
		uint32_t idle = 0;
		std::vector<pollfd> pfds;
		for (RxRing &r : rx_)
			pfds.push_back({r.fd, POLLIN, 0});
		while (!g_stop) {
			uint32_t work = 0;
			for (RxRing &r : rx_)
				work += poll_rx(r);
			for (auto &f : fwd_in_)
				work += poll_forwarded(f);
			bump(ctl_->c.heartbeat, 1);
			if (work) {
				idle = 0;
				continue;
			}
			if (++idle < kIdleSpins) {
				cpu_relax();
				continue;
			}
			// Nothing for a while: sleep until an RX ring has frames.
			::poll(pfds.data(), pfds.size(), kIdlePollMs);
		}
	}

private:
	static void bump(uint64_t &c, uint64_t n) { __atomic_store_n(&c, c + n, __ATOMIC_RELAXED); }

	// The held bit is set before the slot a frame came from is released and
	// cleared only after the frame is on the return or forward ring, so a
	// frame is always visible to the supervisor somewhere if we die.
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
			tags += tag_of(frames_.data() + d.addr, d.len);
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
		uint32_t sent = fwd_out_.produce(fwd_batch_, nfwd);
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
		if (!n)
			return 0;
		uint32_t nret = 0;
		uint64_t sum = 0, tags = 0;
		for (uint32_t i = 0; i < n; i++) {
			mkdp_frame_desc d;
			if (f.fetch(idx + i, &d) != DescError::ok) {
				bump(ctl_->c.bad_desc, 1);
				continue;
			}
			hold(d.addr);
			sum += d.addr;
			tags += tag_of(frames_.data() + d.addr, d.len);
			ret_batch_[nret++] = {d.addr};
		}
		f.release(n);
		bump(ctl_->c.fwd_rx, nret);
		bump(ctl_->c.fwd_rx_addr_sum, sum);
		give_back(nret);
		return n;
	}

	// The return ring has a slot for every frame of the area, so it is
	// never full for long: spin until the supervisor makes room.
	void give_back(uint32_t n)
	{
		uint32_t done = 0;
		while (done < n && !g_stop) {
			uint32_t k = ret_.produce(ret_batch_ + done, n - done);
			if (!k)
				cpu_relax();
			done += k;
		}
		for (uint32_t i = 0; i < done; i++)
			unhold(ret_batch_[i].addr);
		bump(ctl_->c.returned, done);
	}

	PartitionPlan plan_;
	Region region_;
	PartitionCtl *ctl_;
	std::vector<RxRing> rx_;
	std::span<uint8_t> frames_;
	Producer<FrameAddr> ret_;
	Producer<mkdp_frame_desc> fwd_out_;
	std::vector<Consumer<mkdp_frame_desc>> fwd_in_;
	bool forwarding_ = false;
	uint32_t since_fwd_ = 0;
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

int run_mapped(int sock, const PartitionPlan &plan, const ReceivedFds &got, Region region, PartitionCtl *ctl);

int partition_run(int sock)
{
	std::signal(SIGTERM, on_term);
	std::signal(SIGINT, on_term);
	ReceivedFds got = recv_fds(sock);
	PartitionPlan plan = PartitionPlan::from_json(got.payload);
	if (got.fds.size() != 2 + plan.queues.size())
		throw Error("partition " + plan.name + ": expected " + std::to_string(2 + plan.queues.size()) +
			    " fds, got " + std::to_string(got.fds.size()));

	Region region = Region::open(got.fds[0]);
	close(got.fds[0]);
	const mkdp_region_entry &area = region.entry("frames");
	uint32_t frames = uint32_t(area.size / plan.frame_size);
	size_t ctl_size = partition_ctl_size(frames);
	void *m = mmap(nullptr, ctl_size, PROT_READ | PROT_WRITE, MAP_SHARED, got.fds[1], 0);
	close(got.fds[1]);
	if (m == MAP_FAILED)
		throw_errno("map the control memfd");
	auto *ctl = static_cast<PartitionCtl *>(m);
	if (ctl->magic != kPartitionCtlMagic || ctl->frames != frames)
		throw Error("partition " + plan.name + ": control memfd does not match the region");

	// From here a failure is worth telling the supervisor about.
	try {
		return run_mapped(sock, plan, got, std::move(region), ctl);
	} catch (const std::exception &e) {
		std::snprintf(ctl->error, sizeof(ctl->error), "%s", e.what());
		throw;
	}
}

int run_mapped(int sock, const PartitionPlan &plan, const ReceivedFds &got, Region region, PartitionCtl *ctl)
{
	std::vector<RxRing> rx;
	for (size_t i = 0; i < plan.queues.size(); i++) {
		RxRing r;
		r.fd = got.fds[2 + i];
		r.map = XskRingMap(r.fd, XskRingKind::rx, plan.rx_entries);
		r.cons = r.map.load_consumer();
		rx.push_back(std::move(r));
	}

	set_affinity(plan.cpus);
	if (!plan.netns.empty())
		join_netns(plan.netns);
	drop_all_privileges();

	Runtime rt(plan, std::move(region), ctl, std::move(rx));
	__atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
	close(sock);
	rt.run();
	return 0;
}

} // namespace mkdp
