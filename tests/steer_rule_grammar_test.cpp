// SPDX-License-Identifier: BSD-2-Clause
// The text of steering rules and policies, as `mkdp steer rule` and `mkdp steer attach`
// read and print it: pure parsing, no BPF, no root.
#include <gtest/gtest.h>

#include <netinet/in.h>

#include <algorithm>
#include <string>
#include <vector>

#include <mkdp/error.h>

#include "steer_config.h"
#include "steer_rule.h"

using namespace mkdp;

namespace {

// The message of the Error that `text` is refused with ("" if accepted).
std::string refusal(const std::string &text)
{
	try {
		SteerRule::parse(text);
	} catch (const Error &e) {
		return e.what();
	}
	return "";
}

} // namespace

TEST(SteerRuleGrammar, ReadsEveryMatchAndAction)
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

	r = SteerRule::parse("exact tcp [fd00::1]:80 [fd00::2]:9000 partition 0");
	EXPECT_EQ(r.family, 6);
	EXPECT_EQ(r.proto, IPPROTO_TCP);
	EXPECT_EQ(r.sport, 80);
	EXPECT_EQ(r.saddr[0], 0xfd);
	EXPECT_EQ(r.saddr[15], 1);

	r = SteerRule::parse("  dst 10.1.0.0/16   drop ");
	EXPECT_EQ(r.match, SteerRule::Match::dst_prefix);
	EXPECT_EQ(r.prefix_len, 16);
	EXPECT_EQ(r.action, SteerAction::drop);

	r = SteerRule::parse("src fd00::/64 pass");
	EXPECT_EQ(r.match, SteerRule::Match::src_prefix);
	EXPECT_EQ(r.family, 6);
	EXPECT_EQ(r.prefix_len, 64);
	EXPECT_EQ(r.action, SteerAction::pass);

	EXPECT_EQ(SteerRule::parse("dst 10.0.0.1 pass").prefix_len, 32);	// a host
	EXPECT_EQ(SteerRule::parse("exact 47 10.0.0.1 10.0.0.2 drop").proto, 47);
	EXPECT_EQ(SteerRule::parse("exact icmpv6 fd00::1 fd00::2 drop").proto, IPPROTO_ICMPV6);
}

TEST(SteerRuleGrammar, PrintsWhatItReads)
{
	for (const char *t : {"exact udp 10.0.0.1:5000 10.0.0.2:6000 part 3", "exact tcp [fd00::1]:80 [fd00::2]:9000 part 0",
			      "exact icmp 10.0.0.1 10.0.0.2 drop", "exact icmp6 fd00::1 fd00::2 pass",
			      "exact 47 10.0.0.1 10.0.0.2 part 15", "exact udp 10.0.0.1:0 10.0.0.2:0 part 1",
			      "dst 10.1.0.0/16 drop", "src fd00::/64 pass", "dst 0.0.0.0/0 part 2"}) {
		SteerRule r = SteerRule::parse(t);
		EXPECT_EQ(r.text(), t);
		r.id = 7;
		EXPECT_EQ(r.to_string(), std::string("#7 ") + t);
		EXPECT_TRUE(SteerRule::parse(r.text()).same_match(r)) << t;
	}
	EXPECT_EQ(SteerRule::parse("dst 10.0.0.1 partition 2").text(), "dst 10.0.0.1/32 part 2");
}

TEST(SteerRuleGrammar, SameMatchIgnoresTheAction)
{
	SteerRule a = SteerRule::parse("dst 10.0.0.0/8 part 1");
	EXPECT_TRUE(a.same_match(SteerRule::parse("dst 10.0.0.0/8 drop")));
	EXPECT_FALSE(a.same_match(SteerRule::parse("src 10.0.0.0/8 part 1")));
	EXPECT_FALSE(a.same_match(SteerRule::parse("dst 10.0.0.0/16 part 1")));
	SteerRule e = SteerRule::parse("exact udp 10.0.0.1:1 10.0.0.2:2 part 0");
	EXPECT_TRUE(e.same_match(SteerRule::parse("exact udp 10.0.0.1:1 10.0.0.2:2 drop")));
	EXPECT_FALSE(e.same_match(SteerRule::parse("exact tcp 10.0.0.1:1 10.0.0.2:2 part 0")));
	EXPECT_FALSE(e.same_match(SteerRule::parse("exact udp 10.0.0.1:1 10.0.0.2:3 part 0")));
}

