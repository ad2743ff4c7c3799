// SPDX-License-Identifier: BSD-2-Clause
// The SDP client API: I/O on a volume that `mkdp topology up` serves.
//
//	auto v = mkdp::sdp::Volume::open("v0");
//	std::memcpy(v.buffer(0).data(), data, 4096);
//	mkdp::sdp::Io io{.op = SDP_OP_WRITE, .tag = 0, .len = 4096, .sector = 8};
//	v.submit({&io, 1});
//	mkdp::sdp::IoResult r;
//	v.reap({&r, 1}, 1'000'000'000);	// r.status: 0 or -errno
//
// Opening a volume asks the supervisor for a pair of storage rings of the
// client's own (storage_rings.h), in a region shared with the supervisor's
// front end only, with one data buffer per tag: buffer(tag) is where a
// write's data goes before submit() and where a read's data is after its
// completion. The front end runs the volume's SDP program on the requests
// (in batches, with other clients'), and sends each where its verdict says;
// a request failed by the program completes with the program's errno
// (SDP_DROP: EROFS, EAGAIN, ...). Up to depth() requests may be in flight,
// each on its own tag; a tag reused while in flight completes with EBUSY.
//
// The session lasts as long as the Volume: closing it (or the process
// dying) ends it; requests in flight still complete into the supervisor,
// which then frees the rings. Not thread-safe: one thread per Volume, as
// with an io_uring.
#pragma once

#include "sdp.h"

#include <mkdp/doorbell.h>
#include <mkdp/region.h>

#include <cstdint>
#include <span>
#include <string>

namespace mkdp::sdp {

struct Io {
	uint8_t op = SDP_OP_READ;	// SDP_OP_*
	uint8_t flags = 0;		// SDP_F_FUA
	uint16_t tag = 0;		// < depth(); its data is buffer(tag)
	uint32_t len = 0;		// bytes, a multiple of 512, <= max_io(); 0 for FLUSH
	uint64_t sector = 0;		// 512-byte sector
};

struct IoResult {
	uint16_t tag;
	int32_t status;		// 0, or a negative errno
	uint32_t bytes;		// bytes transferred
};

struct OpenOptions {
	// The partition the requests come from, as the program sees them
	// (sdp_md.part): "" for the host (SDP_PART_HOST).
	std::string as;
	uint64_t timeout_ns = 10'000'000'000;	// for the supervisor's answer
};

class Volume {
public:
	// Throws mkdp::Error: no supervisor, no such volume ("volume 'x' does
	// not exist; volumes: v0, v1"), no such partition.
	static Volume open(const std::string &name, const OpenOptions &o = {});
	// A session the supervisor opened already on `sock` (its answer and
	// rings waiting there): how a process the supervisor starts (an
	// export) gets one without a request of its own. Takes `sock`.
	static Volume adopt(int sock, const std::string &name, uint64_t timeout_ns = 10'000'000'000);

	Volume() = default;
	Volume(Volume &&) noexcept;
	Volume &operator=(Volume &&) noexcept;
	~Volume();

	const std::string &name() const noexcept { return name_; }
	uint32_t id() const noexcept { return id_; }		// sdp_md.volume
	uint64_t size() const noexcept { return size_; }	// bytes
	uint32_t depth() const noexcept { return depth_; }	// tags: requests in flight
	uint32_t max_io() const noexcept { return max_io_; }	// bytes per request
	std::span<uint8_t> buffer(uint16_t tag) const;		// throws on a tag >= depth()

	// Queues as many of `ios` as the ring has room for, in order, and
	// rings the front end once. Returns how many it queued.
	uint32_t submit(std::span<const Io> ios);
	// The same for descriptors as the ring ABI has them (mkdp_sreq_desc:
	// buf an offset into the rings' area, volume id()): for tools and
	// tests that must send what submit() never would.
	uint32_t submit_descs(std::span<const mkdp_sreq_desc> descs);
	// Collects up to out.size() completions; when none is there, waits up
	// to timeout_ns for one (0: do not wait). Returns how many.
	uint32_t reap(std::span<IoResult> out, uint64_t timeout_ns = 0);
	uint32_t in_flight() const noexcept { return in_flight_; }

	// For a loop that sleeps on several sources at once (an export waits
	// on its FUSE device and its completions in one poll()): arm() is
	// false when completions are waiting (do not sleep); true when the
	// next one will make completion_fd() readable. A volume whose
	// completions are polled cannot wake a sleeper (!can_sleep()): its
	// caller spins while requests are in flight. After the sleep,
	// disarm() whatever woke it.
	bool arm() noexcept { return cq_bell_.arm(cq_); }
	void disarm() noexcept { cq_bell_.disarm(cq_); }
	int completion_fd() const noexcept { return cq_bell_.wake_fd(); }
	bool can_sleep() const noexcept { return completion_fd() >= 0 && cq_bell_.options().strategy != DoorbellStrategy::polled && cq_bell_.options().strategy != DoorbellStrategy::monitor; }

private:
	void close() noexcept;

	std::string name_;
	uint32_t id_ = 0, depth_ = 0, max_io_ = 0;
	uint64_t size_ = 0;
	int sock_ = -1;			// the session: closing it ends it
	int bells_[2] = {-1, -1};	// eventfds: request ring, completion ring
	Region rings_;
	Producer<mkdp_sreq_desc> sq_;
	Consumer<mkdp_scpl_desc> cq_;
	Doorbell sq_bell_, cq_bell_;
	std::span<uint8_t> data_;
	uint32_t in_flight_ = 0;
	mkdp_sreq_desc staged_[64];
};

// "EROFS" for -EROFS (or EROFS); "E<n>" when unnamed.
std::string errno_name(int err);

} // namespace mkdp::sdp
