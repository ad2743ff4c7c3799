// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/device_safety.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>
#include <mkdp_ring.h>

#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace mkdp {

namespace {

// Partition, region and volume names end up in paths, pins and namespace
// names: keep them to what every one of those accepts.
bool valid_name(std::string_view s)
{
	if (s.empty() || s.size() > 15)
		return false;
	return std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       c == '-' || c == '_';
	});
}

class Parser {
public:
	explicit Parser(std::string source) : source_(std::move(source)) {}

	[[noreturn]] void fail(const toml::node *n, const std::string &what) const
	{
		uint32_t line = n ? n->source().begin.line : 0;
		throw Error(source_ + (line ? ":" + std::to_string(line) : "") + ": " + what);
	}

	// Every key must be one we know: a typo ("cpu" for "cpus") must not
	// silently become a default.
	void only_keys(const toml::table &t, std::initializer_list<std::string_view> keys,
		       const std::string &where) const
	{
		for (auto &&[k, v] : t)
			if (std::find(keys.begin(), keys.end(), k.str()) == keys.end())
				fail(&v, "unknown key '" + std::string(k.str()) + "' in " + where);
	}

	std::string str(const toml::table &t, std::string_view key, const std::string &dflt = {}) const
	{
		const toml::node *n = t.get(key);
		if (!n)
			return dflt;
		if (!n->is_string())
			fail(n, "'" + std::string(key) + "' must be a string");
		return std::string(*n->value<std::string>());
	}

	std::optional<int64_t> integer(const toml::table &t, std::string_view key) const
	{
		const toml::node *n = t.get(key);
		if (!n)
			return std::nullopt;
		if (!n->is_integer())
			fail(n, "'" + std::string(key) + "' must be an integer");
		return *n->value<int64_t>();
	}

	bool boolean(const toml::table &t, std::string_view key, bool dflt) const
	{
		const toml::node *n = t.get(key);
		if (!n)
			return dflt;
		if (!n->is_boolean())
			fail(n, "'" + std::string(key) + "' must be true or false");
		return *n->value<bool>();
	}

	uint64_t size(const toml::table &t, std::string_view key) const
	{
		const toml::node *n = t.get(key);
		if (!n)
			return 0;
		if (n->is_integer()) {
			int64_t v = *n->value<int64_t>();
			if (v < 0)
				fail(n, "'" + std::string(key) + "' must not be negative");
			return uint64_t(v);
		}
		if (!n->is_string())
			fail(n, "'" + std::string(key) + "' must be a size like 16777216 or \"16MiB\"");
		try {
			return parse_size(*n->value<std::string>());
		} catch (const Error &e) {
			fail(n, e.what());
		}
	}

	std::vector<std::string> strings(const toml::table &t, std::string_view key) const
	{
		std::vector<std::string> out;
		const toml::node *n = t.get(key);
		if (!n)
			return out;
		const toml::array *a = n->as_array();
		if (!a)
			fail(n, "'" + std::string(key) + "' must be a list of names");
		for (const toml::node &e : *a) {
			if (!e.is_string())
				fail(&e, "'" + std::string(key) + "' must be a list of names");
			out.push_back(*e.value<std::string>());
		}
		return out;
	}

	template <class T> std::vector<T> integers(const toml::table &t, std::string_view key, int64_t max) const
	{
		std::vector<T> out;
		const toml::node *n = t.get(key);
		if (!n)
			return out;
		const toml::array *a = n->as_array();
		if (!a)
			fail(n, "'" + std::string(key) + "' must be a list of integers");
		for (const toml::node &e : *a) {
			if (!e.is_integer() || *e.value<int64_t>() < 0 || *e.value<int64_t>() > max)
				fail(&e, "'" + std::string(key) + "' entries must be integers in [0, " +
					       std::to_string(max) + "]");
			out.push_back(T(*e.value<int64_t>()));
		}
		return out;
	}

	std::vector<int> cpus(const toml::table &t) const
	{
		const toml::node *n = t.get("cpus");
		if (!n)
			return {};
		std::vector<int> out;
		if (n->is_string()) {
			try {
				out = parse_cpu_list(*n->value<std::string>());
			} catch (const Error &e) {
				fail(n, e.what());
			}
		} else {
			out = integers<int>(t, "cpus", 4095);
		}
		std::sort(out.begin(), out.end());
		if (std::adjacent_find(out.begin(), out.end()) != out.end())
			fail(n, "a CPU is listed twice in 'cpus'");
		return out;
	}

	// [[name]] arrays of tables.
	template <class F> void each(const toml::table &root, std::string_view key, F &&f) const
	{
		const toml::node *n = root.get(key);
		if (!n)
			return;
		const toml::array *a = n->as_array();
		if (!a || !a->is_array_of_tables())
			fail(n, "'" + std::string(key) + "' must be written as [[" + std::string(key) + "]] tables");
		for (const toml::node &e : *a)
			f(*e.as_table(), e.source().begin.line);
	}

