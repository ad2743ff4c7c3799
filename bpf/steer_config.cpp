// SPDX-License-Identifier: BSD-2-Clause
// The steering configuration: policy, default action, partition count,
// hash, the queue map and the indirection table, and the checks of each.
#include "steer_internal.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include <bpf/bpf.h>

#include <mkdp/error.h>

namespace mkdp {

using namespace steer_detail;

namespace steer_detail {

// RX queues of the interface as its driver reports them (ethtool channels),
// asked through a socket so it holds in the caller's network namespace;
// 0 when the driver does not say.
uint32_t rx_queues_of(const std::string &ifname)
{
	Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (sock.get() < 0)
		return 0;
	ethtool_channels ch{};
	ch.cmd = ETHTOOL_GCHANNELS;
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
	ifr.ifr_data = reinterpret_cast<char *>(&ch);
	if (::ioctl(sock.get(), SIOCETHTOOL, &ifr))
		return 0;
	return ch.rx_count + ch.combined_count;
}

// RX queue q must be one mkdp steers and, when the driver says, one ifname has.
void check_queue_on(const std::string &ifname, uint32_t queue)
{
	if (queue >= MKDP_STEER_MAX_QUEUES)
		throw Error("queue " + std::to_string(queue) + " out of range (mkdp steers queues 0.." +
			    std::to_string(MKDP_STEER_MAX_QUEUES - 1) + ")", ERANGE);
	if (!ifname.empty()) {
		uint32_t n = rx_queues_of(ifname);
		if (n && queue >= n)
			throw Error("queue " + std::to_string(queue) + " out of range ('" + ifname + "' has " +
				    std::to_string(n) + " RX queue" + (n == 1 ? "" : "s") + ")", ERANGE);
	}
}

std::string part_range(uint32_t n)
{
	return "(" + std::to_string(n) + " partition" + (n == 1 ? "" : "s") + ": 0.." + std::to_string(n - 1) + ")";
}

// The queue map entries and indirection table of an attach, against the
// interface and the partition count they will apply to.
void check_tables(const std::string &ifname, const AttachOptions &o, uint32_t partitions)
{
	for (auto [q, p] : o.queue_map) {
		check_queue_on(ifname, q);
		if (p != MKDP_STEER_PART_NONE && p >= partitions)
			throw Error("queue map " + std::to_string(q) + "=" + std::to_string(p) + ": partition out of range " +
				    part_range(partitions), ERANGE);
	}
	if (o.indirection.empty())
		return;
	if (MKDP_STEER_INDIR_SIZE % o.indirection.size())
		throw Error("indirection table of " + std::to_string(o.indirection.size()) +
			    " entries: the size must divide " + std::to_string(MKDP_STEER_INDIR_SIZE));
	for (uint32_t p : o.indirection)
		if (p != MKDP_STEER_PART_NONE && p >= partitions)
			throw Error("indirection table: partition " + std::to_string(p) + " out of range " +
				    part_range(partitions), ERANGE);
}

SteerConfig merge(const SteerConfig &old, const SteerConfig &given, uint32_t fields)
{
	SteerConfig c = old;
	if (fields & SteerConfig::f_policy)
		c.policy = given.policy;
	if (fields & SteerConfig::f_default)
		c.default_action = given.default_action;
	if (fields & SteerConfig::f_partitions)
		c.partitions = given.partitions;
	if (fields & SteerConfig::f_symmetric)
		c.symmetric = given.symmetric;
	if (fields & SteerConfig::f_seed)
		c.hash_seed = given.hash_seed;
	return c;
}


void validate(const SteerConfig &c)
{
	if (c.policy & ~uint32_t(MKDP_STEER_POLICY_ALL))
		throw Error("unknown policy bits " + std::to_string(c.policy));
	if (c.default_action != SteerAction::pass && c.default_action != SteerAction::drop)
		throw Error("the default action is pass or drop");
	if (c.partitions < 1 || c.partitions > MKDP_STEER_MAX_PARTITIONS)
		throw Error("partitions " + std::to_string(c.partitions) + " out of range 1.." +
			    std::to_string(MKDP_STEER_MAX_PARTITIONS));
}

mkdp_steer_config to_abi(const SteerConfig &c, uint32_t xsk_map_id)
{
	mkdp_steer_config k{};
	k.policy = c.policy;
	k.default_action = uint32_t(c.default_action);
	k.nr_partitions = c.partitions;
	k.symmetric = c.symmetric;
	k.hash_seed = c.hash_seed;
	k.xsk_map_id = xsk_map_id;
	return k;
}

} // namespace steer_detail

void Steering::write_defaults(uint32_t partitions)
{
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++) {
		uint32_t p = q % partitions;
		if (bpf_map_update_elem(maps_[queue_to_part], &q, &p, BPF_ANY))
			throw_errno("write queue_to_part");
	}
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint32_t p = i % partitions;
		if (bpf_map_update_elem(maps_[flow_indir], &i, &p, BPF_ANY))
			throw_errno("write flow_indir");
	}
}

