// SPDX-License-Identifier: BSD-2-Clause
#include "vmm.h"
#include "virtq.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <linux/kvm.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

// The flat guest image (guest_image.cpp).
extern "C" const uint8_t mkdp_kvm_guest_start[], mkdp_kvm_guest_end[];

namespace mkdp::bench::kvm {

namespace {

// Interrupts KVM_RUN so that run() can look at its deadline and at
// cancel(); the handler does nothing, the EINTR is the point.
const int kKickSignal = SIGRTMIN + 3;

void on_kick(int) {}

int kvm_ioctl(int fd, unsigned long req, const void *arg, const char *what)
{
	int r;
	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		throw_errno(std::string("KVM: ") + what);
	return r;
}

std::string read_line(const std::string &path)
{
	std::ifstream f(path);
	std::string s;
	std::getline(f, s);
	return s;
}

bool exists(const std::string &path)
{
	return access(path.c_str(), F_OK) == 0;
}

} // namespace

std::string unavailable()
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && exists("/sys/module/kvm") && !exists("/sys/class/misc/kvm"))
		return "no /dev/kvm: the kvm module is loaded but registered no device (kvm_pvm does not bind "
		       "in a kernel that is itself a PVM guest)";
	if (fd < 0)
		return std::string("/dev/kvm: ") + std::strerror(errno);
	std::string why;
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		why = "KVM API version is not 12";
	for (auto [cap, name] : {std::pair{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"}, {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
				 {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"}, {KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD"}})
		if (why.empty() && ioctl(fd, KVM_CHECK_EXTENSION, cap) <= 0)
			why = std::string("KVM lacks ") + name;
	close(fd);
	return why;
}

nlohmann::json describe()
{
	nlohmann::json d;
	std::string module = exists("/sys/module/kvm_pvm")	 ? "kvm_pvm"
			     : exists("/sys/module/kvm_intel") ? "kvm_intel"
			     : exists("/sys/module/kvm_amd")	 ? "kvm_amd"
								 : "unknown";
	d["module"] = module;
	d["kind"] = module == "kvm_pvm"	    ? "PVM: page-table based, guest in host user mode, no VMX/SVM"
		    : module == "kvm_intel" ? "VMX (Intel VT-x)"
		    : module == "kvm_amd"   ? "SVM (AMD-V)"
					    : "unknown";
	// Under a hypervisor, any KVM here is nested; PVM exists for that case.
	std::ifstream cpuinfo("/proc/cpuinfo");
	std::string line;
	bool hv = false;
	while (std::getline(cpuinfo, line))
		if (line.rfind("flags", 0) == 0) {
			hv = line.find(" hypervisor") != std::string::npos;
			break;
		}
	d["nested"] = hv;
	std::string poll = read_line("/sys/module/kvm/parameters/halt_poll_ns");
	d["halt_poll_ns"] = poll.empty() ? nlohmann::json() : nlohmann::json(std::stoll(poll));
	return d;
}

Vm::Vm()
{
	struct sigaction sa {};
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	sigaction(kKickSignal, &sa, nullptr);	// no SA_RESTART: KVM_RUN returns EINTR
	try {
		kvm_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (kvm_ < 0)
			throw_errno("open /dev/kvm");
		vm_ = kvm_ioctl(kvm_, KVM_CREATE_VM, nullptr, "create a VM");
		void *m = mmap(nullptr, KVMB_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
		if (m == MAP_FAILED)
			throw_errno("map guest memory");
		ram_ = static_cast<uint8_t *>(m);
		kvm_userspace_memory_region slot{0, 0, 0, KVMB_MEM_SIZE, uint64_t(uintptr_t(ram_))};
		kvm_ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &slot, "add guest memory");
		kvm_ioctl(vm_, KVM_CREATE_IRQCHIP, nullptr, "create the in-kernel irqchip");
		vcpu_ = kvm_ioctl(vm_, KVM_CREATE_VCPU, nullptr, "create the vCPU");
		int sz = kvm_ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, nullptr, "size of kvm_run");
		run_size_ = size_t(sz);
		void *r = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0);
		if (r == MAP_FAILED)
			throw_errno("map kvm_run");
		run_ = static_cast<kvm_run *>(r);
		size_t image = size_t(mkdp_kvm_guest_end - mkdp_kvm_guest_start);
		if (image > KVMB_STACK_TOP - KVMB_CODE - 64 * 1024)
			throw Error("KVM: the guest image is too large");
		std::memcpy(ram_ + KVMB_CODE, mkdp_kvm_guest_start, image);
		setup_cpu();
		setup_irq();
		stats_ = ioctl(vcpu_, KVM_GET_STATS_FD, nullptr);
		mailbox().seed = now_ns();
		run(KVMB_CMD_BOOT, 0, 0, 0, 0, {}, 10'000'000'000);
	} catch (...) {
		this->~Vm();
		throw;
	}
}