	Topology parse(std::string_view text)
	{
		toml::table root;
		try {
			root = toml::parse(text, source_);
		} catch (const toml::parse_error &e) {
			throw Error(source_ + ":" + std::to_string(e.source().begin.line) + ": " +
				    std::string(e.description()));
		}
		only_keys(root, {"machine", "partition", "region", "volume"}, "the file");

		Topology t;
		t.source = source_;
		if (const toml::node *m = root.get("machine")) {
			if (!m->is_table())
				fail(m, "'machine' must be a table");
			const toml::table &mt = *m->as_table();
			only_keys(mt, {"interface", "netns", "queues"}, "[machine]");
			t.interface = str(mt, "interface");
			t.netns = str(mt, "netns");
			if (auto q = integer(mt, "queues")) {
				if (*q < 1 || *q > 4096)
					fail(mt.get("queues"), "'queues' must be in [1, 4096]");
				t.queues = uint32_t(*q);
			}
		}
		each(root, "partition", [&](const toml::table &p, uint32_t line) {
			only_keys(p, {"name", "cpus", "queues", "netns", "wakeup", "busy_poll_usecs", "busy_poll_budget"},
				  "[[partition]]");
			PartitionSpec s;
			s.line = line;
			s.name = str(p, "name");
			s.cpus = cpus(p);
			s.queues = integers<uint32_t>(p, "queues", 4095);
			std::sort(s.queues.begin(), s.queues.end());
			s.queues.erase(std::unique(s.queues.begin(), s.queues.end()), s.queues.end());
			s.netns = str(p, "netns");
			s.wakeup = str(p, "wakeup", "adaptive");
			if (s.wakeup != "polled" && s.wakeup != "interrupt" && s.wakeup != "adaptive")
				fail(p.get("wakeup"), "'wakeup' must be polled, interrupt or adaptive");
			// Busy polling of its AF_XDP sockets (wakeup = "polled" only).
			for (auto [key, field, max] : {std::tuple{"busy_poll_usecs", &s.busy_poll_usecs, 1000000},
						       std::tuple{"busy_poll_budget", &s.busy_poll_budget, 65535}})
				if (auto v = integer(p, key)) {
					if (*v < 1 || *v > max)
						fail(p.get(key), std::string("'") + key + "' must be in [1, " +
									 std::to_string(max) + "]");
					if (s.wakeup != "polled")
						fail(p.get(key), std::string("'") + key + "' needs wakeup = \"polled\"");
					*field = uint32_t(*v);
				}
			t.partitions.push_back(std::move(s));
		});
		each(root, "region", [&](const toml::table &r, uint32_t line) {
			only_keys(r, {"name", "size", "frame_size", "frames_per_partition", "hugepages",
				      "shared_with"},
				  "[[region]]");
			RegionSpec s;
			s.line = line;
			s.name = str(r, "name");
			s.size = size(r, "size");
			if (auto f = integer(r, "frame_size")) {
				if (*f <= 0 || *f > (1 << 20))
					fail(r.get("frame_size"), "'frame_size' out of range");
				s.frame_size = uint32_t(*f);
			}
			if (auto f = integer(r, "frames_per_partition")) {
				if (*f <= 0 || *f > (1 << 24))
					fail(r.get("frames_per_partition"), "'frames_per_partition' out of range");
				s.frames_per_partition = uint32_t(*f);
			}
			s.hugepages = boolean(r, "hugepages", false);
			s.shared_with = strings(r, "shared_with");
			t.regions.push_back(std::move(s));
		});
		each(root, "volume", [&](const toml::table &v, uint32_t line) {
			only_keys(v, {"name", "backend", "path", "size", "partitions"}, "[[volume]]");
			VolumeSpec s;
			s.line = line;
			s.name = str(v, "name");
			s.backend = str(v, "backend", "memory");
			if (s.backend != "memory" && s.backend != "file" && s.backend != "block")
				fail(v.get("backend"), "'backend' must be memory, file or block");
			s.path = str(v, "path");
			s.size = size(v, "size");
			s.partitions = strings(v, "partitions");
			t.volumes.push_back(std::move(s));
		});
		return t;
	}

private:
	std::string source_;
};

bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

std::string human(uint64_t bytes)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	return std::to_string(bytes) + " " + unit[u];
}

// Memory figures for people: "23.4 GiB".
std::string approx(uint64_t bytes)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = double(bytes);
	int u = 0;
	while (u < 4 && v >= 1024) {
		v /= 1024;
		u++;
	}
	char buf[32];
	std::snprintf(buf, sizeof(buf), v == double(uint64_t(v)) ? "%.0f %s" : "%.1f %s", v, unit[u]);
	return buf;
}

} // namespace

uint64_t parse_size(std::string_view s)
{
	uint64_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p == s.data())
		throw Error("bad size '" + std::string(s) + "': want a number with an optional k/M/G suffix");
	std::string_view unit(p, size_t(s.data() + s.size() - p));
	static const std::map<std::string_view, uint64_t> mult = {
		{"", 1},	  {"B", 1},	    {"k", 1ull << 10}, {"K", 1ull << 10},
		{"KiB", 1ull << 10}, {"M", 1ull << 20}, {"MiB", 1ull << 20}, {"G", 1ull << 30},
		{"GiB", 1ull << 30}};
	auto it = mult.find(unit);
	if (it == mult.end())
		throw Error("bad size '" + std::string(s) + "': unknown unit '" + std::string(unit) + "'");
	if (v > UINT64_MAX / it->second)
		throw Error("bad size '" + std::string(s) + "': too large");
	return v * it->second;
}

