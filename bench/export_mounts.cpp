// SPDX-License-Identifier: BSD-2-Clause
#include "export_mounts.h"

#include <mkdp/cpu.h>
#include <mkdp/error.h>
#include <mkdp/subprocess.h>
#include <mkdp/supervisor.h>

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

namespace mkdp::bench {

namespace {

constexpr int kMountTimeoutMs = 10000;

// mountinfo escapes blanks and backslashes in paths as octal (\040).
std::string unescape(const std::string &s)
{
	std::string out;
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] == '\\' && i + 3 < s.size()) {
			out += char(std::stoi(s.substr(i + 1, 3), nullptr, 8));
			i += 3;
		} else {
			out += s[i];
		}
	}
	return out;
}

// Polls `done` every 10 ms until it holds or `gone` does (the exporter
// exited) or the timeout passed; true when `done` held.
template <class Done, class Gone> bool wait_mount(Done done, Gone gone)
{
	uint64_t end = now_ns() + uint64_t(kMountTimeoutMs) * 1'000'000;
	while (!done()) {
		if (gone() || now_ns() >= end)
			return done();
		usleep(10000);
	}
	return true;
}

} // namespace

bool is_mounted(const std::string &path)
{
	std::ifstream f("/proc/self/mountinfo");
	std::string line;
	while (std::getline(f, line)) {
		std::istringstream in(line);
		std::string id, parent, dev, root, point;
		in >> id >> parent >> dev >> root >> point;
		if (unescape(point) == path)
			return true;
	}
	return false;
}

MountFile::MountFile(std::string path) : path_(std::move(path))
{
	std::ofstream f(path_);
	if (!f)
		throw Error("create the mount point " + path_);
}

MountFile::~MountFile()
{
	// Lazily: a dead FUSE server leaves a mount that only a detach removes.
	while (is_mounted(path_) && umount2(path_.c_str(), MNT_DETACH) == 0) {
	}
	std::remove(path_.c_str());
}

QsdExport::QsdExport(const std::string &image, const std::string &mountpoint) : mount_(mountpoint)
{
	qsd_ = std::make_unique<RunningProgram>(std::vector<std::string>{
		"qemu-storage-daemon", "--blockdev",
		"driver=file,node-name=f,filename=" + image + ",cache.direct=on,aio=io_uring", "--export",
		"type=fuse,id=e,node-name=f,mountpoint=" + mountpoint + ",writable=on"});
	std::optional<ProgramResult> exited;
	if (!wait_mount([&] { return is_mounted(mountpoint); }, [&] { return (exited = qsd_->wait(0)).has_value(); }))
		throw Error("qemu-storage-daemon did not export " + image + " at " + mountpoint +
			    (exited ? ": " + exited->err : ": no mount in 10 s"));
}

QsdExport::~QsdExport()
{
	// SIGTERM: the daemon unmounts and exits; one that does not is killed
	// by RunningProgram's destructor, and MountFile detaches its mount.
	kill(qsd_->pid(), SIGTERM);
	if (!qsd_->wait(5000))
		std::fprintf(stderr, "qemu-storage-daemon did not stop in 5 s: killed\n");
}

MkdpExport::MkdpExport(const std::string &volume, const std::string &mountpoint, bool writable, bool direct)
	: mount_(mountpoint)
{
	supervisor_request({{"cmd", "sdp-export"},
			    {"volume", volume},
			    {"mountpoint", mountpoint},
			    {"writable", writable},
			    {"direct", direct}});
	if (!wait_mount([&] { return is_mounted(mountpoint); }, [] { return false; })) {
		unexport();	// the destructor does not run for a constructor that throws
		throw Error("mkdp's export of " + volume + " at " + mountpoint + ": no mount in 10 s");
	}
}

MkdpExport::~MkdpExport()
{
	unexport();
}

void MkdpExport::unexport() noexcept
{
	try {
		supervisor_request({{"cmd", "sdp-unexport"}, {"mountpoint", mount_.path()}});
	} catch (const std::exception &e) {
		std::fprintf(stderr, "unexport %s: %s\n", mount_.path().c_str(), e.what());
	}
}

} // namespace mkdp::bench
