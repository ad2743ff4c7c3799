// SPDX-License-Identifier: BSD-2-Clause
// The KVM path of `mkdp bench all`: the same frames and the same storage
// load as the partition and namespace paths, through a guest of the
// benchmark's own VMM (vmm.h). The guest's vCPU runs on CPU 1, where the
// partition's consumer runs; the host's device thread on CPU 0, where the
// frames are injected and the storage client runs.
#pragma once

#include "doorbell_table.h"
#include "storage_load.h"
#include "vmm.h"

#include <memory>
#include <vector>

namespace mkdp::bench::kvm {

// Runs `cmd` on a vCPU thread pinned to CPU 1 while device() runs on a
// thread pinned to CPU 0 until the guest is done (device() loops while
// `guest_running` holds); the caller waits for both. The CPU time each side
// spent, ns. An exception on either side cancels the other and is thrown.
struct GuestRun {
	uint64_t vcpu_cpu_ns = 0, device_cpu_ns = 0, wall_ns = 0;
};
GuestRun with_guest(Vm &vm, kvmb_cmd cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		    const std::function<void(const std::atomic<bool> &guest_running)> &device);

// Network (kvm_net.cpp). The device thread plays the NIC's back end: it
// copies each frame (the 60-byte UDP frame of the other paths) into a
// buffer the guest posted on its RX queue and publishes it in the used
// ring; the guest reads every byte and posts the buffer again. Both sides
// poll, the fastest a VMM's user-space back end runs.
struct NetRun {
	double pps = 0;
	double cpu_ns_per_frame = 0;		// both threads
	double host_cpu_ns_per_frame = 0;	// the device thread
	double guest_cpu_ns_per_frame = 0;	// the vCPU thread (guest and its exits)
};
NetRun net_run(Vm &vm, uint32_t frames);
// One frame at a time, stamped by the device just before it publishes it:
// ns until the guest holds it (read off the clock word, guest_abi.h).
std::vector<double> net_latency_ns(Vm &vm, uint32_t samples);

// Storage (kvm_storage.cpp). The guest is a virtio-blk driver: 4 KiB
// random reads or writes, `qd` in flight; the device thread polls the
// queue and serves each request with io_uring on `fd` straight into guest
// memory, as SPDK's vhost-blk or a polling QEMU iothread does. Latency is
// the guest's, submission to completion. Requests fall on the first
// `blocks` 4 KiB blocks of the file (default: the benchmark volume's).
LoadResult blk_load(Vm &vm, int fd, bool write, unsigned qd, uint64_t ops, uint64_t blocks = 0);

// The doorbell table's KVM rows (kvm_doorbells.cpp): the exit round trip
// (guest port write -> this process -> guest) and interrupt injection
// (irqfd -> MSI -> handler of a halted guest). `vm` may be null; the rows
// then say `why`.
std::vector<RowSource> doorbell_sources(std::shared_ptr<Vm> vm, const std::string &why);

// {"user": exits that reached the VMM by reason, "kernel": the vCPU's
// counters from KVM_GET_STATS_FD}.
nlohmann::json exit_counts(const Vm &vm);

} // namespace mkdp::bench::kvm
