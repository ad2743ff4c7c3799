// SPDX-License-Identifier: BSD-2-Clause
#include "fuse_export.h"

#include "client.h"

#include <mkdp/error.h>

#define FUSE_USE_VERSION 35
#include <fuse.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

namespace mkdp::sdp {

namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kBigChunk = 1ULL << 30;	// discard and write-zeroes: no buffer, large pieces
constexpr uint64_t kReapWaitNs = 200'000;	// with requests out, look at new ones this often

// One FUSE call, in sector-aligned pieces of at most a client buffer.
struct Op {
	uint8_t op;
	uint64_t off, len;	// bytes, aligned (flush: 0, 0)
	uint8_t *buf;		// read: where the data goes; write: where it comes from
	uint64_t issued = 0;	// bytes handed out as chunks
	uint32_t out = 0;	// chunks in flight
	int32_t err = 0;	// the first failure
	std::binary_semaphore done{0};
};

// Owns the volume's session: FUSE threads queue Ops, this thread turns
// them into requests, as many at once as there are tags.
class Dispatcher {
public:
	explicit Dispatcher(Volume v) : v_(std::move(v)), chunk_(v_.depth())
	{
		efd_ = eventfd(0, EFD_CLOEXEC);
		if (efd_ < 0)
			throw_errno("eventfd");
		for (uint32_t t = v_.depth(); t-- > 0;)
			free_.push_back(uint16_t(t));
		thread_ = std::thread([this] { loop(); });
	}
	~Dispatcher()
	{
		{
			std::lock_guard lk(m_);
			quit_ = true;
		}
		kick();
		thread_.join();
		close(efd_);
	}
	uint64_t size() const noexcept { return v_.size(); }

	// Runs op to completion: 0 or a negative errno.
	int run(Op &op)
	{
		{
			std::lock_guard lk(m_);
			queue_.push_back(&op);
		}
		kick();
		op.done.acquire();
		return op.err;
	}

private:
	struct Chunk {
		Op *op = nullptr;
		uint64_t at = 0;	// offset into the op
		uint32_t len = 0;
	};

	void kick() noexcept
	{
		uint64_t one = 1;
		(void)!write(efd_, &one, sizeof(one));
	}

	// Hands out pieces of the active ops while tags are free.
	void issue()
	{
		ios_.clear();
		while (!active_.empty() && !free_.empty()) {
			Op *op = active_.front();
			bool data = op->op == SDP_OP_READ || op->op == SDP_OP_WRITE;
			uint64_t piece = data ? v_.max_io() : op->op == SDP_OP_FLUSH ? 0 : kBigChunk;
			uint32_t len = uint32_t(std::min(piece, op->len - op->issued));
			uint16_t t = free_.back();
			free_.pop_back();
			chunk_[t] = {op, op->issued, len};
			if (op->op == SDP_OP_WRITE)
				std::memcpy(v_.buffer(t).data(), op->buf + op->issued, len);
			ios_.push_back({op->op, 0, t, len, (op->off + op->issued) / kSector});
			op->issued += len;
			op->out++;
			if (op->issued == op->len)
				active_.pop_front();
		}
		if (!ios_.empty())
			v_.submit(ios_);
	}

	void complete(const IoResult &r)
	{
		Chunk &c = chunk_[r.tag];
		Op *op = c.op;
		if (r.status && !op->err)
			op->err = r.status;
		else if (!r.status && op->op == SDP_OP_READ)
			std::memcpy(op->buf + c.at, v_.buffer(r.tag).data(), c.len);
		free_.push_back(r.tag);
		if (--op->out == 0 && op->issued == op->len)
			op->done.release();
	}

	void loop()
	{
		IoResult res[64];
		for (;;) {
			{
				std::lock_guard lk(m_);
				if (quit_ && queue_.empty() && active_.empty() && v_.in_flight() == 0)
					return;
				for (Op *op : queue_)
					active_.push_back(op);
				queue_.clear();
			}
			issue();
			if (v_.in_flight()) {
				uint32_t n = v_.reap(res, kReapWaitNs);
				for (uint32_t i = 0; i < n; i++)
					complete(res[i]);
				continue;
			}
			if (!active_.empty())
				continue;
			pollfd p{efd_, POLLIN, 0};
			if (::poll(&p, 1, 100) > 0) {
				uint64_t v;
				(void)!read(efd_, &v, sizeof(v));
			}
		}
	}

