// SPDX-License-Identifier: BSD-2-Clause
// bench sdp's storage figures share one backing file and one `mkdp topology up`:
// a 256 MiB file in /var/tmp with every block written (a read of a hole
// never reaches the disk), served as volume "bench" by partition p1 (its
// process on CPU 1). The io_uring/SDP part (sdp_io.cpp) and the FUSE part
// (sdp_fuse.cpp) both measure against it, so they share the bring-up and
// the prefill. The file is removed and mkdp brought down by the destructor,
// or when the constructor fails half-way.
#pragma once

#include "up_bed.h"

#include <storage_worker.h>

#include <cstdint>
#include <string>

namespace mkdp::bench {

class BenchVolume {
public:
	static constexpr uint64_t kSize = 256ULL << 20;
	static constexpr const char *kName = "bench";

	BenchVolume();
	BenchVolume(const BenchVolume &) = delete;
	BenchVolume &operator=(const BenchVolume &) = delete;

	const std::string &path() const noexcept { return file_.path; }
	// The benchmark's own descriptor of the file (O_DIRECT where the file
	// system allows it), for the baselines that do I/O on it directly.
	const sdp::Backend &backend() const noexcept { return file_.backend; }

private:
	// Declared before the bed: created first, removed last.
	struct File {
		File();
		~File();
		std::string path;
		sdp::Backend backend;
	} file_;
	UpBed bed_;
};

} // namespace mkdp::bench
