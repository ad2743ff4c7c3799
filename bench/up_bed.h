// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology up` for a benchmark: a testbed of its own (mkdp-b<tag>-<pid>), the
// built-in topology on it plus whatever the benchmark appends, the
// supervisor started as `mkdp topology up` starts it; all of it torn down by the
// destructor, or when the constructor fails half-way.
#pragma once

#include <string>

namespace mkdp::bench {

class UpBed {
public:
	// Refuses when mkdp is up already (a benchmark brings up its own).
	UpBed(const std::string &tag, const std::string &extra_toml = {});
	~UpBed();
	UpBed(const UpBed &) = delete;
	UpBed &operator=(const UpBed &) = delete;
	const std::string &ns() const noexcept { return ns_; }

private:
	void teardown() noexcept;
	std::string ns_, file_;
};

} // namespace mkdp::bench
