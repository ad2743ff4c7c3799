// SPDX-License-Identifier: BSD-2-Clause
// The XDP steering program, run by the kernel on crafted frames through
// BPF_PROG_RUN (no attach needed), and its loader attaching to a veth in a
// network namespace this test creates and removes.
//
// The decision is read back from the program's own counters: with no
// socket in the slot, steering to partition P shows as part_stats[P].packets
// and .no_socket going up and the default action as the verdict; with a
// socket there, the verdict is XDP_REDIRECT.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mkdp/error.h>
#include <mkdp/packet.h>

#include "bare_redirect.skel.h"
#include "steer.skel.h"
#include "steer_loader.h"

using namespace mkdp;

namespace {

using Frame = std::vector<uint8_t>;

FrameSpec udp_spec(const char *src, const char *dst, uint16_t sport, uint16_t dport, uint16_t payload = 18)
{
	FrameSpec s;
	s.src_mac = MacAddr::parse("02:00:00:00:00:01");
	s.dst_mac = MacAddr::parse("02:00:00:00:00:02");
	s.src_ip = IpAddr::parse(src);
	s.dst_ip = IpAddr::parse(dst);
	s.src_port = sport;
	s.dst_port = dport;
	s.payload_len = payload;
	return s;
}

Frame build(const FrameSpec &s)
{
	check_spec(s);
	Frame f(frame_len(s));
	EXPECT_EQ(build_frame(s, f), f.size());
	return f;
}

size_t l3_off(const Frame &f)
{
	auto p = parse_frame(f);
	EXPECT_TRUE(p.has_value());
	return p ? p->l3_off : 0;
}

// IPv4 options (NOPs) after the fixed header; IHL grows accordingly.
Frame with_ipv4_options(Frame f, size_t bytes)
{
	size_t l3 = l3_off(f);
	f.insert(f.begin() + long(l3 + 20), bytes, uint8_t(1));
	f[l3] = uint8_t(0x40 | (5 + bytes / 4));
	return f;
}

// Fragment offset (in 8-byte units) and the more-fragments flag.
Frame as_ipv4_fragment(Frame f, uint16_t offset8, bool more)
{
	size_t l3 = l3_off(f);
	uint16_t v = uint16_t(offset8 | (more ? 0x2000 : 0));
	f[l3 + 6] = uint8_t(v >> 8);
	f[l3 + 7] = uint8_t(v);
	return f;
}

// IPv6 extension headers between the fixed header and L4, in order.
Frame with_ipv6_ext(Frame f, std::vector<uint8_t> types, uint16_t frag_offset8 = 0)
{
	size_t l3 = l3_off(f);
	uint8_t next = f[l3 + 6];
	std::vector<uint8_t> ext;
	for (size_t i = 0; i < types.size(); i++) {
		uint8_t hdr[8] = {};
		hdr[0] = i + 1 < types.size() ? types[i + 1] : next;
		if (types[i] == IPPROTO_FRAGMENT) {
			hdr[2] = uint8_t(frag_offset8 >> 5);
			hdr[3] = uint8_t(frag_offset8 << 3);
		}
		ext.insert(ext.end(), hdr, hdr + 8);
	}
	f[l3 + 6] = types.empty() ? next : types[0];
	f.insert(f.begin() + long(l3 + 40), ext.begin(), ext.end());
	return f;
}

Frame truncated(Frame f, size_t len)
{
	f.resize(len);
	return f;
}

Frame arp_frame()
{
	Frame f(60, 0);
	std::memset(f.data(), 0xff, 6);
	f[6] = 0x02;
	f[12] = 0x08;
	f[13] = 0x06;
	return f;
}

struct Outcome {
	int verdict = -1;
	int part = -1;		// partition whose packets counter moved, -1: none
	bool no_socket = false;
	mkdp_steer_totals totals{};
	std::vector<std::pair<SteerRule, mkdp_steer_rule_stats>> rules;
	uint64_t bytes = 0;	// counted for the partition
};

int prog_run(int prog_fd, const Frame &f, int ifindex = 0, uint32_t queue = 0, int repeat = 1)
{
	xdp_md md{};
	md.ingress_ifindex = uint32_t(ifindex);
	md.rx_queue_index = queue;
	md.data_end = uint32_t(f.size());	// the linear part: the kernel copies that much before the frags
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.data(), .data_size_in = uint32_t(f.size()),
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err)
		return err < 0 ? err : -errno;
	return int(o.retval);
}

Outcome run(Steering &s, const Frame &f, int ifindex = 0, uint32_t queue = 0)
{
	s.reset_stats();
	Outcome out;
	out.verdict = prog_run(s.prog_fd(), f, ifindex, queue);
	SteerStats st = s.read_stats();
	out.totals = st.totals;
	out.rules = st.rules;
	for (size_t p = 0; p < st.partitions.size(); p++)
		if (st.partitions[p].packets) {
			EXPECT_EQ(out.part, -1) << "two partitions counted one frame";
			out.part = int(p);
			out.no_socket = st.partitions[p].no_socket;
			out.bytes = st.partitions[p].bytes;
		}
	EXPECT_EQ(out.totals.packets, 1u);
	return out;
}

SteerConfig cfg(uint32_t policy, uint32_t parts = 4, SteerAction def = SteerAction::pass)
{
	SteerConfig c;
	c.policy = policy;
	c.partitions = parts;
	c.default_action = def;
	return c;
}

