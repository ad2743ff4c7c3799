// SPDX-License-Identifier: BSD-2-Clause
// `mkdp sdp test-run`: an SDP program on requests from a file, each verdict
// printed (BPF_PROG_RUN for storage, for unit-testing SDP programs). The
// rest of `mkdp sdp` arrives with volumes and workers.
#include "commands.h"

#include <executor.h>
#include <test_run.h>

#include <mkdp/error.h>

#include <cstring>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct TestRun {
	std::string prog, requests;
	bool json = false;
};

std::string errno_name(int e)
{
	const char *n = strerrordesc_np(e);
	const char *abbr = strerrorname_np(e);
	return std::string(abbr ? abbr : std::to_string(e).c_str()) + (n ? std::string(" (") + n + ")" : "");
}

void print_test_run(const TestRun &o)
{
	sdp::TestRunResult res = sdp::test_run(o.prog, o.requests);
	const auto &reqs = res.requests;
	const auto &verdicts = res.verdicts;
	std::map<std::string, uint64_t> counts;
	nlohmann::json arr = nlohmann::json::array();
	if (!o.json)
		std::printf("%s (%s): %zu requests\n", res.program.c_str(), o.prog.c_str(), reqs.size());
	for (size_t i = 0; i < reqs.size(); i++) {
		auto v = sdp_action(verdicts[i]);
		counts[sdp::to_string(v)]++;
		const sdp_md &md = reqs[i].md;
		nlohmann::json j{{"line", reqs[i].line},
				 {"request", sdp::request_text(md)},
				 {"verdict", sdp::to_string(v)}};
		std::string extra;
		if (v == SDP_DROP) {
			j["errno"] = md.err;
			j["error"] = strerrorname_np(md.err) ? strerrorname_np(md.err) : "";
			extra = " " + errno_name(md.err);
		} else if (v == SDP_REDIRECT) {
			j["target_partition"] = md.target;
			extra = " to partition " + std::to_string(md.target);
		}
		arr.push_back(j);
		if (!o.json)
			std::printf("  %4u  %-52s -> %s%s\n", reqs[i].line, sdp::request_text(md).c_str(),
				    sdp::to_string(v), extra.c_str());
	}
	if (o.json) {
		std::cout << nlohmann::json{{"program", res.program}, {"object", o.prog}, {"requests", arr},
					    {"verdicts", counts}}
				     .dump(2)
			  << std::endl;
		return;
	}
	std::string sum;
	for (const auto &[k, n] : counts)
		sum += (sum.empty() ? "" : ", ") + k + " " + std::to_string(n);
	std::printf("verdicts: %s\n", sum.empty() ? "none" : sum.c_str());
}

} // namespace

void register_sdp(CLI::App &app)
{
	CLI::App *sdp = app.add_subcommand(
		"sdp", "SDP, the storage data path: BPF programs that judge storage requests\n"
		       "(docs/sdp.md).");
	sdp->require_subcommand(1);
	static TestRun tr;
	CLI::App *t = sdp->add_subcommand(
		"test-run",
		"Run an SDP program (an object built against sdp/sdp.h) on the requests of a file,\n"
		"in batches through BPF_PROG_RUN, and print each verdict: unit tests for SDP\n"
		"programs. The file has one request per line and may set map elements first:\n"
		"  map ro_range u32:0 = u64:2048 u64:4096\n"
		"  write 2048 4096 volume=0 part=1 fua\n"
		"  read 0 512\n"
		"  flush\n"
		"Example: mkdp sdp test-run build/sdp/readonly_range.bpf.o --requests ro.req");
	t->add_option("PROG", tr.prog, "the SDP program object (.bpf.o)")->required();
	t->add_option("--requests", tr.requests, "the request file")->required();
	t->add_flag("-j,--json", tr.json, "print JSON");
	t->callback([] { print_test_run(tr); });
}

} // namespace mkdp::cli