TEST(SteerRuleGrammar, RefusalsNameWhatWasWrong)
{
	EXPECT_EQ(refusal(""), "rule '': missing match (exact, dst, src)");
	EXPECT_EQ(refusal("sideways 10.0.0.0/8 part 0"), "rule: unknown match 'sideways' (exact, dst, src)");
	EXPECT_EQ(refusal("dst 10.0.0.0/8"), "rule 'dst 10.0.0.0/8': missing action (part N, drop, pass)");
	EXPECT_EQ(refusal("dst 10.0.0.0/8 teleport"), "rule: unknown action 'teleport' (part N, drop, pass)");
	EXPECT_EQ(refusal("dst 10.0.0.0/8 part"), "rule 'dst 10.0.0.0/8 part': missing partition number");
	EXPECT_EQ(refusal("dst 10.0.0.0/8 part 16").rfind("rule: bad partition '16' (0..15", 0), 0u);
	EXPECT_EQ(refusal("dst 10.0.0.0/8 part 1x").rfind("rule: bad partition '1x'", 0), 0u);
	EXPECT_EQ(refusal("dst 10.0.0.0/8 drop now"), "rule: unexpected 'now'");
	EXPECT_EQ(refusal("dst 10.0.0.0/33 drop"), "rule: bad prefix length in '10.0.0.0/33'");
	EXPECT_EQ(refusal("src fd00::/129 drop"), "rule: bad prefix length in 'fd00::/129'");
	EXPECT_EQ(refusal("dst 10.0.0.0/ drop"), "rule: bad prefix length in '10.0.0.0/'");
	EXPECT_EQ(refusal("dst 10.0.0/8 drop"), "rule: bad prefix '10.0.0/8'");
	EXPECT_EQ(refusal("exact sctp 10.0.0.1 10.0.0.2 drop"), "rule: unknown protocol 'sctp'");
	EXPECT_EQ(refusal("exact 256 10.0.0.1 10.0.0.2 drop"), "rule: unknown protocol '256'");
	EXPECT_EQ(refusal("exact udp 10.0.0.1:1 10.0.0.300:2 drop"), "rule: bad address '10.0.0.300'");
	EXPECT_EQ(refusal("exact udp 10.0.0.1:1 [fd00::1]:2 drop"),
		  "rule: source and destination of different families");
	EXPECT_EQ(refusal("exact udp 10.0.0.1:65536 10.0.0.2:1 drop"), "rule: bad port '65536' (0..65535)");
	EXPECT_EQ(refusal("exact udp [fd00::1 [fd00::2]:1 drop"), "rule: bad endpoint '[fd00::1'");
	EXPECT_EQ(refusal("exact udp [fd00::1]x [fd00::2]:1 drop"), "rule: bad endpoint '[fd00::1]x'");
	EXPECT_EQ(refusal("exact udp 10.0.0.1 10.0.0.2:1 drop").rfind("rule: exact udp needs both ports", 0), 0u);
	EXPECT_EQ(refusal("exact icmp 10.0.0.1:5 10.0.0.2 drop"), "rule: exact icmp has no ports; give addresses only");
}

TEST(SteerRuleGrammar, CheckRefusesRulesTheMapsCannotHold)
{
	EXPECT_NO_THROW(SteerRule::parse("dst 10.0.0.0/8 part 0").check());
	EXPECT_THROW(SteerRule::parse("dst 10.0.0.1/8 part 0").check(), Error);	// host bits
	EXPECT_THROW(SteerRule::parse("src fd00::1/64 part 0").check(), Error);
	SteerRule r = SteerRule::parse("exact icmp 10.0.0.1 10.0.0.2 drop");
	r.sport = 5;
	EXPECT_THROW(r.check(), Error);	// ports need tcp or udp
	r = SteerRule::parse("dst 10.0.0.0/8 drop");
	r.prefix_len = 33;
	EXPECT_THROW(r.check(), Error);
	r.family = 5;
	EXPECT_THROW(r.check(), Error);
}

TEST(SteerPolicyGrammar, WordsInAnyOrder)
{
	EXPECT_EQ(parse_policy("queue"), uint32_t(MKDP_STEER_POLICY_QUEUE));
	EXPECT_EQ(parse_policy("rules,hash"), uint32_t(MKDP_STEER_POLICY_RULES | MKDP_STEER_POLICY_HASH));
	EXPECT_EQ(parse_policy("hash+queue+rules"), uint32_t(MKDP_STEER_POLICY_ALL));
	EXPECT_EQ(parse_policy("none"), 0u);
	EXPECT_THROW(parse_policy(""), Error);
	EXPECT_THROW(parse_policy("rules,"), Error);
	EXPECT_THROW(parse_policy("rss"), Error);
	for (uint32_t bits = 0; bits <= MKDP_STEER_POLICY_ALL; bits++)
		EXPECT_EQ(parse_policy(policy_string(bits)), bits) << policy_string(bits);
	EXPECT_EQ(policy_string(MKDP_STEER_POLICY_ALL), "rules,hash,queue");
}

TEST(SteerConfigText, MergeTakesOnlyTheGivenFields)
{
	SteerConfig old, given;
	old.policy = MKDP_STEER_POLICY_HASH;
	old.partitions = 4;
	given.policy = MKDP_STEER_POLICY_RULES;
	given.partitions = 2;
	given.hash_seed = 9;
	SteerConfig c = old.merged(given, SteerConfig::f_seed | SteerConfig::f_policy);
	EXPECT_EQ(c.policy, uint32_t(MKDP_STEER_POLICY_RULES));
	EXPECT_EQ(c.partitions, 4u);
	EXPECT_EQ(c.hash_seed, 9u);
	given.partitions = 0;
	EXPECT_THROW(given.check(), Error);
	given.partitions = MKDP_STEER_MAX_PARTITIONS + 1;
	EXPECT_THROW(given.check(), Error);
}

TEST(SteerConfigText, IndirectionWeightsSpreadInContiguousRuns)
{
	const uint32_t w[] = {1, 3};
	std::vector<uint32_t> t = indirection_from_weights(w);
	ASSERT_EQ(t.size(), size_t(MKDP_STEER_INDIR_SIZE));
	EXPECT_EQ(std::count(t.begin(), t.end(), 0u), MKDP_STEER_INDIR_SIZE / 4);
	EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
	const uint32_t zero[] = {0, 0};
	EXPECT_THROW(indirection_from_weights(zero), Error);
}
