// SPDX-License-Identifier: BSD-2-Clause
// A storage ring pair in a region of its own: what the supervisor shares
// with a partition for each volume it serves (the partition's worker
// consumes "sq" and produces "cq") and with each client that opens a volume
// (the client produces "sq", the front end consumes it). Tag t's data
// buffer is the slot t of the area "data": kStorageSlot bytes at
// t * kStorageSlot, so a tag never needs a buffer allocator and a request
// can be at most one slot long.
#pragma once

#include "sdp.h"

#include <mkdp/region.h>

#include <cstdint>

namespace mkdp::sdp {

inline constexpr uint32_t kStorageEntries = 64;		// requests in flight per ring pair
inline constexpr uint32_t kStorageSlot = 128 * 1024;	// bytes per tag: the largest request

inline RegionLayout storage_rings_layout()
{
	RegionLayout l;
	l.area("data", uint64_t(kStorageEntries) * kStorageSlot);
	l.ring("sq", MKDP_DESC_SREQ, kStorageEntries, "data");
	l.ring("cq", MKDP_DESC_SCPL, kStorageEntries, "data");
	return l;
}

// Adaptive doorbells on storage rings spin this long before sleeping (the
// network rings spin 20 us): about one I/O of a disk or virtio device, so
// a volume with requests in flight keeps every hop (client, plane, worker)
// awake and pays no wake-up per request, and an idle one sleeps after
// 0.2 ms. docs/sdp.md has the figures that chose it.
inline constexpr uint64_t kStoragePollBudgetNs = 20000;
inline constexpr uint64_t kStorageInFlightBudgetNs = 200'000;

// The buffer of tag t in a ring pair's area.
inline uint64_t storage_slot_offset(uint32_t tag)
{
	return uint64_t(tag) * kStorageSlot;
}

// sdp_md.part of a request from a client outside the partitions (the host:
// `mkdp sdp io`, the C++ API run from a shell).
inline constexpr uint32_t kHostPart = SDP_PART_HOST;

} // namespace mkdp::sdp