std::vector<int> parse_cpu_list(std::string_view s)
{
	std::vector<int> out;
	auto bad = [&] { return Error("bad CPU list '" + std::string(s) + "': want e.g. \"0-3,6\""); };
	size_t i = 0;
	while (i < s.size()) {
		size_t end = s.find(',', i);
		if (end == std::string_view::npos)
			end = s.size();
		std::string_view part = s.substr(i, end - i);
		int a, b;
		auto dash = part.find('-');
		auto num = [&](std::string_view x, int &v) {
			auto [p, ec] = std::from_chars(x.data(), x.data() + x.size(), v);
			if (ec != std::errc() || p != x.data() + x.size() || x.empty() || v < 0 || v > 4095)
				throw bad();
		};
		if (dash == std::string_view::npos) {
			num(part, a);
			b = a;
		} else {
			num(part.substr(0, dash), a);
			num(part.substr(dash + 1), b);
			if (b < a)
				throw bad();
		}
		for (int c = a; c <= b; c++)
			out.push_back(c);
		i = end + 1;
	}
	if (out.empty())
		throw bad();
	return out;
}

Topology Topology::parse(std::string_view text, const std::string &source)
{
	return Parser(source).parse(text);
}

Topology Topology::load(const std::string &path)
{
	std::ifstream f(path);
	if (!f)
		throw_errno("topology " + path);
	std::stringstream ss;
	ss << f.rdbuf();
	return parse(ss.str(), path);
}

std::string Topology::testbed_toml(const std::string &netns)
{
	// Mirrors docs/topology.md's example and `mkdp testbed up`'s defaults.
	// On a one-CPU machine both partitions share CPU 0 rather than fail.
	int second = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
	return "[machine]\ninterface = \"mkdp0\"\nnetns = \"" + netns +
	       "\"\n\n"
	       "[[partition]]\nname = \"p0\"\ncpus = [0]\nqueues = [0, 1]\n\n"
	       "[[partition]]\nname = \"p1\"\ncpus = [" + std::to_string(second) +
	       "]\nqueues = [0, 1]\n\n"
	       "[[region]]\nname = \"umem0\"\nsize = \"16MiB\"\nframe_size = 2048\n"
	       "shared_with = [\"p0\", \"p1\"]\n";
}

Topology Topology::builtin()
{
	return parse(testbed_toml("mkdp-tb"), "<built-in>");
}

const PartitionSpec *Topology::partition(std::string_view name) const
{
	for (const auto &p : partitions)
		if (p.name == name)
			return &p;
	return nullptr;
}

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

MachineFacts probe_machine(const Topology &t)
{
	MachineFacts m;
	m.cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
	// Network safety: mkdp attaches only to a veth end of a testbed it
	// made, never to a device of the machine (eth0 would hand the host's
	// traffic, SSH included, to the partitions). Without [machine] netns
	// the device is in our own namespace, which passes only when that is
	// itself a testbed namespace (`ip netns exec mkdp-tb mkdp up`).
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
	auto add = [&](uint32_t line, std::string what) { out.push_back({std::move(what), line}); };

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
	if (m.mem_total && mem_need > *m.mem_total && !mem_named)
		add(0, "the regions need " + approx(mem_need) + " together, more than the machine's memory (" +
			       approx(*m.mem_total) + ", MemTotal)");
	if (m.huge_pages_free && huge_need > *m.huge_pages_free && !huge_named)
		add(0, "the huge-page regions need " + std::to_string(huge_need) + " huge pages together, but " +
			       std::to_string(*m.huge_pages_free) + " are free");

	bool receives = std::any_of(t.partitions.begin(), t.partitions.end(),
				    [](const PartitionSpec &p) { return !p.queues.empty(); });
	if (receives && !umem_region(t))
		add(0, "no region is shared by every partition that receives from " + t.interface +
			       " (AF_XDP needs one UMEM per queue)");

	for (const VolumeSpec &v : t.volumes) {
		unique("volume", v.name, v.line);
		if ((v.backend == "file" || v.backend == "block") && v.path.empty())
			add(v.line, "volume '" + v.name + "': a " + v.backend + " volume needs a path");
		if (v.backend != "block" && v.size == 0)
			add(v.line, "volume '" + v.name + "' needs a size");
		if (v.size % MKDP_SECTOR_SIZE)
			add(v.line, "volume '" + v.name + "': size must be a multiple of 512");
		for (const std::string &p : v.partitions)
			if (!t.partition(p))
				add(v.line, "volume '" + v.name + "' names unknown partition '" + p + "'");
	}
	std::stable_sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.line < b.line; });
	return out;
}

} // namespace mkdp
