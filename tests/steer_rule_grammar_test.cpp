// SPDX-License-Identifier: BSD-2-Clause
// The rule grammar on its own (steer_rule.h): text in, fields out, the same
// text back. No BPF, no root.
#include <steer_rule.h>

#include <mkdp/error.h>

#include <gtest/gtest.h>

#include <netinet/in.h>

namespace {

using mkdp::SteerAction;
using mkdp::SteerRule;

TEST(SteerRuleGrammar, ExactIpv4RoundTrips)
{
	SteerRule r = SteerRule::parse("exact udp 10.0.0.1:5000 10.0.0.2:6000 part 3");
	EXPECT_EQ(r.match, SteerRule::Match::exact);
	EXPECT_EQ(r.family, 4);
	EXPECT_EQ(r.proto, IPPROTO_UDP);
	EXPECT_EQ(r.sport, 5000);
	EXPECT_EQ(r.dport, 6000);
	EXPECT_EQ(r.saddr[0], 10);
	EXPECT_EQ(r.saddr[3], 1);
	EXPECT_EQ(r.daddr[3], 2);
	EXPECT_EQ(r.action, SteerAction::steer);
	EXPECT_EQ(r.partition, 3u);
	EXPECT_EQ(SteerRule::parse(r.text()).text(), r.text());
	EXPECT_EQ(r.text(), "exact udp 10.0.0.1:5000 10.0.0.2:6000 part 3");
}

TEST(SteerRuleGrammar, PrefixesAndIpv6RoundTrip)
{
	for (const char *t : {"dst 10.1.0.0/16 drop", "src fd00::/64 pass", "exact tcp [fd00::1]:80 [fd00::2]:9000 part 0"}) {
		SteerRule r = SteerRule::parse(t);
		EXPECT_EQ(r.text(), t);
		EXPECT_TRUE(r.same_match(SteerRule::parse(t)));
	}
	SteerRule d = SteerRule::parse("dst 10.1.0.0/16 drop");
	EXPECT_EQ(d.match, SteerRule::Match::dst_prefix);
	EXPECT_EQ(d.prefix_len, 16);
	EXPECT_EQ(d.action, SteerAction::drop);
	EXPECT_FALSE(d.same_match(SteerRule::parse("src 10.1.0.0/16 drop")));
}

TEST(SteerRuleGrammar, RefusesWhatItCannotRead)
{
	for (const char *t : {"", "exact", "exact udp 10.0.0.1:5000", "exact udp 10.0.0.300:1 10.0.0.2:2 part 1",
			      "dst 10.1.0.0/33 drop", "dst 10.1.0.0/16 explode", "exact udp 10.0.0.1:70000 10.0.0.2:1 part 1",
			      "sideways 10.0.0.0/8 drop"})
		EXPECT_THROW(SteerRule::parse(t), mkdp::Error) << "'" << t << "'";
}

TEST(SteerRuleGrammar, HostBitsPastThePrefix)
{
	std::array<uint8_t, 16> a{10, 1, 0, 0};
	EXPECT_TRUE(mkdp::host_bits_clear(a, 16, 4));
	a[2] = 1;
	EXPECT_FALSE(mkdp::host_bits_clear(a, 16, 4));
	EXPECT_TRUE(mkdp::host_bits_clear(a, 24, 4));
}

TEST(SteerRuleGrammar, Policies)
{
	EXPECT_EQ(mkdp::parse_policy("queue,hash,rules"), mkdp::parse_policy("rules+hash+queue"));
	EXPECT_EQ(mkdp::parse_policy("none"), 0u);
	EXPECT_EQ(mkdp::parse_policy(mkdp::policy_string(mkdp::parse_policy("rules,queue"))),
		  mkdp::parse_policy("rules,queue"));
	EXPECT_THROW(mkdp::parse_policy(""), mkdp::Error);
	EXPECT_THROW(mkdp::parse_policy("queue,,hash"), mkdp::Error);
	EXPECT_THROW(mkdp::parse_policy("fastest"), mkdp::Error);
}

} // namespace