// Partition `part` for every indirection entry.
void indir_all(Steering &s, uint32_t part)
{
	uint32_t t[1] = {part};
	s.set_indirection(t);
}

} // namespace

// ---- parsing: every layer, cut and whole --------------------------------------

TEST(SteerProg, LoadsAndStartsEmpty)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_QUEUE));
	EXPECT_GE(s.prog_fd(), 0);
	EXPECT_GE(s.xskmap_fd(), 0);
	EXPECT_TRUE(s.list_rules().empty());
	SteerStats st = s.read_stats();
	EXPECT_EQ(st.totals.packets, 0u);
	EXPECT_EQ(st.partitions.size(), 4u);
}

TEST(SteerProg, WholeFramesOfEveryShapeAreSteered)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 1));
	std::vector<std::pair<std::string, Frame>> frames;
	FrameSpec v4 = udp_spec("10.0.0.1", "10.0.0.2", 1000, 2000);
	FrameSpec v6 = udp_spec("fd00::1", "fd00::2", 1000, 2000);
	frames.emplace_back("ipv4 udp", build(v4));
	frames.emplace_back("ipv6 udp", build(v6));
	FrameSpec t = v4;
	t.proto = L4Proto::tcp;
	frames.emplace_back("ipv4 tcp", build(t));
	t = v6;
	t.proto = L4Proto::tcp;
	frames.emplace_back("ipv6 tcp", build(t));
	FrameSpec vl = v4;
	vl.vlan = 100;
	frames.emplace_back("802.1q", build(vl));
	vl.svlan = 200;
	frames.emplace_back("qinq", build(vl));
	vl = v6;
	vl.svlan = 300;
	frames.emplace_back("802.1ad only, ipv6", build(vl));
	frames.emplace_back("ipv4 options", with_ipv4_options(build(v4), 40));
	frames.emplace_back("ipv6 hop+dst+routing",
			    with_ipv6_ext(build(v6), {IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING}));
	frames.emplace_back("ipv6 6 ext headers",
			    with_ipv6_ext(build(v6), std::vector<uint8_t>(MKDP_STEER_MAX_IPV6_EXT, IPPROTO_DSTOPTS)));
	for (auto &[name, f] : frames) {
		Outcome o = run(s, f);
		EXPECT_EQ(o.verdict, XDP_PASS) << name;
		EXPECT_EQ(o.part, 0) << name;
		EXPECT_TRUE(o.no_socket) << name;
		EXPECT_EQ(o.totals.malformed + o.totals.non_ip + o.totals.unsteered, 0u) << name;
	}
}

TEST(SteerProg, TruncatedHeadersAtEveryLayerGetTheDefaultAction)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 1, SteerAction::drop));
	FrameSpec v4 = udp_spec("10.0.0.1", "10.0.0.2", 1000, 2000, 0);
	FrameSpec v6 = udp_spec("fd00::1", "fd00::2", 1000, 2000, 0);
	FrameSpec q = v4;
	q.vlan = 7;
	q.svlan = 8;
	FrameSpec tcp = v4;
	tcp.proto = L4Proto::tcp;
	struct Case {
		const char *name;
		Frame f;
	} cases[] = {
		// BPF_PROG_RUN refuses input shorter than an Ethernet header (EINVAL),
		// so the shortest frames run here end right after it.
		{"eth only, ipv4 type", truncated(build(v4), 14)},
		{"eth only, ipv6 type", truncated(build(v6), 14)},
		{"eth only, vlan tpid", truncated(build(q), 14)},
		{"outer vlan cut", truncated(build(q), 16)},
		{"inner vlan cut", truncated(build(q), 20)},
		{"qinq, ipv4 cut", truncated(build(q), 22 + 19)},
		{"ipv4 19 bytes", truncated(build(v4), 14 + 19)},
		{"ipv4 options cut", truncated(with_ipv4_options(build(v4), 8), 14 + 24)},
		{"udp cut", truncated(build(v4), 14 + 20 + 7)},
		{"tcp cut", truncated(build(tcp), 14 + 20 + 19)},
		{"ipv6 39 bytes", truncated(build(v6), 14 + 39)},
		{"ipv6 ext cut", truncated(with_ipv6_ext(build(v6), {IPPROTO_HOPOPTS}), 14 + 40 + 1)},
		{"ipv6 frag hdr cut", truncated(with_ipv6_ext(build(v6), {IPPROTO_FRAGMENT}), 14 + 40 + 7)},
		{"ipv6 udp after ext cut", truncated(with_ipv6_ext(build(v6), {IPPROTO_DSTOPTS}), 14 + 48 + 7)},
		{"ipv6 too many ext",
		 with_ipv6_ext(build(v6), std::vector<uint8_t>(MKDP_STEER_MAX_IPV6_EXT + 1, IPPROTO_DSTOPTS))},
	};
	for (auto &c : cases) {
		Outcome o = run(s, c.f);
		EXPECT_EQ(o.verdict, XDP_DROP) << c.name;
		EXPECT_EQ(o.part, -1) << c.name;
		EXPECT_EQ(o.totals.malformed, 1u) << c.name;
		EXPECT_EQ(o.totals.dropped, 1u) << c.name;
	}
	// Invalid rather than cut: IHL below 5, wrong IP version.
	Frame bad = build(v4);
	bad[14] = 0x44;
	EXPECT_EQ(run(s, bad).totals.malformed, 1u);
	bad = build(v4);
	bad[14] = 0x65;
	EXPECT_EQ(run(s, bad).totals.malformed, 1u);
}

