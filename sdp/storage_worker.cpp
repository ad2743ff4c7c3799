// SPDX-License-Identifier: BSD-2-Clause
#include "storage_worker.h"

#include <mkdp/error.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <liburing.h>

namespace mkdp::sdp {

struct StorageWorker::Uring {
	io_uring ring{};
};

Backend Backend::open_file(const std::string &path, uint64_t size)
{
	Backend b;
	b.size = size;
	b.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DIRECT, 0600);
	b.direct = b.fd >= 0;
	if (b.fd < 0 && errno == EINVAL)	// tmpfs and others: no O_DIRECT
		b.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b.fd < 0)
		throw_errno("open volume file " + path);
	struct stat st {};
	if (fstat(b.fd, &st) || (S_ISREG(st.st_mode) && uint64_t(st.st_size) < size && ftruncate(b.fd, off_t(size)))) {
		int e = errno;
		::close(b.fd);
		throw_errno("size volume file " + path, e);
	}
	return b;
}

StorageWorker::StorageWorker(Consumer<mkdp_sreq_desc> sq, Producer<mkdp_scpl_desc> cq, std::span<uint8_t> area,
			     std::vector<Backend> volumes, unsigned depth)
	: sq_(std::move(sq)), cq_(std::move(cq)), area_(area), volumes_(std::move(volumes)), depth_(depth),
	  uring_(std::make_unique<Uring>()), busy_(sq_.entries(), 0), want_(sq_.entries(), 0)
{
	backlog_.reserve(sq_.entries());
	if (int err = io_uring_queue_init(depth_, &uring_->ring, 0))
		throw Error(std::string("io_uring for the storage worker: ") + std::strerror(-err), -err);
}

StorageWorker::~StorageWorker()
{
	io_uring_queue_exit(&uring_->ring);
}

void StorageWorker::signal_completions(int fd)
{
	if (int err = io_uring_register_eventfd(&uring_->ring, fd))
		throw Error(std::string("io_uring eventfd: ") + std::strerror(-err), -err);
}

void StorageWorker::complete(uint32_t tag, int32_t status, uint32_t bytes)
{
	if (tag < busy_.size() && busy_[tag]) {
		busy_[tag] = 0;
		in_flight_--;
	}
	stats_.completed++;
	if (status < 0)
		stats_.errors++;
	backlog_.push_back({tag, status, bytes, 0});
}

// A request that never started: its completion carries the error.
void StorageWorker::refuse(uint32_t tag, int32_t err)
{
	stats_.completed++;
	stats_.errors++;
	backlog_.push_back({tag, err, 0, 0});
}

