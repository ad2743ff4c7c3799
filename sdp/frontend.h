// SPDX-License-Identifier: BSD-2-Clause
// The SDP front end: where clients' storage requests enter. A batch of
// requests is judged by the volume's SDP program (one BPF_PROG_RUN per 64),
// then each goes where its verdict says:
//   SDP_PASS      to the lane of the volume's owner partition
//   SDP_REDIRECT  to the lane of the partition the program named
//   SDP_DROP      completed at once with the program's errno
//   SDP_COMPLETE  completed at once (a read returns zeros)
//   SDP_ABORTED   completed at once with EIO, counted apart
// Requests outside their volume (a range past its end, partial sectors, an
// unknown op or volume) are not judged: they complete at once with EINVAL
// (verdict SDP_DROP), counted apart.
// A lane is one partition's pair of storage rings and the area their
// buffers live in (a region shared with that partition): the front end
// copies a write's data into the lane's area once, and a read's data out of
// it once; the partition's worker does I/O on the area in place.
#pragma once

#include "executor.h"

#include <mkdp/doorbell.h>
#include <mkdp/ring.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace mkdp::sdp {

struct Lane {
	Producer<mkdp_sreq_desc> sq;
	Consumer<mkdp_scpl_desc> cq;
	std::span<uint8_t> area;	// shared with the partition; split into one buffer per tag
	uint32_t partition = 0;		// the partition that serves it (sdp_md.target, .part)
	Doorbell *sq_bell = nullptr;	// rings the worker once per batch posted (none: publish only)
};

struct VolumeInfo {
	uint64_t size = 0;		// bytes
	uint32_t owner = 0;		// partition that serves SDP_PASS
};

// A client's request: its own tag, and its own buffer (len bytes).
struct Request {
	uint8_t op = SDP_OP_READ;	// SDP_OP_* (the ring ABI's MKDP_SOP_* values)
	uint8_t flags = 0;		// SDP_F_*
	uint16_t volume = 0;
	uint32_t tag = 0;
	uint64_t sector = 0;
	uint32_t len = 0;
	uint8_t *data = nullptr;
	uint32_t part = 0;		// the issuing partition, as the program sees it
	uint16_t queue = 0;		// the client's submission queue, as the program sees it
};

struct Completion {
	uint32_t tag;		// the client's
	int32_t status;		// 0 or a negative errno
	uint32_t bytes;
	uint8_t verdict;	// enum sdp_action
};

struct FrontendStats {
	uint64_t verdicts[SDP_ACTION_MAX + 1] = {};
	std::map<uint32_t, uint64_t> per_partition;	// requests sent to each lane
	std::map<int32_t, uint64_t> per_errno;		// completions with that (negative) status
	uint64_t bad_completions = 0;	// a lane completed a tag it was not given (ignored)
	// What the lanes' completion rings refused, over every lane this
	// front end has had: descriptors that failed validation, and
	// impossible producer indices (a worker scribbled its ring).
	uint64_t cq_rejected = 0, cq_corrupt = 0;
	uint64_t invalid = 0;		// requests outside their volume's rules: EINVAL, never judged
};

class Frontend {
public:
	// `program` may be null: every request passes to its volume's owner.
	// A volume's owner may have no lane yet (set_lane()).
	Frontend(Program *program, std::vector<Lane> lanes, std::vector<VolumeInfo> volumes);

	// Judges and routes the requests; all are accepted (those a full lane
	// cannot take yet wait, in order, and go out in a later poll()).
	void submit(std::span<const Request> reqs);
	// Posts what waits, collects the lanes' completions and the program's
	// own answers, copying read data to the clients' buffers. Returns how
	// many completions it wrote to out.
	uint32_t reap(std::span<Completion> out);
	// A lane comes (its partition started: fresh rings) or goes (its
	// partition died): what was in flight on it completes with EIO, and
	// requests for it fail with EIO until it comes back.
	void set_lane(Lane lane);
	void drop_lane(uint32_t partition);
	// Another program (null: none) for the batches from now on.
	void set_program(Program *p) noexcept { program_ = p; }
	Program *program() const noexcept { return program_; }
	// The completion ring of partition p's lane (null: none), for a caller
	// that sleeps until a worker completes something (Doorbell::arm()).
	Consumer<mkdp_scpl_desc> *lane_cq(uint32_t p) noexcept
	{
		LaneState *l = lane(p);
		return l ? &l->lane.cq : nullptr;
	}
	// Requests submitted and not yet reaped.
	uint64_t outstanding() const noexcept { return outstanding_; }
	// The statistics, the completion rings' refusals brought up to date.
	const FrontendStats &stats() noexcept;

private:
	struct Pending {
		Request r;
		uint8_t verdict;
	};
	struct LaneState {
		Lane lane;
		uint32_t slot_size = 0;			// bytes of the area per tag
		std::vector<uint32_t> free_tags;
		std::vector<Pending> by_tag;		// what each lane tag carries
		std::vector<uint8_t> busy;		// per lane tag: in flight
		std::deque<Pending> waiting;		// judged, no room yet
		uint32_t staged = 0;			// posted, not yet published
	};
	bool fits(const Request &r) const noexcept;
	void route(const Request &r, const sdp_md &md, uint8_t verdict);
	void answer(const Request &r, int32_t status, uint32_t bytes, uint8_t verdict);
	bool post(LaneState &l, const Pending &p);
	void publish();
	LaneState *lane(uint32_t partition) noexcept
	{
		return partition < lanes_.size() && lanes_[partition] ? &*lanes_[partition] : nullptr;
	}

	Program *program_;
	std::vector<std::optional<LaneState>> lanes_;	// by partition
	std::vector<VolumeInfo> volumes_;
	std::vector<Completion> answered_;	// completed by the front end itself
	std::vector<sdp_md> mds_;		// the requests of a batch that fit (fits())
	std::vector<size_t> judged_;		// their indices in the batch
	std::vector<uint8_t> verdicts_;
	uint64_t outstanding_ = 0;
	FrontendStats stats_;
	uint64_t gone_rejected_ = 0, gone_corrupt_ = 0;	// of lanes dropped since
};

} // namespace mkdp::sdp
