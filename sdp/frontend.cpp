// SPDX-License-Identifier: BSD-2-Clause
#include "frontend.h"

#include <mkdp/error.h>
#include <mkdp/ring.h>

#include <cerrno>
#include <cstring>

namespace mkdp::sdp {

// A request's op goes on the ring as it is (post() copies it): the
// program's ops are the ring ABI's.
static_assert(SDP_OP_READ == MKDP_SOP_READ && SDP_OP_WRITE == MKDP_SOP_WRITE &&
		      SDP_OP_FLUSH == MKDP_SOP_FLUSH && SDP_OP_DISCARD == MKDP_SOP_DISCARD &&
		      SDP_OP_WRITE_ZEROES == MKDP_SOP_WRITE_ZEROES && SDP_OP_MAX == MKDP_SOP_MAX,
	      "SDP_OP_* must equal MKDP_SOP_*");

Frontend::Frontend(Program *program, std::vector<Lane> lanes, std::vector<VolumeInfo> volumes)
	: program_(program), volumes_(std::move(volumes))
{
	for (Lane &l : lanes)
		set_lane(std::move(l));
}

void Frontend::set_lane(Lane lane)
{
	uint32_t p = lane.partition;
	drop_lane(p);
	LaneState s;
	uint32_t entries = lane.sq.entries();
	s.slot_size = uint32_t(lane.area.size() / entries) & ~uint32_t(MKDP_SECTOR_SIZE - 1);
	if (!s.slot_size)
		throw Error("lane of partition " + std::to_string(p) + ": its area holds no buffer per tag");
	for (uint32_t t = entries; t-- > 0;)
		s.free_tags.push_back(t);
	s.by_tag.resize(entries);
	s.busy.assign(entries, 0);
	s.lane = std::move(lane);
	if (lanes_.size() <= p)
		lanes_.resize(p + 1);
	lanes_[p] = std::move(s);
}

void Frontend::drop_lane(uint32_t partition)
{
	LaneState *l = lane(partition);
	if (!l)
		return;
	for (uint32_t t = 0; t < l->by_tag.size(); t++)
		if (l->busy[t])
			answer(l->by_tag[t].r, -EIO, 0, l->by_tag[t].verdict);
	for (const Pending &p : l->waiting)
		answer(p.r, -EIO, 0, p.verdict);
	gone_rejected_ += l->lane.cq.rejected();
	gone_corrupt_ += l->lane.cq.corrupt();
	lanes_[partition].reset();
}

const FrontendStats &Frontend::stats() noexcept
{
	stats_.cq_rejected = gone_rejected_;
	stats_.cq_corrupt = gone_corrupt_;
	for (const auto &l : lanes_)
		if (l) {
			stats_.cq_rejected += l->lane.cq.rejected();
			stats_.cq_corrupt += l->lane.cq.corrupt();
		}
	return stats_;
}

void Frontend::answer(const Request &r, int32_t status, uint32_t bytes, uint8_t verdict)
{
	answered_.push_back({r.tag, status, bytes, verdict});
}

// Whether r is a request its volume can serve: a known op on a volume that
// exists; any op but FLUSH a range of whole sectors inside the volume, READ
// and WRITE at least one sector. The workers check the same against their
// backends, but requests an SDP program answers itself (SDP_COMPLETE,
// SDP_DROP) never reach a worker: without this a read past the end of a
// volume completed with zeros and status 0.
bool Frontend::fits(const Request &r) const noexcept
{
	if (r.op > SDP_OP_MAX || r.volume >= volumes_.size())
		return false;
	if (r.op == SDP_OP_FLUSH)
		return true;
	bool rw = r.op == SDP_OP_READ || r.op == SDP_OP_WRITE;
	if (r.len % MKDP_SECTOR_SIZE || (rw && r.len == 0))
		return false;
	uint64_t size = volumes_[r.volume].size;
	return r.sector <= size / MKDP_SECTOR_SIZE && in_area(r.sector * MKDP_SECTOR_SIZE, r.len, size);
}

void Frontend::submit(std::span<const Request> reqs)
{
	// Only requests that fit their volume are judged: a program may rely
	// on the range it sees, as an XDP program on the frame's bounds.
	mds_.clear();
	judged_.clear();
	for (size_t i = 0; i < reqs.size(); i++) {
		const Request &r = reqs[i];
		if (!fits(r)) {
			stats_.invalid++;
			answer(r, -EINVAL, 0, SDP_DROP);
			continue;
		}
		mds_.push_back({r.op, r.flags, r.volume, r.queue, uint16_t(r.tag), r.sector, r.len, r.part, 0, 0});
		judged_.push_back(i);
	}
	verdicts_.assign(mds_.size(), SDP_PASS);
	if (program_ && !mds_.empty())
		program_->run(mds_, verdicts_.data());
	outstanding_ += reqs.size();
	for (size_t k = 0; k < mds_.size(); k++)
		route(reqs[judged_[k]], mds_[k], verdicts_[k]);
	publish();
}

// Every lane's posts of this pass go out with one publish and at most one
// kick of its worker.
void Frontend::publish()
{
	for (auto &l : lanes_)
		if (l && l->staged) {
			if (l->lane.sq_bell)
				l->lane.sq_bell->submit(l->lane.sq, l->staged);
			else
				l->lane.sq.submit(l->staged);
			l->staged = 0;
		}
}

void Frontend::route(const Request &r, const sdp_md &md, uint8_t verdict)
{
	// SDP_PROGRAM clamps what the request function returns, but the
	// executor runs any object with its entry point and batch map.
	if (verdict > SDP_ACTION_MAX)
		verdict = SDP_ABORTED;
	stats_.verdicts[verdict]++;
	switch (verdict) {
	case SDP_DROP:
		return answer(r, md.err > 0 ? -md.err : -EIO, 0, verdict);
	case SDP_COMPLETE:
		if (r.op == SDP_OP_READ && r.data)
			std::memset(r.data, 0, r.len);
		return answer(r, 0, r.op == SDP_OP_READ || r.op == SDP_OP_WRITE ? r.len : 0, verdict);
	case SDP_PASS:
	case SDP_REDIRECT: {
		uint32_t part = verdict == SDP_PASS ? volumes_[r.volume].owner : md.target;
		LaneState *lp = lane(part);
		if (!lp || r.op > SDP_OP_MAX)
			return answer(r, -EIO, 0, verdict);	// nowhere to go, or an op the ring ABI lacks
		LaneState &l = *lp;
		stats_.per_partition[part]++;
		if (!l.waiting.empty() || !post(l, {r, verdict}))
			l.waiting.push_back({r, verdict});
		return;
	}
	default:
		return answer(r, -EIO, 0, SDP_ABORTED);
	}
}

bool Frontend::post(LaneState &l, const Pending &p)
{
	const Request &r = p.r;
	if (l.free_tags.empty())
		return false;
	bool data = r.op == SDP_OP_READ || r.op == SDP_OP_WRITE;
	if (data && r.len > l.slot_size) {
		answer(r, -EINVAL, 0, p.verdict);	// larger than a lane buffer
		return true;
	}
	uint32_t t = l.free_tags.back();
	uint64_t buf = uint64_t(t) * l.slot_size;
	mkdp_sreq_desc d{r.op, uint16_t(r.flags & SDP_F_FUA ? MKDP_SREQ_F_FUA : 0), t, r.sector, buf, r.len, r.volume};
	if (r.op == SDP_OP_WRITE && r.data)
		std::memcpy(l.lane.area.data() + buf, r.data, r.len);
	if (!l.lane.sq.stage(&d, 1))
		return false;
	l.staged++;
	l.free_tags.pop_back();
	l.by_tag[t] = p;
	l.busy[t] = 1;
	return true;
}

uint32_t Frontend::reap(std::span<Completion> out)
{
	uint32_t n = 0;
	for (auto &lo : lanes_) {
		if (!lo)
			continue;
		LaneState &l = *lo;
		while (!l.waiting.empty() && post(l, l.waiting.front()))
			l.waiting.pop_front();
		mkdp_scpl_desc c[64];
		uint32_t room = uint32_t(std::min<size_t>(64, out.size() - n));
		uint32_t k = room ? l.lane.cq.consume(c, room) : 0;
		for (uint32_t i = 0; i < k; i++) {
			if (!l.busy[c[i].tag]) {
				stats_.bad_completions++;
				continue;
			}
			l.busy[c[i].tag] = 0;
			const Pending &p = l.by_tag[c[i].tag];
			if (p.r.op == SDP_OP_READ && p.r.data && c[i].status == 0)
				std::memcpy(p.r.data, l.lane.area.data() + uint64_t(c[i].tag) * l.slot_size, p.r.len);
			out[n++] = {p.r.tag, c[i].status, c[i].bytes, p.verdict};
			if (c[i].status)
				stats_.per_errno[c[i].status]++;
			l.free_tags.push_back(c[i].tag);
		}
	}
	size_t a = std::min(answered_.size(), out.size() - n);
	for (size_t i = 0; i < a; i++) {
		out[n++] = answered_[i];
		if (answered_[i].status)
			stats_.per_errno[answered_[i].status]++;
	}
	answered_.erase(answered_.begin(), answered_.begin() + long(a));
	publish();
	outstanding_ -= n;
	return n;
}

} // namespace mkdp::sdp