// The queue map needs no flow key, so with the queue policy alone the program
// reads only up to the EtherType: an IP frame with a cut IP header still goes
// to the queue's partition (docs/steering.md, "What is parsed").
TEST(SteerProg, QueuePolicyAloneReadsOnlyTheEtherType)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_QUEUE, 2, SteerAction::drop));
	s.set_queue_partition(0, 1);
	FrameSpec v4 = udp_spec("10.0.0.1", "10.0.0.2", 1, 2, 0);
	Outcome o = run(s, truncated(build(v4), 14 + 10));
	EXPECT_EQ(o.part, 1);
	EXPECT_EQ(o.totals.malformed, 0u);
	o = run(s, arp_frame());
	EXPECT_EQ(o.part, -1);
	EXPECT_EQ(o.totals.non_ip, 1u);
	EXPECT_EQ(o.verdict, XDP_DROP);
	FrameSpec q = v4;
	q.vlan = 5;
	q.svlan = 6;
	o = run(s, truncated(build(q), 20));	// inner tag cut
	EXPECT_EQ(o.totals.malformed, 1u);
	EXPECT_EQ(o.verdict, XDP_DROP);
}

TEST(SteerProg, NonIpGetsTheDefaultAction)
{
	Steering pass = Steering::load(cfg(MKDP_STEER_POLICY_ALL, 2, SteerAction::pass));
	Steering drop = Steering::load(cfg(MKDP_STEER_POLICY_ALL, 2, SteerAction::drop));
	Frame triple = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2));
	// a third tag: 802.1Q inside QinQ is not IP to mkdp
	uint8_t tags[12] = {0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3};
	triple.insert(triple.begin() + 12, tags, tags + 12);
	for (const Frame &f : {arp_frame(), triple}) {
		Outcome o = run(pass, f);
		EXPECT_EQ(o.verdict, XDP_PASS);
		EXPECT_EQ(o.totals.non_ip, 1u);
		EXPECT_EQ(o.part, -1);
		o = run(drop, f);
		EXPECT_EQ(o.verdict, XDP_DROP);
		EXPECT_EQ(o.totals.non_ip, 1u);
	}
}

TEST(SteerProg, MinimumAndJumboFrames)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 1));
	Frame min = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2, 0));
	ASSERT_EQ(min.size(), kEthMinFrame);
	Outcome o = run(s, min);
	EXPECT_EQ(o.part, 0);
	EXPECT_EQ(o.bytes, 60u);

	// 9000 bytes: more than one page, so the kernel hands the program a
	// multi-buffer frame (the program is xdp.frags) and counts every byte.
	Frame jumbo = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2, 9000 - 42));
	ASSERT_EQ(jumbo.size(), 9000u);
	o = run(s, jumbo);
	EXPECT_EQ(o.verdict, XDP_PASS);
	EXPECT_EQ(o.part, 0);
	EXPECT_EQ(o.bytes, 9000u);
	EXPECT_EQ(o.totals.bytes, 9000u);
}

// ---- fragments ------------------------------------------------------------------

TEST(SteerProg, FragmentsMatchThreeTupleRulesWhenNotFirst)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_RULES, 4));
	FrameSpec v4 = udp_spec("10.0.0.1", "10.0.0.2", 1000, 2000, 64);
	FrameSpec v6 = udp_spec("fd00::1", "fd00::2", 1000, 2000, 64);
	s.add_rule(SteerRule::parse("exact udp 10.0.0.1:1000 10.0.0.2:2000 part 1"));
	s.add_rule(SteerRule::parse("exact udp 10.0.0.1:0 10.0.0.2:0 part 2"));
	s.add_rule(SteerRule::parse("exact udp [fd00::1]:1000 [fd00::2]:2000 part 1"));
	s.add_rule(SteerRule::parse("exact udp [fd00::1]:0 [fd00::2]:0 part 3"));

	// first fragment: ports read, 5-tuple rule
	EXPECT_EQ(run(s, as_ipv4_fragment(build(v4), 0, true)).part, 1);
	// non-first: no ports, the 3-tuple rule
	EXPECT_EQ(run(s, as_ipv4_fragment(build(v4), 185, false)).part, 2);
	EXPECT_EQ(run(s, as_ipv4_fragment(build(v4), 185, true)).part, 2);
	// a non-first fragment's payload is not a UDP header even if it is cut
	EXPECT_EQ(run(s, truncated(as_ipv4_fragment(build(v4), 1, false), 14 + 20)).part, 2);

	Frame first6 = with_ipv6_ext(build(v6), {IPPROTO_FRAGMENT}, 0);
	EXPECT_EQ(run(s, first6).part, 1);
	Frame later6 = with_ipv6_ext(build(v6), {IPPROTO_HOPOPTS, IPPROTO_FRAGMENT}, 100);
	EXPECT_EQ(run(s, later6).part, 3);
}

// ---- policies ----------------------------------------------------------------------

