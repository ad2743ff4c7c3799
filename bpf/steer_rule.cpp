// SPDX-License-Identifier: BSD-2-Clause
#include "steer_rule.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include <mkdp/error.h>

namespace mkdp {

namespace {

bool parse_addr(std::string_view s, uint8_t &family, std::array<uint8_t, 16> &out)
{
	std::string str(s);
	out.fill(0);
	if (inet_pton(AF_INET, str.c_str(), out.data()) == 1) {
		family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, str.c_str(), out.data()) == 1) {
		family = 6;
		return true;
	}
	return false;
}

std::string addr_string(uint8_t family, const std::array<uint8_t, 16> &a)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf));
	return buf;
}

// A whole decimal number up to max; false for anything else ("", "1x").
bool parse_number(const std::string &s, unsigned long max, unsigned long &v)
{
	char *end;
	v = std::strtoul(s.c_str(), &end, 10);
	return !s.empty() && !*end && v <= max;
}

// "10.0.0.1:5000", "[fd00::1]:80", "10.0.0.1", "fd00::1"; false when no
// port was given.
bool parse_endpoint(std::string_view s, uint8_t &family, std::array<uint8_t, 16> &addr, uint16_t &port)
{
	std::string_view a = s, p;
	if (!s.empty() && s.front() == '[') {
		auto close = s.find(']');
		if (close == s.npos)
			throw Error("rule: bad endpoint '" + std::string(s) + "'");
		a = s.substr(1, close - 1);
		if (close + 1 < s.size()) {
			if (s[close + 1] != ':')
				throw Error("rule: bad endpoint '" + std::string(s) + "'");
			p = s.substr(close + 2);
		}
	} else if (std::count(s.begin(), s.end(), ':') == 1) {
		a = s.substr(0, s.find(':'));
		p = s.substr(s.find(':') + 1);
	}
	if (!parse_addr(a, family, addr))
		throw Error("rule: bad address '" + std::string(a) + "'");
	port = 0;
	if (p.empty())
		return false;
	unsigned long v;
	if (!parse_number(std::string(p), 65535, v))
		throw Error("rule: bad port '" + std::string(p) + "' (0..65535)");
	port = uint16_t(v);
	return true;
}

std::string endpoint_string(uint8_t family, const std::array<uint8_t, 16> &a, uint16_t port, bool ports)
{
	std::string s = addr_string(family, a);
	if (!ports)
		return s;
	if (family == 6)
		s = "[" + s + "]";
	return s + ":" + std::to_string(port);
}

bool host_bits_clear(const std::array<uint8_t, 16> &a, unsigned len, unsigned bytes)
{
	for (unsigned bit = len; bit < bytes * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

bool has_ports(uint8_t proto) { return proto == IPPROTO_TCP || proto == IPPROTO_UDP; }

uint8_t parse_proto(const std::string &proto)
{
	if (proto == "tcp")
		return IPPROTO_TCP;
	if (proto == "udp")
		return IPPROTO_UDP;
	if (proto == "icmp")
		return IPPROTO_ICMP;
	if (proto == "icmp6" || proto == "icmpv6")
		return IPPROTO_ICMPV6;
	unsigned long v;
	if (!parse_number(proto, 255, v))
		throw Error("rule: unknown protocol '" + proto + "'");
	return uint8_t(v);
}

const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmp6";
	}
	return nullptr;
}

} // namespace

const char *to_string(SteerAction a) noexcept
{
	switch (a) {
	case SteerAction::pass:
		return "pass";
	case SteerAction::drop:
		return "drop";
	case SteerAction::steer:
		return "part";
	}
	return "?";
}