	Volume v_;
	std::vector<Chunk> chunk_;	// by tag
	std::vector<uint16_t> free_;
	std::deque<Op *> active_;	// the dispatcher's own
	std::vector<Io> ios_;
	std::mutex m_;
	std::deque<Op *> queue_;	// from FUSE threads
	bool quit_ = false;
	int efd_ = -1;
	std::thread thread_;
};

struct Export {
	ExportOptions o;
	Dispatcher *d;
	time_t started;
};

Export &self()
{
	return *static_cast<Export *>(fuse_get_context()->private_data);
}

// Aligned I/O on [off, off + len); an unaligned edge of a write is read
// first (read-modify-write of that sector).
int aligned(uint8_t op, uint64_t off, uint64_t len, uint8_t *buf)
{
	Op o{.op = op, .off = off, .len = len, .buf = buf};
	return self().d->run(o);
}

int x_getattr(const char *path, struct stat *st, fuse_file_info *)
{
	if (std::strcmp(path, "/"))
		return -ENOENT;
	const Export &e = self();
	std::memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (e.o.writable ? 0644 : 0444);
	st->st_nlink = 1;
	st->st_size = off_t(e.d->size());
	st->st_blocks = blkcnt_t(e.d->size() / kSector);
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = e.started;
	return 0;
}

int x_open(const char *path, fuse_file_info *fi)
{
	if (std::strcmp(path, "/"))
		return -ENOENT;
	if (!self().o.writable && (fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	fi->direct_io = self().o.direct;
	return 0;
}

int x_read(const char *, char *buf, size_t size, off_t off, fuse_file_info *)
{
	uint64_t end = self().d->size();
	if (uint64_t(off) >= end)
		return 0;
	size = size_t(std::min<uint64_t>(size, end - uint64_t(off)));
	uint64_t a = uint64_t(off) & ~(kSector - 1), b = (uint64_t(off) + size + kSector - 1) & ~(kSector - 1);
	if (a == uint64_t(off) && b == uint64_t(off) + size) {
		int r = aligned(SDP_OP_READ, a, size, reinterpret_cast<uint8_t *>(buf));
		return r ? r : int(size);
	}
	std::vector<uint8_t> tmp(b - a);
	if (int r = aligned(SDP_OP_READ, a, b - a, tmp.data()))
		return r;
	std::memcpy(buf, tmp.data() + (uint64_t(off) - a), size);
	return int(size);
}

int x_write(const char *, const char *buf, size_t size, off_t off, fuse_file_info *)
{
	uint64_t end = self().d->size();
	if (uint64_t(off) >= end || size > end - uint64_t(off))
		return -ENOSPC;	// a volume does not grow
	uint64_t a = uint64_t(off) & ~(kSector - 1), b = (uint64_t(off) + size + kSector - 1) & ~(kSector - 1);
	if (a == uint64_t(off) && b == uint64_t(off) + size) {
		int r = aligned(SDP_OP_WRITE, a, size, reinterpret_cast<uint8_t *>(const_cast<char *>(buf)));
		return r ? r : int(size);
	}
	// Read the edge sectors, lay the data over them, write the whole.
	std::vector<uint8_t> tmp(b - a);
	if (int r = aligned(SDP_OP_READ, a, kSector, tmp.data()))
		return r;
	if (b - a > kSector)
		if (int r = aligned(SDP_OP_READ, b - kSector, kSector, tmp.data() + (b - a - kSector)))
			return r;
	std::memcpy(tmp.data() + (uint64_t(off) - a), buf, size);
	int r = aligned(SDP_OP_WRITE, a, b - a, tmp.data());
	return r ? r : int(size);
}

int x_fsync(const char *, int, fuse_file_info *)
{
	return aligned(SDP_OP_FLUSH, 0, 0, nullptr);
}

int x_fallocate(const char *, int mode, off_t off, off_t len, fuse_file_info *)
{
	uint64_t end = self().d->size();
	if (off < 0 || len <= 0 || uint64_t(off) > end || uint64_t(len) > end - uint64_t(off))
		return mode & FALLOC_FL_KEEP_SIZE ? 0 : -ENOSPC;
	if ((off | len) & (kSector - 1))
		return -EINVAL;
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return aligned(SDP_OP_DISCARD, uint64_t(off), uint64_t(len), nullptr);
	if ((mode & ~FALLOC_FL_KEEP_SIZE) == FALLOC_FL_ZERO_RANGE)
		return aligned(SDP_OP_WRITE_ZEROES, uint64_t(off), uint64_t(len), nullptr);
	if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE)
		return 0;	// inside the volume: allocated already
	return -EOPNOTSUPP;
}

int x_truncate(const char *, off_t size, fuse_file_info *)
{
	return uint64_t(size) == self().d->size() ? 0 : -EINVAL;	// a volume's size is fixed
}

int x_utimens(const char *, const struct timespec *, fuse_file_info *)
{
	return 0;
}

void *x_init(fuse_conn_info *, fuse_config *cfg)
{
	cfg->attr_timeout = 1;
	cfg->entry_timeout = 1;
	return fuse_get_context()->private_data;
}

} // namespace

void run_export(const ExportOptions &o, Volume v, const std::function<void()> &ready)
{
	Dispatcher d(std::move(v));
	Export e{o, &d, time(nullptr)};
	fuse_operations ops{};
	ops.getattr = x_getattr;
	ops.open = x_open;
	ops.read = x_read;
	ops.write = x_write;
	ops.fsync = x_fsync;
	ops.fallocate = x_fallocate;
	ops.truncate = x_truncate;
	ops.utimens = x_utimens;
	ops.init = x_init;
	std::string fsname = "fsname=mkdp:" + o.volume + ",subtype=mkdp";
	const char *argv[] = {"mkdp-export", "-o", fsname.c_str(), nullptr};
	fuse_args args = FUSE_ARGS_INIT(3, const_cast<char **>(argv));
	fuse *f = fuse_new(&args, &ops, sizeof(ops), &e);
	if (!f)
		throw Error("export " + o.volume + ": fuse_new failed");
	if (fuse_mount(f, o.mountpoint.c_str())) {
		fuse_destroy(f);
		throw Error("export " + o.volume + ": cannot mount on " + o.mountpoint +
			    " (it must be an existing regular file)");
	}
	fuse_session *se = fuse_get_session(f);
	if (fuse_set_signal_handlers(se)) {
		fuse_unmount(f);
		fuse_destroy(f);
		throw Error("export " + o.volume + ": signal handlers");
	}
	ready();
	fuse_loop_config cfg{};
	cfg.clone_fd = 0;
	cfg.max_idle_threads = 16;
	fuse_loop_mt(f, &cfg);
	fuse_remove_signal_handlers(se);
	fuse_unmount(f);
	fuse_destroy(f);
}

} // namespace mkdp::sdp
