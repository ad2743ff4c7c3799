// SPDX-License-Identifier: BSD-2-Clause
// A directory of the test's own under /tmp, removed with all it holds when
// the test ends, also when an assertion returned early.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace mkdp::test {

struct TempDir {
	std::filesystem::path path;

	// /tmp/mkdp-PREFIX-XXXXXX: the prefix says which test left it, should
	// the process be killed before its destructor runs.
	explicit TempDir(const std::string &prefix = "test")
	{
		std::string tmpl = "/tmp/mkdp-" + prefix + "-XXXXXX";
		if (!mkdtemp(tmpl.data()))
			throw std::filesystem::filesystem_error("mkdtemp", tmpl, std::error_code(errno, std::generic_category()));
		path = tmpl;
	}
	~TempDir() { std::filesystem::remove_all(path); }
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	std::string str() const { return path.string(); }
	// Writes `text` into NAME in the directory; returns its path.
	std::string file(const std::string &name, const std::string &text = "") const
	{
		std::ofstream(path / name) << text;
		return (path / name).string();
	}
};

} // namespace mkdp::test
