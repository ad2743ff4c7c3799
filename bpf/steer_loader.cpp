// SPDX-License-Identifier: BSD-2-Clause
// The life cycle of a steering: load, open from the pins, attach, detach.
#include "steer_loader.h"

#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>

#include <mkdp/netns.h>

#include "bpf_util.h"
#include "netdev.h"
#include "steer.skel.h"
#include "steer_pins.h"
#include "steer_tables.h"
#include "xdp_attach.h"

namespace mkdp {

namespace {

// The object, opened. steer.bpf.c asks LIBBPF_PIN_BY_NAME for every map:
// given a directory, libbpf pins each map there under its name as it
// creates it (and unpins them when the load fails); given none, nothing is
// pinned (libbpf would otherwise pin under /sys/fs/bpf itself).
class Object {
public:
	explicit Object(const std::string &pins_at)
	{
		QuietLibs quiet;
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pins_at.empty() ? nullptr : pins_at.c_str());
		skel_ = steer__open_opts(&oo);
		if (!skel_)
			throw_errno("open the steering BPF object" + QuietLibs::why());
		if (pins_at.empty()) {
			bpf_map *m;
			bpf_object__for_each_map(m, skel_->obj)
				bpf_map__set_pin_path(m, nullptr);
		}
	}
	~Object() { steer__destroy(skel_); }
	Object(const Object &) = delete;
	Object &operator=(const Object &) = delete;

	void load()
	{
		QuietLibs quiet;
		if (int err = steer__load(skel_))
			throw Error("load the steering program" + QuietLibs::why() + ": " + std::strerror(-err), -err);
	}
	// Instead of creating its maps, the object takes the pinned ones.
	void reuse_pins(const std::string &label, const std::string &ifname, const std::string &dir)
	{
		bpf_map *m;
		bpf_object__for_each_map(m, skel_->obj) {
			Fd fd(bpf_obj_get(bpf_map__pin_path(m)));
			if (fd.get() < 0) {
				if (errno == ENOENT && !std::filesystem::exists(dir))
					throw Error(no_pins(label, ifname), ENOENT);
				throw_errno(std::string("open pinned map ") + bpf_map__pin_path(m));
			}
			if (int err = bpf_map__reuse_fd(m, fd.get()))	// takes a dup
				throw Error(std::string("reuse pinned map ") + bpf_map__pin_path(m) + ": " +
					    std::strerror(-err), -err);
		}
	}
	steer *release() noexcept { return std::exchange(skel_, nullptr); }

private:
	steer *skel_ = nullptr;
};

// The program and the redirect-error tracepoint link, beside the maps.
void pin_programs(steer *skel, const std::string &dir)
{
	std::string prog = dir + "/" + kProgPin, link_pin = dir + "/" + kLinkPin;
	if (int err = bpf_program__pin(skel->progs.mkdp_steer, prog.c_str()))
		throw Error("pin " + prog + ": " + std::strerror(-err), -err);
	QuietLibs quiet;
	bpf_link *link = bpf_program__attach(skel->progs.mkdp_steer_redirect_err);
	if (!link)
		throw_errno("attach the redirect-error tracepoint" + QuietLibs::why());
	int err = bpf_link__pin(link, link_pin.c_str());
	// Closes our fd; a pinned link stays (disconnect would leak the fd).
	bpf_link__destroy(link);
	if (err)
		throw Error("pin " + link_pin + ": " + std::strerror(-err), -err);
}

} // namespace

Steering::Steering(Steering &&o) noexcept
	: ifname_(std::move(o.ifname_)), netns_(std::move(o.netns_)), ifindex_(o.ifindex_),
	  prog_fd_(std::exchange(o.prog_fd_, -1)), skel_(std::exchange(o.skel_, nullptr))
{
}

Steering &Steering::operator=(Steering &&o) noexcept
{
	if (this != &o) {
		close_all();
		ifname_ = std::move(o.ifname_);
		netns_ = std::move(o.netns_);
		ifindex_ = o.ifindex_;
		prog_fd_ = std::exchange(o.prog_fd_, -1);
		skel_ = std::exchange(o.skel_, nullptr);
	}
	return *this;
}

Steering::~Steering() { close_all(); }

void Steering::close_all() noexcept
{
	if (prog_fd_ >= 0)
		::close(prog_fd_);
	prog_fd_ = -1;
	steer__destroy(skel_);
	skel_ = nullptr;
}