// ---- configuration ----------------------------------------------------------

mkdp_steer_info Steering::info() const
{
	mkdp_steer_info inf{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(maps_[steer_info], &zero, &inf))
		throw_errno("read steer_info");
	return inf;
}

SteerConfig Steering::config() const
{
	mkdp_steer_config k{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(maps_[steer_config], &zero, &k))
		throw_errno("read steer_config");
	SteerConfig c;
	c.policy = k.policy;
	c.default_action = SteerAction(k.default_action);
	c.partitions = k.nr_partitions;
	c.symmetric = k.symmetric;
	c.hash_seed = k.hash_seed;
	return c;
}

void Steering::configure(const SteerConfig &c)
{
	validate(c);
	SteerConfig old = config();
	if (c.partitions < old.partitions)
		for (const SteerRule &r : list_rules())
			if (r.action == SteerAction::steer && r.partition >= c.partitions)
				throw Error("rule " + r.to_string() + " steers beyond " + std::to_string(c.partitions) +
					    " partitions; delete it first");
	auto k = to_abi(c, map_id_of(maps_[xsks_by_queue_part]));
	uint32_t zero = 0;
	mkdp_steer_config cur{};
	if (bpf_map_lookup_elem(maps_[steer_config], &zero, &cur))
		throw_errno("read steer_config");
	k.rules = cur.rules;	// the rule maps' index is theirs to write
	if (bpf_map_update_elem(maps_[steer_config], &zero, &k, BPF_ANY))
		throw_errno("write steer_config");
	if (c.partitions != old.partitions)
		write_defaults(c.partitions);
}

void Steering::check_partition(uint32_t part) const
{
	uint32_t n = config().partitions;
	if (part >= n)
		throw Error("partition " + std::to_string(part) + " out of range " + part_range(n), ERANGE);
}

void Steering::check_queue(uint32_t queue) const { check_queue_on(ifname_, queue); }

void Steering::set_queue_partition(uint32_t queue, uint32_t part)
{
	check_queue(queue);
	if (part != MKDP_STEER_PART_NONE)
		check_partition(part);
	if (bpf_map_update_elem(maps_[queue_to_part], &queue, &part, BPF_ANY))
		throw_errno("write queue_to_part");
}

void Steering::set_indirection(std::span<const uint32_t> table)
{
	if (table.empty() || MKDP_STEER_INDIR_SIZE % table.size())
		throw Error("indirection table of " + std::to_string(table.size()) + " entries: the size must divide " +
			    std::to_string(MKDP_STEER_INDIR_SIZE));
	for (uint32_t p : table)
		if (p != MKDP_STEER_PART_NONE)
			check_partition(p);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint32_t p = table[i % table.size()];
		if (bpf_map_update_elem(maps_[flow_indir], &i, &p, BPF_ANY))
			throw_errno("write flow_indir");
	}
}

std::vector<uint32_t> Steering::queue_map() const
{
	std::vector<uint32_t> t(MKDP_STEER_MAX_QUEUES);
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++)
		if (bpf_map_lookup_elem(maps_[queue_to_part], &q, &t[q]))
			throw_errno("read queue_to_part");
	return t;
}

std::vector<uint32_t> indirection_from_weights(std::span<const uint32_t> weights)
{
	uint64_t sum = 0;
	for (uint32_t w : weights)
		sum += w;
	if (weights.empty() || weights.size() > MKDP_STEER_MAX_PARTITIONS || !sum)
		throw Error("indirection weights: 1.." + std::to_string(MKDP_STEER_MAX_PARTITIONS) +
			    " weights, one per partition, not all 0");
	// Entry i goes to the partition whose cumulative weight range holds
	// i * sum / size, as ethtool_rxfh_indir_default-style spreading does.
	std::vector<uint32_t> t(MKDP_STEER_INDIR_SIZE);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint64_t x = uint64_t(i) * sum / MKDP_STEER_INDIR_SIZE, acc = 0;
		uint32_t p = 0;
		while (acc + weights[p] <= x)
			acc += weights[p++];
		t[i] = p;
	}
	return t;
}

std::vector<uint32_t> Steering::indirection() const
{
	std::vector<uint32_t> t(MKDP_STEER_INDIR_SIZE);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++)
		if (bpf_map_lookup_elem(maps_[flow_indir], &i, &t[i]))
			throw_errno("read flow_indir");
	return t;
}


} // namespace mkdp
