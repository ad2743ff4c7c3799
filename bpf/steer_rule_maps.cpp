// SPDX-License-Identifier: BSD-2-Clause
// The rules in the program's maps: one entry per exact rule, two per prefix
// rule (the trie and the by-length hash, steer.h), the index in
// steer_config that lets the program skip empty tables, and batches that
// go in whole or not at all.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "bpf_util.h"
#include "steer.skel.h"
#include "steer_loader.h"
#include "steer_pins.h"

namespace mkdp {

namespace {

mkdp_steer_v4_flow v4_flow(const SteerRule &r)
{
	mkdp_steer_v4_flow k{};
	std::memcpy(&k.saddr, r.saddr.data(), 4);
	std::memcpy(&k.daddr, r.daddr.data(), 4);
	k.sport = htons(r.sport);
	k.dport = htons(r.dport);
	k.proto = r.proto;
	return k;
}

mkdp_steer_v6_flow v6_flow(const SteerRule &r)
{
	mkdp_steer_v6_flow k{};
	std::memcpy(k.saddr, r.saddr.data(), 16);
	std::memcpy(k.daddr, r.daddr.data(), 16);
	k.sport = htons(r.sport);
	k.dport = htons(r.dport);
	k.proto = r.proto;
	return k;
}

uint8_t side_of(const SteerRule &r)
{
	return r.match == SteerRule::Match::dst_prefix ? MKDP_STEER_SIDE_DST : MKDP_STEER_SIDE_SRC;
}

// The trie key: the side is part of every prefix (steer.h).
template <class K> K trie_key(const SteerRule &r)
{
	K k{};
	k.prefixlen = MKDP_STEER_SIDE_BITS + r.prefix_len;
	k.side = side_of(r);
	std::memcpy(k.addr, r.saddr.data(), sizeof(k.addr));
	return k;
}

template <class K> K by_len_key(const SteerRule &r)
{
	K k{};
	k.side = side_of(r);
	k.len = r.prefix_len;
	std::memcpy(k.addr, r.saddr.data(), sizeof(k.addr));
	return k;
}

void set_action(SteerRule &r, const mkdp_steer_rule &v)
{
	r.action = SteerAction(v.action);
	r.partition = v.partition;
	r.id = v.id;
}

template <class K>
SteerRule from_exact(const K &k, uint8_t family, const mkdp_steer_rule &v)
{
	SteerRule r;
	r.match = SteerRule::Match::exact;
	r.family = family;
	r.proto = k.proto;
	r.sport = ntohs(k.sport);
	r.dport = ntohs(k.dport);
	std::memcpy(r.saddr.data(), &k.saddr, sizeof(k.saddr));
	std::memcpy(r.daddr.data(), &k.daddr, sizeof(k.daddr));
	set_action(r, v);
	return r;
}

template <class K>
SteerRule from_prefix(const K &k, uint8_t family, const mkdp_steer_rule &v)
{
	SteerRule r;
	r.match = k.side == MKDP_STEER_SIDE_DST ? SteerRule::Match::dst_prefix : SteerRule::Match::src_prefix;
	r.family = family;
	r.prefix_len = uint8_t(k.prefixlen - MKDP_STEER_SIDE_BITS);
	std::memcpy(r.saddr.data(), k.addr, sizeof(k.addr));
	set_action(r, v);
	return r;
}

// Every entry of a map: fn(key, value).
template <class K, class V, class Fn>
void for_each_entry(int fd, Fn &&fn)
{
	K key{}, next{};
	V val{};
	bool first = true;
	for (;;) {
		if (bpf_map_get_next_key(fd, first ? nullptr : &key, &next)) {
			if (errno == ENOENT)
				return;
			throw_errno("iterate rules");
		}
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &val)) {
			if (errno == ENOENT)
				continue;	// deleted meanwhile
			throw_errno("read rule");
		}
		fn(key, val);
	}
}

} // namespace

std::vector<SteerRule> Steering::list_rules() const
{
	std::vector<SteerRule> out;
	for_each_entry<mkdp_steer_v4_flow, mkdp_steer_rule>(
		bpf_map__fd(skel_->maps.rules_exact_v4), [&](auto &k, auto &v) { out.push_back(from_exact(k, 4, v)); });
	for_each_entry<mkdp_steer_v6_flow, mkdp_steer_rule>(
		bpf_map__fd(skel_->maps.rules_exact_v6), [&](auto &k, auto &v) { out.push_back(from_exact(k, 6, v)); });
	for_each_entry<mkdp_steer_v4_prefix, mkdp_steer_rule>(
		bpf_map__fd(skel_->maps.rules_v4_prefix), [&](auto &k, auto &v) { out.push_back(from_prefix(k, 4, v)); });
	for_each_entry<mkdp_steer_v6_prefix, mkdp_steer_rule>(
		bpf_map__fd(skel_->maps.rules_v6_prefix), [&](auto &k, auto &v) { out.push_back(from_prefix(k, 6, v)); });
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.id < b.id; });
	return out;
}