Steering Steering::from_object(steer *skel, const SteerConfig &c)
{
	Steering s(skel);
	s.prog_fd_ = ::dup(bpf_program__fd(skel->progs.mkdp_steer));
	if (s.prog_fd_ < 0)
		throw_errno("dup the program fd");
	auto cfg = to_abi(c, map_id_of(s.xskmap_fd()));
	write_entry0(bpf_map__fd(skel->maps.steer_config), cfg, "steer_config");
	s.write_defaults(c.partitions);
	return s;
}

Steering Steering::load(const SteerConfig &c)
{
	c.check();
	Object obj("");
	obj.load();
	return from_object(obj.release(), c);
}

Steering Steering::open(const std::string &ifname)
{
	ensure_bpffs();
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	Object obj(dir);
	obj.reuse_pins(label, ifname, dir);
	Steering s(obj.release());
	s.ifname_ = ifname;
	s.netns_ = label;
	s.prog_fd_ = bpf_obj_get((dir + "/" + kProgPin).c_str());
	if (s.prog_fd_ < 0)
		throw_errno("open pinned program " + dir + "/" + kProgPin);
	mkdp_steer_info inf = s.info();
	if (inf.magic != MKDP_STEER_INFO_MAGIC)
		throw Error(dir + " was not written by mkdp (bad steer_info magic)");
	if (inf.abi_version != MKDP_STEER_ABI_VERSION)
		throw Error(dir + ": steering ABI version " + std::to_string(inf.abi_version) +
			    ", this mkdp speaks " + std::to_string(MKDP_STEER_ABI_VERSION) + "; detach and attach again");
	s.ifindex_ = int(inf.ifindex);
	return s;
}

Steering Steering::attach(const std::string &ifname, const AttachOptions &o)
{
	o.config.check();
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
			SteerConfig c = old->config().merged(o.config, o.fields);
			c.check();
			check_tables(ifname, o, c.partitions);
			old->configure(c);
			old->apply_tables(o);
			return std::move(*old);
		}
		// The interface was renamed and another took its name: the pins
		// still belong to a program at work.
		if (std::optional<Where> w = find_attached(old_id, old ? old->ifindex_ : 0))
			throw Error("the pins at " + dir + " belong to mkdp's program on '" + ifname_of(w->ifindex) +
				    "' (renamed?); run mkdp steer detach " + ifname + " first");
		stale = true;
	}
	if (!cur.progs.empty() && !o.force)
		throw Error("'" + ifname + "' has XDP program '" + cur.progs.front().second + "' (id " +
			    std::to_string(cur.progs.front().first) +
			    ") that mkdp did not attach; use --force to replace it");
	check_tables(ifname, o, o.config.partitions);

	// libbpf pins the maps as it creates them: stale pins go first, or it
	// would take their maps (and rules) up again.
	if (stale)
		remove_pins(dir);
	make_pin_parents(dir);
	if (::mkdir(dir.c_str(), 0700))
		throw_errno("mkdir " + dir);

	// From here on, every failure undoes what was done, and puts back what
	// --force took off.
	std::optional<Displaced> displaced;
	bool attached = false;
	struct xdp_program *xp = nullptr;
	try {
		Object obj(dir);
		obj.load();
		Steering s = from_object(obj.release(), o.config);
		s.ifname_ = ifname;
		s.ifindex_ = ifindex;
		s.netns_ = label;
		s.apply_tables(o);
		pin_programs(s.skel_, dir);
		if (!cur.progs.empty())
			displaced.emplace(ifindex, ifname, cur);

		QuietLibs quiet;
		xp = xdp_program__from_fd(s.prog_fd_);	// libxdp works on its own dup
		if (int err = libxdp_get_error(xp)) {
			xp = nullptr;
			throw Error("libxdp program" + QuietLibs::why() + ": " + std::strerror(-err), -err);
		}
		// libxdp tries its dispatcher first and, when the kernel refuses
		// freplace (EPERM here), attaches the program alone: which of the two
		// happened is read back below, never assumed.
		if (int err = xdp_program__attach(xp, ifindex, want, 0))
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
		write_entry0(bpf_map__fd(s.skel_->maps.steer_info), inf, "steer_info");
		xdp_program__close(xp);
		return s;
	} catch (...) {
		if (attached)
			xdp_program__detach(xp, ifindex, want, 0);
		if (xp)
			xdp_program__close(xp);
		try {
			remove_pins(dir);
		} catch (const Error &) {
		}
		if (!displaced)
			throw;
		std::string back = displaced->restore();
		try {
			throw;
		} catch (const Error &e) {
			throw Error(e.what() + back, e.code());
		}
	}
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
		throw Error("network namespace " + netns + " exists: detach from inside it (mkdp steer detach " + ifname +
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
