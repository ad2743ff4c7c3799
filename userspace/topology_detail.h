// SPDX-License-Identifier: BSD-2-Clause
// What topology.cpp (the file format) and topology_check.cpp (conflicts,
// layouts, the machine) share: names and sizes as people read them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace mkdp::topology_detail {

// Partition, region and volume names end up in paths, pins and namespace
// names: keep them to what every one of those accepts.
inline bool valid_name(std::string_view s)
{
	if (s.empty() || s.size() > 15)
		return false;
	return std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       c == '-' || c == '_';
	});
}

inline bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

inline std::string human(uint64_t bytes)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	return std::to_string(bytes) + " " + unit[u];
}

// Memory figures for people: "23.4 GiB".
inline std::string approx(uint64_t bytes)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = double(bytes);
	int u = 0;
	while (u < 4 && v >= 1024) {
		v /= 1024;
		u++;
	}
	char buf[32];
	std::snprintf(buf, sizeof(buf), v == double(uint64_t(v)) ? "%.0f %s" : "%.1f %s", v, unit[u]);
	return buf;
}

} // namespace mkdp::topology_detail
