// SPDX-License-Identifier: BSD-2-Clause
// The steering rule grammar (`mkdp steer rule add`, and the rules `down` puts
// back from /run/mkdp/state.json) and the policy words of `mkdp steer attach`.
//
// Invariants: text is accepted or refused with a one-line mkdp::Error;
// an accepted rule has its fields in range, prints as text that parses to
// the same rule, and that text is a fixed point (restore() matches rules by
// their text); check() refuses only host bits past the prefix length, the
// one thing parse() leaves to it. An accepted policy prints back to itself.
#include "fuzz.h"

#include <mkdp/error.h>

#include <netinet/in.h>

#include "steer_config.h"
#include "steer_rule.h"

using namespace mkdp;

namespace {

bool is_one_line(const Error &e)
{
	std::string_view w = e.what();
	return !w.empty() && w.find('\n') == std::string_view::npos;
}

bool same_rule(const SteerRule &a, const SteerRule &b)
{
	return a.same_match(b) && a.action == b.action && a.partition == b.partition &&
	       (a.match != SteerRule::Match::exact || a.daddr == b.daddr);
}

// Bits set past the prefix: the rule check() must refuse.
bool host_bits(const SteerRule &r)
{
	unsigned bytes = r.family == 4 ? 4 : 16;
	for (unsigned bit = r.prefix_len; bit < bytes * 8; bit++)
		if (r.saddr[bit / 8] & (0x80 >> (bit % 8)))
			return true;
	return false;
}

void rule(const std::string &text)
{
	SteerRule r;
	try {
		r = SteerRule::parse(text);
	} catch (const Error &e) {
		FUZZ_CHECK(is_one_line(e));
		return;
	}
	FUZZ_CHECK(r.family == 4 || r.family == 6);
	FUZZ_CHECK(r.partition < MKDP_STEER_MAX_PARTITIONS);
	FUZZ_CHECK(r.action == SteerAction::pass || r.action == SteerAction::drop ||
		   r.action == SteerAction::steer);
	if (r.action != SteerAction::steer)
		FUZZ_CHECK(r.partition == 0);
	unsigned bytes = r.family == 4 ? 4 : 16;
	for (unsigned i = bytes; i < 16; i++)	// IPv4 lives in the first 4 bytes
		FUZZ_CHECK(r.saddr[i] == 0 && r.daddr[i] == 0);
	if (r.match == SteerRule::Match::exact) {
		bool ports = r.proto == IPPROTO_TCP || r.proto == IPPROTO_UDP;
		FUZZ_CHECK(ports || (r.sport == 0 && r.dport == 0));
		FUZZ_CHECK(r.prefix_len == 0);
	} else {
		FUZZ_CHECK(r.prefix_len <= bytes * 8);
		FUZZ_CHECK(r.proto == 0 && r.sport == 0 && r.dport == 0);
	}

	bool checked = true;
	try {
		r.check();
	} catch (const Error &e) {
		FUZZ_CHECK(is_one_line(e));
		checked = false;
	}
	FUZZ_CHECK(checked == (r.match == SteerRule::Match::exact || !host_bits(r)));

	std::string printed = r.text();
	SteerRule back;
	try {
		back = SteerRule::parse(printed);
	} catch (const Error &e) {
		std::fprintf(stderr, "'%s' printed as '%s', refused: %s\n", text.c_str(), printed.c_str(), e.what());
		FUZZ_CHECK(!"a printed rule parses");
	}
	FUZZ_CHECK(same_rule(r, back));
	FUZZ_CHECK(back.text() == printed);
	r.id = 7;
	FUZZ_CHECK(r.to_string() == "#7 " + printed);
}

void policy(const std::string &text)
{
	uint32_t bits;
	try {
		bits = parse_policy(text);
	} catch (const Error &e) {
		FUZZ_CHECK(is_one_line(e));
		return;
	}
	FUZZ_CHECK(!(bits & ~uint32_t(MKDP_STEER_POLICY_ALL)));
	FUZZ_CHECK(parse_policy(policy_string(bits)) == bits);
}

} // namespace

// The first byte picks the grammar; every input is a rule, most are not
// policies, so policies get one input in eight.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Input in(data, size);
	uint8_t which = in.take<uint8_t>();
	std::string text = in.text();
	if ((which & 7) == 7)
		policy(text);
	else
		rule(text);
	return 0;
}