uint32_t Steering::add_rule(SteerRule r)
{
	add_rules(std::span<SteerRule>(&r, 1));
	return r.id;
}

void Steering::add_rules(std::span<SteerRule> rules)
{
	uint32_t nparts = config().partitions;
	for (SteerRule &r : rules) {
		r.check();
		if (r.action == SteerAction::steer && r.partition >= nparts)
			throw Error("rule " + r.text() + ": partition " + std::to_string(r.partition) +
				    " out of range " + partition_range(nparts), ERANGE);
		if (r.action != SteerAction::steer)
			r.partition = 0;
	}

	// Ids are unique across the rule maps; take the lowest free ones.
	std::optional<PinLock> lock;
	if (!ifname_.empty())
		lock.emplace();
	std::vector<SteerRule> existing = list_rules();
	const size_t before = existing.size();
	std::vector<bool> used(MKDP_STEER_MAX_RULES);
	for (const SteerRule &e : existing)
		if (e.id < used.size())
			used[e.id] = true;
	uint32_t next = 0;
	int ncpus = possible_cpus();
	size_t added = 0;
	try {
		for (SteerRule &r : rules) {
			while (next < used.size() && used[next])
				next++;
			if (next >= used.size())
				throw Error("no free rule id (" + std::to_string(MKDP_STEER_MAX_RULES) + " rules)", ENOSPC);
			r.id = next++;
			mkdp_steer_rule v{uint32_t(r.action), r.partition, r.id, 0};
			zero_percpu<mkdp_steer_rule_stats>(bpf_map__fd(skel_->maps.rule_stats), r.id, ncpus);
			int err = write_rule(r, v);
			if (err) {
				int e = errno;
				if (e == EEXIST) {
					auto same = std::find_if(existing.begin(), existing.end(),
								 [&](auto &x) { return x.same_match(r); });
					std::string what = same == existing.end() ? "an earlier rule of this batch"
						: same->to_string();
					bool dup = same != existing.end() && same->action == r.action &&
						   same->partition == r.partition;
					throw Error("rule " + r.to_string().substr(r.to_string().find(' ') + 1) +
						    (dup ? " duplicates " : " conflicts with ") + what, EEXIST);
				}
				if (e == E2BIG || e == ENOMEM || e == ENOSPC)
					throw Error("rule map full: " + std::string(std::strerror(e)), e);
				throw_errno("add rule " + r.to_string(), e);
			}
			added++;
			existing.push_back(r);
		}
		// After the entries: a frame that races sees the old rule set.
		write_rule_index(existing);
	} catch (...) {
		// Undo the entries, then the index as it was: one pass, whatever
		// the batch size.
		for (size_t i = 0; i < added; i++)
			erase_rule(rules[i]);
		existing.resize(before);
		try {
			write_rule_index(existing);
		} catch (...) {
		}
		throw;
	}
}

// The entry (exact) or entries (trie and by-length hash, prefix) of a rule.
int Steering::write_rule(const SteerRule &r, const mkdp_steer_rule &v)
{
	if (r.match == SteerRule::Match::exact) {
		if (r.family == 4) {
			auto k = v4_flow(r);
			return bpf_map_update_elem(bpf_map__fd(skel_->maps.rules_exact_v4), &k, &v, BPF_NOEXIST);
		}
		auto k = v6_flow(r);
		return bpf_map_update_elem(bpf_map__fd(skel_->maps.rules_exact_v6), &k, &v, BPF_NOEXIST);
	}
	const bpf_map *trie = r.family == 4 ? skel_->maps.rules_v4_prefix : skel_->maps.rules_v6_prefix;
	const bpf_map *hash = r.family == 4 ? skel_->maps.rules_v4_by_len : skel_->maps.rules_v6_by_len;
	auto tk4 = trie_key<mkdp_steer_v4_prefix>(r);
	auto tk6 = trie_key<mkdp_steer_v6_prefix>(r);
	auto hk4 = by_len_key<mkdp_steer_v4_by_len>(r);
	auto hk6 = by_len_key<mkdp_steer_v6_by_len>(r);
	const void *tk = r.family == 4 ? static_cast<const void *>(&tk4) : &tk6;
	const void *hk = r.family == 4 ? static_cast<const void *>(&hk4) : &hk6;
	if (bpf_map_update_elem(bpf_map__fd(trie), tk, &v, BPF_NOEXIST))
		return -1;
	if (bpf_map_update_elem(bpf_map__fd(hash), hk, &v, BPF_NOEXIST)) {
		int e = errno;
		bpf_map_delete_elem(bpf_map__fd(trie), tk);
		errno = e;
		return -1;
	}
	return 0;
}

