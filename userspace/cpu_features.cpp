// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/cpu_features.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace mkdp {

namespace {

CpuFeatures detect() noexcept
{
	CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d))
		f.hypervisor = c & (1u << 31);
	// __get_cpuid_count checks the maximum leaf before reading leaf 7.
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		f.waitpkg = c & (1u << 5);
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		f.monitorx = c & (1u << 29);
	if (__get_cpuid(0x80000007, &a, &b, &c, &d))
		f.invariant_tsc = d & (1u << 8);
#endif
	return f;
}

} // namespace

const CpuFeatures &cpu_features() noexcept
{
	static const CpuFeatures f = detect();
	return f;
}

const char *user_monitor_description() noexcept
{
	const CpuFeatures &f = cpu_features();
	if (f.waitpkg)
		return "UMONITOR/UMWAIT (WAITPKG)";
	if (f.monitorx)
		return "MONITORX/MWAITX";
	if (f.hypervisor)
		return "unavailable: CPUID offers neither WAITPKG (7.0:ECX[5]) nor MONITORX "
		       "(80000001h:ECX[29]); the hypervisor does not pass them through";
	return "unavailable: CPUID offers neither WAITPKG (7.0:ECX[5]) nor MONITORX "
	       "(80000001h:ECX[29])";
}

} // namespace mkdp
