// SPDX-License-Identifier: BSD-2-Clause
// The figures behind docs/sdp.md's "How a batch runs, and why this way":
// wall time per request as a caller sees it (requests in, one BPF_PROG_RUN
// per batch, verdicts out), same requests, same request function, the ways
// interleaved within each repetition so that drift on a shared VM hits all
// of them alike.
#include "sdp_alternatives.h"

#include "bench.h"

#include <alternatives.h>
#include <executor.h>

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

namespace mkdp::bench {

namespace {

constexpr uint32_t kBatches[] = {1, 16, 64};
// A read-only range the requests straddle (sectors 0..65535 in 8-sector
// steps): about a quarter of the writes are refused, so both verdicts and
// err come back.
constexpr uint64_t kFirst = 16384, kEnd = 32768;

struct Way {
	std::string name;
	uint32_t max_batch;
	std::function<void(std::span<sdp_md>, uint8_t *)> run;
	std::map<uint32_t, std::vector<double>> ns;	// per batch size
};

// Runs all of reqs through `w` in batches of `batch`: ns per request.
double time_way(Way &w, const std::vector<sdp_md> &reqs, uint32_t batch, const std::vector<sdp_md> &want,
		const std::vector<uint8_t> &want_v)
{
	std::vector<sdp_md> work = reqs;
	std::vector<uint8_t> v(reqs.size());
	uint32_t n = uint32_t(reqs.size());
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i += batch)
		w.run({work.data() + i, std::min(batch, n - i)}, v.data() + i);
	uint64_t t1 = now_ns();
	// A way that is fast because it judges differently measures nothing.
	for (uint32_t i = 0; i < n; i++)
		if (v[i] != want_v[i] || work[i].err != want[i].err)
			throw Error("SDP alternative " + w.name + " judged request " + std::to_string(i) +
				    " differently from the executor");
	return double(t1 - t0) / n;
}

} // namespace

nlohmann::json measure_sdp_alternatives(const std::vector<sdp_md> &reqs, int reps, std::string &text)
{
	// Its own copy of the real example, so the executor's figures above
	// and this range do not touch each other.
	sdp::Program exec = sdp::Program::load(std::string(MKDP_SDP_EXAMPLES) + "/readonly_range.bpf.o");
	uint32_t key = 0;
	uint64_t range[2] = {kFirst, kEnd};
	exec.set_map("ro_range", {reinterpret_cast<uint8_t *>(&key), sizeof(key)},
		     {reinterpret_cast<uint8_t *>(range), sizeof(range)});
	sdp::alt::UserRingbuf ring, ring_wakeup(true);
	ring.set_range(kFirst, kEnd);
	ring_wakeup.set_range(kFirst, kEnd);

	std::vector<Way> ways;
	ways.push_back({"batch_map", SDP_BATCH_MAX, [&](std::span<sdp_md> r, uint8_t *v) { exec.run(r, v); }, {}});
	ways.push_back({"user_ringbuf", SDP_BATCH_MAX, [&](std::span<sdp_md> r, uint8_t *v) { ring.run(r, v); }, {}});
	ways.push_back({"user_ringbuf_wakeup", SDP_BATCH_MAX,
			[&](std::span<sdp_md> r, uint8_t *v) { ring_wakeup.run(r, v); }, {}});
	nlohmann::json sizes;
	auto size_of = [&](const std::string &name, int fd) {
		sdp::alt::ProgSize z = sdp::alt::prog_size(fd);
		sizes[name] = {{"xlated_insns", z.xlated_insns},
			       {"jited_bytes", z.jited_bytes},
			       {"verified_insns", z.verified_insns}};
	};
	size_of("batch_map", exec.prog_fd());
	size_of("user_ringbuf", ring.prog_fd());

	nlohmann::json ctx;
	std::vector<std::unique_ptr<sdp::alt::CtxBatch>> loaded;
	for (const sdp::alt::CtxProgram &p : sdp::alt::ctx_programs()) {
		try {
			auto c = std::make_unique<sdp::alt::CtxBatch>(p);
			c->set_range(kFirst, kEnd);
			sdp::alt::CtxBatch *cp = c.get();
			size_of(p.name, cp->prog_fd());
			loaded.push_back(std::move(c));
			ways.push_back({p.name, p.max_batch, [cp](std::span<sdp_md> r, uint8_t *v) { cp->run(r, v); }, {}});
			ctx[p.name] = {{"loads", true}};
		} catch (const sdp::alt::CtxRefused &r) {
			ctx[p.name] = {{"loads", false}, {"verifier", r.line}, {"errno", r.err}};
		}
	}
	// The natural form, a loop over the context, answers for the whole.
	ctx["loads"] = ctx["ctx_loop"]["loads"];
	if (!ctx["loads"].get<bool>())
		ctx["verifier"] = ctx["ctx_loop"]["verifier"];

	// What every way must answer: the executor's verdicts.
	std::vector<sdp_md> want = reqs;
	std::vector<uint8_t> want_v(reqs.size());
	exec.run(want, want_v.data());

	for (uint32_t batch : kBatches)
		for (int rep = 0; rep < reps; rep++)
			for (size_t k = 0; k < ways.size(); k++) {
				// Each repetition starts with another way.
				Way &w = ways[(k + size_t(rep)) % ways.size()];
				if (batch <= w.max_batch)
					w.ns[batch].push_back(time_way(w, reqs, batch, want, want_v));
			}

	nlohmann::json results, ratios;
	char line[200];
	std::snprintf(line, sizeof(line),
		      "  alternatives (readonly_range, the same %zu requests), ns/request, medians (x batch map):\n"
		      "  batch",
		      reqs.size());
	text += line;
	for (const Way &w : ways)
		text += "  " + w.name;
	text += "\n";
	for (uint32_t batch : kBatches) {
		std::string b = "batch_" + std::to_string(batch);
		double base = 0;
		std::snprintf(line, sizeof(line), "  %5u", batch);
		text += line;
		for (Way &w : ways) {
			if (!w.ns.count(batch)) {
				text += "  -";
				continue;
			}
			Summary s = summarize(w.ns[batch]);
			if (w.name == "batch_map")
				base = s.median;
			else
				ratios[w.name + "_vs_batch_map"][b] = s.median / base;
			(w.name.rfind("ctx_", 0) == 0 ? ctx[w.name] : results[w.name])[b] = to_json(s);
			if (w.name == "batch_map")
				std::snprintf(line, sizeof(line), "  %.1f", s.median);
			else
				std::snprintf(line, sizeof(line), "  %.1f (%.2fx)", s.median, s.median / base);
			text += line;
		}
		text += "\n";
	}
	for (auto &[name, z] : sizes.items()) {
		std::snprintf(line, sizeof(line), "  %s: %u instructions (%u verified), %u bytes JIT-compiled\n",
			      name.c_str(), z["xlated_insns"].get<unsigned>(), z["verified_insns"].get<unsigned>(),
			      z["jited_bytes"].get<unsigned>());
		text += line;
	}
	results["program_size"] = sizes;
	for (const sdp::alt::CtxProgram &p : sdp::alt::ctx_programs())
		if (!ctx[p.name]["loads"].get<bool>())
			text += std::string("  ") + p.name + ": refused by the verifier: " +
				ctx[p.name]["verifier"].get<std::string>() + "\n";
	results["ctx_batch"] = ctx;
	return {{"results", results}, {"ratios", ratios}};
}

} // namespace mkdp::bench