TEST(SteerProg, FlowHashIsSymmetricWhenAsked)
{
	Steering sym = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 16));
	SteerConfig c = cfg(MKDP_STEER_POLICY_HASH, 16);
	c.symmetric = true;
	sym.configure(c);
	Steering asym = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 16));

	std::set<int> seen;
	int asym_differs = 0;
	for (uint32_t i = 0; i < 64; i++) {
		for (bool v6 : {false, true}) {
			std::string a = v6 ? "fd00::" + std::to_string(i + 1) : "10.0.1." + std::to_string(i + 1);
			std::string b = v6 ? "fd01::" + std::to_string(7 * i + 3) : "10.9.0." + std::to_string((7 * i + 3) % 250 + 1);
			uint16_t pa = uint16_t(1024 + 13 * i), pb = uint16_t(80 + i);
			Frame ab = build(udp_spec(a.c_str(), b.c_str(), pa, pb));
			Frame ba = build(udp_spec(b.c_str(), a.c_str(), pb, pa));
			int p_ab = run(sym, ab).part, p_ba = run(sym, ba).part;
			EXPECT_EQ(p_ab, p_ba) << a << ":" << pa << " <-> " << b << ":" << pb;
			EXPECT_GE(p_ab, 0);
			seen.insert(p_ab);
			asym_differs += run(asym, ab).part != run(asym, ba).part;
		}
	}
	// 128 flows over 16 partitions: the hash spreads them.
	EXPECT_GE(seen.size(), 12u);
	// and without the flag the directions are hashed independently
	EXPECT_GT(asym_differs, 0);
}

TEST(SteerProg, IndirectionTableDecides)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 4));
	Frame f = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2));
	for (uint32_t p = 0; p < 4; p++) {
		indir_all(s, p);
		EXPECT_EQ(run(s, f).part, int(p));
	}
	indir_all(s, MKDP_STEER_PART_NONE);
	Outcome o = run(s, f);
	EXPECT_EQ(o.part, -1);
	EXPECT_EQ(o.totals.unsteered, 1u);
	uint32_t odd[3] = {0, 1, 2};
	EXPECT_THROW(s.set_indirection(odd), Error);	// 3 does not divide 128
	uint32_t out_of_range[2] = {0, 4};
	EXPECT_THROW(s.set_indirection(out_of_range), Error);
}

TEST(SteerProg, RulesExactThenDestinationThenSourcePrefix)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_RULES, 8));
	Frame f = build(udp_spec("192.168.1.10", "10.1.2.3", 5000, 53));
	Frame f6 = build(udp_spec("fd00:1::10", "fd00:2::3", 5000, 53));

	EXPECT_EQ(run(s, f).part, -1);	// no rule, no other policy: unsteered
	uint32_t src = s.add_rule(SteerRule::parse("src 192.168.0.0/16 part 1"));
	EXPECT_EQ(run(s, f).part, 1);
	uint32_t src_longer = s.add_rule(SteerRule::parse("src 192.168.1.0/24 part 2"));
	EXPECT_EQ(run(s, f).part, 2);
	s.add_rule(SteerRule::parse("dst 10.0.0.0/8 part 3"));
	EXPECT_EQ(run(s, f).part, 3);
	s.add_rule(SteerRule::parse("dst 10.1.0.0/16 part 4"));
	EXPECT_EQ(run(s, f).part, 4);
	uint32_t exact = s.add_rule(SteerRule::parse("exact udp 192.168.1.10:5000 10.1.2.3:53 part 5"));
	Outcome o = run(s, f);
	EXPECT_EQ(o.part, 5);
	for (auto &[r, st] : o.rules)
		EXPECT_EQ(st.packets, r.id == exact ? 1u : 0u) << r.to_string();

	s.del_rule(exact);
	EXPECT_EQ(run(s, f).part, 4);
	(void)src;
	(void)src_longer;

	// IPv6 in its own trie
	EXPECT_EQ(run(s, f6).part, -1);
	s.add_rule(SteerRule::parse("src fd00:1::/32 part 6"));
	EXPECT_EQ(run(s, f6).part, 6);
	s.add_rule(SteerRule::parse("dst fd00:2::/64 part 7"));
	EXPECT_EQ(run(s, f6).part, 7);
	s.add_rule(SteerRule::parse("exact udp [fd00:1::10]:5000 [fd00:2::3]:53 part 0"));
	EXPECT_EQ(run(s, f6).part, 0);
	// a /0 destination matches everything of its family
	Frame other = build(udp_spec("172.16.0.1", "172.17.0.1", 1, 2));
	EXPECT_EQ(run(s, other).part, -1);
	s.add_rule(SteerRule::parse("dst 0.0.0.0/0 part 1"));
	EXPECT_EQ(run(s, other).part, 1);
}

