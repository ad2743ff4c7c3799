// SPDX-License-Identifier: BSD-2-Clause
// A minimal virtual machine monitor on /dev/kvm: the KVM path of `mkdp
// bench all`. One VM, one vCPU, KVMB_MEM_SIZE of RAM, the in-kernel
// irqchip, and the bare guest of guest/guest.c entered directly in 64-bit
// mode (guest_abi.h says why and where everything lives).
//
// The vCPU runs on whichever thread calls run(); the devices are host
// threads of the caller's (kvm_net.cpp, kvm_storage.cpp) that work on the
// guest's virtqueues in shared memory, as a vhost or SPDK back end does.
// Host to guest: an MSI through irqfd. Guest to host: a port write, which
// exits to this process (KVM_EXIT_IO), and memory the device polls.
#pragma once

#include "guest_abi.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

struct kvm_run;

namespace mkdp::bench::kvm {

// "" when a VM can be made here, else why not (no /dev/kvm, no
// permission, an API version or capability missing).
std::string unavailable();

// What kind of KVM this is: {"module": "kvm_pvm"|"kvm_intel"|"kvm_amd",
// "kind", "nested", "halt_poll_ns"}.
nlohmann::json describe();

// Exits that reached this process, by reason.
struct UserExits {
	uint64_t done = 0, ping = 0, interrupted = 0;
};

class Vm {
public:
	// Makes the VM, loads the guest and boots it (KVMB_CMD_BOOT) on the
	// calling thread. Throws mkdp::Error with the failing step.
	Vm();
	~Vm();
	Vm(const Vm &) = delete;
	Vm &operator=(const Vm &) = delete;

	uint8_t *ram() const noexcept { return ram_; }
	template <class T> T *at(uint64_t gpa) const noexcept { return reinterpret_cast<T *>(ram_ + gpa); }
	kvmb_mailbox &mailbox() const noexcept { return *at<kvmb_mailbox>(KVMB_MAILBOX); }
	// The guest's clock word (mailbox().clock_ns), for a device thread.
	void tick() noexcept;

	// Runs one guest command on the calling thread until the guest
	// reports it done. on_ping runs at each KVMB_PORT_PING exit, in the
	// exit. Throws mkdp::Error on a guest fault, an unexpected exit, or
	// when timeout_ns pass (the guest is then stuck; the Vm is unusable).
	void run(kvmb_cmd cmd, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
		 const std::function<void()> &on_ping = {}, uint64_t timeout_ns = 60'000'000'000);
	// From another thread: make the running command (or, before it has
	// started, the next) fail within 100 ms.
	void cancel() noexcept;

	// Zeroes a virtqueue's rings (desc, avail, used) before a command
	// that sets it up afresh.
	void reset_ring(uint64_t gpa, unsigned num);

	// An eventfd that raises KVMB_IRQ_VECTOR in the guest when written.
	int irqfd() const noexcept { return irqfd_; }

	const UserExits &user_exits() const noexcept { return exits_; }
	// The vCPU's statistics kept by the kernel (KVM_GET_STATS_FD): exits
	// by kind, halts, injections; each counter that is not zero.
	nlohmann::json kernel_stats() const;

private:
	int kvm_ = -1, vm_ = -1, vcpu_ = -1, irqfd_ = -1, stats_ = -1;
	uint8_t *ram_ = nullptr;
	kvm_run *run_ = nullptr;
	size_t run_size_ = 0;
	std::atomic<bool> cancel_{false};
	std::atomic<int> vcpu_tid_{0};
	UserExits exits_;

	void setup_cpu();
	void setup_irq();
};

} // namespace mkdp::bench::kvm
