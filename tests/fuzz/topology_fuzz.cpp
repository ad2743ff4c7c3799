// SPDX-License-Identifier: BSD-2-Clause
// The topology file (userspace/topology.cpp) and its conflict checks
// (topology_check.cpp) against a fixed machine, so that a run depends on
// the input only (volume paths and programs are looked up, never created).
//
// Invariants: text is accepted or refused with a one-line, non-empty
// mkdp::Error "fuzz.toml[:LINE]: ..." and nothing else escapes; what parse()
// returns has the shape its header promises (sorted unique CPUs and queues,
// known wakeups and backends, the owner among a volume's partitions); every
// conflict is one line; and a topology check() finds no conflict in obeys,
// re-checked here independently, the rules check() claims to enforce:
// names valid and unique, no CPU or name claimed twice, every reference
// resolves, CPUs and queues exist, regions hold the ring ABI's layout and
// every partition's frames, a UMEM for receiving partitions, and regions
// plus memory volumes fit in memory.
//
// The project has no writer of topology files (`--json` output has no
// reader), so there is no round trip to check.
#include "fuzz.h"

#include <mkdp/error.h>
#include <mkdp/topology.h>

#include <algorithm>
#include <set>

using namespace mkdp;

namespace {

const std::string kSource = "fuzz.toml";

bool is_one_line(std::string_view s)
{
	return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; });
}

bool name_ok(const std::string &s)
{
	if (s.empty() || s.size() > 15)
		return false;
	for (char c : s)
		if (!isalnum(uint8_t(c)) && c != '-' && c != '_')
			return false;
	return true;
}

template <class V, class T> bool has(const V &v, const T &x) { return std::find(v.begin(), v.end(), x) != v.end(); }

MachineFacts machine()
{
	MachineFacts m;
	m.cpus = 8;
	m.device_queues = 4;
	m.mem_total = 1ull << 30;
	return m;
}

// What parse() promises, conflicts or not.
void check_shape(const Topology &t)
{
	FUZZ_CHECK(t.source == kSource);
	if (t.queues)
		FUZZ_CHECK(*t.queues >= 1 && *t.queues <= 4096);
	for (const PartitionSpec &p : t.partitions) {
		FUZZ_CHECK(std::is_sorted(p.cpus.begin(), p.cpus.end()));
		FUZZ_CHECK(std::adjacent_find(p.cpus.begin(), p.cpus.end()) == p.cpus.end());
		for (int c : p.cpus)
			FUZZ_CHECK(c >= 0 && c <= 4095);
		FUZZ_CHECK(std::is_sorted(p.queues.begin(), p.queues.end()));
		FUZZ_CHECK(std::adjacent_find(p.queues.begin(), p.queues.end()) == p.queues.end());
		for (uint32_t q : p.queues)
			FUZZ_CHECK(q <= 4095);
		FUZZ_CHECK(p.wakeup == "polled" || p.wakeup == "interrupt" || p.wakeup == "adaptive");
		FUZZ_CHECK(p.busy_poll_usecs >= 1 && p.busy_poll_usecs <= 1000000);
		FUZZ_CHECK(p.busy_poll_budget >= 1 && p.busy_poll_budget <= 65535);
		FUZZ_CHECK(p.line >= 1);
	}
	for (const RegionSpec &r : t.regions) {
		FUZZ_CHECK(r.frame_size >= 1 && r.frame_size <= (1u << 20));
		FUZZ_CHECK(r.frames_per_partition <= (1u << 24));
		FUZZ_CHECK(r.line >= 1);
	}
	for (const VolumeSpec &v : t.volumes) {
		FUZZ_CHECK(v.backend == "memory" || v.backend == "file" || v.backend == "block");
		FUZZ_CHECK(v.wakeup == "polled" || v.wakeup == "interrupt" || v.wakeup == "adaptive");
		if (!v.owner.empty())
			FUZZ_CHECK(has(v.partitions, v.owner));
		FUZZ_CHECK(v.line >= 1);
	}
}