// A prefix table (family x side) is probed by hash once per length while it
// uses at most MKDP_STEER_HASHED_LENS lengths, through the LPM trie beyond;
// both must find the longest match, the index must follow adds and deletes
// in both directions, and configure() must leave it alone.
TEST(SteerProg, PrefixLookupsFindTheLongestMatchInHashAndTrieModes)
{
	using Addr = std::array<uint8_t, 16>;
	for (uint8_t family : {4, 6}) {
		SCOPED_TRACE("IPv" + std::to_string(family));
		const unsigned bits = family == 4 ? 32 : 128;
		Steering s = Steering::load(cfg(MKDP_STEER_POLICY_RULES, 16));
		std::mt19937 rng(family);
		auto masked = [&](Addr a, unsigned len) {
			for (unsigned b = len; b < bits; b++)
				a[b / 8] &= uint8_t(~(0x80 >> (b % 8)));
			return a;
		};
		auto random_addr = [&] {	// all under one /8, so prefixes nest
			Addr a{};
			a[0] = family == 4 ? 10 : 0xfd;
			for (unsigned i = 1; i < bits / 8; i++)
				a[i] = uint8_t(rng() % 4);	// few values: many frames hit some prefix
			return a;
		};
		auto text = [&](const Addr &a) {
			char buf[INET6_ADDRSTRLEN];
			inet_ntop(family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf));
			return std::string(buf);
		};
		std::vector<SteerRule> rules;	// what is loaded, with ids
		auto expected = [&](const Addr &src, const Addr &dst) {
			for (auto side : {SteerRule::Match::dst_prefix, SteerRule::Match::src_prefix}) {
				int best = -1, best_len = -1;
				for (const SteerRule &r : rules)
					if (r.match == side && int(r.prefix_len) > best_len &&
					    masked(side == SteerRule::Match::dst_prefix ? dst : src, r.prefix_len) == r.saddr) {
						best = int(r.partition);
						best_len = r.prefix_len;
					}
				if (best >= 0)
					return best;
			}
			return -1;
		};
		auto index = [&] {
			mkdp_steer_config c{};
			uint32_t zero = 0;
			EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(s.skel().maps.steer_config), &zero, &c), 0);
			return c.rules;
		};
		auto check_frames = [&](bool expect_hits) {
			int hits = 0;
			for (int i = 0; i < 24; i++) {
				Addr src = random_addr(), dst = random_addr();
				int want = expected(src, dst);
				hits += want >= 0;
				Frame f = build(udp_spec(text(src).c_str(), text(dst).c_str(), 1000, 2000));
				ASSERT_EQ(run(s, f).part, want) << text(src) << " -> " << text(dst);
			}
			if (expect_hits) {
				EXPECT_GT(hits, 0) << "the frames should hit some prefixes";
			}
		};
		// Destination lengths: one more each round, past the hashed limit;
		// source lengths stay within it.
		const std::vector<unsigned> dst_lens = family == 4 ? std::vector<unsigned>{8, 24, 16, 32, 12, 20}
								   : std::vector<unsigned>{8, 64, 48, 128, 16, 96};
		const unsigned src_len = family == 4 ? 28 : 112;
		int t_dst = family == 4 ? MKDP_STEER_V4_DST : MKDP_STEER_V6_DST;
		int t_src = family == 4 ? MKDP_STEER_V4_SRC : MKDP_STEER_V6_SRC;
		uint32_t part = 0;
		for (size_t n = 0; n < dst_lens.size(); n++) {
			for (int k = 0; k < 3; k++) {
				SteerRule r;
				r.match = SteerRule::Match::dst_prefix;
				r.family = family;
				r.prefix_len = uint8_t(dst_lens[n]);
				r.saddr = masked(random_addr(), r.prefix_len);
				r.partition = part++ % 16;
				try {
					r.id = s.add_rule(r);
				} catch (const Error &) {
					continue;	// the same random prefix twice
				}
				rules.push_back(r);
			}
			SteerRule r;
			r.match = SteerRule::Match::src_prefix;
			r.family = family;
			r.prefix_len = uint8_t(src_len);
			r.saddr = masked(random_addr(), src_len);
			r.partition = part++ % 16;
			try {
				r.id = s.add_rule(r);
				rules.push_back(r);
			} catch (const Error &) {
			}
			mkdp_steer_rule_index ix = index();
			EXPECT_EQ(ix.prefix[t_dst].nr_lens, n + 1);
			EXPECT_EQ(ix.prefix[t_src].nr_lens, 1);
			if (n + 1 <= MKDP_STEER_HASHED_LENS) {	// longest first
				for (size_t i = 1; i <= n; i++)
					EXPECT_GT(ix.prefix[t_dst].lens[i - 1], ix.prefix[t_dst].lens[i]);
			}
			check_frames(true);
		}
		// configure() rewrites the policy fields, not the rule index
		mkdp_steer_rule_index before = index();
		SteerConfig c = cfg(MKDP_STEER_POLICY_RULES, 16);
		c.symmetric = true;
		s.configure(c);
		mkdp_steer_rule_index after = index();
		EXPECT_EQ(std::memcmp(&before, &after, sizeof(before)), 0);
		check_frames(true);
		// Deletes in random order: back through hash mode to empty tables.
		std::shuffle(rules.begin(), rules.end(), rng);
		while (!rules.empty()) {
			s.del_rule(rules.back().id);
			rules.pop_back();
			if (rules.size() % 3 == 0)
				check_frames(false);
		}
		EXPECT_EQ(index().prefix[t_dst].nr_lens, 0);
		EXPECT_EQ(index().prefix[t_src].nr_lens, 0);
	}
}

