// SPDX-License-Identifier: BSD-2-Clause
#include "request_text.h"
#include "executor.h"

#include <mkdp/error.h>
#include <mkdp_ring.h>

#include <charconv>
#include <limits>
#include <sstream>

namespace mkdp::sdp {

namespace {

template <class T> bool number(std::string_view s, T &out)
{
	uint64_t v;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size() || v > std::numeric_limits<T>::max())
		return false;
	out = T(v);
	return true;
}

// "u64:5" (or "5", a u32) appended to out in host byte order.
bool piece(const std::string &p, std::vector<uint8_t> &out)
{
	auto colon = p.find(':');
	std::string type = colon == std::string::npos ? "u32" : p.substr(0, colon);
	std::string v = colon == std::string::npos ? p : p.substr(colon + 1);
	auto put = [&](auto x) {
		if (!number(v, x))
			return false;
		const uint8_t *b = reinterpret_cast<const uint8_t *>(&x);
		out.insert(out.end(), b, b + sizeof(x));
		return true;
	};
	if (type == "u8")
		return put(uint8_t());
	if (type == "u16")
		return put(uint16_t());
	if (type == "u32")
		return put(uint32_t());
	if (type == "u64")
		return put(uint64_t());
	return false;
}

} // namespace

RequestFile parse_requests(std::string_view text, const std::string &source)
{
	RequestFile file;
	std::vector<RequestLine> &out = file.requests;
	std::istringstream in{std::string(text)};
	std::string raw;
	unsigned n = 0;
	while (std::getline(in, raw)) {
		n++;
		if (auto hash = raw.find('#'); hash != std::string::npos)
			raw.erase(hash);
		std::istringstream words(raw);
		std::vector<std::string> w;
		for (std::string x; words >> x;)
			w.push_back(x);
		if (w.empty())
			continue;
		auto fail = [&](const std::string &why) { throw Error(source + ":" + std::to_string(n) + ": " + why); };
		if (w[0] == "map") {
			MapSet m;
			m.line = n;
			if (w.size() < 5)
				fail("map needs: map NAME KEY... = VALUE...");
			m.map = w[1];
			size_t i = 2;
			for (; i < w.size() && w[i] != "="; i++)
				if (!piece(w[i], m.key))
					fail("key piece '" + w[i] + "' is not u8:N, u16:N, u32:N, u64:N or N");
			if (i == w.size() || i == 2 || i + 1 == w.size())
				fail("map needs: map NAME KEY... = VALUE...");
			for (i++; i < w.size(); i++)
				if (!piece(w[i], m.value))
					fail("value piece '" + w[i] + "' is not u8:N, u16:N, u32:N, u64:N or N");
			file.maps.push_back(std::move(m));
			continue;
		}
		RequestLine r;
		r.line = n;
		int op = -1;
		for (int o = 0; o <= SDP_OP_MAX; o++)
			if (w[0] == op_name(uint8_t(o)))
				op = o;
		if (op < 0)
			fail("unknown operation '" + w[0] + "' (read, write, flush, discard, write-zeroes)");
		r.md.op = uint8_t(op);
		size_t next = 1;
		if (op != SDP_OP_FLUSH) {
			if (w.size() < 3)
				fail(w[0] + " needs a sector and a length in bytes");
			if (!number(w[1], r.md.sector))
				fail("sector '" + w[1] + "' is not a number");
			if (!number(w[2], r.md.len))
				fail("length '" + w[2] + "' is not a number of bytes below 4 GiB");
			// Only what the storage ring lets through to a program
			// (ring.h): whole sectors, and data for reads and writes.
			if (r.md.len % MKDP_SECTOR_SIZE)
				fail("length " + w[2] + " is not a multiple of " + std::to_string(MKDP_SECTOR_SIZE) + " bytes");
			if (!r.md.len && (op == SDP_OP_READ || op == SDP_OP_WRITE))
				fail(w[0] + " needs a length above 0");
			next = 3;
		}
		for (size_t i = next; i < w.size(); i++) {
			if (w[i] == "fua") {
				r.md.flags |= SDP_F_FUA;
				continue;
			}
			auto eq = w[i].find('=');
			std::string k = w[i].substr(0, eq), v = eq == std::string::npos ? "" : w[i].substr(eq + 1);
			bool ok = eq != std::string::npos &&
				  (k == "volume" ? number(v, r.md.volume)
				   : k == "queue" ? number(v, r.md.queue)
				   : k == "tag"	  ? number(v, r.md.tag)
				   : k == "part"  ? number(v, r.md.part)
						  : (fail("unknown key '" + k + "' (volume, queue, tag, part, fua)"), false));
			if (!ok)
				fail("'" + w[i] + "': " + k + " needs a number in range");
		}
		out.push_back(r);
	}
	return file;
}

std::string request_text(const sdp_md &md)
{
	std::string s = op_name(md.op);
	if (md.op != SDP_OP_FLUSH)
		s += " " + std::to_string(md.sector) + " " + std::to_string(md.len);
	s += " volume=" + std::to_string(md.volume) + " queue=" + std::to_string(md.queue) +
	     " tag=" + std::to_string(md.tag) + " part=" + std::to_string(md.part);
	if (md.flags & SDP_F_FUA)
		s += " fua";
	return s;
}

} // namespace mkdp::sdp
