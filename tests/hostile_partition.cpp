// SPDX-License-Identifier: BSD-2-Clause
// mkdp-hostile-partition: joins as a partition exactly as mkdp-partition
// does (the supervisor starts it in its place when `up` runs with
// MKDP_PARTITION_EXEC=NAME=PATH), then misbehaves on purpose, in rounds,
// until SIGTERM. tests/hostile_partition_test.cpp checks that the other
// partitions and the supervisor do not notice, and that every misbehaviour
// is counted in `status`.
//
// What it does with everything it was given:
// - its return ring: returns of frames it never held (in the area, outside
//   it, unaligned), the one frame it did take returned twice, the whole
//   ring flooded, the producer index scribbled;
// - its forward rings to its peers: garbage descriptors, scribbled indices;
// - the storage rings of every volume it serves: garbage completions
//   (tags never sent, impossible statuses), scribbled completion producer
//   and request consumer indices;
// - its RX rings: it stops consuming after one frame, so they fill up.
// Indices alternate between wild values and plausible ones over garbage
// slots, so that consumers meet both impossible indices and bad slots.
#include <mkdp/partition.h>
#include <mkdp/region.h>
#include <mkdp/xsk_ring_map.h>

#include <mkdp_ring.h>

#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace {

using namespace mkdp;

std::mt19937_64 rnd{std::random_device{}()};

mkdp_ring *control(const Region &r, const mkdp_region_entry &e)
{
	return reinterpret_cast<mkdp_ring *>(r.base() + e.offset);
}

uint8_t *slot(const Region &r, const mkdp_region_entry &e, uint32_t i)
{
	return r.base() + e.offset + sizeof(mkdp_ring) + uint64_t(i & (e.entries - 1)) * e.desc_size;
}

