// SPDX-License-Identifier: BSD-2-Clause
// The XSKMAP slots: one AF_XDP socket per (queue, partition), and the
// loader's record of them in xsk_slots, since user space cannot read an
// XSKMAP back.
#include <unistd.h>

#include "bpf_util.h"
#include "steer.skel.h"
#include "steer_loader.h"

namespace mkdp {

int Steering::xskmap_fd() const noexcept { return bpf_map__fd(skel_->maps.xsks_by_queue_part); }

void Steering::set_socket(uint32_t queue, uint32_t part, int xsk_fd)
{
	check_queue(queue);
	check_partition(part);
	uint32_t slot = MKDP_STEER_SLOT(queue, part);
	if (bpf_map_update_elem(bpf_map__fd(skel_->maps.xsks_by_queue_part), &slot, &xsk_fd, BPF_ANY))
		throw_errno("put the socket in slot (queue " + std::to_string(queue) + ", partition " +
			    std::to_string(part) + ")");
	mkdp_steer_slot rec{1, uint32_t(::getpid())};
	if (bpf_map_update_elem(bpf_map__fd(skel_->maps.xsk_slots), &slot, &rec, BPF_ANY))
		throw_errno("write xsk_slots");
}

void Steering::clear_socket(uint32_t queue, uint32_t part)
{
	check_queue(queue);
	if (part >= MKDP_STEER_MAX_PARTITIONS)
		check_partition(part);
	uint32_t slot = MKDP_STEER_SLOT(queue, part);
	if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.xsks_by_queue_part), &slot) && errno != ENOENT)
		throw_errno("clear slot (queue " + std::to_string(queue) + ", partition " + std::to_string(part) + ")");
	mkdp_steer_slot rec{};
	if (bpf_map_update_elem(bpf_map__fd(skel_->maps.xsk_slots), &slot, &rec, BPF_ANY))
		throw_errno("write xsk_slots");
}

std::vector<std::pair<uint32_t, std::vector<uint32_t>>> Steering::sockets() const
{
	std::vector<std::pair<uint32_t, std::vector<uint32_t>>> out;
	int fd = bpf_map__fd(skel_->maps.xsk_slots);
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++) {
		std::vector<uint32_t> parts;
		for (uint32_t p = 0; p < MKDP_STEER_MAX_PARTITIONS; p++) {
			uint32_t slot = MKDP_STEER_SLOT(q, p);
			mkdp_steer_slot rec{};
			if (bpf_map_lookup_elem(fd, &slot, &rec))
				throw_errno("read xsk_slots");
			if (rec.in_use)
				parts.push_back(p);
		}
		if (!parts.empty())
			out.emplace_back(q, std::move(parts));
	}
	return out;
}

} // namespace mkdp
