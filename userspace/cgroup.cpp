// SPDX-License-Identifier: BSD-2-Clause
// cpuset cgroups for partitions, and their removal (see <mkdp/cgroup.h>).
#include <mkdp/cgroup.h>
#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/subprocess.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace mkdp {

namespace {

constexpr const char *kCgroupRoot = "/sys/fs/cgroup";
constexpr const char *kCgroupV1Cpuset = "/sys/fs/cgroup/cpuset";

bool write_file(const std::string &path, const std::string &text)
{
	std::ofstream f(path);
	f << text;
	f.flush();
	return bool(f);
}

std::string read_word(const std::string &path)
{
	std::ifstream f(path);
	std::string w;
	f >> w;
	return w;
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

// cgroup v2 mounted at the root with the cpuset controller: enable it down
// to mkdp/; the directory mkdp/ is returned, "" when v2 cannot do it.
std::string v2_parent()
{
	std::string root = kCgroupRoot, mkdp = root + "/mkdp";
	if (!has_word(root + "/cgroup.controllers", "cpuset"))
		return {};
	if (!has_word(root + "/cgroup.subtree_control", "cpuset") &&
	    !write_file(root + "/cgroup.subtree_control", "+cpuset"))
		return {};
	std::error_code ec;
	std::filesystem::create_directory(mkdp, ec);
	if (ec)
		return {};
	if (!has_word(mkdp + "/cgroup.subtree_control", "cpuset") &&
	    !write_file(mkdp + "/cgroup.subtree_control", "+cpuset"))
		return {};
	return mkdp;
}

// A v1 cpuset hierarchy (this machine's hybrid layout): a new cpuset is
// empty, and a task cannot join one without CPUs and memory nodes, so
// mkdp/ gets its parent's.
std::string v1_parent()
{
	std::string root = kCgroupV1Cpuset, mkdp = root + "/mkdp";
	if (!std::filesystem::exists(root + "/cpuset.cpus"))
		return {};
	std::error_code ec;
	std::filesystem::create_directory(mkdp, ec);
	if (ec)
		return {};
	if (read_word(mkdp + "/cpuset.cpus").empty() &&
	    !write_file(mkdp + "/cpuset.cpus", read_word(root + "/cpuset.cpus")))
		return {};
	if (read_word(mkdp + "/cpuset.mems").empty() &&
	    !write_file(mkdp + "/cpuset.mems", read_word(root + "/cpuset.mems")))
		return {};
	return mkdp;
}

// The pids listed in a cgroup (cgroup.procs: v1 and v2 both have it).
std::vector<int> cgroup_pids(const std::string &dir)
{
	std::vector<int> pids;
	std::ifstream f(dir + "/cgroup.procs");
	int pid;
	while (f >> pid)
		pids.push_back(pid);
	return pids;
}

std::string comm_of(int pid)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
	std::string c;
	std::getline(f, c);
	return c.empty() ? "" : " (" + c + ")";
}

bool has_subdir(const std::string &dir)
{
	std::error_code ec;
	for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
	     it.increment(ec))
		if (it->is_directory(ec))
			return true;
	return false;
}

// rmdir that outlasts tasks still on their way out. A cgroup is busy until
// its last task has passed cgroup_exit() in do_exit(); a pidfd turns
// readable later than that (exit_notify), so once every listed task's
// pidfd is readable the cgroup is empty. Right after a kill the list can
// also be momentarily empty while the cgroup is still counted populated
// (a task between fork and cgroup_post_fork, say): a short growing pause,
// then rmdir again.
std::string rmdir_cgroup(const std::string &dir, uint64_t deadline)
{
	for (unsigned attempt = 0;; attempt++) {
		if (::rmdir(dir.c_str()) == 0 || errno == ENOENT)
			return {};
		if (errno != EBUSY)
			return "cannot remove cgroup " + dir + ": " + std::strerror(errno);
		uint64_t now = now_ns();
		int left = now >= deadline ? 0 : int((deadline - now) / 1'000'000);
		std::vector<int> pids = cgroup_pids(dir);
		if (left == 0) {
			if (pids.empty())
				return "cannot remove cgroup " + dir + ": still busy after its tasks left";
			return "cannot remove cgroup " + dir + ": pid " + std::to_string(pids[0]) + comm_of(pids[0]) +
			       " is still in it";
		}
		if (pids.empty()) {
			poll(nullptr, 0, std::min(left, 1 << std::min(attempt, 5U)));
			continue;
		}
		for (int pid : pids) {
			uint64_t t = now_ns();
			if (t >= deadline || !wait_for_exit(pid, int((deadline - t) / 1'000'000)))
				break;	// still alive: the next pass reports it, or it left meanwhile
		}
	}
}

} // namespace

std::string CpuPlacement::mode() const
{
	switch (kind) {
	case v2: return "cpuset cgroup v2 " + path;
	case v1: return "cpuset cgroup v1 " + path;
	default: return "affinity only";
	}
}

CpuPlacement place_in_cpuset(const std::string &name, const std::string &cpus, int pid)
{
	CpuPlacement p;
	std::string parent = v2_parent();
	p.kind = CpuPlacement::v2;
	if (parent.empty()) {
		parent = v1_parent();
		p.kind = CpuPlacement::v1;
	}
	if (parent.empty())
		return {};
	std::string dir = parent + "/" + name;
	std::error_code ec;
	std::filesystem::create_directory(dir, ec);
	bool ok = !ec && write_file(dir + "/cpuset.cpus", cpus);
	if (ok && p.kind == CpuPlacement::v1)
		ok = write_file(dir + "/cpuset.mems", read_word(parent + "/cpuset.mems"));
	if (!ok) {
		// Affinity alone then; an empty cgroup goes at once.
		remove_cgroup_dir(dir);
		return {};
	}
	if (!write_file(dir + "/cgroup.procs", std::to_string(pid))) {
		std::string left = remove_cgroup_dir(dir);
		throw Error("cannot move partition " + name + " into cgroup " + dir + (left.empty() ? "" : "; " + left));
	}
	p.path = dir;
	return p;
}

std::string remove_cgroup_dir(const std::string &path, int timeout_ms)
{
	if (path.empty())
		return {};
	uint64_t deadline = now_ns() + uint64_t(std::max(timeout_ms, 0)) * 1'000'000;
	// rmdir, not remove_all: a cgroup directory's files are not removable.
	if (std::string why = rmdir_cgroup(path, deadline); !why.empty())
		return why;
	std::filesystem::path parent = std::filesystem::path(path).parent_path();
	if (parent.filename() != "mkdp" || has_subdir(parent))
		return {};	// another partition's cgroup is still there: it goes with that one
	return rmdir_cgroup(parent, deadline);
}

std::string remove_cpuset(const CpuPlacement &p)
{
	return p.cgroup() ? remove_cgroup_dir(p.path) : std::string();
}

std::vector<std::string> mkdp_cgroup_dirs()
{
	std::vector<std::string> out;
	for (std::string root : {kCgroupRoot, kCgroupV1Cpuset}) {
		std::string mkdp = root + "/mkdp";
		std::error_code ec;
		if (!std::filesystem::is_directory(mkdp, ec))
			continue;
		for (auto it = std::filesystem::directory_iterator(mkdp, ec); !ec && it != std::filesystem::directory_iterator();
		     it.increment(ec))
			if (it->is_directory(ec))
				out.push_back(it->path().string());
		out.push_back(mkdp);
	}
	return out;
}

} // namespace mkdp
