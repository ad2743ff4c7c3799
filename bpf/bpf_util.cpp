// SPDX-License-Identifier: BSD-2-Clause
#include "bpf_util.h"

#include <cstdarg>
#include <cstdio>

namespace mkdp {

namespace {

thread_local std::string g_last_diag;

int capture_print(const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	std::string line(buf);
	while (!line.empty() && (line.back() == '\n' || line.back() == ' '))
		line.pop_back();
	if (!line.empty())
		g_last_diag = line;
	return 0;
}

int capture_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : capture_print(fmt, ap);
}

int capture_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return level == LIBXDP_DEBUG ? 0 : capture_print(fmt, ap);
}

template <class Info>
uint32_t id_of(int fd)
{
	Info info{};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		throw_errno("bpf_obj_get_info_by_fd");
	return info.id;
}

} // namespace

QuietLibs::QuietLibs() : bpf_(libbpf_set_print(capture_libbpf)), xdp_(libxdp_set_print(capture_libxdp))
{
	g_last_diag.clear();
}

QuietLibs::~QuietLibs()
{
	libbpf_set_print(bpf_);
	libxdp_set_print(xdp_);
}

std::string QuietLibs::why() { return g_last_diag.empty() ? "" : " (" + g_last_diag + ")"; }

uint32_t prog_id_of(int fd) { return id_of<bpf_prog_info>(fd); }

uint32_t map_id_of(int fd) { return id_of<bpf_map_info>(fd); }

int possible_cpus()
{
	int n = libbpf_num_possible_cpus();
	if (n < 0)
		throw Error("cannot count possible CPUs", -n);
	return n;
}

} // namespace mkdp
