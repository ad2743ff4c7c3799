// SPDX-License-Identifier: BSD-2-Clause
// The configuration, the queue map and the indirection table in the
// program's maps.
#include "steer_tables.h"

#include "bpf_util.h"
#include "netdev.h"
#include "steer.skel.h"
#include "steer_loader.h"

namespace mkdp {

namespace {

void check_indirection(std::span<const uint32_t> table, uint32_t partitions)
{
	if (table.empty() || MKDP_STEER_INDIR_SIZE % table.size())
		throw Error("indirection table of " + std::to_string(table.size()) + " entries: the size must divide " +
			    std::to_string(MKDP_STEER_INDIR_SIZE));
	for (uint32_t p : table)
		if (p != MKDP_STEER_PART_NONE && p >= partitions)
			throw Error("indirection table: partition " + std::to_string(p) + " out of range " +
				    partition_range(partitions), ERANGE);
}

void write_u32(int fd, uint32_t key, uint32_t val, const char *map)
{
	if (bpf_map_update_elem(fd, &key, &val, BPF_ANY))
		throw_errno(std::string("write ") + map);
}

std::vector<uint32_t> read_u32s(int fd, uint32_t n, const char *map)
{
	std::vector<uint32_t> t(n);
	for (uint32_t i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &i, &t[i]))
			throw_errno(std::string("read ") + map);
	return t;
}

} // namespace

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

void check_tables(const std::string &ifname, const AttachOptions &o, uint32_t partitions)
{
	for (auto [q, p] : o.queue_map) {
		check_queue_on(ifname, q);
		if (p != MKDP_STEER_PART_NONE && p >= partitions)
			throw Error("queue map " + std::to_string(q) + "=" + std::to_string(p) + ": partition out of range " +
				    partition_range(partitions), ERANGE);
	}
	if (!o.indirection.empty())
		check_indirection(o.indirection, partitions);
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

void Steering::write_defaults(uint32_t partitions)
{
	int qfd = bpf_map__fd(skel_->maps.queue_to_part), ifd = bpf_map__fd(skel_->maps.flow_indir);
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++)
		write_u32(qfd, q, q % partitions, "queue_to_part");
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++)
		write_u32(ifd, i, i % partitions, "flow_indir");
}

void Steering::apply_tables(const AttachOptions &o)
{
	for (auto [q, p] : o.queue_map)
		set_queue_partition(q, p);
	if (!o.indirection.empty())
		set_indirection(o.indirection);
}

mkdp_steer_info Steering::info() const
{
	return read_entry0<mkdp_steer_info>(bpf_map__fd(skel_->maps.steer_info), "steer_info");
}

SteerConfig Steering::config() const
{
	auto k = read_entry0<mkdp_steer_config>(bpf_map__fd(skel_->maps.steer_config), "steer_config");
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
	c.check();
	SteerConfig old = config();
	if (c.partitions < old.partitions)
		for (const SteerRule &r : list_rules())
			if (r.action == SteerAction::steer && r.partition >= c.partitions)
				throw Error("rule " + r.to_string() + " steers beyond " + std::to_string(c.partitions) +
					    " partitions; delete it first");
	int fd = bpf_map__fd(skel_->maps.steer_config);
	auto k = to_abi(c, map_id_of(xskmap_fd()));
	k.rules = read_entry0<mkdp_steer_config>(fd, "steer_config").rules;	// the rule maps' to write
	write_entry0(fd, k, "steer_config");
	if (c.partitions != old.partitions)
		write_defaults(c.partitions);
}

void Steering::check_partition(uint32_t part) const
{
	uint32_t n = config().partitions;
	if (part >= n)
		throw Error("partition " + std::to_string(part) + " out of range " + partition_range(n), ERANGE);
}

void Steering::check_queue(uint32_t queue) const { check_queue_on(ifname_, queue); }

void Steering::set_queue_partition(uint32_t queue, uint32_t part)
{
	check_queue(queue);
	if (part != MKDP_STEER_PART_NONE)
		check_partition(part);
	write_u32(bpf_map__fd(skel_->maps.queue_to_part), queue, part, "queue_to_part");
}

void Steering::set_indirection(std::span<const uint32_t> table)
{
	check_indirection(table, config().partitions);
	int fd = bpf_map__fd(skel_->maps.flow_indir);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++)
		write_u32(fd, i, table[i % table.size()], "flow_indir");
}

std::vector<uint32_t> Steering::queue_map() const
{
	return read_u32s(bpf_map__fd(skel_->maps.queue_to_part), MKDP_STEER_MAX_QUEUES, "queue_to_part");
}

std::vector<uint32_t> Steering::indirection() const
{
	return read_u32s(bpf_map__fd(skel_->maps.flow_indir), MKDP_STEER_INDIR_SIZE, "flow_indir");
}

} // namespace mkdp
