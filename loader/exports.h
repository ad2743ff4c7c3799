// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's FUSE exports of SDP volumes (sdp/fuse_export.h): one
// mkdp-export process per export, started with the volume's session opened
// by the storage plane (no request of its own: the control thread is busy
// starting it), stopped and unmounted by `sdp unexport`, by `down`, and
// after it dies.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mkdp {

class StoragePlane;

struct ExportSpec {
	std::string volume;
	std::string mountpoint;	// an existing regular file (absolute path)
	bool writable = false;
	bool direct = false;
	bool create = false;	// make the file when missing, and remove it when the export ends
};

class Exports {
public:
	~Exports() { stop_all(); }

	// Starts an export and returns once it is mounted. Throws with the
	// export's own reason (a mountpoint that is not a file, ...).
	void start(StoragePlane &plane, const ExportSpec &s);
	// Throws when nothing is exported there.
	void stop(const std::string &mountpoint);
	void stop_all() noexcept;
	// A child exited: true if it was an export (its mount is removed).
	bool on_exit(int pid) noexcept;
	nlohmann::json list() const;

private:
	struct Proc {
		ExportSpec spec;
		int pid = 0;
		bool created = false;	// the file is ours to remove
	};
	static void finish(Proc &p) noexcept;
	std::vector<Proc> procs_;
};

} // namespace mkdp
