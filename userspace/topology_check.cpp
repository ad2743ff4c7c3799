// SPDX-License-Identifier: BSD-2-Clause
// A topology against the ring ABI and this machine: the UMEM region, the
// layout `up` creates, what the machine has, and every conflict.
#include <mkdp/device_safety.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>
#include <mkdp_ring.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "topology_detail.h"

namespace mkdp {

using namespace topology_detail;


const RegionSpec *umem_region(const Topology &t)
{
	for (const RegionSpec &r : t.regions) {
		bool all = true;
		for (const PartitionSpec &p : t.partitions)
			if (!p.queues.empty() &&
			    std::find(r.shared_with.begin(), r.shared_with.end(), p.name) == r.shared_with.end())
				all = false;
		if (all)
			return &r;
	}
	return nullptr;
}

uint32_t frames_per_partition(const RegionSpec &r)
{
	if (!r.frame_size || r.shared_with.empty())
		return 0;
	uint64_t frames = r.size / r.frame_size;
	if (frames > MKDP_RING_MAX)	// a share would not even fit in 32 bits
		return 0;
	uint64_t per = r.frames_per_partition ? r.frames_per_partition : frames / r.shared_with.size();
	if (per < kMinFramesPerPartition || per * r.shared_with.size() > frames)
		return 0;
	return uint32_t(per);
}

RegionLayout region_layout(const Topology &t, const RegionSpec &r)
{
	const std::string who = "region '" + r.name + "': ";
	RegionLayout l;
	if (&r != umem_region(t)) {
		l.area("data", r.size, r.frame_size);
	} else {
		// A return ring has a slot for every frame of the region (a
		// partition may hand all of them back at once), and ring sizes
		// are powers of two up to MKDP_RING_MAX.
		uint64_t frames = r.frame_size ? r.size / r.frame_size : 0;
		if (frames > MKDP_RING_MAX)
			throw Error(who + human(r.size) + " holds " + std::to_string(frames) + " frames of " +
				    std::to_string(r.frame_size) + " B, more than a ring can return (" +
				    std::to_string(MKDP_RING_MAX) + ", the ring ABI's MKDP_RING_MAX): at most " +
				    human(uint64_t(MKDP_RING_MAX) * r.frame_size) + " with this frame size");
		uint32_t ret_entries = MKDP_RING_MIN;
		while (ret_entries < frames)
			ret_entries *= 2;
		std::vector<size_t> sharers;
		for (size_t i = 0; i < t.partitions.size(); i++)
			if (std::find(r.shared_with.begin(), r.shared_with.end(), t.partitions[i].name) !=
			    r.shared_with.end())
				sharers.push_back(i);
		l.area("frames", frames * r.frame_size, r.frame_size);
		for (size_t i : sharers)
			l.ring("ret" + std::to_string(i), MKDP_DESC_ADDR, ret_entries, "frames");
		for (size_t i : sharers)
			for (size_t j : sharers)
				if (i != j)
					l.ring("fwd" + std::to_string(i) + "-" + std::to_string(j), MKDP_DESC_FRAME,
					       kForwardRingEntries, "frames");
	}
	// The ABI's own checks (names, ring sizes, frame sizes), now rather
	// than when up creates the region.
	try {
		(void)l.table();
	} catch (const Error &e) {
		std::string why = e.what();
		if (why.rfind("region: ", 0) == 0)
			why.erase(0, 8);
		throw Error(who + why);
	}
	return l;
}

namespace {

// What the supervisor will open for a file or block volume: a file is
// created in an existing directory (or is a regular file already); a block
// device must be there.
template <class Add> void add_backend_conflicts(const VolumeSpec &v, const std::string &who, Add &&add)
{
	namespace fs = std::filesystem;
	std::error_code ec;
	fs::file_status st = fs::status(v.path, ec);
	if (v.backend == "block") {
		if (!fs::exists(st))
			add(v.line, who + ": block device " + v.path + " does not exist");
		else if (!fs::is_block_file(st))
			add(v.line, who + ": " + v.path + " is not a block device");
		return;
	}
	if (fs::exists(st)) {
		if (!fs::is_regular_file(st))
			add(v.line, who + ": " + v.path + " is not a regular file");
		return;
	}
	fs::path dir = fs::path(v.path).parent_path();
	if (!dir.empty() && !fs::is_directory(dir, ec))
		add(v.line, who + ": directory " + dir.string() + " of " + v.path + " does not exist");
}

} // namespace

MachineFacts probe_machine(const Topology &t)
{
	MachineFacts m;
	m.cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
	// Network safety: mkdp attaches only to a veth end of a testbed it
	// made, never to a device of the machine (eth0 would hand the host's
	// traffic, SSH included, to the partitions). Without [machine] netns
	// the device is in our own namespace, which passes only when that is
	// itself a testbed namespace (`ip netns exec mkdp-tb mkdp topology up`).
	if (!t.interface.empty()) {
		TestbedDeviceCheck c =
			check_testbed_device(t.netns, t.interface,
					     "set [machine] netns to the testbed's namespace (mkdp testbed up)");
		m.device_refused = c.refused;
		if (c.testbed)
			m.device_queues = (t.interface == kTestbedRxDev ? c.testbed->rx : c.testbed->tx).rx_queues;
	}
	// "MemTotal:       24555316 kB", "HugePages_Free:        0".
	std::map<std::string, uint64_t> mem;
	std::ifstream mi("/proc/meminfo");
	std::string key;
	uint64_t value;
	while (mi >> key >> value) {
		mem[key] = value;
		mi.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
	}
	if (mem.count("MemTotal:"))
		m.mem_total = mem["MemTotal:"] * 1024;
	if (mem.count("HugePages_Free:") && mem.count("Hugepagesize:")) {
		uint64_t free = mem["HugePages_Free:"], rsvd = mem["HugePages_Rsvd:"];
		m.huge_pages_free = free > rsvd ? free - rsvd : 0;
		m.huge_page_size = mem["Hugepagesize:"] * 1024;
		m.hugetlbfs = *m.huge_pages_free > 0 && std::filesystem::exists("/dev/hugepages");
	}
	return m;
}

std::vector<Conflict> check(const Topology &t, const MachineFacts &m)
{
	std::vector<Conflict> out;
	// Names and paths come from the file: one_line keeps each conflict on one.
	auto add = [&](uint32_t line, const std::string &what) { out.push_back({one_line(what), line}); };

	if (t.partitions.empty())
		add(0, "no partitions: declare at least one [[partition]]");

	std::set<std::string> names;
	auto unique = [&](const std::string &kind, const std::string &name, uint32_t line) {
		if (!valid_name(name))
			add(line, kind + " name '" + name + "' must be 1-15 characters of [A-Za-z0-9_-]");
		else if (!names.insert(name).second)
			add(line, "duplicate name '" + name + "'");
	};

	if (!m.device_refused.empty())
		add(0, "[machine] interface: " + m.device_refused);
	uint32_t queues = t.queues.value_or(m.device_queues.value_or(0));
	if (t.queues && m.device_queues && *t.queues != *m.device_queues)
		add(0, "[machine] says " + std::to_string(*t.queues) + " queues but " + t.interface +
			       " has " + std::to_string(*m.device_queues));

	std::map<int, std::string> cpu_owner;
	for (const PartitionSpec &p : t.partitions) {
		unique("partition", p.name, p.line);
		if (p.cpus.empty())
			add(p.line, "partition '" + p.name + "' has no CPUs");
		for (int c : p.cpus) {
			if (c >= m.cpus)
				add(p.line, "partition '" + p.name + "': CPU " + std::to_string(c) +
						    " does not exist (the machine has " + std::to_string(m.cpus) + ")");
			auto [it, fresh] = cpu_owner.emplace(c, p.name);
			if (!fresh)
				add(p.line, "partitions '" + it->second + "' and '" + p.name + "' overlap on CPU " +
						    std::to_string(c));
		}
		for (uint32_t q : p.queues)
			if (queues && q >= queues)
				add(p.line, "partition '" + p.name + "': queue " + std::to_string(q) +
						    " is beyond the device (" + std::to_string(queues) + " queues)");
		if (!p.queues.empty() && t.interface.empty())
			add(p.line, "partition '" + p.name + "' receives from queues but [machine] names no interface");
	}

	// What the regions take from the machine, all of them together.
	uint64_t mem_need = 0, huge_need = 0;
	bool mem_named = false, huge_named = false;
	for (const RegionSpec &r : t.regions) {
		unique("region", r.name, r.line);
		bool fits = true;	// worth laying out: the frame checks passed
		if (!is_pow2(r.frame_size) || r.frame_size < 2048 || r.frame_size > 4096) {
			add(r.line, "region '" + r.name + "': frame_size " + std::to_string(r.frame_size) +
					    " must be 2048 or 4096 (AF_XDP aligned chunks)");
			fits = false;
		}
		if (r.shared_with.empty())
			add(r.line, "region '" + r.name + "' is shared with no partition");
		std::set<std::string> seen;
		for (const std::string &p : r.shared_with) {
			if (!t.partition(p))
				add(r.line, "region '" + r.name + "' is shared with unknown partition '" + p + "'");
			if (!seen.insert(p).second)
				add(r.line, "region '" + r.name + "' lists partition '" + p + "' twice");
		}
		// Too many frames is region_layout()'s to say, below.
		bool too_many = r.frame_size && r.size / r.frame_size > MKDP_RING_MAX;
		if (r.frame_size && !r.shared_with.empty() && !too_many && !frames_per_partition(r)) {
			fits = false;
			uint64_t frames = r.size / r.frame_size;
			uint64_t per = std::max<uint64_t>(r.frames_per_partition, kMinFramesPerPartition);
			if (r.frames_per_partition && r.frames_per_partition < kMinFramesPerPartition)
				add(r.line, "region '" + r.name + "': frames_per_partition " +
						    std::to_string(r.frames_per_partition) + " is below the minimum of " +
						    std::to_string(kMinFramesPerPartition));
			else
				add(r.line, "region '" + r.name + "': " + human(r.size) + " holds " +
						    std::to_string(frames) + " frames of " + std::to_string(r.frame_size) +
						    " B, too small for " + std::to_string(r.shared_with.size()) +
						    " partitions x " + std::to_string(per) + " frames");
		}
		if (r.hugepages && !m.hugetlbfs)
			add(r.line, "region '" + r.name + "' asks for huge pages but no hugetlbfs with free pages "
					    "is mounted at /dev/hugepages");

		// What up would refuse when it creates the region: the ring
		// ABI's limits, then the memory to hold it.
		uint64_t bytes = r.size;
		if (fits) {
			try {
				bytes = region_layout(t, r).size();
			} catch (const Error &e) {
				add(r.line, e.what());
			}
		}
		mem_need += bytes;
		if (m.mem_total && bytes > *m.mem_total) {
			add(r.line, "region '" + r.name + "' needs " + approx(bytes) +
					    ", more than the machine's memory (" + approx(*m.mem_total) + ", MemTotal)");
			mem_named = true;
		}
		if (r.hugepages && m.hugetlbfs && m.huge_pages_free && m.huge_page_size) {
			uint64_t pages = (bytes + m.huge_page_size - 1) / m.huge_page_size;
			huge_need += pages;
			if (pages > *m.huge_pages_free) {
				add(r.line, "region '" + r.name + "' needs " + std::to_string(pages) + " huge pages of " +
						    human(m.huge_page_size) + ", but " +
						    std::to_string(*m.huge_pages_free) + " are free");
				huge_named = true;
			}
		}
	}
	bool receives = std::any_of(t.partitions.begin(), t.partitions.end(),
				    [](const PartitionSpec &p) { return !p.queues.empty(); });
	if (receives && !umem_region(t))
		add(0, "no region is shared by every partition that receives from " + t.interface +
			       " (AF_XDP needs one UMEM per queue)");

	std::map<std::string, std::string> path_user;	// backend path -> the first volume using it
	bool mem_volumes = false;
	for (const VolumeSpec &v : t.volumes) {
		const std::string who = "volume '" + v.name + "'";
		unique("volume", v.name, v.line);
		if (v.owner.empty())
			add(v.line, who + " has no owner: name the partition that serves it (owner = \"p0\")");
		else if (!t.partition(v.owner))
			add(v.line, who + ": owner '" + v.owner + "' is not a partition");
		for (const std::string &p : v.partitions)
			if (p != v.owner && !t.partition(p))	// an unknown owner is said above
				add(v.line, who + " names unknown partition '" + p + "'");
		if (v.backend != "block" && v.size == 0)
			add(v.line, who + " needs a size");
		// The worker reads and writes O_DIRECT files through page-sized
		// buffers: a volume is whole pages.
		if (v.size && (v.size < 4096 || v.size % 4096))
			add(v.line, who + ": size " + std::to_string(v.size) +
					    " must be a multiple of 4096 (O_DIRECT and page-size buffers)");
		if (!v.program.empty() && !std::filesystem::exists(v.program))
			add(v.line, who + ": program " + v.program + " does not exist");
		if (v.backend == "memory") {
			mem_volumes = true;
			mem_need += v.size;
			if (m.mem_total && v.size > *m.mem_total) {
				add(v.line, who + " needs " + approx(v.size) + ", more than the machine's memory (" +
						    approx(*m.mem_total) + ", MemTotal)");
				mem_named = true;
			}
			continue;
		}
		if (v.path.empty()) {
			add(v.line, who + ": a " + v.backend + " volume needs a path");
			continue;
		}
		add_backend_conflicts(v, who, add);
		// Two volumes on one file would overwrite each other's data.
		std::error_code ec;
		std::filesystem::path same = std::filesystem::weakly_canonical(v.path, ec);
		auto [it, fresh] = path_user.emplace(ec ? v.path : same.string(), v.name);
		if (!fresh)
			add(v.line, who + " uses the same path as volume '" + it->second + "'");
	}

	// Regions are populated when up creates them, and a memory volume
	// holds its whole size once written: all of them must fit together.
	if (m.mem_total && mem_need > *m.mem_total && !mem_named)
		add(0, std::string(mem_volumes ? "the regions and memory volumes" : "the regions") + " need " +
			       approx(mem_need) + " together, more than the machine's memory (" +
			       approx(*m.mem_total) + ", MemTotal)");
	if (m.huge_pages_free && huge_need > *m.huge_pages_free && !huge_named)
		add(0, "the huge-page regions need " + std::to_string(huge_need) + " huge pages together, but " +
			       std::to_string(*m.huge_pages_free) + " are free");
	std::stable_sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.line < b.line; });
	return out;
}

} // namespace mkdp
