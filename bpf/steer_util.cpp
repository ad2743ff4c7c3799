// SPDX-License-Identifier: BSD-2-Clause
// What every part of the steering loader uses: libbpf and libxdp
// diagnostics as one-line reasons, the pin lock, ids and names.
#include "steer_internal.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <mkdp/error.h>

namespace mkdp {

using namespace steer_detail;

namespace steer_detail {

// libbpf and libxdp print their diagnostics to stderr; mkdp turns them into
// the one-line reason of its errors instead. Kept per call, restored after.
thread_local std::string g_last_diag;	// QuietLibs::why()

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

PinLock::PinLock()
{
	if (::mkdir(kPinRoot, 0700) && errno != EEXIST)
		throw_errno(std::string("mkdir ") + kPinRoot);
	fd_.reset(::open(kPinRoot, O_DIRECTORY | O_RDONLY | O_CLOEXEC));
	if (fd_.get() < 0)
		throw_errno(std::string("open ") + kPinRoot);
	if (::flock(fd_.get(), LOCK_EX))
		throw_errno(std::string("lock ") + kPinRoot);
}

int ifindex_of(const std::string &ifname)
{
	unsigned idx = if_nametoindex(ifname.c_str());
	if (!idx)
		throw Error("unknown interface '" + ifname + "'", ENODEV);
	return int(idx);
}

uint32_t prog_id_of(int fd)
{
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		throw_errno("bpf_obj_get_info_by_fd");
	return info.id;
}

uint32_t map_id_of(int fd)
{
	bpf_map_info info{};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		throw_errno("bpf_obj_get_info_by_fd");
	return info.id;
}


std::string ifname_of(int ifindex)
{
	char buf[IF_NAMESIZE] = "";
	return if_indextoname(unsigned(ifindex), buf) ? buf : "ifindex " + std::to_string(ifindex);
}

} // namespace steer_detail


} // namespace mkdp