Vm::~Vm()
{
	for (int fd : {stats_, irqfd_, vcpu_, vm_, kvm_})
		if (fd >= 0)
			close(fd);
	if (run_)
		munmap(run_, run_size_);
	if (ram_)
		munmap(ram_, KVMB_MEM_SIZE);
	stats_ = irqfd_ = vcpu_ = vm_ = kvm_ = -1;
	run_ = nullptr;
	ram_ = nullptr;
}

// Long mode straight away: identity-mapped 4 GiB in 2 MiB pages (RAM and
// the local APIC page), a flat GDT, CS a 64-bit code segment.
void Vm::setup_cpu()
{
	auto *pml4 = at<uint64_t>(KVMB_PML4), *pdpt = at<uint64_t>(KVMB_PDPT), *pd = at<uint64_t>(KVMB_PD);
	const uint64_t P = 1, RW = 2, PS = 0x80;
	pml4[0] = KVMB_PDPT | P | RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (KVMB_PD + i * 4096) | P | RW;
	for (uint64_t j = 0; j < 4 * 512; j++)
		pd[j] = (j << 21) | P | RW | PS;
	auto *gdt = at<uint64_t>(KVMB_GDT);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffff;	// code: present, DPL 0, L=1
	gdt[2] = 0x00cf93000000ffff;	// data: present, writable, 4 GiB

	// KVM refuses EFER.LME unless the guest's CPUID says long mode.
	std::vector<uint8_t> buf(sizeof(kvm_cpuid2) + 128 * sizeof(kvm_cpuid_entry2));
	auto *cpuid = reinterpret_cast<kvm_cpuid2 *>(buf.data());
	cpuid->nent = 128;
	kvm_ioctl(kvm_, KVM_GET_SUPPORTED_CPUID, cpuid, "read the supported CPUID");
	kvm_ioctl(vcpu_, KVM_SET_CPUID2, cpuid, "set the guest's CPUID");

	kvm_sregs s{};
	kvm_ioctl(vcpu_, KVM_GET_SREGS, &s, "read special registers");
	kvm_segment code{};
	code.base = 0;
	code.limit = 0xffffffff;
	code.selector = 0x08;
	code.type = 11;	// execute/read, accessed
	code.present = 1;
	code.s = 1;
	code.l = 1;
	code.g = 1;
	kvm_segment data = code;
	data.selector = 0x10;
	data.type = 3;	// read/write, accessed
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr.base = 0;
	s.tr.limit = 0x67;
	s.tr.type = 11;	// busy 64-bit TSS
	s.tr.present = 1;
	s.gdt.base = KVMB_GDT;
	s.gdt.limit = 3 * 8 - 1;
	s.idt.base = KVMB_IDT;
	s.idt.limit = 256 * 16 - 1;
	s.cr3 = KVMB_PML4;
	s.cr4 = 1u << 5;			// PAE
	s.cr0 = 0x80050033;			// PG, WP, NE, ET, MP, PE
	s.efer = (1u << 8) | (1u << 10);	// LME, LMA
	kvm_ioctl(vcpu_, KVM_SET_SREGS, &s, "enter long mode");
	kvm_regs r{};
	r.rip = KVMB_CODE;
	r.rsp = KVMB_STACK_TOP;
	r.rflags = 2;
	kvm_ioctl(vcpu_, KVM_SET_REGS, &r, "set the entry point");
}

// GSI 24 -> an MSI with KVMB_IRQ_VECTOR for APIC 0, raised by irqfd_.
void Vm::setup_irq()
{
	const uint32_t gsi = 24;
	std::vector<uint8_t> buf(sizeof(kvm_irq_routing) + sizeof(kvm_irq_routing_entry));
	auto *rt = reinterpret_cast<kvm_irq_routing *>(buf.data());
	rt->nr = 1;
	kvm_irq_routing_entry &e = rt->entries[0];
	e.gsi = gsi;
	e.type = KVM_IRQ_ROUTING_MSI;
	e.u.msi.address_lo = KVMB_LAPIC;	// destination APIC 0, fixed delivery
	e.u.msi.data = KVMB_IRQ_VECTOR;		// edge-triggered
	kvm_ioctl(vm_, KVM_SET_GSI_ROUTING, rt, "route the doorbell interrupt");
	irqfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (irqfd_ < 0)
		throw_errno("eventfd");
	kvm_irqfd f{};
	f.fd = uint32_t(irqfd_);
	f.gsi = gsi;
	kvm_ioctl(vm_, KVM_IRQFD, &f, "attach irqfd");
}