// A topology without conflicts, against the rules check() enforces.
void check_clean(const Topology &t, const MachineFacts &m)
{
	FUZZ_CHECK(!t.partitions.empty());
	std::set<std::string> names;
	std::set<int> cpus;
	bool receives = false;
	for (const PartitionSpec &p : t.partitions) {
		FUZZ_CHECK(name_ok(p.name) && names.insert(p.name).second);
		FUZZ_CHECK(!p.cpus.empty());
		for (int c : p.cpus)
			FUZZ_CHECK(c < m.cpus && cpus.insert(c).second);
		uint32_t queues = t.queues.value_or(m.device_queues.value_or(0));
		for (uint32_t q : p.queues)
			FUZZ_CHECK(!queues || q < queues);
		receives |= !p.queues.empty();
	}
	if (receives) {
		FUZZ_CHECK(!t.interface.empty());
		const RegionSpec *u = umem_region(t);
		FUZZ_CHECK(u);
		for (const PartitionSpec &p : t.partitions)
			FUZZ_CHECK(p.queues.empty() || has(u->shared_with, p.name));
	}
	unsigned __int128 need = 0;	// no wrap-around, whatever the sizes
	for (const RegionSpec &r : t.regions) {
		FUZZ_CHECK(name_ok(r.name) && names.insert(r.name).second);
		FUZZ_CHECK(r.frame_size == 2048 || r.frame_size == 4096);
		FUZZ_CHECK(!r.shared_with.empty());
		std::set<std::string> sharers;
		for (const std::string &p : r.shared_with)
			FUZZ_CHECK(t.partition(p) && sharers.insert(p).second);
		uint32_t per = frames_per_partition(r);
		FUZZ_CHECK(per >= kMinFramesPerPartition);
		FUZZ_CHECK(uint64_t(per) * r.shared_with.size() <= r.size / r.frame_size);
		FUZZ_CHECK(!r.hugepages || m.hugetlbfs);
		uint64_t bytes = 0;
		try {
			bytes = region_layout(t, r).size();
		} catch (const Error &e) {
			std::fprintf(stderr, "clean topology, region_layout refused: %s\n", e.what());
			FUZZ_CHECK(!"the layout of a clean region");
		}
		FUZZ_CHECK(bytes >= r.size / r.frame_size * r.frame_size);
		need += bytes;
	}
	std::set<std::string> paths;
	for (const VolumeSpec &v : t.volumes) {
		FUZZ_CHECK(name_ok(v.name) && names.insert(v.name).second);
		FUZZ_CHECK(!v.owner.empty() && t.partition(v.owner));
		for (const std::string &p : v.partitions)
			FUZZ_CHECK(t.partition(p));
		if (v.backend != "block")
			FUZZ_CHECK(v.size >= 4096 && v.size % 4096 == 0);
		if (v.backend == "memory")
			need += v.size;
		else
			FUZZ_CHECK(!v.path.empty());
	}
	if (m.mem_total)
		FUZZ_CHECK(need <= *m.mem_total);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text = fuzz::Input(data, size).text();
	Topology t;
	try {
		t = Topology::parse(text, kSource);
	} catch (const Error &e) {
		std::string_view w = e.what();
		if (!is_one_line(w))
			std::fprintf(stderr, "refusal not on one line: [%s]\n", e.what());
		FUZZ_CHECK(is_one_line(w));
		FUZZ_CHECK(w.rfind(kSource + ":", 0) == 0);
		return 0;
	}
	check_shape(t);
	MachineFacts m = machine();
	std::vector<Conflict> conflicts = check(t, m);
	for (const Conflict &c : conflicts) {
		if (!is_one_line(c.what))
			std::fprintf(stderr, "conflict not on one line: [%s]\n", c.what.c_str());
		FUZZ_CHECK(is_one_line(c.what));
	}
	if (conflicts.empty())
		check_clean(t, m);
	return 0;
}
