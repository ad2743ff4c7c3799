// SPDX-License-Identifier: BSD-2-Clause
// What a client of the control socket sends, read and checked before the
// supervisor acts on it. Any local process may connect, so a line may be
// garbage, cut, huge or of the wrong types: each is refused with a one-line
// reason for the reply, and never takes the supervisor (and with it every
// partition's data path) down. tests/fuzz/control_message_fuzz.cpp feeds
// both steps with hostile input.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mkdp {

// The longest request line: the largest real one (sdp-attach with its
// --map lines) is a few KiB; a client may not make the supervisor hold more.
inline constexpr size_t kMaxControlRequest = 64 * 1024;

// Appends `got` to a client's buffer `in`: the request line (without its
// '\n') once there is one. Throws mkdp::Error when kMaxControlRequest bytes
// came without a '\n'; `in` then never holds more than that.
std::optional<std::string> take_request_line(std::string &in, std::string_view got);

// One request, every field typed. Absent fields are empty (false).
struct ControlRequest {
	std::string cmd;	// status, list, down, start, stop, kill, restart, sdp-...
	std::string name;	// start, stop, kill, restart: the partition
	std::string volume, as, path, prog, mountpoint;	// sdp-*
	std::vector<std::string> maps;	// sdp-attach: `map ...` lines
	bool writable = false, direct = false;	// sdp-export
};

// Parses a request line: a JSON object with a known "cmd" string and, for
// the fields that command reads, values of the right type. Throws
// mkdp::Error with the reply's one-line reason.
ControlRequest parse_control_request(std::string_view line);

// The reply to a client as one line, '\n' included. Never throws: strings
// that are not UTF-8 (an error message quoting bytes from a file) are
// replaced, not a reason to crash the supervisor.
std::string control_reply_line(const nlohmann::json &j) noexcept;

} // namespace mkdp
