// SPDX-License-Identifier: BSD-2-Clause
// The corpus replay: a fuzz target built without libFuzzer runs each file
// named on the command line, or each file in each directory named, once.
// A broken invariant aborts, so ctest sees the failure; a target that
// replays nothing fails too, so a lost corpus cannot pass silently.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

int main(int argc, char **argv)
{
	namespace fs = std::filesystem;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	std::vector<fs::path> files;
	for (int i = 1; i < argc; i++) {
		fs::path p(argv[i]);
		if (fs::is_directory(p)) {
			for (const auto &e : fs::recursive_directory_iterator(p))
				if (e.is_regular_file())
					files.push_back(e.path());
		} else if (fs::is_regular_file(p)) {
			files.push_back(p);
		} else {
			std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
			return 2;
		}
	}
	std::sort(files.begin(), files.end());
	for (const fs::path &f : files) {
		std::ifstream in(f, std::ios::binary);
		std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
		LLVMFuzzerTestOneInput(data.data(), data.size());
	}
	std::printf("replayed %zu inputs\n", files.size());
	return files.empty() ? 1 : 0;
}