void Vm::tick() noexcept
{
	__atomic_store_n(&mailbox().clock_ns, now_ns(), __ATOMIC_RELAXED);
}

void Vm::reset_ring(uint64_t gpa, unsigned num)
{
	size_t len = kvmb_vq_size(num);
	std::memset(ram_ + gpa, 0, len);
}

void Vm::cancel() noexcept
{
	cancel_ = true;
	if (int tid = vcpu_tid_.load())
		syscall(SYS_tgkill, getpid(), tid, kKickSignal);
}

void Vm::run(kvmb_cmd cmd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, const std::function<void()> &on_ping,
	     uint64_t timeout_ns)
{
	kvmb_mailbox &mb = mailbox();
	mb.cmd = cmd;
	mb.arg[0] = a0;
	mb.arg[1] = a1;
	mb.arg[2] = a2;
	mb.arg[3] = a3;
	tick();
	vcpu_tid_ = int(gettid());
	// A kick every 100 ms while the guest runs, so that a stuck command
	// ends at its deadline instead of never.
	sigevent sev{};
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = kKickSignal;
	sev._sigev_un._tid = gettid();
	timer_t timer;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer))
		throw_errno("timer_create");
	itimerspec its{{0, 100'000'000}, {0, 100'000'000}};
	timer_settime(timer, 0, &its, nullptr);
	// A cancel() that came before the command started counts for it;
	// one for this command ends with it.
	struct Disarm {
		timer_t t;
		std::atomic<int> &tid;
		std::atomic<bool> &cancel;
		~Disarm()
		{
			timer_delete(t);
			tid = 0;
			cancel = false;
		}
	} disarm{timer, vcpu_tid_, cancel_};
	uint64_t deadline = now_ns() + timeout_ns;
	for (;;) {
		int r = ioctl(vcpu_, KVM_RUN, 0);
		if (r < 0 && errno != EINTR)
			throw_errno("KVM_RUN");
		if (r < 0 || run_->exit_reason == KVM_EXIT_INTR) {
			exits_.interrupted++;
			if (cancel_)
				throw Error("KVM: the command was cancelled");
			if (now_ns() > deadline)
				throw Error("KVM: the guest did not finish command " + std::to_string(cmd) + " in " +
					    std::to_string(timeout_ns / 1'000'000'000) + " s");
			continue;
		}
		switch (run_->exit_reason) {
		case KVM_EXIT_IO:
			if (run_->io.port == KVMB_PORT_DONE) {
				exits_.done++;
				return;
			}
			if (run_->io.port == KVMB_PORT_PING) {
				exits_.ping++;
				if (on_ping)
					on_ping();
				continue;
			}
			if (run_->io.port == KVMB_PORT_PANIC)
				throw Error("KVM: the guest took exception " + std::to_string(mb.result[0]));
			throw Error("KVM: unexpected port I/O at " + std::to_string(run_->io.port));
		case KVM_EXIT_MMIO:
			throw Error("KVM: unexpected MMIO at " + std::to_string(run_->mmio.phys_addr));
		case KVM_EXIT_SHUTDOWN:
			throw Error("KVM: the guest shut down (triple fault)");
		case KVM_EXIT_FAIL_ENTRY:
			throw Error("KVM: entry failed, hardware reason " +
				    std::to_string(run_->fail_entry.hardware_entry_failure_reason));
		case KVM_EXIT_INTERNAL_ERROR:
			throw Error("KVM: internal error, suberror " + std::to_string(run_->internal.suberror));
		default:
			throw Error("KVM: unexpected exit " + std::to_string(run_->exit_reason));
		}
	}
}

nlohmann::json Vm::kernel_stats() const
{
	nlohmann::json out = nlohmann::json::object();
	if (stats_ < 0)
		return out;
	kvm_stats_header h{};
	if (pread(stats_, &h, sizeof(h), 0) != ssize_t(sizeof(h)))
		return out;
	size_t desc_size = sizeof(kvm_stats_desc) + h.name_size;
	std::vector<uint8_t> descs(desc_size * h.num_desc);
	if (pread(stats_, descs.data(), descs.size(), h.desc_offset) != ssize_t(descs.size()))
		return out;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		auto *d = reinterpret_cast<const kvm_stats_desc *>(descs.data() + i * desc_size);
		if ((d->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE || d->size != 1)
			continue;
		uint64_t v = 0;
		if (pread(stats_, &v, sizeof(v), h.data_offset + d->offset) != ssize_t(sizeof(v)) || !v)
			continue;
		out[std::string(d->name, strnlen(d->name, h.name_size))] = v;
	}
	return out;
}

} // namespace mkdp::bench::kvm
