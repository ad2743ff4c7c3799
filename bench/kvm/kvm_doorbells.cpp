// SPDX-License-Identifier: BSD-2-Clause
// The doorbell table's KVM rows.
//
// kvm_exit_rtt: the guest writes a port nobody in the kernel claims, KVM
//   returns to this process, which enters the guest again; the vCPU
//   thread's clock between two exits is one round trip (guest -> VMM ->
//   guest). One-way is taken as half of it.
// kvm_irqfd: the guest halts with interrupts on; a thread on the other CPU
//   writes the irqfd, KVM turns it into an MSI for the guest's local APIC
//   and wakes the vCPU; the handler reads the clock word, which that thread
//   keeps fresh while it waits for the handler's count to move.
#include "kvm_bench.h"

#include "doorbell_measure.h"	// thread_cpu_ns, dist

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <unistd.h>

#include <thread>

namespace mkdp::bench::kvm {

namespace {

// fn() on a thread of its own pinned to `cpu`, so that the caller's
// placement stays as it was.
RowRep on_cpu(int cpu, const std::function<RowRep()> &fn)
{
	RowRep r;
	std::exception_ptr failed;
	std::thread t([&] {
		try {
			pin_to_cpu(cpu);
			r = fn();
		} catch (...) {
			failed = std::current_exception();
		}
	});
	t.join();
	if (failed)
		std::rethrow_exception(failed);
	return r;
}

// On the vCPU's CPU.
RowRep exit_rep(Vm &vm, bool quick)
{
	const uint64_t n = quick ? 2'000 : 20'000;
	std::vector<uint64_t> at;
	at.reserve(n);
	uint64_t c0 = doorbell::thread_cpu_ns();
	vm.run(KVMB_CMD_PING, n, 0, 0, 0, [&] { at.push_back(now_ns()); });
	uint64_t cpu = doorbell::thread_cpu_ns() - c0;
	std::vector<double> rtt;
	for (size_t i = 1; i < at.size(); i++)
		rtt.push_back(double(at[i] - at[i - 1]));
	if (rtt.empty())
		throw Error("KVM: no exits were seen");
	doorbell::Dist d = doorbell::dist(rtt);
	RowRep r;
	r.rtt_p50 = d.p50;
	r.rtt_p99 = d.p99;
	r.oneway_p50 = d.p50 / 2;
	r.oneway_p99 = d.p99 / 2;
	r.waker_cpu_ns = double(cpu) / double(n);
	return r;
}

// On the other CPU (with_guest runs the guest on CPU 1).
RowRep irqfd_rep(Vm &vm, bool quick)
{
	const uint64_t n = quick ? 100 : 1'000;
	const uint64_t gap_ns = 500'000, idle_ns = quick ? 20'000'000 : 100'000'000;
	kvmb_mailbox &mb = vm.mailbox();
	auto ring = [&] {
		uint64_t one = 1, c0 = doorbell::thread_cpu_ns();
		if (write(vm.irqfd(), &one, sizeof(one)) != sizeof(one))
			throw_errno("write the irqfd");
		return doorbell::thread_cpu_ns() - c0;
	};
	auto await_irq = [&](uint64_t before) {
		uint64_t t0 = now_ns();
		while (__atomic_load_n(&mb.irqs, __ATOMIC_ACQUIRE) == before) {
			vm.tick();
			if (now_ns() - t0 > 1'000'000'000)
				throw Error("KVM: an injected interrupt did not arrive in 1 s");
		}
	};
	RowRep r;
	// The halted guest, and nothing comes: what does waiting cost?
	GuestRun idle = with_guest(vm, KVMB_CMD_IRQ_WAIT, 1, 0, 0, 0, [&](const std::atomic<bool> &) {
		uint64_t before = mb.irqs;
		usleep(useconds_t(idle_ns / 1000));
		ring();
		await_irq(before);
	});
	r.idle_cpu_fraction = double(idle.vcpu_cpu_ns) / double(idle.wall_ns);

	std::vector<double> oneway, rtt;
	uint64_t waker_cpu = 0;
	GuestRun g = with_guest(vm, KVMB_CMD_IRQ_WAIT, n, 0, 0, 0, [&](const std::atomic<bool> &) {
		const uint64_t *log = vm.at<uint64_t>(KVMB_IRQ_LOG);
		for (uint64_t i = 0; i < n; i++) {
			// Long enough for the vCPU to stop polling and halt.
			for (uint64_t t = now_ns(); now_ns() - t < gap_ns;)
				vm.tick();
			uint64_t before = __atomic_load_n(&mb.irqs, __ATOMIC_ACQUIRE);
			uint64_t t0 = now_ns();
			__atomic_store_n(&mb.clock_ns, t0, __ATOMIC_RELAXED);
			waker_cpu += ring();
			await_irq(before);
			rtt.push_back(double(now_ns() - t0));
			if (before < KVMB_IRQ_MAX)
				oneway.push_back(double(log[before] - t0));
		}
	});
	doorbell::Dist o = doorbell::dist(oneway), rt = doorbell::dist(rtt);
	r.oneway_p50 = o.p50;
	r.oneway_p99 = o.p99;
	r.rtt_p50 = rt.p50;
	r.rtt_p99 = rt.p99;
	r.waker_cpu_ns = double(waker_cpu) / double(n);
	r.woken_cpu_ns = double(g.vcpu_cpu_ns) / double(n);
	return r;
}

} // namespace

std::vector<RowSource> doorbell_sources(std::shared_ptr<Vm> vm, const std::string &why)
{
	auto unavailable = [vm, why] { return vm ? std::string() : why; };
	return {
		{"kvm_exit_rtt", "port I/O exit to the VMM and back (KVM_EXIT_IO)",
		 "one-way is half the round trip; CPU is the vCPU thread's per round trip, guest and host",
		 unavailable, [vm](bool quick) { return on_cpu(1, [&] { return exit_rep(*vm, quick); }); }, nullptr},
		{"kvm_irqfd", "irqfd -> MSI -> handler of a halted guest",
		 "one-way: irqfd write to the guest's handler; the woken side's CPU includes KVM's halt polling "
		 "between wake-ups (machine.kvm.halt_poll_ns)",
		 unavailable, [vm](bool quick) { return on_cpu(0, [&] { return irqfd_rep(*vm, quick); }); }, nullptr},
	};
}

} // namespace mkdp::bench::kvm
