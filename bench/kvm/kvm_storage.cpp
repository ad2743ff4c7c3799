// SPDX-License-Identifier: BSD-2-Clause
// The KVM storage path: the guest drives a virtio-blk queue
// (KVMB_CMD_BLK); the device thread takes each request chain (header,
// 4 KiB of data, status), checks it, and runs it with io_uring on the
// backing file straight into guest memory, then completes it in the used
// ring. Polled on both sides, like SPDK's vhost-blk.
#include "kvm_bench.h"
#include "bench_volume.h"
#include "virtq.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <liburing.h>

#include <cstring>

namespace mkdp::bench::kvm {

namespace {

// A descriptor's buffer in the host's view, or null when the guest named
// memory it does not have.
uint8_t *buffer(Vm &vm, const kvmb_vq_desc &d, uint32_t want)
{
	if (d.len < want || d.addr >= KVMB_MEM_SIZE || KVMB_MEM_SIZE - d.addr < want)
		return nullptr;
	return vm.ram() + d.addr;
}

class BlkDevice {
public:
	BlkDevice(Vm &vm, int fd) : vm_(vm), fd_(fd), q_(kvmb_vq_at(vm.at<void>(KVMB_BLK_RING), KVMB_BLK_QSIZE))
	{
		if (int err = io_uring_queue_init(64, &ring_, 0))
			throw Error(std::string("KVM blk: io_uring: ") + std::strerror(-err), -err);
	}
	~BlkDevice() { io_uring_queue_exit(&ring_); }

	// Takes the requests the guest made available; returns how many.
	unsigned take()
	{
		uint16_t end = __atomic_load_n(&q_.avail->idx, __ATOMIC_ACQUIRE);
		unsigned n = 0;
		for (; next_avail_ != end; next_avail_++, n++) {
			uint16_t head = q_.avail->ring[next_avail_ % KVMB_BLK_QSIZE];
			if (head + 2u >= KVMB_BLK_QSIZE)
				throw Error("KVM blk: the guest made descriptor " + std::to_string(head) + " available");
			const kvmb_vq_desc *d = q_.desc + head;
			auto *h = reinterpret_cast<kvmb_blk_hdr *>(buffer(vm_, d[0], sizeof(kvmb_blk_hdr)));
			uint8_t *data = buffer(vm_, d[1], KVMB_BLK_BLOCK);
			uint8_t *status = buffer(vm_, d[2], 1);
			if (!h || !data || !status || !(d[0].flags & KVMB_VQ_DESC_F_NEXT) || d[0].next != head + 1 ||
			    !(d[1].flags & KVMB_VQ_DESC_F_NEXT) || d[1].next != head + 2)
				throw Error("KVM blk: a malformed request chain at descriptor " + std::to_string(head));
			status_[head] = status;
			io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
			uint64_t off = h->sector * 512;
			if (h->type == KVMB_BLK_T_OUT)
				io_uring_prep_write(sqe, fd_, data, KVMB_BLK_BLOCK, off);
			else
				io_uring_prep_read(sqe, fd_, data, KVMB_BLK_BLOCK, off);
			io_uring_sqe_set_data64(sqe, head);
		}
		if (n)
			io_uring_submit(&ring_);
		return n;
	}

	// Completes what io_uring has finished.
	void complete()
	{
		io_uring_cqe *cqe;
		bool any = false;
		while (!io_uring_peek_cqe(&ring_, &cqe)) {
			uint16_t head = uint16_t(io_uring_cqe_get_data64(cqe));
			*status_[head] = cqe->res == int(KVMB_BLK_BLOCK) ? KVMB_BLK_S_OK : KVMB_BLK_S_IOERR;
			io_uring_cqe_seen(&ring_, cqe);
			q_.used->ring[used_ % KVMB_BLK_QSIZE] = {head, 1};
			used_++;
			any = true;
		}
		if (any)
			__atomic_store_n(&q_.used->idx, used_, __ATOMIC_RELEASE);
	}

private:
	Vm &vm_;
	int fd_;
	kvmb_vq q_;
	io_uring ring_;
	uint8_t *status_[KVMB_BLK_QSIZE] = {};
	uint16_t next_avail_ = 0, used_ = 0;
};

} // namespace

LoadResult blk_load(Vm &vm, int fd, bool write, unsigned qd, uint64_t ops, uint64_t blocks)
{
	if (!blocks)
		blocks = BenchVolume::kSize / KVMB_BLK_BLOCK;
	if (qd > KVMB_BLK_SLOTS)
		throw Error("KVM blk: at most " + std::to_string(KVMB_BLK_SLOTS) + " requests in flight");
	ops = std::min<uint64_t>(ops, KVMB_LAT_MAX);
	vm.reset_ring(KVMB_BLK_RING, KVMB_BLK_QSIZE);
	GuestRun g = with_guest(vm, KVMB_CMD_BLK, ops, qd, write, blocks,
				[&](const std::atomic<bool> &running) {
					BlkDevice dev(vm, fd);
					while (running.load(std::memory_order_acquire)) {
						vm.tick();
						dev.take();
						dev.complete();
					}
				});
	const kvmb_mailbox &mb = vm.mailbox();
	if (mb.result[0] != ops || mb.result[1])
		throw Error("KVM blk: " + std::to_string(mb.result[1]) + " of " + std::to_string(mb.result[0]) +
			    " requests failed");
	LoadResult r;
	r.iops = double(ops) / (double(g.wall_ns) / 1e9);
	const uint64_t *log = vm.at<uint64_t>(KVMB_LAT_LOG);
	r.latency_ns.assign(log, log + std::min<uint64_t>(mb.lat_count, ops));
	return r;
}

} // namespace mkdp::bench::kvm
