// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/privileges.h>

#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace mkdp {

void drop_all_privileges()
{
	// Ambient capabilities survive exec for unprivileged programs: clear
	// them first, while we may still change them.
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		throw_errno("clear ambient capabilities");
	cap_t caps = cap_init();	// every set empty
	if (!caps)
		throw_errno("cap_init");
	int rc = cap_set_proc(caps);
	int e = errno;
	cap_free(caps);
	if (rc)
		throw_errno("drop capabilities", e);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		throw_errno("set no_new_privs");
}

namespace {

constexpr const char *kCgroupRoot = "/sys/fs/cgroup";
constexpr const char *kCgroupMkdp = "/sys/fs/cgroup/mkdp";

bool write_file(const std::string &path, const std::string &text)
{
	std::ofstream f(path);
	f << text;
	f.flush();
	return bool(f);
}

bool has_word(const std::string &path, const std::string &word)
{
	std::ifstream f(path);
	std::string w;
	while (f >> w)
		if (w == word)
			return true;
	return false;
}

} // namespace

CpuPlacement place_in_cpuset(const std::string &name, const std::string &cpus, int pid)
{
	namespace fs = std::filesystem;
	CpuPlacement p;
	// cgroup v2 mounted at the root, with cpuset among its controllers;
	// a v1 or hybrid hierarchy gets affinity only.
	if (!has_word(std::string(kCgroupRoot) + "/cgroup.controllers", "cpuset"))
		return p;
	if (!has_word(std::string(kCgroupRoot) + "/cgroup.subtree_control", "cpuset") &&
	    !write_file(std::string(kCgroupRoot) + "/cgroup.subtree_control", "+cpuset"))
		return p;
	std::error_code ec;
	fs::create_directory(kCgroupMkdp, ec);
	if (ec)
		return p;
	if (!has_word(std::string(kCgroupMkdp) + "/cgroup.subtree_control", "cpuset") &&
	    !write_file(std::string(kCgroupMkdp) + "/cgroup.subtree_control", "+cpuset"))
		return p;
	std::string dir = std::string(kCgroupMkdp) + "/" + name;
	fs::create_directory(dir, ec);
	if (ec)
		return p;
	if (!write_file(dir + "/cpuset.cpus", cpus)) {
		fs::remove(dir, ec);
		return p;
	}
	if (!write_file(dir + "/cgroup.procs", std::to_string(pid))) {
		fs::remove(dir, ec);
		throw Error("cannot move partition " + name + " into cgroup " + dir);
	}
	p.cgroup = true;
	p.path = dir;
	return p;
}

void remove_cpuset(const CpuPlacement &p) noexcept
{
	if (!p.cgroup)
		return;
	// rmdir, not remove_all: a cgroup directory's files are not removable.
	::rmdir(p.path.c_str());
	::rmdir(kCgroupMkdp);
}

} // namespace mkdp
