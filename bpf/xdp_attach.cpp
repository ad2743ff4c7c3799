// SPDX-License-Identifier: BSD-2-Clause
// Attaching the steering program to an interface (through libxdp, which
// falls back to a single-program attach where its dispatcher cannot load)
// and taking it off again.
#include "steer_internal.h"

#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <mkdp/error.h>
#include <mkdp/netns.h>

#include "steer.skel.h"

namespace mkdp {

using namespace steer_detail;

namespace {

// Where in the calling thread's namespace program `id` is attached: the
// recorded ifindex first, then every interface (one renamed meanwhile).
struct Where {
	int ifindex = 0;
	Attached cur;
};

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

// Takes program pfd off ifindex: alone there, by the kernel's
// compare-and-replace, so only if it is still ours; behind libxdp's
// dispatcher, through libxdp.
void detach_prog(int ifindex, int pfd, const Attached &cur)
{
	if (!cur.multiprog) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = pfd);
		__u32 flags = XDP_FLAGS_REPLACE | (cur.mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
		if (bpf_xdp_attach(ifindex, -1, flags, &ao))
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


// The program --force took off an interface, kept (by fd) so that an attach
// that then fails puts it back as it was: the same program (libxdp's
// dispatcher with its components, when that was it), in the same mode.
struct Foreign {
	Fd fd;
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
	std::string name;
	uint32_t id = 0;
	bool removed = false;

	void take(const Attached &cur)
	{
		id = cur.progs.front().first;
		name = cur.progs.front().second;
		mode = cur.mode;
		fd.reset(bpf_prog_get_fd_by_id(id));
		if (fd.get() < 0)
			throw_errno("hold the XDP program '" + name + "' before replacing it");
	}
	// What became of it, for the error message.
	std::string put_back(int ifindex) noexcept
	{
		__u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST |
			      (mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE
			       : mode == XDP_MODE_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE);
		std::string what = "XDP program '" + name + "' (id " + std::to_string(id) + ")";
		if (bpf_xdp_attach(ifindex, fd.get(), flags, nullptr))
			return what + " that --force replaced could not be put back: " + std::strerror(errno);
		return what + " that --force replaced is attached again as it was";
	}
};

} // namespace

namespace steer_detail {

std::string prog_name_of_id(uint32_t id)
{
	Fd fd(bpf_prog_get_fd_by_id(id));
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	if (fd.get() < 0 || bpf_obj_get_info_by_fd(fd.get(), &info, &len))
		return "?";
	return info.name;
}

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


} // namespace steer_detail

Steering Steering::attach(const std::string &ifname, const AttachOptions &o)
{
	validate(o.config);
	int ifindex = ifindex_of(ifname);
	ensure_bpffs();
	PinLock lock;
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	enum xdp_attach_mode want = o.mode == XdpMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB;
	Attached cur = attached_on(ifindex);

	// Every refusal comes before the first change.
	bool stale = false;
	if (std::filesystem::exists(dir)) {
		std::optional<Steering> old;
		try {
			old.emplace(open(ifname));
		} catch (const Error &) {
			// half-written or foreign pins: stale, see below
		}
		uint32_t old_id = old ? old->info().prog_id : 0;
		if (old && old->ifindex_ == ifindex && has_prog(cur, old_id)) {
			if (cur.mode != want)
				throw Error("'" + ifname + "' already has mkdp steering in " +
					    (cur.mode == XDP_MODE_SKB ? "skb" : "native") + " mode; detach it first");
			SteerConfig c = merge(old->config(), o.config, o.fields);
			validate(c);
			check_tables(ifname, o, c.partitions);
			old->configure(c);
			old->apply_tables(o);
			return std::move(*old);
		}
		// The interface was renamed and another took its name: the pins
		// still belong to a program at work.
		if (std::optional<Where> w = find_attached(old_id, old ? old->ifindex_ : 0))
			throw Error("the pins at " + dir + " belong to mkdp's program on '" + ifname_of(w->ifindex) +
				    "' (renamed?); run mkdp detach " + ifname + " first");
		stale = true;
	}
	if (!cur.progs.empty() && !o.force)
		throw Error("'" + ifname + "' has XDP program '" + cur.progs.front().second + "' (id " +
			    std::to_string(cur.progs.front().first) +
			    ") that mkdp did not attach; use --force to replace it");
	check_tables(ifname, o, o.config.partitions);

	if (stale)
		remove_pins(dir);	// not attached anywhere here: start afresh
	if (::mkdir(kPinRoot, 0700) && errno != EEXIST)
		throw_errno(std::string("mkdir ") + kPinRoot);
	std::string label_dir = std::filesystem::path(dir).parent_path().string();
	if (::mkdir(label_dir.c_str(), 0700) && errno != EEXIST)
		throw_errno("mkdir " + label_dir);

	// From here on, every failure undoes what was done.
	bool attached = false;
	struct xdp_program *xp = nullptr;
	Loaded l;
	Steering s;
	Foreign foreign;
	try {
		if (::mkdir(dir.c_str(), 0700))
			throw_errno("mkdir " + dir);
		load_skeleton(l, dir);	// the maps are pinned in dir as they are created
		s = from_object(l.skel, o.config);
		s.ifname_ = ifname;
		s.ifindex_ = ifindex;
		s.netns_ = label;
		s.apply_tables(o);
		if (bpf_obj_pin(s.prog_fd_, (dir + "/" + kProgPin).c_str()))
			throw_errno("pin " + dir + "/" + kProgPin);
		{
			QuietLibs quiet;
			bpf_link *link = bpf_program__attach(l.skel->progs.mkdp_steer_redirect_err);
			if (!link)
				throw_errno("attach the redirect-error tracepoint" + QuietLibs::why());
			int err = bpf_link__pin(link, (dir + "/" + kLinkPin).c_str());
			// Closes our fd; a pinned link stays (disconnect would leak the fd).
			bpf_link__destroy(link);
			if (err)
				throw Error("pin " + dir + "/" + kLinkPin + ": " + std::strerror(-err), -err);
		}

		QuietLibs quiet;
		if (!cur.progs.empty()) {
			// --force: take the foreign program(s) off first, keeping
			// it to put back should the rest fail.
			foreign.take(cur);
			int err = 0;
			if (!cur.multiprog) {
				__u32 flags = cur.mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE
					    : cur.mode == XDP_MODE_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
				err = bpf_xdp_detach(ifindex, flags, nullptr);
			} else {
				struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
				err = libxdp_get_error(mp);
				if (!err) {
					err = xdp_multiprog__detach(mp);
					xdp_multiprog__close(mp);
				}
			}
			if (err)
				throw Error("remove the XDP program on '" + ifname + "'" + QuietLibs::why() +
					    ": " + std::strerror(-err), -err);
			foreign.removed = true;
			if (const char *f = std::getenv("MKDP_STEER_FAULT"); f && !std::strcmp(f, "after-force"))
				throw Error("MKDP_STEER_FAULT=after-force");	// test hook: a failure past --force
		}
		xp = xdp_program__from_fd(s.prog_fd_);	// libxdp works on its own dup
		if (libxdp_get_error(xp)) {
			int err = libxdp_get_error(xp);
			xp = nullptr;
			throw Error("libxdp program" + QuietLibs::why() + ": " + std::strerror(-err), -err);
		}
		// libxdp tries its dispatcher first and, when the kernel refuses
		// freplace (EPERM here), attaches the program alone: which of the two
		// happened is read back below, never assumed.
		int err = xdp_program__attach(xp, ifindex, want, 0);
		if (err)
			throw Error("attach XDP to '" + ifname + "' in " + to_string(o.mode) + " mode" +
				    QuietLibs::why() + ": " + std::strerror(-err), -err);
		attached = true;

		Attached now = attached_on(ifindex);
		uint32_t id = prog_id_of(s.prog_fd_);
		if (!has_prog(now, id))
			throw Error("attach XDP to '" + ifname + "': program not found on the interface afterwards");
		mkdp_steer_info inf{};
		inf.magic = MKDP_STEER_INFO_MAGIC;
		inf.abi_version = MKDP_STEER_ABI_VERSION;
		inf.ifindex = uint32_t(ifindex);
		inf.prog_id = id;
		inf.xdp_mode = now.mode == XDP_MODE_SKB ? MKDP_STEER_MODE_SKB : MKDP_STEER_MODE_NATIVE;
		inf.attach_kind = now.multiprog ? MKDP_STEER_ATTACH_MULTIPROG : MKDP_STEER_ATTACH_SINGLE;
		inf.owner_pid = uint32_t(::getpid());
		inf.attach_time = uint64_t(::time(nullptr));
		uint32_t zero = 0;
		if (bpf_map_update_elem(s.maps_[steer_info], &zero, &inf, BPF_ANY))
			throw_errno("write steer_info");
		xdp_program__close(xp);
		xp = nullptr;
	} catch (const std::exception &e) {
		if (attached)
			xdp_program__detach(xp, ifindex, want, 0);
		if (xp)
			xdp_program__close(xp);
		try {
			remove_pins(dir);
		} catch (const Error &) {
		}
		if (foreign.removed)
			throw Error(std::string(e.what()) + "; " + foreign.put_back(ifindex));
		throw;
	}
	return s;
}

void Steering::apply_tables(const AttachOptions &o)
{
	for (auto [q, p] : o.queue_map)
		set_queue_partition(q, p);
	if (!o.indirection.empty())
		set_indirection(o.indirection);
}

DetachResult Steering::detach(const std::string &ifname)
{
	ensure_bpffs();
	PinLock lock;
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	if (!std::filesystem::exists(dir))
		throw Error(no_pins(label, ifname), ENOENT);
	DetachResult r{dir, ""};
	Fd pfd = pinned_prog(dir);
	if (pfd.get() >= 0) {
		// Where it was attached; a renamed interface keeps its ifindex.
		std::optional<mkdp_steer_info> inf = pinned_info(dir);
		int hint = inf ? int(inf->ifindex) : int(if_nametoindex(ifname.c_str()));
		if (std::optional<Where> w = find_attached(prog_id_of(pfd.get()), hint)) {
			detach_prog(w->ifindex, pfd.get(), w->cur);
			r.detached_from = ifname_of(w->ifindex);
		}
	}
	// else: no program is left in the pins (a half-written directory)
	remove_pins(dir);
	return r;
}

DetachResult Steering::remove_stale(const std::string &netns, const std::string &ifname)
{
	ensure_bpffs();
	PinLock lock;
	std::string dir = pin_dir(netns, ifname);
	if (!std::filesystem::exists(dir))
		throw Error("no mkdp pins for '" + ifname + "' of network namespace " + netns + " (nothing at " + dir + ")",
			    ENOENT);
	if (netns == kHostLabel || netns_exists(netns))
		throw Error("network namespace " + netns + " exists: detach from inside it (mkdp detach " + ifname +
			    (netns == kHostLabel ? "" : " --netns " + netns) + ")");
	if (netns.rfind("netns-", 0) == 0)
		throw Error(dir + " belongs to an unnamed network namespace mkdp cannot enter; detach from inside it, "
			    "or remove the directory if that namespace is gone");
	DetachResult r{dir, ""};
	// A deleted namespace destroys its virtual devices and returns physical
	// ones to the initial namespace, still carrying their XDP program.
	if (Fd pfd = pinned_prog(dir); pfd.get() >= 0)
		if (std::optional<Where> w = find_attached(prog_id_of(pfd.get()), 0)) {
			detach_prog(w->ifindex, pfd.get(), w->cur);
			r.detached_from = ifname_of(w->ifindex);
		}
	remove_pins(dir);
	return r;
}

} // namespace mkdp
