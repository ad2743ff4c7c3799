// SPDX-License-Identifier: BSD-2-Clause
#include "client.h"

#include "storage_rings.h"

#include <mkdp/error.h>
#include <mkdp/fd_passing.h>
#include <mkdp/supervisor.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace mkdp::sdp {

std::string errno_name(int err)
{
	int e = err < 0 ? -err : err;
	const char *abbr = strerrorname_np(e);
	const char *desc = strerrordesc_np(e);
	return std::string(abbr ? abbr : "E" + std::to_string(e)) + (desc ? std::string(" (") + desc + ")" : "");
}


Volume Volume::open(const std::string &name, const OpenOptions &o)
{
	int sock = supervisor_connect();
	std::string line = nlohmann::json{{"cmd", "sdp-open"}, {"volume", name}, {"as", o.as}}.dump() + "\n";
	if (send(sock, line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size())) {
		int e = errno;
		::close(sock);
		throw_errno("send to the supervisor", e);
	}
	return adopt(sock, name, o.timeout_ns);
}

Volume Volume::adopt(int sock, const std::string &name, uint64_t timeout_ns)
{
	Volume v;
	v.sock_ = sock;
	pollfd p{v.sock_, POLLIN, 0};
	if (poll(&p, 1, int(timeout_ns / 1'000'000)) <= 0)
		throw Error("the supervisor did not answer 'sdp-open' in time");
	ReceivedFds got = recv_fds(v.sock_);
	nlohmann::json r;
	try {
		r = nlohmann::json::parse(got.payload.substr(0, got.payload.find('\n')));
	} catch (const nlohmann::json::exception &e) {
		for (int fd : got.fds)
			::close(fd);
		throw Error(std::string("bad answer from the supervisor: ") + e.what());
	}
	if (!r.value("ok", false) || got.fds.size() != 3) {
		for (int fd : got.fds)
			::close(fd);
		throw Error(r.value("error", std::string("the supervisor refused to open volume ") + name));
	}
	v.name_ = name;
	v.id_ = r.at("volume_id");
	v.size_ = r.at("size_bytes");
	std::string wakeup = r.at("wakeup");
	v.rings_ = Region::open(got.fds[0]);
	::close(got.fds[0]);
	v.bells_[0] = got.fds[1];
	v.bells_[1] = got.fds[2];
	v.sq_ = v.rings_.producer<mkdp_sreq_desc>("sq");
	v.cq_ = v.rings_.completions("cq", "sq");
	v.depth_ = v.sq_.entries();
	v.max_io_ = kStorageSlot;
	v.data_ = v.rings_.area("data");
	DoorbellStrategy s = parse_doorbell_strategy(wakeup);
	// A client waiting for its completions spins about one device I/O
	// before sleeping (docs/sdp.md, "Doorbells on storage rings").
	DoorbellOptions bo{.strategy = s, .mechanism = WakeMechanism::eventfd, .poll_budget_ns = kStorageInFlightBudgetNs};
	bo.eventfd = v.bells_[1];
	v.cq_bell_ = Doorbell(v.cq_, bo);
	bo.eventfd = v.bells_[0];
	v.sq_bell_ = Doorbell(v.sq_, bo);
	return v;
}

Volume::Volume(Volume &&o) noexcept
{
	*this = std::move(o);
}

Volume &Volume::operator=(Volume &&o) noexcept
{
	if (this != &o) {
		close();
		name_ = std::move(o.name_);
		id_ = o.id_;
		depth_ = o.depth_;
		max_io_ = o.max_io_;
		size_ = o.size_;
		sock_ = std::exchange(o.sock_, -1);
		bells_[0] = std::exchange(o.bells_[0], -1);
		bells_[1] = std::exchange(o.bells_[1], -1);
		rings_ = std::move(o.rings_);
		sq_ = std::move(o.sq_);
		cq_ = std::move(o.cq_);
		sq_bell_ = std::move(o.sq_bell_);
		cq_bell_ = std::move(o.cq_bell_);
		data_ = o.data_;
		in_flight_ = o.in_flight_;
	}
	return *this;
}

Volume::~Volume()
{
	close();
}

void Volume::close() noexcept
{
	for (int *fd : {&sock_, &bells_[0], &bells_[1]})
		if (*fd >= 0) {
			::close(*fd);
			*fd = -1;
		}
	rings_ = Region();
}

std::span<uint8_t> Volume::buffer(uint16_t tag) const
{
	if (tag >= depth_)
		throw Error("tag " + std::to_string(tag) + " is not below the volume's depth " + std::to_string(depth_));
	return data_.subspan(storage_slot_offset(tag), max_io_);
}

uint32_t Volume::submit(std::span<const Io> ios)
{
	uint32_t done = 0;
	while (done < ios.size()) {
		uint32_t n = uint32_t(std::min<size_t>(ios.size() - done, sizeof(staged_) / sizeof(staged_[0])));
		for (uint32_t i = 0; i < n; i++) {
			const Io &io = ios[done + i];
			staged_[i] = {io.op, uint16_t(io.flags & SDP_F_FUA ? MKDP_SREQ_F_FUA : 0), io.tag,
				      io.sector, storage_slot_offset(io.tag), io.len, id_};
		}
		uint32_t k = sq_bell_.produce(sq_, staged_, n);
		done += k;
		if (k < n)
			break;
	}
	in_flight_ += done;
	return done;
}

uint32_t Volume::submit_descs(std::span<const mkdp_sreq_desc> descs)
{
	uint32_t n = sq_bell_.produce(sq_, descs.data(), uint32_t(descs.size()));
	in_flight_ += n;
	return n;
}

uint32_t Volume::reap(std::span<IoResult> out, uint64_t timeout_ns)
{
	if (out.empty())
		return 0;
	if (timeout_ns && !cq_.available(1))
		cq_bell_.wait(cq_, timeout_ns);
	mkdp_scpl_desc c[64];
	uint32_t n = cq_.consume(c, uint32_t(std::min<size_t>(out.size(), 64)));
	for (uint32_t i = 0; i < n; i++)
		out[i] = {uint16_t(c[i].tag), c[i].status, c[i].bytes};
	in_flight_ -= std::min(in_flight_, n);
	return n;
}

} // namespace mkdp::sdp
