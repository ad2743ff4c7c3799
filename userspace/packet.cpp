// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/packet.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace mkdp {

namespace {

constexpr uint16_t kEthHdr = 14, kVlanHdr = 4, kIp4Hdr = 20, kIp6Hdr = 40;
constexpr uint16_t kUdpHdr = 8, kTcpHdr = 20;
constexpr uint16_t kEtherIPv4 = 0x0800, kEtherIPv6 = 0x86dd;
constexpr uint16_t kEther8021Q = 0x8100, kEther8021AD = 0x88a8;

inline void put16(uint8_t *p, uint16_t v) noexcept
{
	p[0] = uint8_t(v >> 8);
	p[1] = uint8_t(v);
}
inline void put32(uint8_t *p, uint32_t v) noexcept
{
	put16(p, uint16_t(v >> 16));
	put16(p + 2, uint16_t(v));
}
inline uint16_t get16(const uint8_t *p) noexcept { return uint16_t(p[0] << 8 | p[1]); }

uint16_t l4_hdr_len(L4Proto p) noexcept { return p == L4Proto::tcp ? kTcpHdr : kUdpHdr; }

// Bytes from the L3 header to the end of the payload.
uint32_t l3_len(const FrameSpec &s) noexcept
{
	return (s.src_ip.v6 ? kIp6Hdr : kIp4Hdr) + l4_hdr_len(s.proto) + uint32_t(s.payload_len);
}

uint16_t l2_len(const FrameSpec &s) noexcept
{
	return kEthHdr + (s.svlan ? kVlanHdr : 0) + (s.vlan ? kVlanHdr : 0);
}

// Pseudo-header sum for the L4 checksum (RFC 768/793, RFC 8200 8.1).
uint32_t pseudo_sum(const IpAddr &src, const IpAddr &dst, uint8_t proto, uint32_t l4_len) noexcept
{
	size_t alen = src.v6 ? 16 : 4;
	uint32_t sum = csum_partial({src.b.data(), alen});
	sum = csum_partial({dst.b.data(), alen}, sum);
	return sum + proto + (l4_len >> 16) + (l4_len & 0xffff);
}

} // namespace

MacAddr MacAddr::parse(std::string_view s)
{
	MacAddr m;
	unsigned v[6];
	char tail;
	std::string str(s);
	if (std::sscanf(str.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
			&v[5], &tail) != 6 || s.size() != 17)
		throw Error("bad MAC address '" + str + "' (want aa:bb:cc:dd:ee:ff)");
	for (int i = 0; i < 6; i++)
		m.b[i] = uint8_t(v[i]);
	return m;
}

std::string MacAddr::str() const
{
	char buf[18];
	std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
		      b[5]);
	return buf;
}

IpAddr IpAddr::parse(std::string_view s)
{
	IpAddr a;
	std::string str(s);
	if (inet_pton(AF_INET, str.c_str(), a.b.data()) == 1)
		return a;
	if (inet_pton(AF_INET6, str.c_str(), a.b.data()) == 1) {
		a.v6 = true;
		return a;
	}
	throw Error("bad IP address '" + str + "'");
}

IpAddr IpAddr::v4(uint32_t host_order)
{
	IpAddr a;
	put32(a.b.data(), host_order);
	return a;
}

std::string IpAddr::str() const
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(v6 ? AF_INET6 : AF_INET, b.data(), buf, sizeof(buf));
	return buf;
}

IpAddr IpAddr::plus(uint32_t n) const
{
	IpAddr r = *this;
	uint64_t carry = n;
	for (int i = (v6 ? 16 : 4) - 1; i >= 0 && carry; i--) {
		carry += r.b[i];
		r.b[i] = uint8_t(carry);
		carry >>= 8;
	}
	return r;
}

uint32_t csum_partial(std::span<const uint8_t> data, uint32_t sum) noexcept
{
	size_t i = 0, n = data.size();
	for (; i + 1 < n; i += 2)
		sum += get16(&data[i]);
	if (i < n)
		sum += uint32_t(data[i]) << 8;
	return sum;
}

uint16_t csum_fold(uint32_t sum) noexcept
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return uint16_t(sum);
}

size_t frame_len(const FrameSpec &s) noexcept
{
	size_t len = l2_len(s) + l3_len(s);
	return len < kEthMinFrame ? kEthMinFrame : len;
}

