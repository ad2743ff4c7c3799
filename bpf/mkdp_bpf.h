/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Helpers shared by mkdp's XDP programs: header parsing that the verifier
 * can follow. Every access to packet memory is preceded by a comparison of
 * the access's end against data_end in the same function (everything here
 * is __always_inline, so the check and the load are in one frame), and
 * every variable-length step (IPv4 IHL, IPv6 extension headers) is bounded
 * by its field width, so the verifier sees a bounded packet offset.
 */
#ifndef _MKDP_BPF_H
#define _MKDP_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "steer.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD	0x88A8
#endif

/* parse results */
#define MKDP_PARSE_OK		0	/* an IPv4/IPv6 flow key was filled in */
#define MKDP_PARSE_NON_IP	1	/* a valid frame of another protocol */
#define MKDP_PARSE_MALFORMED	2	/* headers truncated or invalid */

/* A 802.1Q / 802.1ad tag after the MAC addresses. */
struct mkdp_vlan_hdr {
	__be16	tci;		/* priority, DEI, VLAN id */
	__be16	proto;		/* the next EtherType */
};

/* The IPv6 fragment header (the kernel's struct frag_hdr is not uapi). */
struct mkdp_ipv6_frag_hdr {
	__u8	nexthdr;	/* header after the fragment header */
	__u8	reserved;
	__be16	frag_off;	/* offset in 8-byte units << 3, M flag in bit 0 */
	__be32	identification;
};

/* IPv6 extension headers that share the (next header, length) layout. */
static __always_inline int mkdp_ipv6_ext_is_generic(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

/*
 * Ethernet and up to two VLAN tags (802.1Q, or QinQ with an 802.1ad or
 * 802.1Q outer tag). Returns the EtherType of the payload (network order)
 * and advances *pos past the headers, or returns 0 if a header is cut.
 * A third tag is left as the EtherType, which callers treat as non-IP.
 */
static __always_inline __be16 mkdp_parse_eth(void **pos, void *end)
{
	struct ethhdr *eth = *pos;
	struct mkdp_vlan_hdr *vlan;
	__be16 proto;

	if ((void *)(eth + 1) > end)
		return 0;
	proto = eth->h_proto;
	vlan = (void *)(eth + 1);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > end)
			return 0;
		proto = vlan->proto;
		vlan++;
	}
	*pos = vlan;
	return proto;
}

/* Ports of a TCP or UDP header at pos; other protocols have none. */
static __always_inline int mkdp_parse_ports(void *pos, void *end, struct mkdp_steer_flow_key *key)
{
	if (key->proto == IPPROTO_UDP) {
		struct udphdr *udp = pos;

		if ((void *)(udp + 1) > end)
			return MKDP_PARSE_MALFORMED;
		key->sport = udp->source;
		key->dport = udp->dest;
	} else if (key->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = pos;

		if ((void *)(tcp + 1) > end)
			return MKDP_PARSE_MALFORMED;
		key->sport = tcp->source;
		key->dport = tcp->dest;
	}
	return MKDP_PARSE_OK;
}

/* IPv4 with options; a non-first fragment has no ports (3-tuple). */
static __always_inline int mkdp_parse_ipv4(void *pos, void *end, struct mkdp_steer_flow_key *key)
{
	struct iphdr *ip = pos;
	__u32 hlen;

	if ((void *)(ip + 1) > end)
		return MKDP_PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return MKDP_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	if (pos + hlen > end)
		return MKDP_PARSE_MALFORMED;
	key->family = 4;
	key->proto = ip->protocol;
	__builtin_memcpy(key->saddr, &ip->saddr, 4);
	__builtin_memcpy(key->daddr, &ip->daddr, 4);
	if (ip->frag_off & bpf_htons(0x1fff))	/* fragment offset != 0 */
		return MKDP_PARSE_OK;
	return mkdp_parse_ports(pos + hlen, end, key);
}

/*
 * IPv6, walking up to MKDP_STEER_MAX_IPV6_EXT extension headers (hop-by-hop,
 * routing, destination options, fragment) to the L4 protocol. A chain that
 * is longer is malformed for mkdp: it cannot find the ports.
 */
