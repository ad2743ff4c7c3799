// SPDX-License-Identifier: BSD-2-Clause
// Where the steering lives: bpffs, the pin directory of each (namespace,
// interface), loading the skeleton, and opening a steering from its pins.
#include "steer_internal.h"

#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <tuple>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mkdp/error.h>
#include <mkdp/netns.h>

#include "steer.skel.h"

namespace mkdp {

using namespace steer_detail;

namespace {

// MapId -> the skeleton's map. The skeleton is the one description of the
// maps (steer.bpf.c): their names, pins and fds all come from it, and a map
// renamed or removed there stops the build here.
using SkelMaps = decltype(steer::maps);
constexpr bpf_map *SkelMaps::*kSkelMaps[Steering::nr_maps] = {
	&SkelMaps::steer_config,   &SkelMaps::steer_info,	&SkelMaps::queue_to_part,
	&SkelMaps::flow_indir,	   &SkelMaps::rules_exact_v4,	&SkelMaps::rules_exact_v6,
	&SkelMaps::rules_v4_prefix, &SkelMaps::rules_v6_prefix, &SkelMaps::rules_v4_by_len,
	&SkelMaps::rules_v6_by_len, &SkelMaps::part_stats,	&SkelMaps::rule_stats,
	&SkelMaps::steer_stats,	   &SkelMaps::xsks_by_queue_part, &SkelMaps::xsk_slots,
};

// The object opened (not loaded) once per process, for the maps' names.
const steer *names_object() noexcept
{
	static steer *s = [] {
		QuietLibs quiet;
		return steer__open();
	}();
	return s;
}

} // namespace

namespace steer_detail {

// A mount namespace of our own that our parent does not share: what
// `ip netns exec` makes (it remounts /sys, hiding the bpffs).
bool private_mount_ns()
{
	struct stat me {}, parent {};
	std::string pp = "/proc/" + std::to_string(::getppid()) + "/ns/mnt";
	return ::stat("/proc/self/ns/mnt", &me) == 0 && ::stat(pp.c_str(), &parent) == 0 &&
	       me.st_ino != parent.st_ino;
}

void ensure_bpffs()
{
	struct statfs st {};
	if (::statfs(kBpffs, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return;
	// A bpffs mounted here would be a new, empty instance that disappears
	// with this mount namespace: the program would stay attached with no
	// pins left to find it by.
	if (private_mount_ns())
		throw Error(std::string("no bpffs at ") + kBpffs + " in this mount namespace (ip netns exec remounts /sys); "
			    "run mkdp with --netns NAME instead of under ip netns exec");
	if (::mount("bpf", kBpffs, "bpf", 0, "mode=0700"))
		throw_errno(std::string("mount bpffs on ") + kBpffs);
}

// The pins, then their namespace's directory and the root if empty (other
// interfaces and namespaces keep theirs).
void remove_pins(const std::string &dir)
{
	std::error_code ec;
	std::filesystem::remove_all(dir, ec);
	if (ec)
		throw Error("remove " + dir + ": " + ec.message(), ec.value());
	::rmdir(std::filesystem::path(dir).parent_path().c_str());
	::rmdir(kPinRoot);
}

void check_ifname(const std::string &ifname)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('/') != ifname.npos || ifname == "." ||
	    ifname == "..")
		throw Error("bad interface name '" + ifname + "'", EINVAL);
}

// A pin directory's steer_info, or nothing when it cannot be read.
std::optional<mkdp_steer_info> pinned_info(const std::string &dir)
{
	Fd fd(bpf_obj_get((dir + "/steer_info").c_str()));
	mkdp_steer_info inf{};
	uint32_t zero = 0;
	if (fd.get() < 0 || bpf_map_lookup_elem(fd.get(), &zero, &inf) || inf.magic != MKDP_STEER_INFO_MAGIC)
		return std::nullopt;
	return inf;
}

// The pinned program, or the one steer_info names when its pin is missing.
Fd pinned_prog(const std::string &dir)
{
	Fd fd(bpf_obj_get((dir + "/" + kProgPin).c_str()));
	if (fd.get() < 0)
		if (auto inf = pinned_info(dir); inf && inf->prog_id)
			fd.reset(bpf_prog_get_fd_by_id(inf->prog_id));
	return fd;
}

// "no mkdp steering on 'mkdp0' in this network namespace (host)", and where
// there is some on an interface of that name.
std::string no_pins(const std::string &label, const std::string &ifname)
{
	std::string msg = "no mkdp steering on '" + ifname + "' in network namespace " + label;
	std::string elsewhere;
	for (const SteerPins &p : Steering::list_pins())
		if (p.ifname == ifname && p.netns != label)
			elsewhere += (elsewhere.empty() ? "" : ", ") +
				     (p.netns == kHostLabel ? std::string("the host namespace (no --netns)")
							    : "--netns " + p.netns);
	return elsewhere.empty() ? msg + " (nothing pinned at " + Steering::pin_dir(label, ifname) + ")"
				 : msg + "; there is in " + elsewhere;
}


Loaded::~Loaded() { steer__destroy(skel); }

void load_skeleton(Loaded &l, const std::string &pin_dir)
{
	QuietLibs quiet;
	// libbpf pins every map (LIBBPF_PIN_BY_NAME in steer.bpf.c) at
	// pin_dir/<name> as it loads them.
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir.empty() ? nullptr : pin_dir.c_str());
	l.skel = steer__open_opts(&oo);
	if (!l.skel)
		throw_errno("open the steering BPF object" + QuietLibs::why());
	size_t maps = 0;
	bpf_map *m;
	bpf_object__for_each_map(m, l.skel->obj) {
		maps++;
		// Loaded for BPF_PROG_RUN only: pinned nowhere (libbpf would
		// use /sys/fs/bpf/<name>).
		if (pin_dir.empty() && bpf_map__set_pin_path(m, nullptr))
			throw Error("unpin the steering maps" + QuietLibs::why());
	}
	if (maps != Steering::nr_maps)
		throw Error("the steering object has " + std::to_string(maps) + " maps, this loader knows " +
			    std::to_string(Steering::nr_maps));
	if (int err = steer__load(l.skel))
		throw Error("load the steering program" + QuietLibs::why() + ": " + std::strerror(-err), -err);
}


} // namespace steer_detail

