// SPDX-License-Identifier: BSD-2-Clause
// `status`: the supervisor's answer to `mkdp part list` and `mkdp steer status`.
// It runs on the control thread. Only the frame census runs on the data
// path (bounded: one pass over the frames and the rings); the steering
// statistics, which walk every rule's per-CPU counters, are read here, where
// they delay no refill.
#include "supervisor_daemon.h"

#include <mkdp/error.h>
#include <mkdp/supervisor.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace mkdp {

namespace {

// The rule walk is bulk work (hundreds of milliseconds with a full rule
// table): it runs below the partitions' priority rather than at the
// control thread's raised one (kControlNice), so that a client asking for
// status in a loop never takes a partition's CPU on a busy machine.
class BulkPriority {
public:
	BulkPriority() { set(kBulkNice); }
	~BulkPriority() { set(kControlNice); }

private:
	static void set(int nice) { (void)!setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), nice); }
};

} // namespace

nlohmann::json Supervisor::part_json(const Part &p, const FramePool::PartInfo &fi, const FramePool::Tally *t) const
{
	PartitionCounters c;
	std::memcpy(&c, &p.ctl->c, sizeof(c));
	// Keys follow docs/json.md (schema: docs/schema/part-list.json).
	json j{{"partition", p.spec.name},
	       {"partition_index", p.index},
	       {"pid", p.pid},
	       {"cpus", p.spec.cpus},
	       {"state", to_string(p.state)},
	       {"placement", p.state == PState::stopped ? "none" : p.placement.mode()},
	       {"netns", p.spec.netns},
	       {"queues", p.spec.queues},
	       {"uid", opts_.run_as.uid},
	       {"gid", opts_.run_as.gid},
	       {"starts", p.starts},
	       {"last_exit", p.last_status < 0 ? json(nullptr) : json(p.last_status)},
	       {"last_pid", p.last_pid},
	       {"last_reclaimed_frames", p.last_reclaimed},
	       {"rx", c.rx},
	       {"rx_bytes", c.rx_bytes},
	       {"fwd", c.fwd},
	       {"fwd_rx", c.fwd_rx},
	       {"drops", c.drops},
	       {"returned", c.returned},
	       {"verify_tags", opts_.verify_tags},
	       {"tag_sum", c.tag_sum},
	       {"tag_order_errors", c.tag_order_errors},
	       {"rx_flows", c.rx_flows},
	       {"fwd_addr_sum", c.fwd_addr_sum},
	       {"fwd_rx_addr_sum", c.fwd_rx_addr_sum},
	       {"bad_desc", c.bad_desc},
	       {"fwd_corrupt_index", c.fwd_corrupt},
	       {"heartbeat", c.heartbeat},
	       {"wakeup", p.spec.wakeup},
	       {"kicks", c.kicks},
	       {"sleeps", c.sleeps},
	       {"doorbell_kicks", c.doorbell_kicks},
	       {"doorbell_suppressed", c.doorbell_suppressed},
	       {"storage",
		{{"requests", c.storage.requests}, {"errors", c.storage.errors}, {"bytes", c.storage.bytes}}}};
	json fr{{"quota", fi.quota},
		{"range", {fi.base, fi.base + fi.quota}},
		{"free", fi.free},
		{"refused_returns", fi.refused},
		{"ret_corrupt_index", fi.ret_corrupt},
		{"reclaimed", fi.reclaimed},
		{"throttled", fi.throttled},
		{"throttles", fi.throttles}};
	if (t) {
		fr["in_flight"] = t->parts[p.index].in_flight;
		fr["fill"] = t->parts[p.index].fill;
		fr["leaked"] = t->parts[p.index].leaked;
	}
	j["frames"] = fr;
	j["xsk"] = {{"rx_dropped", p.xsk_dropped}, {"rx_ring_full", p.xsk_ring_full}};
	return j;
}

// Outside status: the supervisor's own counters, without the census.
nlohmann::json Supervisor::part_json(const Part &p)
{
	FramePool::PartInfo fi;
	data_->call([&] { fi = data_->info(p.index); });
	return part_json(p, fi, nullptr);
}

nlohmann::json Supervisor::status()
{
	FramePool::Tally t;
	std::vector<FramePool::PartInfo> info(parts_.size());
	std::vector<uint64_t> fill_empty;
	uint64_t refused = 0;
	data_->call([&] {
		t = data_->tally();
		for (const Part &p : parts_)
			info[p.index] = data_->info(p.index);
		for (const FillQueue &q : data_->queues())
			fill_empty.push_back(q.fill_empty);
		refused = data_->refused();
	});
	for (Part &p : parts_) {
		p.xsk_dropped = p.xsk_ring_full = 0;
		for (int fd : p.xsk) {
			XskDrops d = xsk_drops(fd);
			p.xsk_dropped += d.rx_dropped;
			p.xsk_ring_full += d.rx_ring_full;
		}
	}
	json queues = json::array();
	for (size_t qi = 0; qi < fill_empty.size(); qi++)
		queues.push_back({{"queue", data_->queues()[qi].id}, {"fill_ring_empty", fill_empty[qi]}});
	SteerStats st;
	try {
		BulkPriority low;
		st = steer_->read_stats();
	} catch (const std::exception &) {
	}
	json parts = json::array();
	for (const Part &p : parts_) {
		json j = part_json(p, info[p.index], &t);
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
		regions.push_back({{"region", extra_names_[r]},
				   {"size_bytes", extra_[r].area("data").size()},
				   {"backing", extra_[r].hugetlb() ? "hugetlbfs" : "memfd"},
				   {"shared_with", who}});
	}
	json volumes = storage_ ? storage_->status().at("volumes") : json::array();
	return {{"ok", true},
		{"supervisor",
		 {{"pid", getpid()},
		  {"uptime_seconds", double(now_ns() - started_ns_) / 1e9},
		  {"control_socket", kSupervisorSocket},
		  {"topology", topo_.source}}},
		{"volumes", volumes},
		{"exports", exports_.list()},
		{"interface", topo_.interface},
		{"netns", topo_.netns},
		{"partitions", parts},
		{"queues", queues},
		{"regions", regions},
		{"region",
		 {{"frames", nframes_},
		  {"frame_size_bytes", frame_size_},
		  {"backing", region_.hugetlb() ? "hugetlbfs" : "memfd"},
		  {"spare", t.spare},
		  {"free", t.free},
		  {"fill", t.fill},
		  {"in_flight", t.in_flight},
		  {"leaked", t.leaked},
		  {"seen_twice", t.seen_twice},
		  {"refused_returns", refused}}}};
}

} // namespace mkdp
