// SPDX-License-Identifier: BSD-2-Clause
#include "control_request.h"

#include <mkdp/error.h>

#include <algorithm>

namespace mkdp {

namespace {

using json = nlohmann::json;

// The fields each command reads, besides "cmd"; others are ignored, as
// they were before requests were checked (older clients keep working).
struct Command {
	const char *cmd;
	std::vector<const char *> strings;
	std::vector<const char *> bools;
	bool maps = false;
};

const std::vector<Command> &commands()
{
	static const std::vector<Command> c = {
		{"status", {}, {}},
		{"list", {}, {}},
		{"down", {}, {}},
		{"start", {"name"}, {}},
		{"stop", {"name"}, {}},
		{"kill", {"name"}, {}},
		{"restart", {"name"}, {}},
		{"sdp-open", {"volume", "as"}, {}},
		{"sdp-status", {}, {}},
		{"sdp-load", {"path", "prog"}, {}},
		{"sdp-unload", {"prog"}, {}},
		{"sdp-attach", {"volume", "prog"}, {}, true},
		{"sdp-detach", {"volume"}, {}},
		{"sdp-export", {"volume", "mountpoint"}, {"writable", "direct"}},
		{"sdp-unexport", {"mountpoint"}, {}},
	};
	return c;
}

std::string *string_field(ControlRequest &r, std::string_view key)
{
	if (key == "name") return &r.name;
	if (key == "volume") return &r.volume;
	if (key == "as") return &r.as;
	if (key == "path") return &r.path;
	if (key == "prog") return &r.prog;
	return &r.mountpoint;
}

} // namespace

std::optional<std::string> take_request_line(std::string &in, std::string_view got)
{
	// Only up to the limit is kept: what follows cannot make a request.
	size_t room = kMaxControlRequest - std::min(in.size(), kMaxControlRequest);
	in.append(got.substr(0, std::min(got.size(), room + 1)));
	size_t nl = in.find('\n');
	if (nl != std::string::npos && nl <= kMaxControlRequest)
		return in.substr(0, nl);
	if (in.size() > kMaxControlRequest) {
		in.resize(kMaxControlRequest);
		throw Error("request longer than " + std::to_string(kMaxControlRequest) + " bytes");
	}
	return std::nullopt;
}

ControlRequest parse_control_request(std::string_view line)
{
	json j = json::parse(line, nullptr, false);
	if (j.is_discarded())
		throw Error("request is not JSON");
	if (!j.is_object())
		throw Error("request is not a JSON object");
	auto it = j.find("cmd");
	if (it == j.end())
		throw Error("no command");
	if (!it->is_string())
		throw Error("'cmd' must be a string");
	ControlRequest r;
	r.cmd = it->get<std::string>();
	auto c = std::find_if(commands().begin(), commands().end(), [&](const Command &k) { return r.cmd == k.cmd; });
	if (c == commands().end())
		throw Error("unknown command '" + r.cmd + "'");
	for (const char *k : c->strings)
		if (auto f = j.find(k); f != j.end()) {
			if (!f->is_string())
				throw Error(r.cmd + ": '" + k + "' must be a string");
			*string_field(r, k) = f->get<std::string>();
		}
	for (const char *k : c->bools)
		if (auto f = j.find(k); f != j.end()) {
			if (!f->is_boolean())
				throw Error(r.cmd + ": '" + k + "' must be true or false");
			(std::string_view(k) == "writable" ? r.writable : r.direct) = f->get<bool>();
		}
	if (c->maps)
		if (auto f = j.find("maps"); f != j.end()) {
			if (!f->is_array() || !std::all_of(f->begin(), f->end(), [](const json &e) { return e.is_string(); }))
				throw Error(r.cmd + ": 'maps' must be a list of strings");
			r.maps = f->get<std::vector<std::string>>();
		}
	return r;
}

std::string control_reply_line(const json &j) noexcept
{
	try {
		return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
	} catch (...) {
		// Only allocation can fail here; the client then gets no answer
		// rather than the supervisor an exception in a noexcept path.
		return "{\"ok\":false,\"error\":\"reply failed\"}\n";
	}
}

} // namespace mkdp
