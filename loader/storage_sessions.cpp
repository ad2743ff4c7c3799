// SPDX-License-Identifier: BSD-2-Clause
// The storage plane's client sessions (storage_plane.h): opening one,
// taking its requests into a volume's batch, answering it, ending it.
#include "storage_plane_parts.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>

#include <poll.h>

#include <algorithm>

namespace mkdp {

void StoragePlane::open_session(int fd, const std::string &volume_name, const std::string &as)
{
	Vol &v = volume(volume_name);
	auto s = std::make_unique<Session>();
	s->vol = v.id;
	if (!as.empty()) {
		const PartitionSpec *ps = topo_.partition(as);
		if (!ps)
			throw Error("no partition '" + as + "' to issue requests as");
		s->part = uint32_t(ps - topo_.partitions.data());
	}
	s->rings = Region::create(sdp::storage_rings_layout(), {.name = "mkdp-sdp-client-" + volume_name});
	s->bells[0] = make_doorbell_eventfd();
	s->bells[1] = make_doorbell_eventfd();
	s->sq = s->rings.requests("sq", uint32_t(vols_.size()));
	s->cq = s->rings.producer<mkdp_scpl_desc>("cq");
	s->data = s->rings.area("data");
	s->sq_bell = Doorbell(s->sq, storage_bell(v.wakeup, s->bells[0]));
	s->cq_bell = Doorbell(s->cq, storage_bell(v.wakeup, s->bells[1]));
	s->backlog.reserve(sdp::kStorageEntries);
	Session *raw = s.get();
	call([&] {
		auto free = std::find(sessions_.begin(), sessions_.end(), nullptr);
		if (free == sessions_.end())
			throw Error("too many sessions (" + std::to_string(sessions_.size()) + ")");
		s->slot = uint16_t(free - sessions_.begin());
		*free = std::move(s);
	});
	nlohmann::json r{{"ok", true}, {"volume", volume_name}, {"volume_id", v.id}, {"size_bytes", v.size},
			 {"wakeup", to_string(v.wakeup)}};
	int pass[3] = {raw->rings.fd(), raw->bells[0], raw->bells[1]};
	try {
		send_fds(fd, pass, r.dump() + "\n");
	} catch (...) {
		// The client is gone already: the plane notices the socket.
	}
	call([&] { raw->sock = fd; });
}

// The client's completion ring holds a slot per tag, so it has room unless
// the client stopped reaping (or completions refused descriptors it sent):
// what does not fit waits, and the session's ring is not read meanwhile.
void StoragePlane::deliver(Session &s, const mkdp_scpl_desc &c) noexcept
{
	if (c.tag < sdp::kStorageEntries)
		s.busy[c.tag / 64] &= ~(1ULL << (c.tag % 64));
	s.backlog.push_back(c);
}

uint32_t StoragePlane::flush_sessions() noexcept
{
	uint32_t n = 0;
	for (auto &sp : sessions_) {
		if (!sp || sp->backlog.empty())
			continue;
		Session &s = *sp;
		uint32_t k = 0;
		try {
			k = s.cq_bell.produce(s.cq, s.backlog.data(), uint32_t(s.backlog.size()));
		} catch (const std::exception &) {
			// The client rewrote its ring's doorbell record: it is
			// hostile or broken; its session ends.
			s.backlog.clear();
			s.closing = true;
			continue;
		}
		s.backlog.erase(s.backlog.begin(), s.backlog.begin() + k);
		n += k;
	}
	return n;
}

// Takes requests from the volume's sessions (up to a batch), checks what
// the ring's validation cannot (the volume, a tag in flight), and hands
// the batch to the front end: one BPF_PROG_RUN for all of them.
uint32_t StoragePlane::take(Vol &v) noexcept
{
	batch_.clear();
	uint32_t taken = 0;
	uint64_t now = 0;	// one clock read per batch, not per request
	for (auto &sp : sessions_) {
		if (!sp || sp->vol != v.id || sp->closing || !sp->backlog.empty())
			continue;
		Session &s = *sp;
		uint32_t room = uint32_t(SDP_BATCH_MAX - batch_.size()), idx;
		uint32_t n = room ? s.sq.peek(room, &idx) : 0;
		for (uint32_t i = 0; i < n; i++) {
			mkdp_sreq_desc d;
			DescError e = s.sq.fetch(idx + i, &d);
			v.requests++;
			if (e == DescError::bad_tag) {
				s.bad++;	// no tag to answer on
				v.bad++;
				continue;
			}
			uint64_t bit = 1ULL << (d.tag % 64);
			if (e != DescError::ok || d.volume != v.id || (s.busy[d.tag / 64] & bit)) {
				v.bad++;
				int32_t err = e == DescError::out_of_area ? -EFAULT : (e == DescError::ok && d.volume == v.id) ? -EBUSY : -EINVAL;
				s.backlog.push_back({d.tag, err, 0, 0});
				continue;
			}
			s.busy[d.tag / 64] |= bit;
			s.outstanding++;
			s.taken_ns[d.tag] = now ? now : (now = now_ns());
			batch_.push_back({.op = uint8_t(d.op),
					  .flags = uint8_t(d.flags & MKDP_SREQ_F_FUA ? SDP_F_FUA : 0),
					  .volume = uint16_t(v.id),
					  .tag = uint32_t(s.slot) << 16 | d.tag,
					  .sector = d.sector,
					  .len = d.len,
					  .data = d.op == MKDP_SOP_READ || d.op == MKDP_SOP_WRITE ? s.data.data() + d.buf : nullptr,
					  .part = s.part,
					  .queue = s.slot});
		}
		if (n)
			s.sq.release(n);
		taken += n;
		if (batch_.size() == SDP_BATCH_MAX)
			break;
	}
	if (!batch_.empty())
		v.fe->submit(batch_);
	return taken;
}

// Sessions whose client hung up end once nothing of theirs is in flight
// (a lane may still be writing into their buffers).
void StoragePlane::end_sessions() noexcept
{
	pollfd p[256];
	nfds_t n = 0;
	for (auto &s : sessions_)
		if (s && !s->closing && s->sock >= 0)
			p[n++] = {s->sock, POLLIN | POLLRDHUP, 0};
	if (n && ::poll(p, n, 0) > 0)
		for (nfds_t i = 0; i < n; i++)
			if (p[i].revents)
				for (auto &s : sessions_)
					if (s && s->sock == p[i].fd)
						s->closing = true;
	for (auto &s : sessions_)
		if (s && s->closing && !s->outstanding)
			s.reset();
}

} // namespace mkdp