TEST(SteerProg, RuleActionsDropAndPassAreCounted)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_RULES | MKDP_STEER_POLICY_HASH, 2));
	Frame f = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2, 100));
	uint32_t drop = s.add_rule(SteerRule::parse("dst 10.0.0.2/32 drop"));
	Outcome o = run(s, f);
	EXPECT_EQ(o.verdict, XDP_DROP);
	EXPECT_EQ(o.part, -1);
	ASSERT_EQ(o.rules.size(), 1u);
	EXPECT_EQ(o.rules[0].second.packets, 1u);
	EXPECT_EQ(o.rules[0].second.bytes, f.size());
	s.del_rule(drop);
	s.add_rule(SteerRule::parse("src 10.0.0.0/24 pass"));
	o = run(s, f);
	EXPECT_EQ(o.verdict, XDP_PASS);
	EXPECT_EQ(o.part, -1);	// passed by the rule, not by a missing socket
	EXPECT_EQ(o.totals.passed, 1u);
}

TEST(SteerProg, RuleErrors)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_RULES, 2));
	s.add_rule(SteerRule::parse("dst 10.0.0.0/8 part 1"));
	try {
		s.add_rule(SteerRule::parse("dst 10.0.0.0/8 part 1"));
		ADD_FAILURE() << "duplicate accepted";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("duplicates"), std::string::npos) << e.what();
	}
	try {
		s.add_rule(SteerRule::parse("dst 10.0.0.0/8 drop"));
		ADD_FAILURE() << "conflict accepted";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("conflicts"), std::string::npos) << e.what();
	}
	EXPECT_THROW(s.add_rule(SteerRule::parse("dst 10.0.0.0/8 part 2")), Error);	// out of range
	EXPECT_THROW(s.add_rule(SteerRule::parse("dst 10.0.0.1/8 part 0")), Error);	// host bits
	EXPECT_THROW(s.add_rule(SteerRule::parse("exact icmp 10.0.0.1:5 10.0.0.2 part 0")), Error);
	EXPECT_THROW(SteerRule::parse("dst 10.0.0.0/33 part 0"), Error);
	EXPECT_THROW(SteerRule::parse("exact udp 10.0.0.1 fd00::1 part 0"), Error);
	EXPECT_THROW(SteerRule::parse("sideways 10.0.0.0/8 part 0"), Error);
	EXPECT_THROW(SteerRule::parse("dst 10.0.0.0/8 teleport"), Error);
	EXPECT_THROW(s.del_rule(12345), Error);

	// a batch is all or nothing
	std::vector<SteerRule> batch = {SteerRule::parse("dst 11.0.0.0/8 part 0"),
					SteerRule::parse("dst 10.0.0.0/8 part 0")};
	EXPECT_THROW(s.add_rules(batch), Error);
	EXPECT_EQ(s.list_rules().size(), 1u);
	// ...in the by-length hash too, which list_rules() does not read
	int by_len = 0;
	mkdp_steer_v4_by_len k{}, next{};
	for (void *prev = nullptr; !bpf_map_get_next_key(bpf_map__fd(s.skel().maps.rules_v4_by_len), prev, &next); prev = &k) {
		k = next;
		by_len++;
	}
	EXPECT_EQ(by_len, 1);

	// text round trip
	for (const char *t : {"exact tcp [fd00::1]:80 [fd00::2]:9000 part 1", "src 10.1.0.0/16 pass",
			      "dst fd00::/8 drop", "exact udp 10.0.0.1:5 10.0.0.2:6 part 0"}) {
		SteerRule r = SteerRule::parse(t);
		std::string back = r.to_string();
		EXPECT_EQ(back.substr(back.find(' ') + 1), t);
	}
}

TEST(SteerProg, PrecedenceRuleThenHashThenQueue)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_ALL, 4));
	Frame f = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2));
	s.set_queue_partition(0, 1);
	indir_all(s, 2);
	uint32_t rule = s.add_rule(SteerRule::parse("exact udp 10.0.0.1:1 10.0.0.2:2 part 3"));
	EXPECT_EQ(run(s, f).part, 3);
	s.del_rule(rule);
	EXPECT_EQ(run(s, f).part, 2);
	indir_all(s, MKDP_STEER_PART_NONE);
	EXPECT_EQ(run(s, f).part, 1);
	s.set_queue_partition(0, MKDP_STEER_PART_NONE);
	Outcome o = run(s, f);
	EXPECT_EQ(o.part, -1);
	EXPECT_EQ(o.totals.unsteered, 1u);

	// policies not enabled are not consulted
	s.set_queue_partition(0, 1);
	indir_all(s, 2);
	s.add_rule(SteerRule::parse("exact udp 10.0.0.1:1 10.0.0.2:2 part 3"));
	s.configure(cfg(MKDP_STEER_POLICY_QUEUE, 4));
	EXPECT_EQ(run(s, f).part, 1);
	s.configure(cfg(MKDP_STEER_POLICY_HASH | MKDP_STEER_POLICY_QUEUE, 4));
	EXPECT_EQ(run(s, f).part, 2);
	s.configure(cfg(0, 4));
	EXPECT_EQ(run(s, f).part, -1);
}

TEST(SteerProg, RedirectsWhenTheSlotHasASocket)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 4));
	indir_all(s, 2);
	Frame f = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2));
	int xsk = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (xsk < 0)
		GTEST_SKIP() << "no AF_XDP sockets: " << std::strerror(errno);
	s.set_socket(0, 2, xsk);
	Outcome o = run(s, f);
	EXPECT_EQ(o.verdict, XDP_REDIRECT);
	EXPECT_EQ(o.part, 2);
	EXPECT_FALSE(o.no_socket);
	EXPECT_EQ(o.totals.redirected, 1u);
	// a socket in another partition's slot does not catch partition 2's frames
	s.clear_socket(0, 2);
	s.set_socket(0, 1, xsk);
	o = run(s, f);
	EXPECT_EQ(o.verdict, XDP_PASS);
	EXPECT_TRUE(o.no_socket);
	::close(xsk);
	EXPECT_THROW(s.set_socket(0, 4, xsk), Error);	// partition out of range
	EXPECT_THROW(s.set_socket(MKDP_STEER_MAX_QUEUES, 0, xsk), Error);
}

