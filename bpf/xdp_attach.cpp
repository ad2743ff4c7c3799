// SPDX-License-Identifier: BSD-2-Clause
#include "xdp_attach.h"

#include <linux/if_link.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>

#include "netdev.h"

namespace mkdp {

namespace {

std::string prog_name_of_id(uint32_t id)
{
	Fd fd(bpf_prog_get_fd_by_id(id));
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	if (fd.get() < 0 || bpf_obj_get_info_by_fd(fd.get(), &info, &len))
		return "?";
	return info.name;
}

__u32 mode_flags(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : m == XDP_MODE_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
}

std::string named(const Attached &a)
{
	return "'" + a.progs.front().second + "' (id " + std::to_string(a.progs.front().first) + ")";
}

} // namespace

// Asked of the kernel (bpf_xdp_query) rather than libxdp: libxdp 1.3.1's
// xdp_multiprog__get_from_ifindex() leaks a program fd per call, which keeps
// a detached program alive in a long-lived process. libxdp is asked only
// when its dispatcher is what is attached, to list the components.
Attached attached_on(int ifindex)
{
	Attached a;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifindex, 0, &q) || q.attach_mode == XDP_ATTACHED_NONE)
		return a;
	uint32_t id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	a.mode = q.drv_prog_id ? XDP_MODE_NATIVE : q.skb_prog_id ? XDP_MODE_SKB : XDP_MODE_HW;
	std::string name = prog_name_of_id(id);
	a.progs.emplace_back(id, name);
	if (name != "xdp_dispatcher")
		return a;
	QuietLibs quiet;
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return a;
	a.multiprog = !xdp_multiprog__is_legacy(mp);
	for (auto *p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp))
		a.progs.emplace_back(xdp_program__id(p), xdp_program__name(p));
	xdp_multiprog__close(mp);
	return a;
}

bool has_prog(const Attached &a, uint32_t id)
{
	return std::any_of(a.progs.begin(), a.progs.end(), [id](auto &p) { return p.first == id; });
}

std::optional<Where> find_attached(uint32_t id, int hint)
{
	if (!id)
		return std::nullopt;
	if (hint > 0)
		if (Attached a = attached_on(hint); has_prog(a, id))
			return Where{hint, a};
	struct if_nameindex *all = if_nameindex();
	if (!all)
		throw_errno("list interfaces");
	std::optional<Where> w;
	for (auto *i = all; i->if_index && !w; i++)
		if (Attached a = attached_on(int(i->if_index)); has_prog(a, id))
			w = Where{int(i->if_index), a};
	if_freenameindex(all);
	return w;
}

// Alone: by the kernel's compare-and-replace, so a program attached
// meanwhile is never removed. Behind libxdp's dispatcher: through libxdp.
void detach_prog(int ifindex, int pfd, const Attached &cur)
{
	if (!cur.multiprog) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = pfd);
		if (bpf_xdp_attach(ifindex, -1, XDP_FLAGS_REPLACE | mode_flags(cur.mode), &ao))
			throw_errno("detach XDP from '" + ifname_of(ifindex) + "'");
		return;
	}
	QuietLibs quiet;
	struct xdp_program *xp = xdp_program__from_fd(pfd);
	int err = libxdp_get_error(xp);
	if (!err) {	// xp holds its own dup of pfd
		err = xdp_program__detach(xp, ifindex, cur.mode, 0);
		xdp_program__close(xp);
	}
	if (err)
		throw Error("detach XDP from '" + ifname_of(ifindex) + "'" + QuietLibs::why() + ": " +
			    std::strerror(-err), -err);
}

Displaced::Displaced(int ifindex, const std::string &ifname, const Attached &cur)
	: ifindex_(ifindex), ifname_(ifname), was_(cur)
{
	int err = 0;
	QuietLibs quiet;
	if (!cur.multiprog) {
		prog_.reset(bpf_prog_get_fd_by_id(cur.progs.front().first));
		if (prog_.get() < 0)
			throw_errno("hold the XDP program " + named(cur) + " on '" + ifname + "'");
		detach_prog(ifindex, prog_.get(), cur);
		return;
	}
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (!err) {
		err = xdp_multiprog__detach(mp);
		xdp_multiprog__close(mp);
	}
	if (err)
		throw Error("remove the XDP program on '" + ifname + "'" + QuietLibs::why() + ": " +
			    std::strerror(-err), -err);
}

std::string Displaced::restore() noexcept
{
	if (prog_.get() < 0)
		return "; libxdp's dispatcher that was on '" + ifname_ + "' is not put back";
	// UPDATE_IF_NOEXIST: a program attached meanwhile stays.
	if (bpf_xdp_attach(ifindex_, prog_.get(), XDP_FLAGS_UPDATE_IF_NOEXIST | mode_flags(was_.mode), nullptr))
		return "; putting " + named(was_) + " back on '" + ifname_ + "' failed: " + std::strerror(errno);
	return "; " + named(was_) + " is back on '" + ifname_ + "'";
}

} // namespace mkdp
