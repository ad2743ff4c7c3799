// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/netns.h>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <thread>

namespace mkdp {

namespace {

uint64_t id_of(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st) < 0)
		throw_errno("network namespace " + path);
	return uint64_t(st.st_dev) << 32 ^ uint64_t(st.st_ino);
}

int open_netns(const std::string &name)
{
	if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
		throw Error("bad network namespace name '" + name + "'");
	int fd = open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw_errno("network namespace " + name);
	return fd;
}

} // namespace

std::string netns_path(const std::string &name) { return std::string(kNetnsDir) + "/" + name; }

bool netns_exists(const std::string &name)
{
	if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
		return false;
	return access(netns_path(name).c_str(), F_OK) == 0;
}

std::vector<std::string> netns_list()
{
	std::vector<std::string> names;
	DIR *d = opendir(kNetnsDir);
	if (!d)
		return names;
	while (dirent *e = readdir(d))
		if (e->d_name[0] != '.')
			names.emplace_back(e->d_name);
	closedir(d);
	return names;
}

uint64_t netns_id(const std::string &name) { return id_of(netns_path(name)); }
uint64_t current_netns_id() { return id_of("/proc/thread-self/ns/net"); }
uint64_t init_netns_id() { return id_of("/proc/1/ns/net"); }

std::optional<std::string> current_netns_name()
{
	uint64_t me = current_netns_id();
	for (const std::string &n : netns_list()) {
		try {
			if (netns_id(n) == me)
				return n;
		} catch (const Error &) {
			// Removed while we looked: not ours.
		}
	}
	return std::nullopt;
}

NetNsGuard::NetNsGuard(const std::string &name)
{
	int target = open_netns(name);
	saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved_ < 0) {
		int e = errno;
		close(target);
		throw_errno("current network namespace", e);
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int e = errno;
		close(target);
		close(saved_);
		throw_errno("enter network namespace " + name, e);
	}
	close(target);
}

NetNsGuard::~NetNsGuard()
{
	// Going back into the namespace we came from cannot fail for root.
	if (setns(saved_, CLONE_NEWNET) < 0)
		std::terminate();
	close(saved_);
}

void run_in_netns_fn(const std::string &name, const std::function<void()> &fn)
{
	int fd = open_netns(name);
	std::exception_ptr err;
	std::thread t([&] {
		try {
			if (setns(fd, CLONE_NEWNET) < 0)
				throw_errno("enter network namespace " + name);
			fn();
		} catch (...) {
			err = std::current_exception();
		}
	});
	t.join();
	close(fd);
	if (err)
		std::rethrow_exception(err);
}

} // namespace mkdp