static __always_inline int mkdp_parse_ipv6(void *pos, void *end, struct mkdp_steer_flow_key *key)
{
	struct ipv6hdr *ip6 = pos;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > end)
		return MKDP_PARSE_MALFORMED;
	if (ip6->version != 6)
		return MKDP_PARSE_MALFORMED;
	key->family = 6;
	__builtin_memcpy(key->saddr, &ip6->saddr, 16);
	__builtin_memcpy(key->daddr, &ip6->daddr, 16);
	nexthdr = ip6->nexthdr;
	pos = ip6 + 1;
	/* one more round than headers: the last one reaches the L4 header */
#pragma unroll
	for (int i = 0; i <= MKDP_STEER_MAX_IPV6_EXT; i++) {
		if (mkdp_ipv6_ext_is_generic(nexthdr)) {
			struct ipv6_opt_hdr *opt = pos;

			if ((void *)(opt + 1) > end)
				return MKDP_PARSE_MALFORMED;
			nexthdr = opt->nexthdr;
			pos += (opt->hdrlen + 1) * 8;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct mkdp_ipv6_frag_hdr *frag = pos;

			if ((void *)(frag + 1) > end)
				return MKDP_PARSE_MALFORMED;
			key->proto = frag->nexthdr;
			if (frag->frag_off & bpf_htons(0xfff8))	/* offset != 0 */
				return MKDP_PARSE_OK;
			nexthdr = frag->nexthdr;
			pos = frag + 1;
		} else {
			key->proto = nexthdr;
			return mkdp_parse_ports(pos, end, key);
		}
	}
	return MKDP_PARSE_MALFORMED;
}

/*
 * Fills the flow key of the frame [data, end): zero-initialised by the
 * caller, so absent ports and the unused address bytes of IPv4 are 0.
 */
static __always_inline int mkdp_parse_flow(void *data, void *end, struct mkdp_steer_flow_key *key)
{
	void *pos = data;
	__be16 proto = mkdp_parse_eth(&pos, end);

	if (proto == bpf_htons(ETH_P_IP))
		return mkdp_parse_ipv4(pos, end, key);
	if (proto == bpf_htons(ETH_P_IPV6))
		return mkdp_parse_ipv6(pos, end, key);
	return proto ? MKDP_PARSE_NON_IP : MKDP_PARSE_MALFORMED;
}

/*
 * Only the class of the frame: IPv4/IPv6 (MKDP_PARSE_OK), another EtherType,
 * or Ethernet/VLAN headers cut. For policies that need no flow key.
 */
static __always_inline int mkdp_parse_l2_class(void *data, void *end)
{
	void *pos = data;
	__be16 proto = mkdp_parse_eth(&pos, end);

	if (proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6))
		return MKDP_PARSE_OK;
	return proto ? MKDP_PARSE_NON_IP : MKDP_PARSE_MALFORMED;
}

/* One round of a 32-bit multiplicative mix (murmur3's constants). */
static __always_inline __u32 mkdp_mix32(__u32 h, __u32 v)
{
	h ^= v;
	h *= 0x85ebca6bU;
	return h ^ (h >> 13);
}

/* An address folded to 32 bits: IPv4 as is, IPv6 by xor of its words. */
static __always_inline __u32 mkdp_fold_addr(const __u8 *a, __u8 family)
{
	const __u32 *w = (const __u32 *)a;

	return family == 4 ? w[0] : w[0] ^ w[1] ^ w[2] ^ w[3];
}

/*
 * Flow hash of the 5-tuple. With `symmetric` the endpoints are put in a
 * fixed order first, so both directions of a connection hash alike.
 */
static __always_inline __u32 mkdp_flow_hash(const struct mkdp_steer_flow_key *key, __u32 seed, int symmetric)
{
	__u32 s = mkdp_fold_addr(key->saddr, key->family);
	__u32 d = mkdp_fold_addr(key->daddr, key->family);
	__u16 sp = key->sport, dp = key->dport;
	__u32 h;

	if (symmetric && (s > d || (s == d && sp > dp))) {
		__u32 t = s;
		__u16 tp = sp;

		s = d;
		d = t;
		sp = dp;
		dp = tp;
	}
	h = mkdp_mix32(seed ^ key->proto, s);
	h = mkdp_mix32(h, d);
	h = mkdp_mix32(h, ((__u32)sp << 16) | dp);
	h *= 0xc2b2ae35U;
	return h ^ (h >> 16);
}

#endif /* _MKDP_BPF_H */