TEST(SteerProg, NoSocketDropIsCountedWhenTheDefaultIsDrop)
{
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_HASH, 2, SteerAction::drop));
	indir_all(s, 1);
	s.reset_stats();
	EXPECT_EQ(prog_run(s.prog_fd(), build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2))), XDP_DROP);
	SteerStats st = s.read_stats();
	EXPECT_EQ(st.partitions[1].no_socket, 1u);
	EXPECT_EQ(st.partitions[1].drops, 1u);
	EXPECT_EQ(st.totals.dropped, 1u);
}

// ---- a real device: RX queues and attach --------------------------------------------

namespace {

int sh(const std::string &cmd)
{
	return std::system((cmd + " >/dev/null 2>&1").c_str());
}

// A network namespace with a veth pair of 4 RX queues each, removed on
// destruction. Interface names carry our pid: pins are per interface name.
class TestNet {
public:
	TestNet()
		: ns_("mkdpsteer" + std::to_string(::getpid())),
		  a_("mkdps" + std::to_string(::getpid()) + "a"), b_("mkdps" + std::to_string(::getpid()) + "b")
	{
		ok_ = sh("ip netns add " + ns_) == 0 &&
		      sh("ip -n " + ns_ + " link add " + a_ + " numtxqueues 4 numrxqueues 4 type veth peer name " +
			 b_ + " numtxqueues 4 numrxqueues 4") == 0 &&
		      sh("ip -n " + ns_ + " link set " + a_ + " up") == 0 &&
		      sh("ip -n " + ns_ + " link set " + b_ + " up") == 0;
	}
	~TestNet()
	{
		sh("ip netns del " + ns_);
		std::error_code ec;
		std::filesystem::remove_all(Steering::pin_dir(a_), ec);
	}
	bool ok() const { return ok_; }
	const std::string &ns() const { return ns_; }
	const std::string &a() const { return a_; }

private:
	std::string ns_, a_, b_;
	bool ok_ = false;
};

// Moves the calling thread into a namespace for the scope.
class InNetns {
public:
	explicit InNetns(const std::string &ns)
	{
		orig_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
		if (orig_ < 0 || fd < 0 || ::setns(fd, CLONE_NEWNET))
			throw_errno("enter netns " + ns);
		::close(fd);
	}
	~InNetns()
	{
		::setns(orig_, CLONE_NEWNET);
		::close(orig_);
	}

private:
	int orig_ = -1;
};

} // namespace

TEST(SteerProg, QueueMapUsesTheRxQueue)
{
	TestNet net;
	ASSERT_TRUE(net.ok()) << "cannot create netns/veth";
	InNetns in(net.ns());
	int ifindex = int(if_nametoindex(net.a().c_str()));
	ASSERT_GT(ifindex, 0);
	Steering s = Steering::load(cfg(MKDP_STEER_POLICY_QUEUE, 4));
	Frame f = build(udp_spec("10.0.0.1", "10.0.0.2", 1, 2));
	// defaults spread queues over partitions: q -> q % 4
	for (uint32_t q = 0; q < 4; q++)
		EXPECT_EQ(run(s, f, ifindex, q).part, int(q)) << "queue " << q;
	s.set_queue_partition(3, 0);
	s.set_queue_partition(1, 2);
	EXPECT_EQ(run(s, f, ifindex, 3).part, 0);
	EXPECT_EQ(run(s, f, ifindex, 1).part, 2);
	// the slot follows the queue: a socket on (1, 2) catches queue 1 only
	int xsk = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_GE(xsk, 0);
	s.set_socket(1, 2, xsk);
	EXPECT_EQ(run(s, f, ifindex, 1).verdict, XDP_REDIRECT);
	s.set_queue_partition(0, 2);
	EXPECT_EQ(run(s, f, ifindex, 0).verdict, XDP_PASS);
	::close(xsk);
}

