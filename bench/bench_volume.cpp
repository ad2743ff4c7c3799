// SPDX-License-Identifier: BSD-2-Clause
#include "bench_volume.h"

#include <mkdp/error.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace mkdp::bench {

namespace {

// Every block written once: reads of a hole never reach the disk, and a
// first write to a block allocates it.
void prefill(int fd, uint64_t size)
{
	constexpr size_t kChunk = 1 << 20;
	void *mem = nullptr;
	if (posix_memalign(&mem, 4096, kChunk))
		throw Error("no memory for the prefill");
	std::memset(mem, 0xa5, kChunk);
	for (uint64_t off = 0; off < size; off += kChunk)
		if (pwrite(fd, mem, kChunk, off_t(off)) != ssize_t(kChunk)) {
			free(mem);
			throw_errno("prefill the benchmark file");
		}
	free(mem);
	if (fdatasync(fd))
		throw_errno("prefill the benchmark file");
}

std::string volume_toml(const std::string &path)
{
	return std::string("\n[[volume]]\nname = \"") + BenchVolume::kName + "\"\nbackend = \"file\"\npath = \"" + path +
	       "\"\nsize = \"" + std::to_string(BenchVolume::kSize) + "\"\nowner = \"p1\"\n";
}

} // namespace

BenchVolume::File::File() : path("/var/tmp/mkdp-bench-sdp-" + std::to_string(getpid()))
{
	backend = sdp::Backend::open_file(path, kSize);
	try {
		prefill(backend.fd, kSize);
	} catch (...) {
		close(backend.fd);
		unlink(path.c_str());
		throw;
	}
}

BenchVolume::File::~File()
{
	close(backend.fd);
	unlink(path.c_str());
}

BenchVolume::BenchVolume() : bed_("s", volume_toml(file_.path))
{
}

} // namespace mkdp::bench
