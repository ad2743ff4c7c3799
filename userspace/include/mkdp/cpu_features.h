// SPDX-License-Identifier: BSD-2-Clause
// What the CPU offers mkdp's waiting loops, detected once at run time.
//
// User-mode monitor/wait (UMONITOR/UMWAIT, MONITORX/MWAITX) lets a consumer
// sleep in the core until the producer's store touches the watched line:
// a doorbell with no kernel and no IPI. Whether it exists depends on the CPU
// and on the hypervisor passing it through, so it is asked of CPUID each run
// and never assumed from the build machine.
#pragma once

#include <cstdint>

namespace mkdp {

struct CpuFeatures {
	bool waitpkg = false;		// CPUID.(EAX=7,ECX=0):ECX[5]: UMONITOR, UMWAIT, TPAUSE
	bool monitorx = false;		// CPUID.80000001h:ECX[29]: MONITORX, MWAITX (AMD)
	bool invariant_tsc = false;	// CPUID.80000007h:EDX[8]: TSC ticks at a constant rate
	bool hypervisor = false;	// CPUID.1:ECX[31]: running under a hypervisor

	// Either user-mode monitor/wait form.
	bool user_monitor() const noexcept { return waitpkg || monitorx; }
};

// The features of this CPU (CPUID is read on the first call).
const CpuFeatures &cpu_features() noexcept;

// One line saying which user-mode monitor/wait form is used, or why none.
const char *user_monitor_description() noexcept;

} // namespace mkdp