int Steering::erase_rule(const SteerRule &r)
{
	if (r.match == SteerRule::Match::exact) {
		if (r.family == 4) {
			auto k = v4_flow(r);
			return bpf_map_delete_elem(bpf_map__fd(skel_->maps.rules_exact_v4), &k);
		}
		auto k = v6_flow(r);
		return bpf_map_delete_elem(bpf_map__fd(skel_->maps.rules_exact_v6), &k);
	}
	// The hash first: the trie is what list_rules reads, the record of the rule.
	int err;
	if (r.family == 4) {
		auto hk = by_len_key<mkdp_steer_v4_by_len>(r);
		auto tk = trie_key<mkdp_steer_v4_prefix>(r);
		err = bpf_map_delete_elem(bpf_map__fd(skel_->maps.rules_v4_by_len), &hk);
		if (!err || errno == ENOENT)
			err = bpf_map_delete_elem(bpf_map__fd(skel_->maps.rules_v4_prefix), &tk);
	} else {
		auto hk = by_len_key<mkdp_steer_v6_by_len>(r);
		auto tk = trie_key<mkdp_steer_v6_prefix>(r);
		err = bpf_map_delete_elem(bpf_map__fd(skel_->maps.rules_v6_by_len), &hk);
		if (!err || errno == ENOENT)
			err = bpf_map_delete_elem(bpf_map__fd(skel_->maps.rules_v6_prefix), &tk);
	}
	return err;
}

// Recomputes steer_config.rules from the rule set, so the program skips
// empty tables and probes the by-length hash when few lengths are in use.
void Steering::write_rule_index(const std::vector<SteerRule> &rules)
{
	mkdp_steer_rule_index ix{};
	std::array<uint64_t, MKDP_STEER_NR_PREFIX_TABLES * 3> lens{};	// 129 bits per table
	auto set_len = [&](int t, unsigned len) { lens[t * 3 + len / 64] |= 1ULL << (len % 64); };
	for (const SteerRule &r : rules) {
		if (r.match == SteerRule::Match::exact) {
			(r.family == 4 ? ix.nr_exact_v4 : ix.nr_exact_v6)++;
			continue;
		}
		bool dst = r.match == SteerRule::Match::dst_prefix;
		int t = r.family == 4 ? (dst ? MKDP_STEER_V4_DST : MKDP_STEER_V4_SRC)
				      : (dst ? MKDP_STEER_V6_DST : MKDP_STEER_V6_SRC);
		set_len(t, r.prefix_len);
	}
	for (int t = 0; t < MKDP_STEER_NR_PREFIX_TABLES; t++) {
		mkdp_steer_prefix_index &p = ix.prefix[t];
		for (int len = 128; len >= 0; len--) {
			if (!(lens[t * 3 + len / 64] & (1ULL << (len % 64))))
				continue;
			if (p.nr_lens < MKDP_STEER_HASHED_LENS)
				p.lens[p.nr_lens] = uint8_t(len);
			p.nr_lens++;
		}
		if (p.nr_lens > MKDP_STEER_HASHED_LENS)	// the trie: lens unused
			std::memset(p.lens, 0, sizeof(p.lens));
	}
	int fd = bpf_map__fd(skel_->maps.steer_config);
	auto k = read_entry0<mkdp_steer_config>(fd, "steer_config");
	k.rules = ix;
	write_entry0(fd, k, "steer_config");
}

void Steering::del_rule(uint32_t id)
{
	std::vector<SteerRule> rules = list_rules();
	auto r = std::find_if(rules.begin(), rules.end(), [&](const SteerRule &x) { return x.id == id; });
	if (r == rules.end())
		throw Error("no rule #" + std::to_string(id), ENOENT);
	if (erase_rule(*r))
		throw_errno("delete rule " + r->to_string());
	// After the entries: a deleted length left in the index only misses.
	rules.erase(r);
	write_rule_index(rules);
}

} // namespace mkdp
