// SPDX-License-Identifier: BSD-2-Clause
// FUSE exports of a volume or a file as one regular file, for `mkdp bench
// sdp` (mkdp's export against qemu-storage-daemon's) and the export tests:
// the file to mount on, qemu-storage-daemon's export of an image, mkdp's
// export of a volume (the supervisor's sdp-export). Each is undone by its
// destructor, also when a later step fails, so a failed run leaves no mount
// and no process behind.
#pragma once

#include <memory>
#include <string>

namespace mkdp {
class RunningProgram;
}

namespace mkdp::bench {

// Whether something is mounted at exactly `path` (/proc/self/mountinfo).
bool is_mounted(const std::string &path);

// An empty regular file to mount an export on (an export replaces a file,
// as qemu-storage-daemon's does). The destructor detaches whatever is still
// mounted there and removes the file.
class MountFile {
public:
	explicit MountFile(std::string path);
	~MountFile();
	MountFile(const MountFile &) = delete;
	MountFile &operator=(const MountFile &) = delete;
	const std::string &path() const noexcept { return path_; }

private:
	std::string path_;
};

// qemu-storage-daemon exporting `image` (raw, O_DIRECT, io_uring: the
// settings of mkdp's workers) writable through FUSE at `mountpoint`, which
// is created. Returns once the mount is there (or throws with the daemon's
// error); the destructor stops the daemon (SIGTERM: it unmounts).
class QsdExport {
public:
	QsdExport(const std::string &image, const std::string &mountpoint);
	~QsdExport();
	QsdExport(const QsdExport &) = delete;
	QsdExport &operator=(const QsdExport &) = delete;
	const std::string &path() const noexcept { return mount_.path(); }

private:
	MountFile mount_;	// declared first: removed after the daemon stopped
	std::unique_ptr<RunningProgram> qsd_;
};

// mkdp's export of `volume` at `mountpoint` (created) through the running
// supervisor. Returns once the mount is there; the destructor unexports.
class MkdpExport {
public:
	MkdpExport(const std::string &volume, const std::string &mountpoint, bool writable = true, bool direct = true);
	~MkdpExport();
	MkdpExport(const MkdpExport &) = delete;
	MkdpExport &operator=(const MkdpExport &) = delete;
	const std::string &path() const noexcept { return mount_.path(); }

private:
	void unexport() noexcept;
	MountFile mount_;
};

} // namespace mkdp::bench
