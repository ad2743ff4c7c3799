// SPDX-License-Identifier: BSD-2-Clause
// The storage plane's inner parts (storage_plane.h), shared by its two
// files: storage_plane.cpp (the thread, lanes, sessions) and
// storage_plane_programs.cpp (programs and status).
#pragma once

#include "storage_plane.h"

#include <mkdp/doorbell.h>
#include <mkdp/region.h>

#include <executor.h>
#include <frontend.h>
#include <latency_histogram.h>
#include <storage_rings.h>
#include <storage_worker.h>

namespace mkdp {

// Every ring of a volume waits with the volume's strategy, through an
// eventfd (the plane and the workers sleep in poll() on several).
inline DoorbellOptions storage_bell(DoorbellStrategy s, int fd)
{
	return {.strategy = s, .mechanism = WakeMechanism::eventfd, .poll_budget_ns = sdp::kStoragePollBudgetNs, .eventfd = fd};
}

// One pair of storage rings between the plane and a partition serving a
// volume. The plane produces requests and consumes completions.
struct StoragePlane::Lane {
	Region rings;
	int bells[2] = {-1, -1};	// eventfds: requests (the worker waits), completions (the plane waits)
	Doorbell sq_bell;		// producer side
	Doorbell cq_bell;		// consumer side
	~Lane();
};

// A client's session: its rings, the tags it has in flight.
struct StoragePlane::Session {
	int sock = -1;			// the control connection; closed = session over
	uint32_t vol = 0;		// index into vols_
	uint32_t part = sdp::kHostPart;	// sdp_md.part of its requests
	uint16_t slot = 0;		// sdp_md.queue, and the high half of front-end tags
	Region rings;
	Consumer<mkdp_sreq_desc> sq;
	Producer<mkdp_scpl_desc> cq;
	int bells[2] = {-1, -1};
	Doorbell sq_bell, cq_bell;
	std::span<uint8_t> data;
	uint64_t busy[(sdp::kStorageEntries + 63) / 64] = {};	// client tags in flight
	uint64_t taken_ns[sdp::kStorageEntries] = {};	// by client tag: when the plane took it (latency)
	uint32_t outstanding = 0;	// requests in the front end
	bool closing = false;		// hung up: free once outstanding is 0
	uint64_t bad = 0;		// descriptors its ring refused
	std::vector<mkdp_scpl_desc> backlog;	// completions its full ring could not take yet
	~Session();
};

struct StoragePlane::Vol {
	VolumeSpec spec;
	uint32_t id = 0;
	uint32_t owner = 0;		// partition index
	std::vector<uint32_t> servers;	// partition indices, owner first
	int backend_fd = -1;
	bool memory = false, direct = false;
	uint64_t size = 0;
	DoorbellStrategy wakeup = DoorbellStrategy::adaptive;
	std::string program;		// the attached program's name ("" = none)
	std::unique_ptr<sdp::Frontend> fe;
	std::map<uint32_t, std::unique_ptr<Lane>> lanes;	// by partition
	uint64_t requests = 0, bad = 0;
	sdp::LatencyHistogram latency;	// of the requests the front end completed
	~Vol();
};

} // namespace mkdp
