// SPDX-License-Identifier: BSD-2-Clause
// with_guest(): a guest command on CPU 1 against a device loop on CPU 0.
#include "kvm_bench.h"

#include "doorbell_measure.h"	// thread_cpu_ns

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <exception>
#include <thread>

namespace mkdp::bench::kvm {

GuestRun with_guest(Vm &vm, kvmb_cmd cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		    const std::function<void(const std::atomic<bool> &guest_running)> &device)
{
	std::atomic<bool> running{true};
	std::exception_ptr guest_failed, device_failed;
	GuestRun r;
	uint64_t t0 = now_ns();
	std::thread vcpu([&] {
		try {
			pin_to_cpu(1);
			uint64_t c0 = doorbell::thread_cpu_ns();
			vm.run(cmd, a0, a1, a2, a3);
			r.vcpu_cpu_ns = doorbell::thread_cpu_ns() - c0;
		} catch (...) {
			guest_failed = std::current_exception();
		}
		running.store(false, std::memory_order_release);
	});
	std::thread dev([&] {
		try {
			pin_to_cpu(0);
			uint64_t c0 = doorbell::thread_cpu_ns();
			device(running);
			r.device_cpu_ns = doorbell::thread_cpu_ns() - c0;
		} catch (...) {
			device_failed = std::current_exception();
			vm.cancel();
		}
	});
	dev.join();
	vcpu.join();
	r.wall_ns = now_ns() - t0;
	if (device_failed)
		std::rethrow_exception(device_failed);
	if (guest_failed)
		std::rethrow_exception(guest_failed);
	return r;
}

nlohmann::json exit_counts(const Vm &vm)
{
	const UserExits &u = vm.user_exits();
	return {{"user", {{"done", u.done}, {"ping", u.ping}, {"interrupted", u.interrupted}}},
		{"kernel", vm.kernel_stats()}};
}

} // namespace mkdp::bench::kvm