void check_spec(const FrameSpec &s)
{
	if (s.src_ip.v6 != s.dst_ip.v6)
		throw Error("frame: source and destination address families differ");
	if (s.vlan > 4094 || s.svlan > 4094)
		throw Error("frame: VLAN id out of range 1..4094");
	if (s.pcp > 7)
		throw Error("frame: VLAN priority out of range 0..7");
	if (s.proto != L4Proto::udp && s.proto != L4Proto::tcp)
		throw Error("frame: protocol must be udp or tcp");
	if (l2_len(s) + l3_len(s) > 65535 || (!s.src_ip.v6 && l3_len(s) > 65535))
		throw Error("frame: longer than 65535 bytes");
}

std::vector<uint8_t> make_frame(const FrameSpec &spec)
{
	check_spec(spec);
	std::vector<uint8_t> f(frame_len(spec));
	build_frame(spec, f);
	return f;
}

size_t build_frame(const FrameSpec &s, std::span<uint8_t> out) noexcept
{
	size_t len = frame_len(s);
	if (out.size() < len)
		return 0;
	uint8_t *p = out.data();
	std::memcpy(p, s.dst_mac.b.data(), 6);
	std::memcpy(p + 6, s.src_mac.b.data(), 6);
	uint8_t *q = p + 12;
	if (s.svlan) {
		put16(q, kEther8021AD);
		put16(q + 2, uint16_t(s.pcp << 13 | s.svlan));
		q += kVlanHdr;
	}
	if (s.vlan) {
		put16(q, kEther8021Q);
		put16(q + 2, uint16_t(s.pcp << 13 | s.vlan));
		q += kVlanHdr;
	}
	put16(q, s.src_ip.v6 ? kEtherIPv6 : kEtherIPv4);
	uint8_t *l3 = q + 2;

	const uint8_t proto = uint8_t(s.proto);
	const uint32_t l4len = l4_hdr_len(s.proto) + uint32_t(s.payload_len);
	uint8_t *l4;
	if (s.src_ip.v6) {
		put32(l3, 6u << 28);			// version, traffic class, flow label
		put16(l3 + 4, uint16_t(l4len));
		l3[6] = proto;
		l3[7] = s.ttl;
		std::memcpy(l3 + 8, s.src_ip.b.data(), 16);
		std::memcpy(l3 + 24, s.dst_ip.b.data(), 16);
		l4 = l3 + kIp6Hdr;
	} else {
		l3[0] = 0x45;
		l3[1] = 0;
		put16(l3 + 2, uint16_t(kIp4Hdr + l4len));
		put16(l3 + 4, uint16_t(s.tag));		// identification
		put16(l3 + 6, 0x4000);			// DF
		l3[8] = s.ttl;
		l3[9] = proto;
		put16(l3 + 10, 0);
		std::memcpy(l3 + 12, s.src_ip.b.data(), 4);
		std::memcpy(l3 + 16, s.dst_ip.b.data(), 4);
		put16(l3 + 10, uint16_t(~csum_fold(csum_partial({l3, kIp4Hdr}))));
		l4 = l3 + kIp4Hdr;
	}

	uint8_t *payload = l4 + l4_hdr_len(s.proto);
	for (uint32_t i = 0; i < s.payload_len; i++)
		payload[i] = uint8_t(i);
	if (s.payload_len >= kTagBytes)
		for (size_t i = 0; i < kTagBytes; i++)
			payload[i] = uint8_t(s.tag >> (8 * i));

	put16(l4, s.src_port);
	put16(l4 + 2, s.dst_port);
	uint8_t *csum_at;
	if (s.proto == L4Proto::udp) {
		put16(l4 + 4, uint16_t(l4len));
		csum_at = l4 + 6;
	} else {
		put32(l4 + 4, uint32_t(s.tag));		// sequence number
		put32(l4 + 8, 0);			// acknowledgement number
		l4[12] = 5 << 4;			// data offset: 5 words
		l4[13] = 0x18;				// PSH | ACK
		put16(l4 + 14, 65535);			// window
		put16(l4 + 18, 0);			// urgent pointer
		csum_at = l4 + 16;
	}
	put16(csum_at, 0);
	uint32_t sum = pseudo_sum(s.src_ip, s.dst_ip, proto, l4len);
	uint16_t c = uint16_t(~csum_fold(csum_partial({l4, l4len}, sum)));
	// UDP transmits a computed 0 as 0xffff: 0 means "no checksum".
	if (c == 0 && s.proto == L4Proto::udp)
		c = 0xffff;
	put16(csum_at, c);

	uint8_t *end = payload + s.payload_len;
	std::memset(end, 0, len - size_t(end - p));	// Ethernet padding
	return len;
}

