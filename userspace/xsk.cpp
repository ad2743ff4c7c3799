// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/region.h>
#include <mkdp/xsk.h>

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace mkdp {

const char *to_string(FrameState s) noexcept
{
	switch (s) {
	case FrameState::free: return "free";
	case FrameState::fill: return "fill";
	case FrameState::app: return "app";
	case FrameState::tx: return "tx";
	}
	return "?";
}

Umem::Umem(std::span<uint8_t> area, const UmemConfig &cfg) { init(area, cfg); }

Umem::Umem(const Region &region, std::string_view area, UmemConfig cfg)
{
	const mkdp_region_entry &e = region.entry(area);
	if (e.kind != MKDP_ENTRY_AREA || !e.frame_size)
		throw Error("umem: region entry '" + std::string(area) + "' is not a framed data area");
	cfg.frame_size = e.frame_size;
	init(region.area(area), cfg);
}

void Umem::init(std::span<uint8_t> area, const UmemConfig &cfg)
{
	const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
	if (cfg.frame_size != 2048 && cfg.frame_size != 4096)
		throw Error("umem: frame size must be 2048 or 4096");
	if (reinterpret_cast<uintptr_t>(area.data()) % page)
		throw Error("umem: area is not page-aligned");
	if (area.empty() || area.size() % cfg.frame_size)
		throw Error("umem: area is not a whole number of frames");
	if (area.size() / cfg.frame_size > UINT32_MAX)
		throw Error("umem: too many frames");
	if (cfg.headroom >= cfg.frame_size / 2)
		throw Error("umem: headroom too large for the frame size");

	xsk_umem_config c{};
	c.fill_size = cfg.fill_size;
	c.comp_size = cfg.comp_size;
	c.frame_size = cfg.frame_size;
	c.frame_headroom = cfg.headroom;
	int rc = xsk_umem__create(&umem_, area.data(), area.size(), &fq0_, &cq0_, &c);
	if (rc)
		throw_errno("umem: register " + std::to_string(area.size()) + " bytes", -rc);

	area_ = area.data();
	size_ = area.size();
	frame_size_ = cfg.frame_size;
	headroom_ = cfg.headroom;
	nr_frames_ = uint32_t(size_ / frame_size_);
	free_.reserve(nr_frames_);
	// Lowest addresses on top, so a fresh Umem hands out frame 0 first.
	for (uint32_t i = nr_frames_; i-- > 0;)
		free_.push_back(uint64_t(i) * frame_size_);
	state_.assign(nr_frames_, FrameState::free);
	owner_.assign(nr_frames_, kNoOwner);
	counts_[int(FrameState::free)] = nr_frames_;
}

Umem::~Umem()
{
	// Sockets hold the Umem by reference and must be gone by now; libxdp
	// refuses (EBUSY) otherwise, and the memory stays registered until the
	// last socket closes, which is still safe.
	if (umem_)
		xsk_umem__delete(umem_);
}

bool Umem::move(uint64_t addr, FrameState from, FrameState to, uint8_t owner) noexcept
{
	uint64_t i = addr / frame_size_;
	if (addr >= size_ || state_[i] != from) [[unlikely]] {
		errors_++;
		return false;
	}
	state_[i] = to;
	owner_[i] = owner;
	counts_[int(from)]--;
	counts_[int(to)]++;
	if (to == FrameState::free)
		free_.push_back(i * frame_size_);
	return true;
}

bool Umem::take_free(uint64_t *addr, uint8_t owner, FrameState to) noexcept
{
	if (free_.empty())
		return false;
	uint64_t a = free_.back();
	free_.pop_back();
	uint64_t i = a / frame_size_;
	state_[i] = to;
	owner_[i] = owner;
	counts_[int(FrameState::free)]--;
	counts_[int(to)]++;
	*addr = a;
	return true;
}

uint32_t Umem::alloc(uint64_t *addrs, uint32_t n) noexcept
{
	uint32_t got = 0;
	while (got < n && take_free(&addrs[got], kNoOwner, FrameState::app))
		got++;
	return got;
}

uint32_t Umem::free(const uint64_t *addrs, uint32_t n) noexcept
{
	uint32_t done = 0;
	for (uint32_t i = 0; i < n; i++)
		done += move(addrs[i] - addrs[i] % frame_size_, FrameState::app, FrameState::free, kNoOwner);
	return done;
}

uint8_t Umem::attach_socket(int ifindex, uint32_t queue)
{
	for (const Binding &b : sockets_)
		if (b.used && b.ifindex == ifindex && b.queue == queue)
			throw Error("xsk: this umem already has a socket on ifindex " + std::to_string(ifindex) +
				    " queue " + std::to_string(queue) + " (it would share its fill ring)");
	for (size_t i = 0; i < sockets_.size(); i++)
		if (!sockets_[i].used) {
			sockets_[i] = {ifindex, queue, true};
			return uint8_t(i);
		}
	if (sockets_.size() >= kNoOwner)
		throw Error("xsk: too many sockets on one umem");
	sockets_.push_back({ifindex, queue, true});
	return uint8_t(sockets_.size() - 1);
}

void Umem::detach_socket(uint8_t slot) noexcept
{
	// Whatever the socket's rings held is ours again: the kernel let go
	// of it when the socket closed.
	for (uint32_t i = 0; i < nr_frames_; i++)
		if (owner_[i] == slot && (state_[i] == FrameState::fill || state_[i] == FrameState::tx))
			move(uint64_t(i) * frame_size_, state_[i], FrameState::free, kNoOwner);
	sockets_[slot].used = false;
}

XskSocket::XskSocket(Umem &umem, const std::string &ifname, uint32_t queue, const XskConfig &cfg)
	: umem_(umem), ifname_(ifname), queue_(queue)
{
	ifindex_ = int(if_nametoindex(ifname.c_str()));
	if (!ifindex_)
		throw_errno("xsk: device " + ifname);
	if (!cfg.rx_size && !cfg.tx_size)
		throw Error("xsk: a socket needs an RX or a TX ring");
	slot_ = umem.attach_socket(ifindex_, queue);

	xsk_socket_config c{};
	c.rx_size = cfg.rx_size;
	c.tx_size = cfg.tx_size;
	c.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
	c.bind_flags = cfg.bind_flags;
	int rc = xsk_socket__create_shared(&xsk_, ifname.c_str(), queue, umem.raw(),
					   cfg.rx_size ? &rx_ : nullptr, cfg.tx_size ? &tx_ : nullptr,
					   &fq_, &cq_, &c);
	if (rc) {
		umem.detach_socket(slot_);
		throw_errno("xsk: bind " + ifname + " queue " + std::to_string(queue), -rc);
	}
	xdp_options opts{};
	socklen_t len = sizeof(opts);
	if (getsockopt(fd(), SOL_XDP, XDP_OPTIONS, &opts, &len) == 0)
		zero_copy_ = opts.flags & XDP_OPTIONS_ZEROCOPY;
}

XskSocket::~XskSocket()
{
	xsk_socket__delete(xsk_);
	umem_.detach_socket(slot_);
}

uint32_t XskSocket::rx_burst(mkdp_frame_desc *out, uint32_t max) noexcept
{
	uint32_t idx;
	uint32_t n = xsk_ring_cons__peek(&rx_, max, &idx);
	uint32_t got = 0;
	for (uint32_t i = 0; i < n; i++) {
		const xdp_desc *d = xsk_ring_cons__rx_desc(&rx_, idx + i);
		uint64_t addr = xsk_umem__extract_addr(d->addr);
		if (!umem_.move(addr - addr % umem_.frame_size_, FrameState::fill, FrameState::app,
				Umem::kNoOwner)) [[unlikely]] {
			stats_.bad_desc++;
			continue;
		}
		out[got++] = {d->addr, d->len, d->options};
	}
	if (n)
		xsk_ring_cons__release(&rx_, n);
	stats_.rx += got;
	return got;
}

uint32_t XskSocket::refill(uint32_t n) noexcept
{
	n = std::min<uint32_t>(n, uint32_t(umem_.free_.size()));
	n = std::min(n, xsk_prod_nb_free(&fq_, n));
	uint32_t idx;
	if (!n || xsk_ring_prod__reserve(&fq_, n, &idx) != n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = 0;
		umem_.take_free(&a, slot_, FrameState::fill);
		*xsk_ring_prod__fill_addr(&fq_, idx + i) = a;
	}
	xsk_ring_prod__submit(&fq_, n);
	stats_.filled += n;
	if (xsk_ring_prod__needs_wakeup(&fq_))
		kick_rx();
	return n;
}

uint32_t XskSocket::recycle(const mkdp_frame_desc *descs, uint32_t n) noexcept
{
	uint32_t room = xsk_prod_nb_free(&fq_, n);
	uint32_t idx, put = 0, i = 0;
	if (room > n)
		room = n;
	if (room && xsk_ring_prod__reserve(&fq_, room, &idx) == room) {
		for (; i < room; i++) {
			uint64_t a = descs[i].addr - descs[i].addr % umem_.frame_size_;
			if (umem_.move(a, FrameState::app, FrameState::fill, slot_))
				*xsk_ring_prod__fill_addr(&fq_, idx + put++) = a;
			else
				stats_.bad_desc++;
		}
		// Refused descriptors left holes at the end of the
		// reservation: give the unused slots back.
		fq_.cached_prod -= room - put;
		if (put)
			xsk_ring_prod__submit(&fq_, put);
		stats_.filled += put;
		if (put && xsk_ring_prod__needs_wakeup(&fq_))
			kick_rx();
	}
	for (; i < n; i++)
		umem_.move(descs[i].addr - descs[i].addr % umem_.frame_size_, FrameState::app,
			   FrameState::free, Umem::kNoOwner);
	return put;
}

uint32_t XskSocket::tx_burst(const mkdp_frame_desc *descs, uint32_t n) noexcept
{
	n = std::min(n, xsk_prod_nb_free(&tx_, n));
	uint32_t idx, put = 0;
	if (!n || xsk_ring_prod__reserve(&tx_, n, &idx) != n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = descs[i].addr - descs[i].addr % umem_.frame_size_;
		if (!umem_.move(a, FrameState::app, FrameState::tx, slot_)) {
			stats_.bad_desc++;
			continue;
		}
		xdp_desc *d = xsk_ring_prod__tx_desc(&tx_, idx + put++);
		d->addr = descs[i].addr;
		d->len = descs[i].len;
		d->options = descs[i].options;
	}
	tx_.cached_prod -= n - put;
	if (put)
		xsk_ring_prod__submit(&tx_, put);
	stats_.tx += put;
	if (put && xsk_ring_prod__needs_wakeup(&tx_))
		kick_tx();
	return put;
}

uint32_t XskSocket::complete(uint32_t max) noexcept
{
	uint32_t idx;
	uint32_t n = xsk_ring_cons__peek(&cq_, max, &idx);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = xsk_umem__extract_addr(*xsk_ring_cons__comp_addr(&cq_, idx + i));
		if (!umem_.move(a - a % umem_.frame_size_, FrameState::tx, FrameState::free, Umem::kNoOwner))
			stats_.bad_desc++;
	}
	if (n)
		xsk_ring_cons__release(&cq_, n);
	stats_.completed += n;
	// Copy mode completes during the kick itself; when the TX ring still
	// holds frames, kick again so they are not stranded.
	if (xsk_ring_prod__needs_wakeup(&tx_) && stats_.tx > stats_.completed)
		kick_tx();
	return n;
}

void XskSocket::kick_rx() noexcept
{
	recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
	stats_.rx_kicks++;
}

void XskSocket::kick_tx() noexcept
{
	sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
	stats_.tx_kicks++;
}

xdp_statistics XskSocket::kernel_stats() const
{
	xdp_statistics s{};
	socklen_t len = sizeof(s);
	if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &s, &len) < 0)
		throw_errno("xsk: XDP_STATISTICS");
	return s;
}

} // namespace mkdp
