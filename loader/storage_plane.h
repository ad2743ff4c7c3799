// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's storage plane: the SDP front end of every volume that
// `up` serves, on a thread of its own (the data path moves frames, the
// control thread answers the socket; neither waits for storage).
//
//   client (sdp/client.h)          storage plane            partition
//   sq/cq in its own region  ->  volume's SDP program  ->  sq/cq per volume
//                            <-  (Frontend, batches)   <-  StorageWorker
//
// It owns the volumes' backends (a file opened O_DIRECT where the file
// system allows, or the memfd of a memory volume: both outlive any
// partition), one pair of storage rings per (volume, serving partition),
// made fresh at each start of the partition, and a pair per client
// session. The control thread changes what the plane sees only through
// Handoff::call(), between two passes. See docs/sdp.md.
#pragma once

#include "handoff.h"

#include <mkdp/partition.h>
#include <mkdp/topology.h>

#include <frontend.h>

#include <nlohmann/json.hpp>

#include <poll.h>

#include <map>
#include <utility>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mkdp {

class StoragePlane {
public:
	// Opens every volume's backend and loads and attaches the programs
	// the topology names. Throws mkdp::Error naming the volume.
	explicit StoragePlane(const Topology &t);
	~StoragePlane();
	StoragePlane(const StoragePlane &) = delete;
	StoragePlane &operator=(const StoragePlane &) = delete;

	bool empty() const noexcept { return vols_.empty(); }
	void start();
	void stop() noexcept;

	// Control thread. Partition p (topology index) is starting: fresh
	// rings for every volume it serves, added to its plan with their four
	// fds (partition.h's order). The fds stay the plane's.
	void hand_over(uint32_t p, PartitionPlan &plan, std::vector<int> &fds);
	// p's process is gone: its rings' requests in flight complete with
	// EIO, and requests for it fail with EIO until it starts again.
	void partition_gone(uint32_t p);

	// A client's `sdp-open` on control connection `fd`: sends it its rings
	// and keeps fd as the session (closing it ends the session). Throws
	// (the caller answers with the error) before anything is sent.
	void open_session(int fd, const std::string &volume, const std::string &as);

	// Programs (sdp/executor.h): loaded by name, attached to volumes.
	nlohmann::json load(const std::string &path, const std::string &name);
	void unload(const std::string &name);
	// prog: a loaded program's name, or a path to an object (loaded first).
	// maps: lines "map NAME KEY... = VALUE..." (sdp/request_text.h).
	nlohmann::json attach(const std::string &volume, const std::string &prog, const std::vector<std::string> &maps);
	void detach(const std::string &volume);

	// Volumes (with per-verdict, per-partition, per-errno counts),
	// programs, sessions.
	nlohmann::json status();

private:
	struct Lane;
	struct Session;
	struct Vol;

	Vol &volume(const std::string &name);
	void run() noexcept;
	uint32_t pass() noexcept;
	uint32_t take(Vol &v) noexcept;
	void deliver(Session &s, const mkdp_scpl_desc &c) noexcept;
	uint32_t flush_sessions() noexcept;
	void end_sessions() noexcept;
	void sleep() noexcept;
	void call(const std::function<void()> &fn) { handoff_.call(fn, thread_.joinable()); }

	Topology topo_;
	std::vector<std::unique_ptr<Vol>> vols_;
	std::map<std::string, std::unique_ptr<sdp::Program>> programs_;
	std::vector<std::unique_ptr<Session>> sessions_;	// by slot (sdp_md.queue); null = free
	DoorbellStrategy strategy_ = DoorbellStrategy::polled;	// how the plane waits
	std::vector<sdp::Request> batch_;
	std::vector<sdp::Completion> done_;
	uint64_t next_hangup_check_ = 0;
	std::vector<pollfd> sleep_fds_;		// sleep()'s, reused
	std::vector<Session *> armed_sessions_;
	std::vector<std::pair<Lane *, Consumer<mkdp_scpl_desc> *>> armed_lanes_;
	Handoff handoff_;
	std::thread thread_;
	std::atomic<bool> quit_{false};
};

} // namespace mkdp
