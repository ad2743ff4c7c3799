// SPDX-License-Identifier: BSD-2-Clause
// Frame builder and parser: round trips over every header combination, with
// the checksums recomputed here by a separate, byte-by-byte implementation.
#include <mkdp/error.h>
#include <mkdp/packet.h>

#include <gtest/gtest.h>

#include <vector>

using namespace mkdp;

namespace {

// Independent RFC 1071 checksum: sum of big-endian 16-bit words, folded.
uint16_t ref_sum(const std::vector<uint8_t> &bytes)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < bytes.size(); i++)
		sum += (i % 2 == 0) ? uint64_t(bytes[i]) << 8 : bytes[i];
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return uint16_t(sum);
}

std::vector<uint8_t> slice(const std::vector<uint8_t> &f, size_t off, size_t len)
{
	return {f.begin() + off, f.begin() + off + len};
}

FrameSpec base_spec(bool v6, L4Proto proto)
{
	FrameSpec s;
	s.src_mac = MacAddr::parse("02:00:00:00:00:01");
	s.dst_mac = MacAddr::parse("02:00:00:00:00:02");
	s.src_ip = IpAddr::parse(v6 ? "fd77::2" : "10.77.0.2");
	s.dst_ip = IpAddr::parse(v6 ? "fd77::1" : "10.77.0.1");
	s.proto = proto;
	s.src_port = 40000;
	s.dst_port = 9;
	s.payload_len = 100;
	s.tag = 0x1122334455667788ull;
	return s;
}

struct Combo {
	bool v6;
	L4Proto proto;
	uint16_t svlan, vlan;
	uint16_t payload;
};

class RoundTrip : public ::testing::TestWithParam<Combo> {};

TEST_P(RoundTrip, BuildsParsesAndChecksums)
{
	const Combo c = GetParam();
	FrameSpec s = base_spec(c.v6, c.proto);
	s.svlan = c.svlan;
	s.vlan = c.vlan;
	s.payload_len = c.payload;
	check_spec(s);

	std::vector<uint8_t> f(frame_len(s));
	ASSERT_EQ(build_frame(s, f), f.size());
	ASSERT_GE(f.size(), kEthMinFrame);

	auto p = parse_frame(f);
	ASSERT_TRUE(p);
	EXPECT_EQ(p->src_mac, s.src_mac);
	EXPECT_EQ(p->dst_mac, s.dst_mac);
	EXPECT_EQ(p->svlan, s.svlan);
	EXPECT_EQ(p->vlan, s.vlan);
	EXPECT_EQ(p->tuple, (FiveTuple{s.src_ip, s.dst_ip, s.proto, s.src_port, s.dst_port}));
	EXPECT_EQ(p->payload_len, s.payload_len);
	if (s.payload_len >= kTagBytes) {
		ASSERT_TRUE(p->tag);
		EXPECT_EQ(*p->tag, s.tag);
	} else {
		EXPECT_FALSE(p->tag);
	}

	// Layout checks done by hand, independent of the parser's offsets.
	size_t l3 = 14 + (c.svlan ? 4 : 0) + (c.vlan ? 4 : 0);
	EXPECT_EQ(p->l3_off, l3);
	if (c.svlan) {
		EXPECT_EQ(f[12], 0x88);
		EXPECT_EQ(f[13], 0xa8);
	}
	size_t l4len = (c.proto == L4Proto::tcp ? 20 : 8) + c.payload;
	std::vector<uint8_t> pseudo;
	if (c.v6) {
		EXPECT_EQ(f[l3 - 2], 0x86);
		EXPECT_EQ(f[l3] >> 4, 6);
		pseudo = slice(f, l3 + 8, 32);
		pseudo.insert(pseudo.end(), {uint8_t(l4len >> 24), uint8_t(l4len >> 16), uint8_t(l4len >> 8),
					     uint8_t(l4len), 0, 0, 0, uint8_t(c.proto)});
	} else {
		EXPECT_EQ(f[l3 - 2], 0x08);
		EXPECT_EQ(ref_sum(slice(f, l3, 20)), 0xffff) << "IPv4 header checksum";
		pseudo = slice(f, l3 + 12, 8);
		pseudo.insert(pseudo.end(), {0, uint8_t(c.proto), uint8_t(l4len >> 8), uint8_t(l4len)});
	}
	size_t l4 = l3 + (c.v6 ? 40 : 20);
	EXPECT_EQ(p->l4_off, l4);
	std::vector<uint8_t> l4bytes = pseudo;
	auto seg = slice(f, l4, l4len);
	l4bytes.insert(l4bytes.end(), seg.begin(), seg.end());
	EXPECT_EQ(ref_sum(l4bytes), 0xffff) << "L4 checksum";

	EXPECT_TRUE(l3_checksum_ok(f, *p));
	EXPECT_TRUE(l4_checksum_ok(f, *p));
	// One flipped payload bit must break the L4 checksum.
	if (c.payload) {
		f[p->payload_off + c.payload - 1] ^= 0x01;
		EXPECT_FALSE(l4_checksum_ok(f, *p));
	}
}

