// SPDX-License-Identifier: BSD-2-Clause
// The program's counters and the status of a steering: what `mkdp steer stats`
// and `mkdp steer status` print.
#include <net/if.h>

#include "bpf_util.h"
#include "steer.skel.h"
#include "steer_loader.h"
#include "netdev.h"
#include "xdp_attach.h"

namespace mkdp {

SteerStats Steering::read_stats() const
{
	int ncpus = possible_cpus();
	SteerStats st;
	st.totals = percpu_sum<mkdp_steer_totals>(bpf_map__fd(skel_->maps.steer_stats), 0, ncpus);
	uint32_t n = config().partitions;
	for (uint32_t p = 0; p < n; p++)
		st.partitions.push_back(percpu_sum<mkdp_steer_part_stats>(bpf_map__fd(skel_->maps.part_stats), p, ncpus));
	for (SteerRule &r : list_rules()) {
		auto rs = percpu_sum<mkdp_steer_rule_stats>(bpf_map__fd(skel_->maps.rule_stats), r.id, ncpus);
		st.rules.emplace_back(std::move(r), rs);
	}
	return st;
}

void Steering::reset_stats()
{
	int ncpus = possible_cpus();
	zero_percpu<mkdp_steer_totals>(bpf_map__fd(skel_->maps.steer_stats), 0, ncpus);
	for (uint32_t p = 0; p < MKDP_STEER_MAX_PARTITIONS; p++)
		zero_percpu<mkdp_steer_part_stats>(bpf_map__fd(skel_->maps.part_stats), p, ncpus);
	for (const SteerRule &r : list_rules())
		zero_percpu<mkdp_steer_rule_stats>(bpf_map__fd(skel_->maps.rule_stats), r.id, ncpus);
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
	st.sockets = sockets();
	return st;
}

} // namespace mkdp
