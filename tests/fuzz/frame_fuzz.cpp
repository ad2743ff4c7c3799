// SPDX-License-Identifier: BSD-2-Clause
// A frame from the wire, twice: the user-space parser and checksums
// (<mkdp/packet.h>), and the steering XDP program itself, loaded once and
// run on the same bytes through BPF_PROG_RUN (the kernel's verifier and
// JIT, real maps; no device: rx queue 0, no sockets in the XSKMAP).
//
// The program runs with rules and the queue map (a fixed rule set below,
// queue 0 -> partition 0) and the default action pass, 5 partitions.
//
// Invariants:
//  - user space: a parsed frame's offsets lie inside it; rebuilt from what
//    was parsed (build_frame), it parses to the same flow, with checksums
//    that verify;
//  - BPF: the verdict is an XDP action; each run counts exactly one frame
//    of its length and one verdict, the one returned; at most one of
//    non-IP, malformed, unsteered; at most one partition and one rule;
//    a partition counted means no socket and the default verdict;
//  - both: a frame the user-space parser accepts (Ethernet, up to two VLAN
//    tags, IPv4/IPv6, UDP/TCP with consistent lengths) is a flow for the
//    program too, and the program decides it as the rules say for the
//    5-tuple user space read: same addresses, ports and protocol.
// Not the converse, on purpose: the program steers what the strict parser
// refuses (fragments, other L4 protocols, IPv6 extension headers, IP
// lengths that disagree with the frame: docs/steering.md, "What is
// parsed"), while parse_frame serves tests that must tell whether what
// arrived is exactly what was sent (packet.h).
#include "fuzz.h"

#include <mkdp/error.h>
#include <mkdp/packet.h>

#include <linux/bpf.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include <optional>
#include <vector>

#include "steer_loader.h"

using namespace mkdp;

namespace {

constexpr uint32_t kParts = 5;

// Exact first, then the longest destination, then the longest source
// prefix (steer.bpf.c): lengths that would tie are avoided.
const char *const kRules[] = {
	"exact udp 10.0.0.1:1000 10.0.0.2:2000 part 1",
	"exact tcp 10.0.0.1:1000 10.0.0.2:2000 drop",
	"exact tcp [fd00::1]:1000 [fd00::2]:2000 part 2",
	"dst 10.0.0.0/8 part 3",
	"dst 192.168.0.0/16 pass",
	"src fd00::/16 part 4",
	"dst fd00::2/128 drop",
};

struct Bed {
	std::optional<Steering> s;
	std::vector<SteerRule> rules;
	SteerStats last;
};
Bed *bed;

bool prefix_match(const std::array<uint8_t, 16> &prefix, unsigned len, const IpAddr &a)
{
	for (unsigned bit = 0; bit < len; bit++)
		if ((prefix[bit / 8] ^ a.b[bit / 8]) & (0x80 >> (bit % 8)))
			return false;
	return true;
}

// The rule the program must apply to t, by the documented order.
const SteerRule *expected_rule(const FiveTuple &t)
{
	uint8_t family = t.src.v6 ? 6 : 4;
	for (const SteerRule &r : bed->rules)
		if (r.match == SteerRule::Match::exact && r.family == family && r.proto == uint8_t(t.proto) &&
		    r.sport == t.src_port && r.dport == t.dst_port && prefix_match(r.saddr, family == 4 ? 32 : 128, t.src) &&
		    prefix_match(r.daddr, family == 4 ? 32 : 128, t.dst))
			return &r;
	for (auto [m, addr] : {std::pair{SteerRule::Match::dst_prefix, &t.dst}, {SteerRule::Match::src_prefix, &t.src}}) {
		const SteerRule *best = nullptr;
		for (const SteerRule &r : bed->rules)
			if (r.match == m && r.family == family && prefix_match(r.saddr, r.prefix_len, *addr) &&
			    (!best || r.prefix_len > best->prefix_len))
				best = &r;
		if (best)
			return best;
	}
	return nullptr;
}

void check_user_space(std::span<const uint8_t> f, const ParsedFrame &p)
{
	FUZZ_CHECK(p.l3_off >= 14 && p.l3_off < p.l4_off && p.l4_off < p.payload_off);
	FUZZ_CHECK(size_t(p.payload_off) + p.payload_len <= f.size());
	FUZZ_CHECK(p.tag.has_value() == (p.payload_len >= kTagBytes));
	(void)l3_checksum_ok(f, p);	// any answer, read inside the frame (ASan)
	(void)l4_checksum_ok(f, p);

	FrameSpec s;
	s.src_mac = p.src_mac;
	s.dst_mac = p.dst_mac;
	s.svlan = p.svlan;
	s.vlan = p.vlan;
	s.src_ip = p.tuple.src;
	s.dst_ip = p.tuple.dst;
	s.proto = p.tuple.proto;
	s.src_port = p.tuple.src_port;
	s.dst_port = p.tuple.dst_port;
	s.payload_len = p.payload_len;
	s.tag = p.tag.value_or(0);
	std::vector<uint8_t> again;
	try {
		again = make_frame(s);	// VLAN id 4095, say, is refused
	} catch (const Error &) {
		return;
	}
	std::optional<ParsedFrame> q = parse_frame(again);
	FUZZ_CHECK(q.has_value());
	FUZZ_CHECK(q->tuple == p.tuple && q->payload_len == p.payload_len && q->tag == p.tag);
	FUZZ_CHECK(q->src_mac == p.src_mac && q->dst_mac == p.dst_mac);
	FUZZ_CHECK(l3_checksum_ok(again, *q) && l4_checksum_ok(again, *q));
}

int prog_run(std::span<const uint8_t> f)
{
	xdp_md md{};
	md.data_end = uint32_t(f.size());	// the linear part; the kernel puts the rest in frags
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.data(), .data_size_in = uint32_t(f.size()), .ctx_in = &md,
		    .ctx_size_in = sizeof(md), .repeat = 1);
	int err = bpf_prog_test_run_opts(bed->s->prog_fd(), &o);
	if (err)
		return err < 0 ? err : -errno;
	return int(o.retval);
}