SteerRule SteerRule::parse(std::string_view text)
{
	std::istringstream in{std::string(text)};
	std::vector<std::string> w;
	for (std::string t; in >> t;)
		w.push_back(t);
	SteerRule r;
	size_t i = 0;
	auto need = [&](const char *what) -> const std::string & {
		if (i >= w.size())
			throw Error("rule '" + std::string(text) + "': missing " + what);
		return w[i++];
	};
	const std::string &kind = need("match (exact, dst, src)");
	if (kind == "exact") {
		r.match = Match::exact;
		const std::string &proto = need("protocol");
		r.proto = parse_proto(proto);
		uint8_t fs, fd;
		bool sp = parse_endpoint(need("source"), fs, r.saddr, r.sport);
		bool dp = parse_endpoint(need("destination"), fd, r.daddr, r.dport);
		if (fs != fd)
			throw Error("rule: source and destination of different families");
		r.family = fs;
		// A missing port would silently be port 0, which matches only
		// non-first fragments: say it explicitly or not at all.
		bool ports = has_ports(r.proto);
		if (ports && (!sp || !dp))
			throw Error("rule: exact " + proto + " needs both ports, SRC:PORT DST:PORT (':0' on both matches "
				    "non-first fragments)");
		if (!ports && (sp || dp))
			throw Error("rule: exact " + proto + " has no ports; give addresses only");
	} else if (kind == "dst" || kind == "src") {
		r.match = kind == "dst" ? Match::dst_prefix : Match::src_prefix;
		const std::string &pfx = need("prefix");
		auto slash = pfx.find('/');
		if (!parse_addr(pfx.substr(0, slash), r.family, r.saddr))
			throw Error("rule: bad prefix '" + pfx + "'");
		unsigned long bits = r.family == 4 ? 32 : 128;
		if (slash != pfx.npos && !parse_number(pfx.substr(slash + 1), bits, bits))
			throw Error("rule: bad prefix length in '" + pfx + "'");
		r.prefix_len = uint8_t(bits);
	} else {
		throw Error("rule: unknown match '" + kind + "' (exact, dst, src)");
	}
	const std::string &act = need("action (part N, drop, pass)");
	if (act == "drop")
		r.action = SteerAction::drop;
	else if (act == "pass")
		r.action = SteerAction::pass;
	else if (act == "part" || act == "partition") {
		const std::string &n = need("partition number");
		unsigned long v;
		if (!parse_number(n, MKDP_STEER_MAX_PARTITIONS - 1, v))
			throw Error("rule: bad partition '" + n + "' (0.." + std::to_string(MKDP_STEER_MAX_PARTITIONS - 1) +
				    ", below the attached partition count)");
		r.action = SteerAction::steer;
		r.partition = uint32_t(v);
	} else
		throw Error("rule: unknown action '" + act + "' (part N, drop, pass)");
	if (i != w.size())
		throw Error("rule: unexpected '" + w[i] + "'");
	return r;
}

std::string SteerRule::to_string() const
{
	return "#" + std::to_string(id) + " " + text();
}

std::string SteerRule::text() const
{
	std::string s;
	if (match == Match::exact) {
		const char *p = proto_name(proto);
		s += "exact " + (p ? std::string(p) : std::to_string(proto)) + " " +
		     endpoint_string(family, saddr, sport, has_ports(proto)) + " " +
		     endpoint_string(family, daddr, dport, has_ports(proto));
	} else {
		s += match == Match::dst_prefix ? "dst " : "src ";
		s += addr_string(family, saddr) + "/" + std::to_string(prefix_len);
	}
	s += std::string(" ") + mkdp::to_string(action);
	if (action == SteerAction::steer)
		s += " " + std::to_string(partition);
	return s;
}

bool SteerRule::same_match(const SteerRule &o) const
{
	if (match != o.match || family != o.family)
		return false;
	if (match == Match::exact)
		return proto == o.proto && sport == o.sport && dport == o.dport &&
		       saddr == o.saddr && daddr == o.daddr;
	return prefix_len == o.prefix_len && saddr == o.saddr;
}

void SteerRule::check() const
{
	if (family != 4 && family != 6)
		throw Error("rule: family must be 4 or 6");
	if (match == Match::exact) {
		if ((sport || dport) && !has_ports(proto))
			throw Error("rule " + text() + ": ports need tcp or udp");
		return;
	}
	unsigned bytes = family == 4 ? 4 : 16;
	if (prefix_len > bytes * 8)
		throw Error("rule " + text() + ": prefix length out of range");
	if (!host_bits_clear(saddr, prefix_len, bytes))
		throw Error("rule " + text() + ": address has bits set past the prefix length");
}

} // namespace mkdp
