// SPDX-License-Identifier: BSD-2-Clause
// Test and generator frames: Ethernet (optionally 802.1Q / 802.1ad QinQ
// tagged), IPv4 or IPv6, UDP or TCP, with correct checksums, built from a
// FrameSpec into a caller's buffer; and the reverse, a parser that reads the
// 5-tuple (and the tag the builder writes into the payload) back out.
//
// build_frame() is used on the generator's fast path: it never allocates and
// never throws. The parser is strict (lengths must agree with the headers)
// because tests use it to decide whether what arrived is what was sent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>
#include <string>
#include <string_view>

namespace mkdp {

struct MacAddr {
	std::array<uint8_t, 6> b{};

	// "aa:bb:cc:dd:ee:ff"; throws mkdp::Error on anything else.
	static MacAddr parse(std::string_view s);
	std::string str() const;
	bool operator==(const MacAddr &) const = default;
};

// An IPv4 or IPv6 address; IPv4 lives in the first 4 bytes of b.
struct IpAddr {
	bool v6 = false;
	std::array<uint8_t, 16> b{};

	// Dotted quad or RFC 4291 text; throws mkdp::Error on anything else.
	static IpAddr parse(std::string_view s);
	static IpAddr v4(uint32_t host_order);
	std::string str() const;
	// Adds n to the address as one big-endian integer (wraps): how flows
	// step through source addresses.
	IpAddr plus(uint32_t n) const;
	bool operator==(const IpAddr &) const = default;
};

enum class L4Proto : uint8_t { udp = 17, tcp = 6 };

// Everything that defines a frame. VLAN ids are 1..4094; 0 means "no tag".
// `vlan` alone gives one 802.1Q tag; `svlan` adds an outer 802.1ad tag in
// front of it (QinQ); `svlan` alone gives one 802.1ad tag.
struct FrameSpec {
	MacAddr src_mac, dst_mac;
	uint16_t svlan = 0;	// outer S-tag (TPID 0x88a8)
	uint16_t vlan = 0;	// C-tag (TPID 0x8100)
	uint8_t pcp = 0;	// priority code point of every tag
	IpAddr src_ip, dst_ip;	// both IPv4 or both IPv6
	L4Proto proto = L4Proto::udp;
	uint16_t src_port = 0, dst_port = 0;
	uint16_t payload_len = 0;	// bytes after the L4 header
	uint8_t ttl = 64;
	// Written little-endian into the first 8 payload bytes when the payload
	// has room: lets a receiver tell frames apart by content.
	uint64_t tag = 0;
};

inline constexpr size_t kEthMinFrame = 60;	// without FCS: shorter frames are padded
inline constexpr size_t kTagBytes = 8;		// how much payload the tag takes

// Bytes build_frame() writes for this spec (padding to 60 included).
size_t frame_len(const FrameSpec &spec) noexcept;

// Checks a spec once, off the fast path; throws mkdp::Error with the reason
// (mixed address families, VLAN id out of range, frame over 65535 bytes).
void check_spec(const FrameSpec &spec);

// Writes the frame into out and returns its length, or 0 when out is too
// small. The spec must have passed check_spec().
size_t build_frame(const FrameSpec &spec, std::span<uint8_t> out) noexcept;

// check_spec() and build_frame() into a new buffer, off the fast path.
std::vector<uint8_t> make_frame(const FrameSpec &spec);

struct FiveTuple {
	IpAddr src, dst;
	L4Proto proto = L4Proto::udp;
	uint16_t src_port = 0, dst_port = 0;
	bool operator==(const FiveTuple &) const = default;
};

struct ParsedFrame {
	MacAddr src_mac, dst_mac;
	uint16_t svlan = 0, vlan = 0;
	FiveTuple tuple;
	uint16_t l3_off = 0, l4_off = 0, payload_off = 0;
	uint16_t payload_len = 0;
	std::optional<uint64_t> tag;	// when the payload holds one
};

// Parses Ethernet [+ up to two VLAN tags] + IPv4/IPv6 + UDP/TCP. Returns
// nothing for any other frame or when the headers' lengths disagree with the
// buffer. Checksums are not checked here: see l3_checksum_ok/l4_checksum_ok.
std::optional<ParsedFrame> parse_frame(std::span<const uint8_t> frame) noexcept;

// RFC 1071 one's complement sum over data folded to 16 bits, not inverted,
// starting from `sum` (to chain a pseudo-header).
uint32_t csum_partial(std::span<const uint8_t> data, uint32_t sum = 0) noexcept;
uint16_t csum_fold(uint32_t sum) noexcept;

// True when the IPv4 header checksum (always true for IPv6) and the UDP/TCP
// checksum of a parsed frame verify.
bool l3_checksum_ok(std::span<const uint8_t> frame, const ParsedFrame &p) noexcept;
bool l4_checksum_ok(std::span<const uint8_t> frame, const ParsedFrame &p) noexcept;

} // namespace mkdp
