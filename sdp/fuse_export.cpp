// SPDX-License-Identifier: BSD-2-Clause
#include "fuse_export.h"

#include "client.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace mkdp::sdp {

namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kBigChunk = 1ULL << 30;	// discard and write-zeroes: no buffer, large pieces
constexpr int kIdleWakeMs = 100;	// a signal between the exit check and poll() waits this long

uint64_t align_down(uint64_t x) { return x & ~(kSector - 1); }
uint64_t align_up(uint64_t x) { return (x + kSector - 1) & ~(kSector - 1); }

// Memory that keeps its capacity from one request to the next, so that a
// steady stream of requests allocates nothing.
class Scratch {
public:
	uint8_t *get(size_t n)
	{
		if (n > cap_) {
			p_.reset(static_cast<uint8_t *>(std::aligned_alloc(4096, align_up(n) + 4096)));
			if (!p_)
				throw std::bad_alloc();
			cap_ = n;
		}
		return p_.get();
	}

private:
	struct Free {
		void operator()(uint8_t *p) const noexcept { std::free(p); }
	};
	std::unique_ptr<uint8_t[], Free> p_;
	size_t cap_ = 0;
};

// One FUSE request on its way through the volume. Its I/O covers the
// sector-aligned range [off, off + len), held in `data`; the client's bytes
// are [uoff, uoff + ulen) of it. An unaligned write runs in two phases: the
// edge sectors are read first, then the whole range is written.
struct Op {
	fuse_req_t req;
	uint8_t op;			// SDP_OP_* of the current phase
	bool rmw;			// phase one of an unaligned write
	uint64_t off, len, uoff, ulen;
	struct Segment {
		uint64_t at, len;	// relative to off
	} seg[2];
	uint32_t nseg, cur;
	uint64_t issued;		// bytes of seg[cur] handed out
	uint32_t out;			// pieces in flight
	int32_t err;			// the first failure
	Scratch data, user;
	Op *next;			// in the waiting list
};

// The whole export in one thread, as qemu-storage-daemon serves its FUSE
// export: the device is read without blocking, every request waiting is
// taken in and turned into SDP requests, those go to the plane in one
// submit (one batch through the program), and each FUSE request is
// answered when its last piece completes. No hand-off between threads on
// the way: two CPUs have no room for one.
class Server {
public:
	Server(const ExportOptions &o, Volume v) : o_(o), v_(std::move(v)), chunk_(v_.depth())
	{
		for (uint32_t t = v_.depth(); t-- > 0;)
			free_tags_.push_back(uint16_t(t));
		ios_.reserve(v_.depth());
	}
	uint64_t size() const noexcept { return v_.size(); }
	uint32_t depth() const noexcept { return v_.depth(); }
	const ExportOptions &options() const noexcept { return o_; }
	time_t started() const noexcept { return started_; }

	void serve(fuse_session *se);

	// From the request callbacks: an I/O on the byte range [uoff, uoff +
	// ulen) (flush: 0, 0); `wdata` is a write's data, copied before the
	// callback returns (the device buffer is reused).
	void start(fuse_req_t req, uint8_t op, uint64_t uoff, uint64_t ulen, const void *wdata);

private:
	struct Piece {
		Op *op = nullptr;
		uint64_t at = 0;	// relative to op->off
		uint32_t len = 0;
	};

	Op *get_op();
	void put_op(Op *op) { spare_.push_back(op); }
	void queue(Op *op);
	void issue();
	void complete(const IoResult &r);
	void finish(Op *op);
	bool progress();

	ExportOptions o_;
	Volume v_;
	time_t started_ = time(nullptr);
	std::vector<Piece> chunk_;		// by tag
	std::vector<uint16_t> free_tags_;
	std::vector<Io> ios_;
	std::vector<std::unique_ptr<Op>> ops_;	// every Op made, reused
	std::vector<Op *> spare_;
	Op *head_ = nullptr, *tail_ = nullptr;	// waiting for tags, in arrival order
};

Op *Server::get_op()
{
	if (spare_.empty()) {
		ops_.push_back(std::make_unique<Op>());
		return ops_.back().get();
	}
	Op *op = spare_.back();
	spare_.pop_back();
	return op;
}

void Server::queue(Op *op)
{
	op->cur = 0;
	op->issued = 0;
	op->out = 0;
	op->next = nullptr;
	(tail_ ? tail_->next : head_) = op;
	tail_ = op;
}

void Server::start(fuse_req_t req, uint8_t kind, uint64_t uoff, uint64_t ulen, const void *wdata)
{
	Op *op = get_op();
	uint64_t a = align_down(uoff), b = align_up(uoff + ulen);
	op->req = req;
	op->op = kind;
	op->rmw = false;
	op->off = a;
	op->len = b - a;
	op->uoff = uoff;
	op->ulen = ulen;
	op->seg[0] = {0, b - a};
	op->nseg = 1;
	op->err = 0;
	if (kind == SDP_OP_WRITE) {
		bool head = a != uoff, tail = b != uoff + ulen;
		std::memcpy((head || tail ? op->user.get(ulen) : op->data.get(ulen)), wdata, ulen);
		if (head || tail) {
			// Read the edge sectors the client's bytes only partly cover.
			op->op = SDP_OP_READ;
			op->rmw = true;
			op->nseg = 0;
			if (head)
				op->seg[op->nseg++] = {0, kSector};
			if (tail && !(head && b - a == kSector))
				op->seg[op->nseg++] = {b - a - kSector, kSector};
		}
	}
	queue(op);
}