// The request is valid as a descriptor; now against the volume and what is
// in flight, then on its backend.
void StorageWorker::start(const mkdp_sreq_desc &r)
{
	if (busy_[r.tag])
		return refuse(r.tag, -EBUSY);
	if (r.volume >= volumes_.size() || !volumes_[r.volume].served())
		return refuse(r.tag, -EINVAL);
	const Backend &b = volumes_[r.volume];
	uint64_t off = r.sector * MKDP_SECTOR_SIZE;
	bool ranged = r.op != MKDP_SOP_FLUSH;
	if (ranged && (r.sector > b.size / MKDP_SECTOR_SIZE || r.len > b.size - off))
		return refuse(r.tag, -EINVAL);
	busy_[r.tag] = 1;
	in_flight_++;
	uint8_t *buf = area_.data() + r.buf;
	if (b.fd < 0) {	// memory: done here
		if (r.op == MKDP_SOP_READ)
			std::memcpy(buf, b.mem.data() + off, r.len);
		else if (r.op == MKDP_SOP_WRITE)
			std::memcpy(b.mem.data() + off, buf, r.len);
		else if (r.op == MKDP_SOP_DISCARD || r.op == MKDP_SOP_WRITE_ZEROES)
			std::memset(b.mem.data() + off, 0, r.len);
		stats_.bytes_read += r.op == MKDP_SOP_READ ? r.len : 0;
		stats_.bytes_written += r.op == MKDP_SOP_WRITE ? r.len : 0;
		stats_.flushes += r.op == MKDP_SOP_FLUSH;
		return complete(r.tag, 0, r.op == MKDP_SOP_READ || r.op == MKDP_SOP_WRITE ? r.len : 0);
	}
	io_uring_sqe *sqe = io_uring_get_sqe(&uring_->ring);
	if (!sqe) {	// cannot happen: in flight <= depth
		io_uring_submit(&uring_->ring);
		sqe = io_uring_get_sqe(&uring_->ring);
	}
	switch (r.op) {
	case MKDP_SOP_READ:
		io_uring_prep_read(sqe, b.fd, buf, r.len, off);
		break;
	case MKDP_SOP_WRITE:
		io_uring_prep_write(sqe, b.fd, buf, r.len, off);
		if (r.flags & MKDP_SREQ_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case MKDP_SOP_FLUSH:
		io_uring_prep_fsync(sqe, b.fd, IORING_FSYNC_DATASYNC);
		stats_.flushes++;
		break;
	case MKDP_SOP_DISCARD:	// the range reads as zeros afterwards
		io_uring_prep_fallocate(sqe, b.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, r.len);
		break;
	default:	// WRITE_ZEROES: zeros that stay allocated (a later write needs no space)
		io_uring_prep_fallocate(sqe, b.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, r.len);
		break;
	}
	want_[r.tag] = r.op == MKDP_SOP_READ || r.op == MKDP_SOP_WRITE ? r.len : 0;
	io_uring_sqe_set_data64(sqe, uint64_t(r.tag) | uint64_t(r.op) << 32);
	queued_++;
}

uint32_t StorageWorker::reap()
{
	io_uring_cqe *cqe;
	uint32_t n = 0;
	while (io_uring_peek_cqe(&uring_->ring, &cqe) == 0) {
		uint64_t d = io_uring_cqe_get_data64(cqe);
		uint32_t tag = uint32_t(d), op = uint32_t(d >> 32);
		int32_t res = cqe->res;
		io_uring_cqe_seen(&uring_->ring, cqe);
		uint32_t want = want_[tag];
		if (res >= 0 && uint32_t(res) != want && want)
			res = -EIO;	// short: the range is inside the volume, so a failure
		if (res >= 0 && op == MKDP_SOP_READ)
			stats_.bytes_read += want;
		if (res >= 0 && op == MKDP_SOP_WRITE)
			stats_.bytes_written += want;
		complete(tag, res < 0 ? res : 0, res < 0 ? 0 : want);
		n++;
	}
	return n;
}

uint32_t StorageWorker::flush_completions()
{
	if (backlog_.empty())
		return 0;
	uint32_t n = cq_bell_ ? cq_bell_->produce(cq_, backlog_.data(), uint32_t(backlog_.size()))
			      : cq_.produce(backlog_.data(), uint32_t(backlog_.size()));
	backlog_.erase(backlog_.begin(), backlog_.begin() + n);
	return n;
}

uint32_t StorageWorker::poll()
{
	uint32_t work = 0;
	uint32_t room = depth_ - in_flight_, idx;
	uint32_t n = room ? sq_.peek(room, &idx) : 0;
	for (uint32_t i = 0; i < n; i++) {
		mkdp_sreq_desc r;
		DescError e = sq_.fetch(idx + i, &r);
		stats_.requests++;
		if (e == DescError::bad_tag) {
			stats_.unanswerable++;	// nobody to answer
			continue;
		}
		if (e != DescError::ok) {
			refuse(r.tag, e == DescError::out_of_area ? -EFAULT : -EINVAL);
			continue;
		}
		start(r);
	}
	if (n)
		sq_.release(n);
	if (queued_) {
		io_uring_submit(&uring_->ring);
		queued_ = 0;
	}
	work += n + reap() + flush_completions();
	return work;
}

} // namespace mkdp::sdp