INSTANTIATE_TEST_SUITE_P(
	Frames, RoundTrip,
	::testing::Values(Combo{false, L4Proto::udp, 0, 0, 100}, Combo{false, L4Proto::tcp, 0, 0, 100},
			  Combo{true, L4Proto::udp, 0, 0, 100}, Combo{true, L4Proto::tcp, 0, 0, 100},
			  Combo{false, L4Proto::udp, 0, 10, 0}, Combo{true, L4Proto::udp, 0, 4094, 7},
			  Combo{false, L4Proto::tcp, 100, 200, 1400}, Combo{true, L4Proto::tcp, 300, 0, 33},
			  Combo{true, L4Proto::udp, 5, 6, 8000}, Combo{false, L4Proto::udp, 0, 0, 1}));

TEST(Packet, ShortFramesArePaddedAndParseIgnoresPadding)
{
	FrameSpec s = base_spec(false, L4Proto::udp);
	s.payload_len = 2;
	std::vector<uint8_t> f(frame_len(s));
	ASSERT_EQ(f.size(), kEthMinFrame);
	ASSERT_EQ(build_frame(s, f), kEthMinFrame);
	auto p = parse_frame(f);
	ASSERT_TRUE(p);
	EXPECT_EQ(p->payload_len, 2);
	EXPECT_TRUE(l4_checksum_ok(f, *p));
	for (size_t i = p->payload_off + 2; i < f.size(); i++)
		EXPECT_EQ(f[i], 0) << "padding byte " << i;
}

TEST(Packet, BufferTooSmallWritesNothing)
{
	FrameSpec s = base_spec(true, L4Proto::tcp);
	std::vector<uint8_t> f(frame_len(s) - 1, 0xee);
	EXPECT_EQ(build_frame(s, f), 0u);
	for (uint8_t b : f)
		ASSERT_EQ(b, 0xee);
}

TEST(Packet, ParserRejectsTruncatedAndForeignFrames)
{
	FrameSpec s = base_spec(false, L4Proto::udp);
	std::vector<uint8_t> f(frame_len(s));
	build_frame(s, f);
	for (size_t cut : {0ul, 13ul, 20ul, 33ul, 40ul, f.size() - 1})
		EXPECT_FALSE(parse_frame({f.data(), cut})) << "cut at " << cut;
	std::vector<uint8_t> arp = f;
	arp[12] = 0x08;
	arp[13] = 0x06;
	EXPECT_FALSE(parse_frame(arp));
	std::vector<uint8_t> icmp = f;
	icmp[14 + 9] = 1;
	EXPECT_FALSE(parse_frame(icmp));
}

TEST(Packet, SpecChecks)
{
	FrameSpec s = base_spec(false, L4Proto::udp);
	s.dst_ip = IpAddr::parse("fd77::1");
	EXPECT_THROW(check_spec(s), Error);
	s = base_spec(false, L4Proto::udp);
	s.vlan = 4095;
	EXPECT_THROW(check_spec(s), Error);
	s = base_spec(true, L4Proto::udp);
	s.payload_len = 65535;
	EXPECT_THROW(check_spec(s), Error);
}

TEST(Packet, AddressesParsePrintAndStep)
{
	EXPECT_EQ(MacAddr::parse("0a:1b:2c:3d:4e:5f").str(), "0a:1b:2c:3d:4e:5f");
	EXPECT_THROW(MacAddr::parse("0a:1b:2c:3d:4e"), Error);
	EXPECT_THROW(MacAddr::parse("0a:1b:2c:3d:4e:5f:00"), Error);
	EXPECT_EQ(IpAddr::parse("10.77.0.255").plus(2).str(), "10.77.1.1");
	EXPECT_EQ(IpAddr::parse("fd77::ffff").plus(1).str(), "fd77::1:0");
	EXPECT_THROW(IpAddr::parse("10.77.0"), Error);
	EXPECT_FALSE(IpAddr::parse("10.0.0.1").v6);
	EXPECT_TRUE(IpAddr::parse("::1").v6);
}

} // namespace
