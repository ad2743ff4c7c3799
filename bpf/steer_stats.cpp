// SPDX-License-Identifier: BSD-2-Clause
// The XSKMAP slots, the counters and the status of a steering.
#include "steer_internal.h"

#include <net/if.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mkdp/error.h>

namespace mkdp {

using namespace steer_detail;

namespace {

// Reads one element of a per-CPU map and sums it over the CPUs, field by
// field: every counter struct here is a sequence of __u64.
template <class T>
T percpu_sum(int fd, uint32_t key, int ncpus)
{
	static_assert(sizeof(T) % 8 == 0);
	std::vector<T> vals{size_t(ncpus)};
	T sum{};
	if (bpf_map_lookup_elem(fd, &key, vals.data()))
		throw_errno("read per-CPU counters");
	auto *out = reinterpret_cast<__u64 *>(&sum);
	for (const T &v : vals) {
		auto *in = reinterpret_cast<const __u64 *>(&v);
		for (size_t i = 0; i < sizeof(T) / 8; i++)
			out[i] += in[i];
	}
	return sum;
}

} // namespace

// ---- sockets ------------------------------------------------------------------

void Steering::set_socket(uint32_t queue, uint32_t part, int xsk_fd)
{
	check_queue(queue);
	check_partition(part);
	uint32_t slot = MKDP_STEER_SLOT(queue, part);
	if (bpf_map_update_elem(maps_[xsks_by_queue_part], &slot, &xsk_fd, BPF_ANY))
		throw_errno("put the socket in slot (queue " + std::to_string(queue) + ", partition " +
			    std::to_string(part) + ")");
	mkdp_steer_slot rec{1, uint32_t(::getpid())};
	if (bpf_map_update_elem(maps_[xsk_slots], &slot, &rec, BPF_ANY))
		throw_errno("write xsk_slots");
}

void Steering::clear_socket(uint32_t queue, uint32_t part)
{
	check_queue(queue);
	if (part >= MKDP_STEER_MAX_PARTITIONS)
		check_partition(part);
	uint32_t slot = MKDP_STEER_SLOT(queue, part);
	if (bpf_map_delete_elem(maps_[xsks_by_queue_part], &slot) && errno != ENOENT)
		throw_errno("clear slot (queue " + std::to_string(queue) + ", partition " + std::to_string(part) + ")");
	mkdp_steer_slot rec{};
	if (bpf_map_update_elem(maps_[xsk_slots], &slot, &rec, BPF_ANY))
		throw_errno("write xsk_slots");
}

// ---- counters and status --------------------------------------------------------

SteerStats Steering::read_stats() const
{
	int ncpus = possible_cpus();
	SteerStats st;
	st.totals = percpu_sum<mkdp_steer_totals>(maps_[steer_stats], 0, ncpus);
	uint32_t n = config().partitions;
	for (uint32_t p = 0; p < n; p++)
		st.partitions.push_back(percpu_sum<mkdp_steer_part_stats>(maps_[part_stats], p, ncpus));
	for (SteerRule &r : list_rules()) {
		auto rs = percpu_sum<mkdp_steer_rule_stats>(maps_[rule_stats], r.id, ncpus);
		st.rules.emplace_back(std::move(r), rs);
	}
	return st;
}

void Steering::reset_stats()
{
	int ncpus = possible_cpus();
	zero_percpu<mkdp_steer_totals>(maps_[steer_stats], 0, ncpus);
	for (uint32_t p = 0; p < MKDP_STEER_MAX_PARTITIONS; p++)
		zero_percpu<mkdp_steer_part_stats>(maps_[part_stats], p, ncpus);
	for (const SteerRule &r : list_rules())
		zero_percpu<mkdp_steer_rule_stats>(maps_[rule_stats], r.id, ncpus);
}

SteerStatus Steering::status() const
{
	SteerStatus st;
	mkdp_steer_info inf = info();
	st.netns = netns_;
	st.ifname = ifname_;
	st.ifindex = ifindex_;
	st.prog_id = prog_id_of(prog_fd_);
	st.mode = inf.xdp_mode == MKDP_STEER_MODE_SKB ? XdpMode::skb : XdpMode::native;
	st.multiprog = inf.attach_kind == MKDP_STEER_ATTACH_MULTIPROG;
	st.owner_pid = inf.owner_pid;
	st.attach_time = inf.attach_time;
	st.config = config();
	if (ifindex_ && if_nametoindex(ifname_.c_str()) == unsigned(ifindex_)) {
		Attached cur = attached_on(ifindex_);
		st.attached = has_prog(cur, st.prog_id);
		if (st.attached) {
			st.mode = cur.mode == XDP_MODE_SKB ? XdpMode::skb : XdpMode::native;
			st.multiprog = cur.multiprog;
		}
	}
	st.rules = list_rules().size();
	st.rx_queues = rx_queues_of(ifname_);
	st.queue_map = queue_map();
	if (st.rx_queues && st.rx_queues < st.queue_map.size())
		st.queue_map.resize(st.rx_queues);
	st.indirection = indirection();
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++) {
		std::vector<uint32_t> parts;
		for (uint32_t p = 0; p < MKDP_STEER_MAX_PARTITIONS; p++) {
			uint32_t slot = MKDP_STEER_SLOT(q, p);
			mkdp_steer_slot rec{};
			if (bpf_map_lookup_elem(maps_[xsk_slots], &slot, &rec))
				throw_errno("read xsk_slots");
			if (rec.in_use)
				parts.push_back(p);
		}
		if (!parts.empty())
			st.sockets.emplace_back(q, std::move(parts));
	}
	return st;
}


} // namespace mkdp
