// SPDX-License-Identifier: BSD-2-Clause
// The pin directories: /sys/fs/bpf/mkdp/<netns label>/<ifname>/.
#include "steer_pins.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include <mkdp/netns.h>

#include "netdev.h"
#include "steer_loader.h"

namespace mkdp {

namespace {

constexpr const char *kBpffs = "/sys/fs/bpf";

// A mount namespace of our own that our parent does not share: what
// `ip netns exec` makes (it remounts /sys, hiding the bpffs).
bool private_mount_ns()
{
	struct stat me {}, parent {};
	std::string pp = "/proc/" + std::to_string(::getppid()) + "/ns/mnt";
	return ::stat("/proc/self/ns/mnt", &me) == 0 && ::stat(pp.c_str(), &parent) == 0 &&
	       me.st_ino != parent.st_ino;
}

void make_dir(const std::string &dir)
{
	if (::mkdir(dir.c_str(), 0700) && errno != EEXIST)
		throw_errno("mkdir " + dir);
}

} // namespace

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

PinLock::PinLock()
{
	make_dir(kPinRoot);
	fd_.reset(::open(kPinRoot, O_DIRECTORY | O_RDONLY | O_CLOEXEC));
	if (fd_.get() < 0)
		throw_errno(std::string("open ") + kPinRoot);
	if (::flock(fd_.get(), LOCK_EX))
		throw_errno(std::string("lock ") + kPinRoot);
}

void remove_pins(const std::string &dir)
{
	std::error_code ec;
	std::filesystem::remove_all(dir, ec);
	if (ec)
		throw Error("remove " + dir + ": " + ec.message(), ec.value());
	::rmdir(std::filesystem::path(dir).parent_path().c_str());
	::rmdir(kPinRoot);
}

void make_pin_parents(const std::string &dir)
{
	make_dir(kPinRoot);
	make_dir(std::filesystem::path(dir).parent_path().string());
}

std::optional<mkdp_steer_info> pinned_info(const std::string &dir)
{
	Fd fd(bpf_obj_get((dir + "/steer_info").c_str()));
	mkdp_steer_info inf{};
	uint32_t zero = 0;
	if (fd.get() < 0 || bpf_map_lookup_elem(fd.get(), &zero, &inf) || inf.magic != MKDP_STEER_INFO_MAGIC)
		return std::nullopt;
	return inf;
}

Fd pinned_prog(const std::string &dir)
{
	Fd fd(bpf_obj_get((dir + "/" + kProgPin).c_str()));
	if (fd.get() < 0)
		if (auto inf = pinned_info(dir); inf && inf->prog_id)
			fd.reset(bpf_prog_get_fd_by_id(inf->prog_id));
	return fd;
}

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

std::string Steering::netns_label(const std::string &netns)
{
	return netns.empty() ? kHostLabel : netns;
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

} // namespace mkdp
