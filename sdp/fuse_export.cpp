// SPDX-License-Identifier: BSD-2-Clause
#include "fuse_export.h"

#include "byte_io.h"

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

namespace mkdp::sdp {

namespace {

constexpr uint64_t kSector = 512;
constexpr int kIdleWakeMs = 100;	// a signal between the exit check and poll() waits this long

// Serves until unmounted or told to stop (a signal ends the session).
void serve(fuse_session *se, ByteIo &io)
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
		while (io.pump())
			moved = true;
		if (moved)
			continue;
		// With requests out the loop sleeps at once on a volume whose
		// completions can wake it: on a machine with few CPUs an
		// export that spins takes the CPU from the plane and the
		// worker that would complete its requests (docs/sdp.md,
		// "A volume as a file").
		Volume &v = io.volume();
		bool out = v.in_flight() > 0;
		if (out && !v.can_sleep()) {
			cpu_relax();
			continue;
		}
		pollfd p[2] = {{dev, POLLIN, 0}, {-1, POLLIN, 0}};
		if (out && v.arm())
			p[1].fd = v.completion_fd();
		::poll(p, 2, kIdleWakeMs);
		if (p[1].fd >= 0)
			v.disarm();
	}
	std::free(buf.mem);
	// Unmounted: what is still out completes into the volume's buffers,
	// which must outlive it; nobody is left to answer.
	uint64_t deadline = now_ns() + 10'000'000'000ULL;
	IoResult res[64];
	while (io.volume().in_flight() && now_ns() < deadline)
		io.volume().reap(res, 100'000'000);
}

struct Export {
	ExportOptions o;
	ByteIo io;
	time_t started;

	uint64_t size() const noexcept { return io.size(); }
};

Export &self(fuse_req_t req)
{
	return *static_cast<Export *>(fuse_req_userdata(req));
}

void answer(void *, void *cookie, uint8_t op, int err, const uint8_t *data, uint64_t len)
{
	fuse_req_t req = static_cast<fuse_req_t>(cookie);
	if (err)
		fuse_reply_err(req, -err);
	else if (op == SDP_OP_READ)
		fuse_reply_buf(req, reinterpret_cast<const char *>(data), len);
	else if (op == SDP_OP_WRITE)
		fuse_reply_write(req, len);
	else
		fuse_reply_err(req, 0);	// flush, discard, write-zeroes
}

void fill_attr(const Export &s, struct stat *st)
{
	std::memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFREG | (s.o.writable ? 0644 : 0444);
	st->st_nlink = 1;
	st->st_size = off_t(s.size());
	st->st_blocks = blkcnt_t(s.size() / kSector);
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = s.started;
}

void x_init(void *e, fuse_conn_info *conn)
{
	// Asynchronous direct I/O is sent as background requests: FUSE's
	// default of 12 of them would cap a client's queue depth below the
	// volume's.
	uint32_t depth = static_cast<Export *>(e)->io.volume().depth();
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
	const Export &s = self(req);
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
	const ExportOptions &o = self(req).o;
	if (!o.writable && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->direct_io = o.direct;
	fuse_reply_open(req, fi);
}

void x_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info *)
{
	Export &s = self(req);
	uint64_t end = s.size();
	if (uint64_t(off) >= end) {
		fuse_reply_buf(req, nullptr, 0);
		return;
	}
	s.io.start(req, SDP_OP_READ, uint64_t(off), std::min<uint64_t>(size, end - uint64_t(off)), nullptr);
}

void x_write(fuse_req_t req, fuse_ino_t, const char *buf, size_t size, off_t off, fuse_file_info *)
{
	Export &s = self(req);
	uint64_t end = s.size();
	if (uint64_t(off) >= end || size > end - uint64_t(off)) {
		fuse_reply_err(req, ENOSPC);	// a volume does not grow
		return;
	}
	s.io.start(req, SDP_OP_WRITE, uint64_t(off), size, buf);
}

void x_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info *)
{
	self(req).io.start(req, SDP_OP_FLUSH, 0, 0, nullptr);
}

void x_flush(fuse_req_t req, fuse_ino_t, fuse_file_info *)
{
	fuse_reply_err(req, 0);	// close(): durability is fsync's
}

void x_fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t off, off_t len, fuse_file_info *)
{
	Export &s = self(req);
	uint64_t end = s.size();
	int err = 0;
	if (off < 0 || len <= 0 || uint64_t(off) > end || uint64_t(len) > end - uint64_t(off))
		err = mode & FALLOC_FL_KEEP_SIZE ? 0 : ENOSPC;
	else if ((off | len) & (kSector - 1))
		err = EINVAL;
	else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return s.io.start(req, SDP_OP_DISCARD, uint64_t(off), uint64_t(len), nullptr);
	else if ((mode & ~FALLOC_FL_KEEP_SIZE) == FALLOC_FL_ZERO_RANGE)
		return s.io.start(req, SDP_OP_WRITE_ZEROES, uint64_t(off), uint64_t(len), nullptr);
	else if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE)
		err = EOPNOTSUPP;
	fuse_reply_err(req, err);	// plain allocation inside the volume: allocated already
}

} // namespace

void run_export(const ExportOptions &o, Volume v, const std::function<void()> &ready)
{
	Export e{o, ByteIo(std::move(v), answer, nullptr), time(nullptr)};
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
	fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), &e);
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
		serve(se, e.io);
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