void check_program(std::span<const uint8_t> f, const std::optional<ParsedFrame> &p)
{
	int verdict = prog_run(f);
	FUZZ_CHECK(verdict >= 0);	// 14 bytes to one page: the kernel takes them all
	FUZZ_CHECK(verdict == XDP_ABORTED || verdict == XDP_DROP || verdict == XDP_PASS || verdict == XDP_TX ||
		   verdict == XDP_REDIRECT);
	SteerStats now = bed->s->read_stats();
	const SteerStats &was = bed->last;
	const mkdp_steer_totals &a = was.totals, &b = now.totals;
	FUZZ_CHECK(b.packets - a.packets == 1 && b.bytes - a.bytes == f.size());
	uint64_t passed = b.passed - a.passed, dropped = b.dropped - a.dropped, redirected = b.redirected - a.redirected;
	FUZZ_CHECK(passed + dropped + redirected == 1);
	FUZZ_CHECK(passed == (verdict == XDP_PASS) && dropped == (verdict == XDP_DROP) &&
		   redirected == (verdict == XDP_REDIRECT));
	uint64_t non_ip = b.non_ip - a.non_ip, malformed = b.malformed - a.malformed;
	FUZZ_CHECK(non_ip + malformed + (b.unsteered - a.unsteered) <= 1);
	int part = -1;
	for (uint32_t i = 0; i < kParts; i++) {
		const mkdp_steer_part_stats &x = was.partitions[i], &y = now.partitions[i];
		if (y.packets == x.packets)
			continue;
		FUZZ_CHECK(part < 0 && y.packets - x.packets == 1 && y.bytes - x.bytes == f.size());
		FUZZ_CHECK(y.no_socket - x.no_socket == 1 && y.drops == x.drops && verdict == XDP_PASS);
		part = int(i);
	}
	int rule = -1;
	for (size_t i = 0; i < now.rules.size(); i++)
		if (now.rules[i].second.packets != was.rules[i].second.packets) {
			FUZZ_CHECK(rule < 0 && now.rules[i].second.packets - was.rules[i].second.packets == 1);
			rule = int(now.rules[i].first.id);
		}
	bed->last = std::move(now);
	if (!p)
		return;

	// A frame user space reads as a flow: the program reads the same one.
	FUZZ_CHECK(non_ip == 0 && malformed == 0);
	const SteerRule *r = expected_rule(p->tuple);
	if (!r) {
		FUZZ_CHECK(rule == -1 && part == 0 && verdict == XDP_PASS);
		return;
	}
	FUZZ_CHECK(rule == int(r->id));
	switch (r->action) {
	case SteerAction::drop:
		FUZZ_CHECK(verdict == XDP_DROP && part == -1);
		break;
	case SteerAction::pass:
		FUZZ_CHECK(verdict == XDP_PASS && part == -1);
		break;
	case SteerAction::steer:
		FUZZ_CHECK(part == int(r->partition));
		break;
	}
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	bed = new Bed;
	SteerConfig c;
	c.policy = MKDP_STEER_POLICY_RULES | MKDP_STEER_POLICY_QUEUE;
	c.partitions = kParts;
	c.default_action = SteerAction::pass;
	try {
		bed->s.emplace(Steering::load(c));
		bed->s->set_queue_partition(0, 0);
		for (const char *t : kRules)
			bed->rules.push_back(SteerRule::parse(t));
		bed->s->add_rules(bed->rules);
		bed->last = bed->s->read_stats();
	} catch (const Error &e) {
		std::fprintf(stderr, "frame fuzz: cannot load the steering program (root and BPF needed): %s\n",
			     e.what());
		std::exit(1);
	}
	FUZZ_CHECK(bed->last.rules.size() == std::size(kRules));
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::span<const uint8_t> f(data, size);
	std::optional<ParsedFrame> p = parse_frame(f);
	if (p)
		check_user_space(f, *p);
	if (size < 14 || size > 3072) {	// BPF_PROG_RUN refuses less than Ethernet
		FUZZ_CHECK(size >= 14 || !p);
		return 0;
	}
	check_program(f, p);
	return 0;
}
