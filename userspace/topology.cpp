// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/device_safety.h>
#include <mkdp/doorbell.h>
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

#include "topology_detail.h"


namespace mkdp {

using namespace topology_detail;

namespace {


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

	// A volume's rings use the doorbell library's strategies, except
	// monitor (as for a partition): it watches one cache line, and the
	// serving partition waits on its sockets and every ring at once.
	void volume_wakeup(const toml::table &v, const std::string &wakeup) const
	{
		std::optional<DoorbellStrategy> s;
		try {
			s = parse_doorbell_strategy(wakeup);
		} catch (const Error &) {
		}
		if (!s || *s == DoorbellStrategy::monitor)
			fail(v.get("wakeup"), "'wakeup' must be polled, interrupt or adaptive");
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
			only_keys(v, {"name", "backend", "path", "size", "owner", "partitions", "program", "wakeup",
				      "export", "export_writable", "export_direct"},
				  "[[volume]]");
			VolumeSpec s;
			s.line = line;
			s.name = str(v, "name");
			s.backend = str(v, "backend", "memory");
			if (s.backend != "memory" && s.backend != "file" && s.backend != "block")
				fail(v.get("backend"), "'backend' must be memory, file or block");
			s.path = str(v, "path");
			s.size = size(v, "size");
			s.owner = str(v, "owner");
			s.partitions = strings(v, "partitions");
			// The owner serves it too: consumers read `partitions` as
			// every partition that serves the volume.
			if (!s.owner.empty() &&
			    std::find(s.partitions.begin(), s.partitions.end(), s.owner) == s.partitions.end())
				s.partitions.insert(s.partitions.begin(), s.owner);
			s.program = str(v, "program");
			s.wakeup = str(v, "wakeup", "adaptive");
			volume_wakeup(v, s.wakeup);
			s.export_path = str(v, "export");
			s.export_writable = boolean(v, "export_writable", false);
			s.export_direct = boolean(v, "export_direct", false);
			t.volumes.push_back(std::move(s));
		});
		return t;
	}

private:
	std::string source_;
};


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
	Topology t = parse(ss.str(), path);
	// A program path is the file's, wherever `mkdp topology up` runs from.
	for (VolumeSpec &v : t.volumes)
		if (!v.program.empty() && std::filesystem::path(v.program).is_relative())
			v.program = (std::filesystem::path(path).parent_path() / v.program).string();
	return t;
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
	       "shared_with = [\"p0\", \"p1\"]\n\n"
	       "[[volume]]\nname = \"v0\"\nbackend = \"memory\"\nsize = \"64MiB\"\nowner = \"p0\"\n"
	       "partitions = [\"p0\", \"p1\"]\n";
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

} // namespace mkdp
