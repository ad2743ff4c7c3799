// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace mkdp {

std::string one_line(const std::string &s)
{
	auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
	if (std::none_of(s.begin(), s.end(), control))
		return s;
	std::string out;
	for (unsigned char c : s) {
		if (!control(c)) {
			out += char(c);
		} else if (c == '\n') {
			out += "\\n";
		} else {
			char hex[8];
			std::snprintf(hex, sizeof(hex), "\\x%02x", c);
			out += hex;
		}
	}
	return out;
}

void throw_errno(const std::string &what, int err)
{
	throw Error(what + ": " + std::strerror(err), err);
}

} // namespace mkdp