std::optional<ParsedFrame> parse_frame(std::span<const uint8_t> f) noexcept
{
	ParsedFrame r;
	const size_t n = f.size();
	if (n < kEthHdr)
		return std::nullopt;
	std::memcpy(r.dst_mac.b.data(), &f[0], 6);
	std::memcpy(r.src_mac.b.data(), &f[6], 6);
	size_t off = 12;
	uint16_t type = get16(&f[off]);
	for (int tags = 0; type == kEther8021Q || type == kEther8021AD; tags++) {
		if (tags == 2 || off + 2 + kVlanHdr > n)
			return std::nullopt;
		uint16_t vid = get16(&f[off + 2]) & 0x0fff;
		if (type == kEther8021AD)
			r.svlan = vid;
		else
			r.vlan = vid;
		off += kVlanHdr;
		type = get16(&f[off]);
	}
	off += 2;
	r.l3_off = uint16_t(off);

	uint8_t proto;
	size_t l3_end;
	if (type == kEtherIPv4) {
		if (off + kIp4Hdr > n || (f[off] >> 4) != 4)
			return std::nullopt;
		size_t ihl = size_t(f[off] & 0xf) * 4;
		size_t tot = get16(&f[off + 2]);
		if (ihl < kIp4Hdr || tot < ihl || off + tot > n)
			return std::nullopt;
		if (get16(&f[off + 6]) & 0x3fff)	// a fragment: no L4 header to read
			return std::nullopt;
		proto = f[off + 9];
		r.tuple.src.v6 = r.tuple.dst.v6 = false;
		std::memcpy(r.tuple.src.b.data(), &f[off + 12], 4);
		std::memcpy(r.tuple.dst.b.data(), &f[off + 16], 4);
		l3_end = off + tot;
		off += ihl;
	} else if (type == kEtherIPv6) {
		if (off + kIp6Hdr > n || (f[off] >> 4) != 6)
			return std::nullopt;
		size_t plen = get16(&f[off + 4]);
		if (off + kIp6Hdr + plen > n)
			return std::nullopt;
		proto = f[off + 6];	// extension headers are not followed
		r.tuple.src.v6 = r.tuple.dst.v6 = true;
		std::memcpy(r.tuple.src.b.data(), &f[off + 8], 16);
		std::memcpy(r.tuple.dst.b.data(), &f[off + 24], 16);
		l3_end = off + kIp6Hdr + plen;
		off += kIp6Hdr;
	} else {
		return std::nullopt;
	}

	size_t l4_hdr;
	if (proto == uint8_t(L4Proto::udp)) {
		if (off + kUdpHdr > l3_end || get16(&f[off + 4]) != l3_end - off)
			return std::nullopt;
		l4_hdr = kUdpHdr;
	} else if (proto == uint8_t(L4Proto::tcp)) {
		if (off + kTcpHdr > l3_end)
			return std::nullopt;
		l4_hdr = size_t(f[off + 12] >> 4) * 4;
		if (l4_hdr < kTcpHdr || off + l4_hdr > l3_end)
			return std::nullopt;
	} else {
		return std::nullopt;
	}
	r.tuple.proto = L4Proto(proto);
	r.l4_off = uint16_t(off);
	r.tuple.src_port = get16(&f[off]);
	r.tuple.dst_port = get16(&f[off + 2]);
	r.payload_off = uint16_t(off + l4_hdr);
	r.payload_len = uint16_t(l3_end - r.payload_off);
	if (r.payload_len >= kTagBytes) {
		uint64_t tag = 0;
		for (size_t i = 0; i < kTagBytes; i++)
			tag |= uint64_t(f[r.payload_off + i]) << (8 * i);
		r.tag = tag;
	}
	return r;
}

bool l3_checksum_ok(std::span<const uint8_t> f, const ParsedFrame &p) noexcept
{
	if (p.tuple.src.v6)
		return true;
	size_t ihl = size_t(f[p.l3_off] & 0xf) * 4;
	return csum_fold(csum_partial(f.subspan(p.l3_off, ihl))) == 0xffff;
}

bool l4_checksum_ok(std::span<const uint8_t> f, const ParsedFrame &p) noexcept
{
	uint32_t l4len = uint32_t(p.payload_off - p.l4_off) + p.payload_len;
	if (p.tuple.proto == L4Proto::udp && !p.tuple.src.v6 && get16(&f[p.l4_off + 6]) == 0)
		return true;	// IPv4 UDP without a checksum
	uint32_t sum = pseudo_sum(p.tuple.src, p.tuple.dst, uint8_t(p.tuple.proto), l4len);
	return csum_fold(csum_partial(f.subspan(p.l4_off, l4len), sum)) == 0xffff;
}

} // namespace mkdp