// ---- life cycle ---------------------------------------------------------------

Steering::Steering() { maps_.fill(-1); }

Steering::Steering(Steering &&o) noexcept
	: ifname_(std::move(o.ifname_)), netns_(std::move(o.netns_)), ifindex_(o.ifindex_), prog_fd_(o.prog_fd_),
	  maps_(o.maps_)
{
	o.prog_fd_ = -1;
	o.maps_.fill(-1);
}

Steering &Steering::operator=(Steering &&o) noexcept
{
	if (this != &o) {
		close_all();
		ifname_ = std::move(o.ifname_);
		netns_ = std::move(o.netns_);
		ifindex_ = o.ifindex_;
		prog_fd_ = std::exchange(o.prog_fd_, -1);
		maps_ = o.maps_;
		o.maps_.fill(-1);
	}
	return *this;
}

Steering::~Steering() { close_all(); }

void Steering::close_all() noexcept
{
	if (prog_fd_ >= 0)
		::close(prog_fd_);
	prog_fd_ = -1;
	for (int &fd : maps_) {
		if (fd >= 0)
			::close(fd);
		fd = -1;
	}
}

const char *Steering::map_name(MapId m) noexcept
{
	const steer *s = names_object();
	return s ? bpf_map__name(s->maps.*kSkelMaps[m]) : "?";
}

std::string Steering::netns_label()
{
	struct stat st {};
	if (::stat("/proc/thread-self/ns/net", &st))
		throw_errno("stat /proc/thread-self/ns/net");
	// Recent kernels give the initial namespace a fixed inode
	// (PROC_NET_INIT_INO): the answer even where PID 1's is unreadable.
	constexpr ino_t kInitNetIno = 0xEFFFFFF9U;
	if (st.st_ino == kInitNetIno)
		return kHostLabel;
	try {
		if (current_netns_id() == init_netns_id())
			return kHostLabel;
	} catch (const Error &) {
		// PID 1's namespace is unreadable (a container): a name or the inode
	}
	if (std::optional<std::string> n = current_netns_name(); n && *n != kHostLabel && n->rfind("netns-", 0))
		return *n;
	return "netns-" + std::to_string(st.st_ino);
}

std::string Steering::pin_dir(const std::string &netns, const std::string &ifname)
{
	check_ifname(ifname);
	if (netns.empty() || netns.find('/') != netns.npos || netns == "." || netns == "..")
		throw Error("bad network namespace name '" + netns + "'", EINVAL);
	return std::string(kPinRoot) + "/" + netns + "/" + ifname;
}

std::string Steering::pin_dir(const std::string &ifname) { return pin_dir(netns_label(), ifname); }

std::vector<SteerPins> Steering::list_pins()
{
	ensure_bpffs();
	std::vector<SteerPins> out;
	std::error_code ec;
	for (auto &ns : std::filesystem::directory_iterator(kPinRoot, ec)) {
		if (!ns.is_directory())
			continue;
		std::string label = ns.path().filename().string();
		bool gone = label != kHostLabel && label.rfind("netns-", 0) && !netns_exists(label);
		std::error_code ec2;
		for (auto &i : std::filesystem::directory_iterator(ns.path(), ec2))
			if (i.is_directory())
				out.push_back({label, i.path().filename().string(), i.path().string(), gone});
	}
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) {
		return std::tie(a.netns, a.ifname) < std::tie(b.netns, b.ifname);
	});
	return out;
}

int Steering::xskmap_fd() const noexcept { return maps_[xsks_by_queue_part]; }

Steering Steering::from_object(steer *skel, const SteerConfig &c)
{
	Steering s;
	s.prog_fd_ = ::dup(bpf_program__fd(skel->progs.mkdp_steer));
	for (int m = 0; m < nr_maps; m++)
		s.maps_[m] = ::dup(bpf_map__fd(skel->maps.*kSkelMaps[m]));
	if (s.prog_fd_ < 0 || std::any_of(s.maps_.begin(), s.maps_.end(), [](int fd) { return fd < 0; }))
		throw_errno("dup BPF fds");
	auto cfg = to_abi(c, map_id_of(s.maps_[xsks_by_queue_part]));
	uint32_t zero = 0;
	if (bpf_map_update_elem(s.maps_[steer_config], &zero, &cfg, BPF_ANY))
		throw_errno("write steer_config");
	s.write_defaults(c.partitions);
	return s;
}

Steering Steering::load(const SteerConfig &c)
{
	validate(c);
	Loaded l;
	load_skeleton(l, "");
	return from_object(l.skel, c);
}

Steering Steering::open(const std::string &ifname)
{
	ensure_bpffs();
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	Steering s;
	s.ifname_ = ifname;
	s.netns_ = label;
	for (int m = 0; m < nr_maps; m++) {
		std::string pin = dir + "/" + map_name(MapId(m));
		s.maps_[m] = bpf_obj_get(pin.c_str());
		if (s.maps_[m] < 0) {
			if (errno == ENOENT && m == 0)
				throw Error(no_pins(label, ifname), ENOENT);
			throw_errno("open pinned map " + pin);
		}
	}
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

} // namespace mkdp
