// SPDX-License-Identifier: BSD-2-Clause
// The supervisor daemon (supervisor.h is how to start and stop it): the
// "host kernel" of mkdp's partitions. Two threads:
//
//   control (this class): set-up and teardown, the control socket, status,
//     partition processes (start, stop, reap on SIGCHLD), steering;
//   data (DataPath): returns, refills and quotas, nothing else.
//
// The control thread changes what the data path sees only through
// DataPath::call(), between two of its passes. Set-up is in
// supervisor_setup.cpp, partition life and the control loop in
// supervisor_control.cpp, status in supervisor_status.cpp.
#pragma once

#include "control_request.h"
#include "control_server.h"
#include "data_path.h"
#include "exports.h"
#include "storage_plane.h"
#include "supervisor.h"
#include "up_handshake.h"
#include "user_steering.h"

#include <mkdp/cgroup.h>
#include <mkdp/cpu.h>
#include <mkdp/partition.h>
#include <mkdp/region.h>
#include <mkdp/topology.h>
#include <mkdp/xsk_ring_map.h>
#include <steer_loader.h>

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mkdp {

inline constexpr uint32_t kRxEntries = 2048;	// per (queue, partition) socket
inline constexpr uint64_t kSettleNs = 20'000'000;	// after clearing XSKMAP slots, before reading RX rings
inline constexpr uint64_t kStartTimeoutNs = 5'000'000'000;
inline constexpr uint64_t kStopTimeoutNs = 2'000'000'000;
inline constexpr int kControlNice = -5;	// the control thread's, see Supervisor::loop()
inline constexpr int kBulkNice = 10;	// its bulk work's (the rule walk of a status)

enum class PState { stopped, starting, running, stopping, reclaiming };
const char *to_string(PState s);

// A partition as the control thread sees it.
struct Part {
	PartitionSpec spec;
	uint32_t index = 0;
	std::vector<uint32_t> qidx;	// indices into the data path's queues, per spec.queues
	PState state = PState::stopped;
	int pid = 0;
	int ctl_fd = -1;
	PartitionCtl *ctl = nullptr;
	size_t ctl_size = 0;
	std::vector<int> xsk;		// one per queue, this incarnation
	std::vector<XskRingMap> rx;	// their RX rings (the data path reads them)
	CpuPlacement placement;
	bool umem = false;		// shares the UMEM region (has ret/fwd rings and a frame range)
	std::vector<size_t> regions;	// indices into Supervisor::extra_
	uint64_t xsk_dropped = 0, xsk_ring_full = 0;	// XDP_STATISTICS over its sockets
	uint64_t deadline = 0;		// starting: give up; stopping: SIGKILL
	uint64_t settle_at = 0;		// reclaiming: read RX rings after this
	bool restart_after = false;
	bool died_starting = false;	// exited before it was ready
	std::vector<int> waiters;	// clients waiting for the current transition
	unsigned starts = 0;
	int last_status = -1;
	// Of the last incarnation that ended: what `part stop|kill|restart`
	// report ("killed (was pid 4242); its 512 frames reclaimed").
	int last_pid = 0;
	uint64_t last_reclaimed = 0;
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
	using json = nlohmann::json;

	void checkpoint(const char *phase)
	{
		if (up_)
			up_->checkpoint(phase);
	}
	// supervisor_setup.cpp
	FramePool setup_region();
	void setup_queues(FramePool pool);
	void attach_steering();
	void undo_steering() noexcept;
	void write_state_file();
	int32_t forward_to(const Part &p) const;

	// supervisor_control.cpp
	void start(Part &p);
	std::string executable_for(const std::string &name) const;
	void make_sockets(Part &p);
	void close_sockets(Part &p) noexcept;
	void begin_stop(Part &p, int sig);
	void on_exit(Part &p, int status);
	void reap();
	void check_transitions();
	bool in_transition() const;
	void handle(int fd, const std::string &line);
	void finish_waiters(Part &p, const json &j);
	Part *find(const std::string &name);
	std::string start_failure(const Part &p) const;

	// supervisor_storage.cpp
	void setup_storage();
	void start_exports();
	void handle_sdp(int fd, const ControlRequest &req);

	// supervisor_status.cpp
	json part_json(const Part &p, const FramePool::PartInfo &fi, const FramePool::Tally *t) const;
	json part_json(const Part &p);
	json status();

	Topology topo_;
	SupervisorOptions opts_;
	uint64_t started_ns_ = now_ns();	// CLOCK_MONOTONIC: the status's uptime
	UpReport *up_;
	std::optional<Steering> steer_;
	bool attached_ = false;
	std::optional<UserSteering> user_;	// the program the user had attached before up
	std::string steer_undone_;		// what teardown did with the steering
	std::vector<std::string> problems_;	// what teardown could not undo
	Region region_;
	uint32_t frame_size_ = 2048, nframes_ = 0;
	std::optional<DataPath> data_;
	std::vector<Region> extra_;	// the topology's other regions
	std::vector<std::string> extra_names_;
	std::vector<Part> parts_;
	int ifindex_ = 0;
	int chld_fd_ = -1, term_fd_ = -1;	// signalfds: SIGCHLD; SIGTERM, SIGINT, SIGHUP
	ControlServer server_;
	bool quit_ = false;
	int down_client_ = -1;
	std::map<std::string, int> doorbell_fds_;	// forward ring -> its doorbell's eventfd
	std::optional<StoragePlane> storage_;	// the volumes' front ends (none: no volume)
	Exports exports_;			// FUSE exports of volumes (mkdp-export processes)
};

// The daemon's main: set up, commit with `up` (up_handshake.h), loop.
int daemon_main(const Topology &t, const SupervisorOptions &o, UpReport &up);

} // namespace mkdp
