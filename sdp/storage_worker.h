// SPDX-License-Identifier: BSD-2-Clause
// A storage worker: serves one pair of storage rings (ring ABI §3.3-3.4:
// mkdp_sreq_desc requests in, mkdp_scpl_desc completions out, data buffers
// in the rings' area) against the volumes' backends. It runs where the
// partition runs (its process, its CPUs, no privileges): the backends are
// file descriptors opened by the supervisor, or memory.
//
// Every request gets exactly one completion, errors included, except one
// whose tag is out of range (there is no one to tell: counted). Errors,
// as negative errno in the completion:
//   EINVAL  unknown op, bad flags or length, a volume not served, a range
//           past the volume's end (as NBD does)
//   EFAULT  a buffer outside the area
//   EBUSY   a tag already in flight
//   EIO     the backend failed, or transferred less than asked
// FLUSH makes every write completed before it durable (fdatasync); a
// write with FUA is durable on completion (RWF_DSYNC). DISCARD punches a
// hole, WRITE_ZEROES zeroes the range (FALLOC_FL_ZERO_RANGE on a file or
// device); on memory both write zeros.
#pragma once

#include <mkdp/doorbell.h>
#include <mkdp/ring.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mkdp::sdp {

// A volume's backing store.
struct Backend {
	int fd = -1;			// a file or block device; -1: memory
	std::span<uint8_t> mem;		// memory: the volume's bytes
	uint64_t size = 0;		// bytes; a multiple of 512
	bool direct = false;		// fd was opened with O_DIRECT

	// Whether this worker serves the volume: a worker is handed every
	// volume id, and serves only those given a file or memory.
	bool served() const noexcept { return fd >= 0 || !mem.empty(); }

	// Opens (creating, and sizing it to `size` when it is smaller) a file
	// for a volume, with O_DIRECT where the file system allows it.
	static Backend open_file(const std::string &path, uint64_t size);
};

struct WorkerStats {
	uint64_t requests = 0, completed = 0, errors = 0, bytes_read = 0, bytes_written = 0, flushes = 0;
	uint64_t unanswerable = 0;	// requests with a tag out of range: no completion possible
};

class StorageWorker {
public:
	// Serves `sq`/`cq`, whose buffers live in `area`, for the volumes
	// whose Backend is served() (`volumes` is indexed by volume id); up to
	// `depth` requests in flight on the backends (io_uring). Backends
	// stay the caller's.
	StorageWorker(Consumer<mkdp_sreq_desc> sq, Producer<mkdp_scpl_desc> cq, std::span<uint8_t> area,
		      std::vector<Backend> volumes, unsigned depth = 64);
	~StorageWorker();
	StorageWorker(const StorageWorker &) = delete;
	StorageWorker &operator=(const StorageWorker &) = delete;

	// One pass: takes the requests waiting (as many as there is room for
	// in flight), starts them, and posts the completions that finished.
	// Returns how many requests and completions it handled (0: idle).
	uint32_t poll();
	// Completions go out through `bell` (the completion ring's producer
	// side), which kicks the front end as its strategy asks; without one
	// they are only published. The Doorbell stays the caller's.
	void ring_completions_with(Doorbell &bell) noexcept { cq_bell_ = &bell; }
	// io_uring signals eventfd `fd` for every request it completes, so an
	// idle worker can sleep in poll() with requests in flight.
	void signal_completions(int fd);
	// Its ring ends, for a caller that arms the request ring's doorbell.
	Consumer<mkdp_sreq_desc> &requests() noexcept { return sq_; }
	Producer<mkdp_scpl_desc> &completions() noexcept { return cq_; }
	// Requests started and not yet completed.
	uint32_t in_flight() const noexcept { return in_flight_; }
	const WorkerStats &stats() const noexcept { return stats_; }

private:
	struct Uring;
	void start(const mkdp_sreq_desc &r);
	void complete(uint32_t tag, int32_t status, uint32_t bytes);
	void refuse(uint32_t tag, int32_t err);
	uint32_t reap();
	uint32_t flush_completions();

	Consumer<mkdp_sreq_desc> sq_;
	Producer<mkdp_scpl_desc> cq_;
	std::span<uint8_t> area_;
	std::vector<Backend> volumes_;
	unsigned depth_;
	std::unique_ptr<Uring> uring_;
	std::vector<uint8_t> busy_;		// per tag: in flight
	std::vector<uint32_t> want_;		// per tag: bytes a read or write must move
	std::vector<mkdp_scpl_desc> backlog_;	// completions waiting for room on cq
	uint32_t in_flight_ = 0;
	uint32_t queued_ = 0;
	Doorbell *cq_bell_ = nullptr;			// SQEs prepared, not yet submitted
	WorkerStats stats_;
};

} // namespace mkdp::sdp