void store(__u32 *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

// As the producer of ring e: n slots of `fill` past the producer index,
// room or not, then the index moved over them.
template <class F> void produce(const Region &r, const mkdp_region_entry &e, uint32_t n, F fill)
{
	mkdp_ring *c = control(r, e);
	uint32_t prod = __atomic_load_n(&c->producer, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < n; i++)
		fill(slot(r, e, prod + i));
	store(&c->producer, prod + n);
}

void random_bytes(uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = uint8_t(rnd());
}

// A plausible-looking index that the consumer must still refuse: far ahead
// of it, or behind it.
uint32_t wild_index(uint32_t cons, uint32_t entries)
{
	switch (rnd() % 3) {
	case 0:
		return cons + entries + 1 + uint32_t(rnd() % 1000);
	case 1:
		return cons - 1 - uint32_t(rnd() % 1000);
	default:
		return uint32_t(rnd());
	}
}

struct Hostile {
	PartitionAttach &a;
	std::vector<Region> volumes;	// each volume's rings region
	std::vector<XskRingMap> rx;	// one per queue
	bool returned_twice = false;
	uint64_t rounds = 0;

	explicit Hostile(PartitionAttach &at) : a(at)
	{
		for (size_t v = 0; v < a.plan.volumes.size(); v++)
			volumes.push_back(Region::open(a.volume_fds[4 * v]));
		for (int fd : a.xsk_fds)
			rx.emplace_back(fd, XskRingKind::rx, a.plan.rx_entries);
	}

	const Region &umem() const { return *a.umem; }

	// Takes one frame off an RX ring, as the runtime would, and returns
	// it twice: the first return is good, the second is not.
	void return_one_twice()
	{
		XskRingMap *r = nullptr;
		for (XskRingMap &m : rx)
			if (m.load_producer() != m.load_consumer())
				r = &m;
		if (!r)
			return;	// nothing received yet
		uint32_t cons = r->load_consumer();
		uint64_t addr = r->rx_desc(cons)->addr;
		uint64_t f = addr / a.plan.frame_size;
		if (f < a.plan.frames)
			__atomic_fetch_or(&a.ctl->held[f / 64], 1ULL << (f % 64), __ATOMIC_RELEASE);
		r->store_consumer(cons + 1);
		const mkdp_region_entry &ret = umem().entry("ret" + std::to_string(a.plan.index));
		produce(umem(), ret, 2, [&](uint8_t *s) { std::memcpy(s, &addr, sizeof(addr)); });
		returned_twice = true;
		std::fprintf(stderr, "hostile %s: returned frame %#llx twice\n", a.plan.name.c_str(),
			     (unsigned long long)addr);
	}

	void return_ring(bool wild)
	{
		const mkdp_region_entry &ret = umem().entry("ret" + std::to_string(a.plan.index));
		mkdp_ring *c = control(umem(), ret);
		if (wild) {
			store(&c->producer, wild_index(__atomic_load_n(&c->consumer, __ATOMIC_ACQUIRE), ret.entries));
			return;
		}
		// Back to just ahead of the consumer, then frames never held:
		// inside the area, past its end, and not at a frame start.
		store(&c->producer, __atomic_load_n(&c->consumer, __ATOMIC_ACQUIRE));
		uint64_t area = umem().entry("frames").size;
		produce(umem(), ret, 64, [&](uint8_t *s) {
			uint64_t addr = rnd() % 3 == 0   ? area + rnd() % area
					: rnd() % 2 == 0 ? rnd() % area
							 : (rnd() % area) | 1;
			std::memcpy(s, &addr, sizeof(addr));
		});
		// And a flood: the whole ring at once, every slot a lie.
		if (rounds % 8 == 1)
			produce(umem(), ret, ret.entries, [&](uint8_t *s) {
				uint64_t addr = rnd() % area;
				std::memcpy(s, &addr, sizeof(addr));
			});
	}

	void forward_rings(bool wild)
	{
		for (const mkdp_region_entry &e : umem().entries()) {
			unsigned from, to;
			if (e.kind != MKDP_ENTRY_RING || std::sscanf(e.name, "fwd%u-%u", &from, &to) != 2 ||
			    from != a.plan.index)
				continue;
			mkdp_ring *c = control(umem(), e);
			uint32_t cons = __atomic_load_n(&c->consumer, __ATOMIC_ACQUIRE);
			if (wild) {
				store(&c->producer, wild_index(cons, e.entries));
				continue;
			}
			store(&c->producer, cons);
			produce(umem(), e, 32, [&](uint8_t *s) { random_bytes(s, e.desc_size); });
		}
	}

	void storage_rings(bool wild)
	{
		for (const Region &r : volumes) {
			const mkdp_region_entry &cq = r.entry("cq"), &sq = r.entry("sq");
			mkdp_ring *cc = control(r, cq), *sc = control(r, sq);
			uint32_t cons = __atomic_load_n(&cc->consumer, __ATOMIC_ACQUIRE);
			if (wild) {
				store(&cc->producer, wild_index(cons, cq.entries));
				store(&sc->consumer, uint32_t(rnd()));
				continue;
			}
			store(&cc->producer, cons);
			store(&sc->consumer, __atomic_load_n(&sc->producer, __ATOMIC_ACQUIRE));
			produce(r, cq, 16, [&](uint8_t *s) { random_bytes(s, cq.desc_size); });
		}
	}

	void round()
	{
		bool wild = rounds % 2 == 0;
		if (!returned_twice)
			return_one_twice();
		return_ring(wild);
		forward_rings(wild);
		storage_rings(wild);
		rounds++;
		__atomic_store_n(&a.ctl->c.heartbeat, rounds, __ATOMIC_RELAXED);
	}
};

int hostile(PartitionAttach &a)
{
	if (!a.umem) {
		std::fprintf(stderr, "hostile %s: no UMEM to misbehave in\n", a.plan.name.c_str());
		return 1;
	}
	Hostile h(a);
	std::fprintf(stderr, "hostile %s: misbehaving (%zu volumes, %zu queues)\n", a.plan.name.c_str(),
		     h.volumes.size(), a.xsk_fds.size());
	while (!partition_stopping()) {
		h.round();
		poll(nullptr, 0, 2);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 3 || std::strcmp(argv[1], "--sock") != 0) {
		std::fprintf(stderr, "mkdp-hostile-partition: usage: mkdp-hostile-partition --sock FD (tests only)\n");
		return 2;
	}
	try {
		return partition_run(std::atoi(argv[2]), nullptr, hostile);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mkdp-hostile-partition: %s\n", e.what());
		return 1;
	}
}
