// SPDX-License-Identifier: BSD-2-Clause
// The storage plane's programs and status (storage_plane.h). Loading
// (verification, JIT) and map writes happen on the control thread; the
// plane's thread only sees a volume's program change between two passes.
#include "storage_plane_parts.h"

#include <bpf_util.h>
#include <request_text.h>

#include <mkdp/error.h>

#include <bpf/libbpf.h>

#include <cstring>

namespace mkdp {

namespace {

nlohmann::json program_json(const std::string &name, const sdp::Program &p, const std::string &path)
{
	nlohmann::json maps = nlohmann::json::array();
	bpf_map *m;
	bpf_object__for_each_map(m, p.object())
		if (std::strcmp(bpf_map__name(m), "sdp_batch"))
			maps.push_back(bpf_map__name(m));
	return {{"program", name}, {"function", p.name()}, {"object", path}, {"prog_id", prog_id_of(p.prog_fd())},
		{"maps", maps}};
}

// Only the buckets that counted something, each with its own count (not
// cumulative) and inclusive upper bound: a reader sums what it needs.
nlohmann::json latency_json(const sdp::LatencyHistogram &h)
{
	nlohmann::json b = nlohmann::json::array();
	for (int i = 0; i < sdp::LatencyHistogram::kBuckets; i++)
		if (h.buckets[i])
			b.push_back({{"le_ns", sdp::LatencyHistogram::upper_ns(i)}, {"count", h.buckets[i]}});
	return {{"count", h.count}, {"sum_ns", h.sum_ns}, {"buckets", b}};
}

} // namespace

nlohmann::json StoragePlane::load(const std::string &path, const std::string &name)
{
	sdp::Program p = sdp::Program::load(path);
	std::string n = name.empty() ? p.name() : name;
	if (programs_.count(n))
		throw Error("a program named '" + n + "' is loaded already (unload it, or --name another)");
	auto owned = std::make_unique<sdp::Program>(std::move(p));
	nlohmann::json j = program_json(n, *owned, path);
	programs_[n] = std::move(owned);
	return j;
}

void StoragePlane::unload(const std::string &name)
{
	if (!programs_.count(name))
		throw Error("no program '" + name + "' is loaded");
	for (auto &v : vols_)
		if (v->program == name)
			throw Error("program '" + name + "' is attached to volume '" + v->spec.name + "' (detach it first)");
	programs_.erase(name);
}

nlohmann::json StoragePlane::attach(const std::string &volume_name, const std::string &prog,
				    const std::vector<std::string> &maps)
{
	Vol &v = volume(volume_name);
	std::string name = prog;
	if (!programs_.count(prog)) {
		if (prog.find('/') == std::string::npos && prog.find(".o") == std::string::npos)
			throw Error("no program '" + prog + "' is loaded (give a loaded name or a path to a .bpf.o)");
		name = load(prog, "").at("program");
	}
	sdp::Program &p = *programs_.at(name);
	std::string text;
	for (const std::string &m : maps)
		text += m + "\n";
	sdp::RequestFile f = sdp::parse_requests(text, "--map");
	if (!f.requests.empty())
		throw Error("--map takes 'map NAME KEY... = VALUE...' lines only");
	for (const sdp::MapSet &m : f.maps)
		p.set_map(m.map, m.key, m.value);
	call([&] {
		v.fe->set_program(&p);
		v.program = name;
	});
	return {{"volume", v.spec.name}, {"program", name}, {"prog_id", prog_id_of(p.prog_fd())}};
}

void StoragePlane::detach(const std::string &volume_name)
{
	Vol &v = volume(volume_name);
	if (v.program.empty())
		throw Error("volume '" + volume_name + "' has no program attached");
	call([&] {
		v.fe->set_program(nullptr);
		v.program.clear();
	});
}

nlohmann::json StoragePlane::status()
{
	nlohmann::json vols = nlohmann::json::array();
	auto part_name = [&](uint32_t p) {
		return p < topo_.partitions.size() ? topo_.partitions[p].name : "partition " + std::to_string(p);
	};
	call([&] {
		for (auto &vp : vols_) {
			const Vol &v = *vp;
			const sdp::FrontendStats &st = v.fe->stats();
			nlohmann::json verdicts = nlohmann::json::object(), per_part = nlohmann::json::object(),
				       errors = nlohmann::json::object(), servers = nlohmann::json::array();
			for (int a = 0; a <= SDP_ACTION_MAX; a++)
				verdicts[sdp::to_string(sdp_action(a))] = st.verdicts[a];
			for (const auto &[p, n] : st.per_partition)
				per_part[part_name(p)] = n;
			for (const auto &[e, n] : st.per_errno)
				errors[strerrorname_np(-e) ? strerrorname_np(-e) : std::to_string(e)] = n;
			for (uint32_t p : v.servers)
				servers.push_back({{"partition", part_name(p)}, {"lane", v.lanes.count(p) ? "up" : "down"}});
			uint32_t sessions = 0;
			for (auto &s : sessions_)
				sessions += s && s->vol == v.id;
			// Keys follow docs/json.md (schema: docs/schema/sdp-stats.json).
			vols.push_back({{"volume", v.spec.name},
					{"volume_index", v.id},
					{"backend", v.spec.backend},
					{"path", v.spec.path},
					{"size_bytes", v.size},
					{"direct", v.direct},
					{"owner", part_name(v.owner)},
					{"partitions", servers},
					{"wakeup", to_string(v.wakeup)},
					{"program", v.program.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.program)},
					{"sessions", sessions},
					{"requests", v.requests},
					{"bad_requests", v.bad},
					{"bad_completions", st.bad_completions},
					{"cq_rejected", st.cq_rejected},
					{"cq_corrupt_index", st.cq_corrupt},
					{"outside_volume", st.invalid},
					{"outstanding", v.fe->outstanding()},
					{"verdicts", verdicts},
					{"requests_by_partition", per_part},
					{"errors_by_errno", errors},
					{"request_latency_ns", latency_json(v.latency)}});
		}
	});
	nlohmann::json progs = nlohmann::json::array();
	for (const auto &[n, p] : programs_)
		progs.push_back({{"program", n}, {"function", p->name()}, {"prog_id", prog_id_of(p->prog_fd())}});
	return {{"volumes", vols}, {"programs", progs}};
}

} // namespace mkdp
