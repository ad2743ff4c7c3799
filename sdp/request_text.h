// SPDX-License-Identifier: BSD-2-Clause
// Storage requests as text, one per line: the input of `mkdp sdp test-run`
// (docs/sdp.md, "Request files").
//
//	# op      sector  bytes  [key=value ...] [fua]
//	write     2048    4096   volume=0 part=1 tag=7 fua
//	read      0       512
//	flush
//
// Keys: volume, queue, tag, part (default 0). `#` starts a comment.
//
// A line `map NAME KEY... = VALUE...` sets an element of the program's map
// NAME before the requests run; KEY and VALUE are typed pieces laid out in
// order, `u8:N u16:N u32:N u64:N` (a bare N is a u32):
//
//	map ro_range u32:0 = u64:2048 u64:4096
#pragma once

#include "sdp.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mkdp::sdp {

struct RequestLine {
	sdp_md md{};
	unsigned line = 0;	// in the source, for messages
};

struct MapSet {
	std::string map;
	std::vector<uint8_t> key, value;	// host byte order, as the program sees them
	unsigned line = 0;
};

struct RequestFile {
	std::vector<MapSet> maps;
	std::vector<RequestLine> requests;
};

// Throws mkdp::Error "SOURCE:LINE: what is wrong".
RequestFile parse_requests(std::string_view text, const std::string &source);
// One request in the same syntax.
std::string request_text(const sdp_md &md);

} // namespace mkdp::sdp
