// SPDX-License-Identifier: BSD-2-Clause
// The request files of `mkdp sdp test-run` (and the map lines of `mkdp sdp
// attach --map`): sdp/request_text.h.
//
// Invariants: a file is accepted or refused with a one-line mkdp::Error
// "SOURCE:LINE: ..." whose line exists; an accepted request has its fields
// in the range the storage ring's validation lets through to a program
// (ring.h, DescTraits<mkdp_sreq_desc>: a known op, only FUA, whole sectors,
// reads and writes not empty), so a test run never shows a program a
// request the data path cannot deliver; every request prints (request_text)
// as a line that parses back to the same request; map lines carry a name
// and non-empty key and value.
#include "fuzz.h"

#include <mkdp/error.h>

#include <algorithm>

#include "request_text.h"

using namespace mkdp;
using namespace mkdp::sdp;

namespace {

const std::string kSource = "fuzz.req";

bool same(const sdp_md &a, const sdp_md &b)
{
	return a.op == b.op && a.flags == b.flags && a.volume == b.volume && a.queue == b.queue &&
	       a.tag == b.tag && a.sector == b.sector && a.len == b.len && a.part == b.part &&
	       a.err == b.err && a.target == b.target;
}

// "fuzz.req:LINE: what": the line is one the text has.
void check_refusal(const Error &e, size_t lines)
{
	std::string_view w = e.what();
	FUZZ_CHECK(w.find('\n') == std::string_view::npos);
	FUZZ_CHECK(w.rfind(kSource + ":", 0) == 0);
	w.remove_prefix(kSource.size() + 1);
	size_t colon = w.find(": ");
	FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
	unsigned long line = std::stoul(std::string(w.substr(0, colon)));
	FUZZ_CHECK(line >= 1 && line <= lines);
	FUZZ_CHECK(colon + 2 < w.size());	// a reason follows
}

void check_request(const RequestLine &r, size_t lines)
{
	const sdp_md &md = r.md;
	FUZZ_CHECK(r.line >= 1 && r.line <= lines);
	FUZZ_CHECK(md.op <= SDP_OP_MAX);
	FUZZ_CHECK(!(md.flags & ~SDP_F_FUA));
	FUZZ_CHECK(md.err == 0 && md.target == 0);
	if (md.op == SDP_OP_FLUSH) {
		FUZZ_CHECK(md.sector == 0 && md.len == 0);
	} else {
		FUZZ_CHECK(md.len % 512 == 0);
		if (md.op == SDP_OP_READ || md.op == SDP_OP_WRITE)
			FUZZ_CHECK(md.len > 0);
	}

	std::string printed = request_text(md);
	RequestFile back;
	try {
		back = parse_requests(printed, kSource);
	} catch (const Error &e) {
		std::fprintf(stderr, "printed '%s' refused: %s\n", printed.c_str(), e.what());
		FUZZ_CHECK(!"a printed request parses");
	}
	FUZZ_CHECK(back.maps.empty() && back.requests.size() == 1);
	FUZZ_CHECK(same(back.requests[0].md, md));
	FUZZ_CHECK(request_text(back.requests[0].md) == printed);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text = fuzz::Input(data, size).text();
	// Lines as getline counts them: a last line without '\n' counts too.
	size_t lines = size_t(std::count(text.begin(), text.end(), '\n')) + (text.empty() || text.back() == '\n' ? 0 : 1);
	RequestFile f;
	try {
		f = parse_requests(text, kSource);
	} catch (const Error &e) {
		check_refusal(e, lines);
		return 0;
	}
	unsigned last = 0;
	for (const MapSet &m : f.maps) {
		FUZZ_CHECK(m.line >= 1 && m.line <= lines && m.line > last);
		last = m.line;
		FUZZ_CHECK(!m.map.empty() && !m.key.empty() && !m.value.empty());
	}
	last = 0;
	for (const RequestLine &r : f.requests) {
		FUZZ_CHECK(r.line > last);
		last = r.line;
		check_request(r, lines);
	}
	return 0;
}