// Hands out pieces of the waiting ops while tags are free, then submits
// them all at once.
void Server::issue()
{
	ios_.clear();
	while (head_ && !free_tags_.empty()) {
		Op *op = head_;
		const Op::Segment &s = op->seg[op->cur];
		bool data = op->op == SDP_OP_READ || op->op == SDP_OP_WRITE;
		uint64_t piece = data ? v_.max_io() : op->op == SDP_OP_FLUSH ? 0 : kBigChunk;
		uint32_t len = uint32_t(std::min(piece, s.len - op->issued));
		uint16_t t = free_tags_.back();
		free_tags_.pop_back();
		uint64_t at = s.at + op->issued;
		chunk_[t] = {op, at, len};
		if (op->op == SDP_OP_WRITE)
			std::memcpy(v_.buffer(t).data(), op->data.get(op->len) + at, len);
		ios_.push_back({op->op, 0, t, len, (op->off + at) / kSector});
		op->issued += len;
		op->out++;
		if (op->issued == s.len && ++op->cur == op->nseg) {
			head_ = op->next;
			if (!head_)
				tail_ = nullptr;
		} else if (op->issued == s.len) {
			op->issued = 0;
		}
	}
	if (!ios_.empty())
		v_.submit(ios_);
}

void Server::complete(const IoResult &r)
{
	Piece &c = chunk_[r.tag];
	Op *op = c.op;
	if (r.status && !op->err)
		op->err = r.status;
	else if (!r.status && op->op == SDP_OP_READ)
		std::memcpy(op->data.get(op->len) + c.at, v_.buffer(r.tag).data(), c.len);
	free_tags_.push_back(r.tag);
	if (--op->out == 0 && op->cur == op->nseg)
		finish(op);
}

// The op's last piece is back: answer FUSE, or start the write of a
// read-modify-write.
void Server::finish(Op *op)
{
	if (op->rmw && !op->err) {
		std::memcpy(op->data.get(op->len) + (op->uoff - op->off), op->user.get(op->ulen), op->ulen);
		op->op = SDP_OP_WRITE;
		op->rmw = false;
		op->seg[0] = {0, op->len};
		op->nseg = 1;
		queue(op);
		return;
	}
	if (op->err)
		fuse_reply_err(op->req, -op->err);
	else if (op->op == SDP_OP_READ)
		fuse_reply_buf(op->req, reinterpret_cast<const char *>(op->data.get(op->len)) + (op->uoff - op->off),
			       op->ulen);
	else if (op->op == SDP_OP_WRITE)
		fuse_reply_write(op->req, op->ulen);
	else
		fuse_reply_err(op->req, 0);
	put_op(op);
}

// Issues what waits and answers what completed; true if anything moved.
bool Server::progress()
{
	issue();
	IoResult res[64];
	uint32_t n = v_.reap(res, 0);
	for (uint32_t i = 0; i < n; i++)
		complete(res[i]);
	return n > 0;
}

void Server::serve(fuse_session *se)
{
	int dev = fuse_session_fd(se);
	int fl = fcntl(dev, F_GETFL);
	if (fl < 0 || fcntl(dev, F_SETFL, fl | O_NONBLOCK) < 0)
		throw_errno("export: /dev/fuse non-blocking");
	fuse_buf buf{};
	while (!fuse_session_exited(se)) {
		bool moved = false;
		int r;
		while ((r = fuse_session_receive_buf(se, &buf)) > 0) {
			fuse_session_process_buf(se, &buf);
			moved = true;
		}
		if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR))
			break;	// unmounted, or the device failed
		while (progress())
			moved = true;
		if (moved)
			continue;
		// With requests out the loop sleeps at once on a volume whose
		// completions can wake it: on a machine with few CPUs an
		// export that spins takes the CPU from the plane and the
		// worker that would complete its requests (docs/sdp.md,
		// "Exporting a volume", has the figures).
		bool out = v_.in_flight() > 0;
		if (out && !v_.can_sleep()) {
			cpu_relax();
			continue;
		}
		pollfd p[2] = {{dev, POLLIN, 0}, {-1, POLLIN, 0}};
		if (out && v_.arm())
			p[1].fd = v_.completion_fd();
		::poll(p, 2, kIdleWakeMs);
		if (p[1].fd >= 0)
			v_.disarm();
	}
	std::free(buf.mem);
	// Unmounted: what is still out completes into the volume's buffers,
	// which must outlive it; nobody is left to answer.
	uint64_t deadline = now_ns() + 10'000'000'000ULL;
	IoResult res[64];
	while (v_.in_flight() && now_ns() < deadline)
		v_.reap(res, 100'000'000);
}