TEST(SteerAttach, AttachStatusReopenIdempotentDetach)
{
	TestNet net;
	ASSERT_TRUE(net.ok());
	InNetns in(net.ns());
	std::string dir = Steering::pin_dir(net.a());

	AttachOptions o;
	o.mode = XdpMode::native;
	o.config = cfg(MKDP_STEER_POLICY_RULES | MKDP_STEER_POLICY_HASH, 3);
	{
		Steering s = Steering::attach(net.a(), o);
		SteerStatus st = s.status();
		EXPECT_TRUE(st.attached);
		EXPECT_EQ(st.mode, XdpMode::native);
		EXPECT_GT(st.prog_id, 0u);
		EXPECT_EQ(st.config.partitions, 3u);
		std::printf("attached %s: prog %u, %s, %s\n", net.a().c_str(), st.prog_id, to_string(st.mode),
			    st.multiprog ? "multiprog" : "single");
		s.add_rule(SteerRule::parse("dst 10.0.0.0/8 part 2"));
	}
	for (const char *m : {"steer_config", "rules_exact_v4", "rules_v4_prefix", "part_stats", "xsks_by_queue_part",
			      "mkdp_steer", "redirect_err_link"})
		EXPECT_TRUE(std::filesystem::exists(dir + "/" + m)) << m;

	// Another "process": everything from the pins.
	uint32_t prog_id;
	{
		Steering s = Steering::open(net.a());
		SteerStatus st = s.status();
		EXPECT_TRUE(st.attached);
		prog_id = st.prog_id;
		ASSERT_EQ(s.list_rules().size(), 1u);
		EXPECT_EQ(s.list_rules()[0].partition, 2u);
		EXPECT_THROW(s.set_queue_partition(4, 0), Error);	// the veth has 4 RX queues
		s.set_queue_partition(3, 1);
	}
	// Attaching again keeps the program and its rules, applies the new config.
	o.config.symmetric = true;
	{
		Steering s = Steering::attach(net.a(), o);
		EXPECT_EQ(s.status().prog_id, prog_id);
		EXPECT_TRUE(s.config().symmetric);
		EXPECT_EQ(s.list_rules().size(), 1u);
	}
	// ... but not in another mode
	AttachOptions skb = o;
	skb.mode = XdpMode::skb;
	EXPECT_THROW(Steering::attach(net.a(), skb), Error);

	Steering::detach(net.a());
	EXPECT_FALSE(std::filesystem::exists(dir));
	__u32 id = 0;
	EXPECT_EQ(bpf_xdp_query_id(int(if_nametoindex(net.a().c_str())), 0, &id), 0);
	EXPECT_EQ(id, 0u);
	EXPECT_THROW(Steering::detach(net.a()), Error);
	EXPECT_THROW(Steering::open(net.a()), Error);

	// skb mode works as well
	Steering s = Steering::attach(net.a(), skb);
	EXPECT_EQ(s.status().mode, XdpMode::skb);
	Steering::detach(net.a());
}

TEST(SteerAttach, RefusesForeignProgramUnlessForced)
{
	TestNet net;
	ASSERT_TRUE(net.ok());
	InNetns in(net.ns());
	int ifindex = int(if_nametoindex(net.a().c_str()));
	bare_redirect *bare = bare_redirect__open_and_load();
	ASSERT_NE(bare, nullptr);
	ASSERT_EQ(bpf_xdp_attach(ifindex, bpf_program__fd(bare->progs.bare_redirect), XDP_FLAGS_DRV_MODE, nullptr), 0);

	AttachOptions o;
	o.config = cfg(MKDP_STEER_POLICY_QUEUE, 2);
	try {
		Steering::attach(net.a(), o);
		ADD_FAILURE() << "attached over a foreign program";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("bare_redirect"), std::string::npos) << e.what();
	}
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir(net.a())));	// nothing half-attached
	__u32 id = 0;
	bpf_xdp_query_id(ifindex, 0, &id);
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	bpf_obj_get_info_by_fd(bpf_program__fd(bare->progs.bare_redirect), &info, &len);
	EXPECT_EQ(id, info.id);

	o.force = true;
	Steering s = Steering::attach(net.a(), o);
	EXPECT_TRUE(s.status().attached);
	Steering::detach(net.a());
	bare_redirect__destroy(bare);
}

// lo has no driver XDP: a forced native attach fails after the foreign
// program came off, which must then be back, in its mode, although nothing
// but the interface held it.
TEST(SteerAttach, ForcedAttachThatFailsPutsTheForeignProgramBack)
{
	TestNet net;
	ASSERT_TRUE(net.ok());
	InNetns in(net.ns());
	int lo = int(if_nametoindex("lo"));
	bare_redirect *bare = bare_redirect__open_and_load();
	ASSERT_NE(bare, nullptr);
	int fd = bpf_program__fd(bare->progs.bare_redirect);
	ASSERT_EQ(bpf_xdp_attach(lo, fd, XDP_FLAGS_SKB_MODE, nullptr), 0);
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	bare_redirect__destroy(bare);

	AttachOptions o;
	o.mode = XdpMode::native;
	o.force = true;
	try {
		Steering::attach("lo", o);
		ADD_FAILURE() << "lo took a native XDP program";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("'bare_redirect' (id " + std::to_string(info.id) + ") is back on 'lo'"),
			  std::string::npos) << e.what();
	}
	__u32 id = 0;
	EXPECT_EQ(bpf_xdp_query_id(lo, XDP_FLAGS_SKB_MODE, &id), 0);
	EXPECT_EQ(id, info.id) << "the foreign program was not put back";
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir("lo")));
	bpf_xdp_detach(lo, XDP_FLAGS_SKB_MODE, nullptr);
}

TEST(SteerAttach, ErrorsLeaveNothingBehind)
{
	AttachOptions o;
	try {
		Steering::attach("mkdpnosuchif0", o);
		ADD_FAILURE() << "attached to a missing interface";
	} catch (const Error &e) {
		EXPECT_EQ(std::string(e.what()), "unknown interface 'mkdpnosuchif0'");
	}
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir("mkdpnosuchif0")));
	o.config.partitions = 0;
	EXPECT_THROW(Steering::attach("lo", o), Error);
	o.config.partitions = MKDP_STEER_MAX_PARTITIONS + 1;
	EXPECT_THROW(Steering::attach("lo", o), Error);
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir("lo")));
}
