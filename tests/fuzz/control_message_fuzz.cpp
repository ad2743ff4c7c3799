// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's control socket as a hostile local client sees it
// (loader/control_request.h): the bytes of a connection, in reads of any
// size, up to a request line; that line's JSON and fields; the reply line.
//
// Invariants: a connection yields its first line or is refused once
// kMaxControlRequest bytes came without one, and the buffer never holds
// more; a line is accepted or refused with a one-line mkdp::Error (no other
// exception: in the supervisor it would end the data path of every
// partition); an accepted request names a known command, and the same
// fields sent as a client sends them parse to the same request; a reply
// is one line of valid JSON whatever bytes its strings hold.
#include "fuzz.h"

#include <mkdp/error.h>

#include <algorithm>

#include "control_request.h"

using namespace mkdp;
using json = nlohmann::json;

namespace {

bool is_one_line(std::string_view s)
{
	return !s.empty() && s.find('\n') == std::string_view::npos;
}

void check_reply(const json &j)
{
	std::string line = control_reply_line(j);
	FUZZ_CHECK(!line.empty() && line.back() == '\n');
	FUZZ_CHECK(std::count(line.begin(), line.end(), '\n') == 1);
	FUZZ_CHECK(!json::parse(line, nullptr, false).is_discarded());
}

// What a client would send for r: the request again, from typed fields.
json as_sent(const ControlRequest &r)
{
	json j{{"cmd", r.cmd}};
	for (auto [k, v] : {std::pair{"name", &r.name}, {"volume", &r.volume}, {"as", &r.as}, {"path", &r.path},
			    {"prog", &r.prog}, {"mountpoint", &r.mountpoint}})
		if (!v->empty())
			j[k] = *v;
	if (!r.maps.empty())
		j["maps"] = r.maps;
	if (r.writable)
		j["writable"] = true;
	if (r.direct)
		j["direct"] = true;
	return j;
}

bool same(const ControlRequest &a, const ControlRequest &b)
{
	return a.cmd == b.cmd && a.name == b.name && a.volume == b.volume && a.as == b.as && a.path == b.path &&
	       a.prog == b.prog && a.mountpoint == b.mountpoint && a.maps == b.maps && a.writable == b.writable &&
	       a.direct == b.direct;
}

void request(std::string_view line)
{
	ControlRequest r;
	try {
		r = parse_control_request(line);
	} catch (const Error &e) {
		FUZZ_CHECK(is_one_line(e.what()));
		check_reply({{"ok", false}, {"error", e.what()}});
		return;
	}
	FUZZ_CHECK(!r.cmd.empty());
	// Replies that quote the client's fields, as the supervisor's do.
	check_reply({{"ok", false}, {"error", "no partition named '" + r.name + "'"}});
	check_reply({{"ok", false}, {"error", "unknown volume '" + r.volume + "'"}, {"maps", r.maps}});
	ControlRequest back;
	try {
		back = parse_control_request(as_sent(r).dump());
	} catch (const Error &e) {
		std::fprintf(stderr, "resent request refused: %s\n", e.what());
		FUZZ_CHECK(!"a request sent again from its fields parses");
	}
	FUZZ_CHECK(same(r, back));
}

// The connection: reads of the sizes the input asks for, until a line.
void connection(fuzz::Input &in)
{
	uint16_t reads = in.take<uint16_t>();
	std::string all = in.text();
	std::string buf;
	size_t at = 0;
	std::optional<std::string> line;
	bool refused = false;
	// One read size from each 2 bits of `reads`, cycled: 1, 7, 4096, or
	// what is left, so both tiny and large reads reach the limit.
	for (unsigned i = 0; at < all.size() && !line && !refused; i++) {
		static const size_t sizes[] = {1, 7, 4096, SIZE_MAX};
		size_t n = std::min(sizes[(reads >> (2 * (i % 8))) & 3], all.size() - at);
		try {
			line = take_request_line(buf, std::string_view(all).substr(at, n));
		} catch (const Error &e) {
			FUZZ_CHECK(is_one_line(e.what()));
			refused = true;
		}
		at += n;
		FUZZ_CHECK(buf.size() <= kMaxControlRequest + 1);
	}
	size_t nl = all.find('\n');
	if (line) {
		FUZZ_CHECK(nl <= kMaxControlRequest && *line == all.substr(0, nl));
		request(*line);
	} else if (refused) {
		FUZZ_CHECK(nl == std::string::npos || nl > kMaxControlRequest);
		FUZZ_CHECK(buf.size() <= kMaxControlRequest);
	} else {
		FUZZ_CHECK(nl == std::string::npos && all.size() <= kMaxControlRequest);
	}
}

} // namespace

// First byte: 0-191 a connection's bytes, 192-255 one line as is, whose
// bytes also go into a reply unchecked (the encoder must cope with them).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Input in(data, size);
	uint8_t mode = in.take<uint8_t>();
	if (mode < 192) {
		connection(in);
		return 0;
	}
	std::string line = in.text();
	check_reply({{"ok", false}, {"error", line}});
	request(line);
	return 0;
}