Server &self(fuse_req_t req)
{
	return *static_cast<Server *>(fuse_req_userdata(req));
}

void fill_attr(const Server &s, struct stat *st)
{
	std::memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFREG | (s.options().writable ? 0644 : 0444);
	st->st_nlink = 1;
	st->st_size = off_t(s.size());
	st->st_blocks = blkcnt_t(s.size() / kSector);
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = s.started();
}

void x_init(void *server, fuse_conn_info *conn)
{
	// Asynchronous direct I/O is sent as background requests: FUSE's
	// default of 12 of them would cap a client's queue depth below the
	// volume's.
	uint32_t depth = static_cast<Server *>(server)->depth();
	conn->max_background = depth;
	conn->congestion_threshold = depth * 3 / 4;
}

void x_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *)
{
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	fill_attr(self(req), &st);
	fuse_reply_attr(req, &st, 1.0);
}

void x_setattr(fuse_req_t req, fuse_ino_t, struct stat *attr, int to_set, fuse_file_info *)
{
	const Server &s = self(req);
	if ((to_set & FUSE_SET_ATTR_SIZE) && uint64_t(attr->st_size) != s.size()) {
		fuse_reply_err(req, EINVAL);	// a volume's size is fixed
		return;
	}
	struct stat st;
	fill_attr(s, &st);	// times and modes are the export's, not the client's
	fuse_reply_attr(req, &st, 1.0);
}

void x_open(fuse_req_t req, fuse_ino_t, fuse_file_info *fi)
{
	const ExportOptions &o = self(req).options();
	if (!o.writable && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->direct_io = o.direct;
	fuse_reply_open(req, fi);
}

void x_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info *)
{
	Server &s = self(req);
	uint64_t end = s.size();
	if (uint64_t(off) >= end) {
		fuse_reply_buf(req, nullptr, 0);
		return;
	}
	s.start(req, SDP_OP_READ, uint64_t(off), std::min<uint64_t>(size, end - uint64_t(off)), nullptr);
}

void x_write(fuse_req_t req, fuse_ino_t, const char *buf, size_t size, off_t off, fuse_file_info *)
{
	Server &s = self(req);
	uint64_t end = s.size();
	if (uint64_t(off) >= end || size > end - uint64_t(off)) {
		fuse_reply_err(req, ENOSPC);	// a volume does not grow
		return;
	}
	s.start(req, SDP_OP_WRITE, uint64_t(off), size, buf);
}

void x_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info *)
{
	self(req).start(req, SDP_OP_FLUSH, 0, 0, nullptr);
}

void x_flush(fuse_req_t req, fuse_ino_t, fuse_file_info *)
{
	fuse_reply_err(req, 0);	// close(): durability is fsync's
}

void x_fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t off, off_t len, fuse_file_info *)
{
	Server &s = self(req);
	uint64_t end = s.size();
	int err = 0;
	if (off < 0 || len <= 0 || uint64_t(off) > end || uint64_t(len) > end - uint64_t(off))
		err = mode & FALLOC_FL_KEEP_SIZE ? 0 : ENOSPC;
	else if ((off | len) & (kSector - 1))
		err = EINVAL;
	else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return s.start(req, SDP_OP_DISCARD, uint64_t(off), uint64_t(len), nullptr);
	else if ((mode & ~FALLOC_FL_KEEP_SIZE) == FALLOC_FL_ZERO_RANGE)
		return s.start(req, SDP_OP_WRITE_ZEROES, uint64_t(off), uint64_t(len), nullptr);
	else if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE)
		err = EOPNOTSUPP;
	fuse_reply_err(req, err);	// plain allocation inside the volume: allocated already
}

} // namespace

void run_export(const ExportOptions &o, Volume v, const std::function<void()> &ready)
{
	Server server(o, std::move(v));
	fuse_lowlevel_ops ops{};
	ops.init = x_init;
	ops.getattr = x_getattr;
	ops.setattr = x_setattr;
	ops.open = x_open;
	ops.read = x_read;
	ops.write = x_write;
	ops.flush = x_flush;
	ops.fsync = x_fsync;
	ops.fallocate = x_fallocate;
	std::string fsname = "fsname=mkdp:" + o.volume + ",subtype=mkdp";
	const char *argv[] = {"mkdp-export", "-o", fsname.c_str(), nullptr};
	fuse_args args = FUSE_ARGS_INIT(3, const_cast<char **>(argv));
	fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), &server);
	if (!se)
		throw Error("export " + o.volume + ": fuse_session_new failed");
	if (fuse_session_mount(se, o.mountpoint.c_str())) {
		fuse_session_destroy(se);
		throw Error("export " + o.volume + ": cannot mount on " + o.mountpoint +
			    " (it must be an existing regular file)");
	}
	if (fuse_set_signal_handlers(se)) {
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		throw Error("export " + o.volume + ": signal handlers");
	}
	ready();
	try {
		server.serve(se);
	} catch (...) {
		fuse_remove_signal_handlers(se);
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		throw;
	}
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
}

} // namespace mkdp::sdp
