// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench sdp`: what the SDP executor costs per request.
//
// A batch of requests goes to the program in one BPF_PROG_RUN (sdp/executor.h).
// Two figures per batch size, from the same runs: the executor's wall time
// per request as a caller sees it (copy in, the system call, copy out), and
// the program's own time per request as the kernel accounts it
// (bpf_enable_stats(BPF_STATS_RUN_TIME): run_time_ns of the syscall program,
// which is the bpf_loop over the batch and the request function). Their
// ratio is what batching through BPF_PROG_RUN adds to the program's work.
// Then the executor's alternatives on the same requests (sdp_alternatives.cpp),
// the storage path against direct io_uring on one file (sdp_io.cpp),
// and mkdp's FUSE export against qemu-storage-daemon's (sdp_fuse.cpp).
#include "bench.h"
#include "bench_volume.h"
#include "sdp_alternatives.h"

#include <filesystem>

#include <executor.h>

#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <unistd.h>

#include <cstdio>

#include <bpf/bpf.h>

namespace mkdp::bench {

namespace {

constexpr uint32_t kBatches[] = {1, 16, 64};

struct SdpOptions {
	CommonOptions common;
	std::string program = std::string(MKDP_SDP_EXAMPLES) + "/readonly_range.bpf.o";
	uint32_t requests = 200'000;	// per batch size and repetition
};

struct RunStats {
	uint64_t run_time_ns = 0, run_cnt = 0;
};

RunStats prog_stats(int fd)
{
	bpf_prog_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		throw_errno("read the SDP program's run time");
	return {info.run_time_ns, info.run_cnt};
}

// A mix the example judges both ways: writes in and out of its read-only
// range, and reads.
std::vector<sdp_md> requests(uint32_t n)
{
	std::vector<sdp_md> r(n);
	for (uint32_t i = 0; i < n; i++) {
		r[i].op = i % 4 == 0 ? SDP_OP_READ : SDP_OP_WRITE;
		r[i].sector = uint64_t(i % 8192) * 8;
		r[i].len = 4096;
		r[i].tag = uint16_t(i);
	}
	return r;
}

void run(const SdpOptions &o)
{
	sdp::Program p = sdp::Program::load(o.program);
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		throw_errno("enable BPF run-time statistics");
	uint32_t n = o.common.quick ? o.requests / 10 : o.requests;
	int reps = o.common.quick ? 3 : o.common.repetitions;
	std::vector<sdp_md> all = requests(n), work(n);
	std::vector<uint8_t> verdicts(n);
	nlohmann::json results, ratios, goals;
	std::string text = "mkdp bench sdp: " + p.name() + " (" + o.program + "), " + std::to_string(n) +
			   " requests per run, " + std::to_string(reps) + " runs\n";
	for (uint32_t batch : kBatches) {
		std::vector<double> wall, prog;
		for (int rep = 0; rep < reps; rep++) {
			work = all;
			RunStats s0 = prog_stats(p.prog_fd());
			uint64_t t0 = now_ns();
			for (uint32_t i = 0; i < n; i += batch) {
				uint32_t k = std::min(batch, n - i);
				p.run({work.data() + i, k}, verdicts.data() + i);
			}
			uint64_t t1 = now_ns();
			RunStats s1 = prog_stats(p.prog_fd());
			wall.push_back(double(t1 - t0) / n);
			prog.push_back(double(s1.run_time_ns - s0.run_time_ns) / n);
		}
		Summary w = summarize(wall), g = summarize(prog);
		std::string key = "batch_" + std::to_string(batch);
		results["executor_ns_per_req"][key] = to_json(w);
		results["program_ns_per_req"][key] = to_json(g);
		ratios["executor_vs_program"][key] = w.median / g.median;
		char line[160];
		std::snprintf(line, sizeof(line), "  batch %2u: executor %7.1f ns/request, program alone %6.1f ns (%.1fx)\n",
			      batch, w.median, g.median, w.median / g.median);
		text += line;
	}
	close(stats_fd);
	// After the statistics are off: they would add their clock reads to every run.
	nlohmann::json alt = measure_sdp_alternatives(all, reps, text);
	results["alternatives"] = alt["results"];
	for (auto &[k, v] : alt["ratios"].items())
		ratios[k] = v;
	// One bring-up and one prefilled file for both storage parts.
	BenchVolume bv;
	nlohmann::json io = measure_sdp_io(bv, &p, std::filesystem::absolute(o.program).string(), o.common.quick, reps,
					   text);
	nlohmann::json fuse = measure_sdp_fuse(bv, o.common.quick, reps, text);
	results["io"] = io["results"];
	results["io"]["direct"] = io["direct"];
	ratios["vs_io_uring"] = io["ratios"];
	ratios["mkdp_up_vs_io_uring"] = io["up_ratios"];
	for (auto &[k, v] : io["ratios"].items())
		goals["vs_io_uring_" + k + "_ge_0.8"] = v.get<double>() >= 0.8;
	results["fuse"] = fuse["results"];
	ratios["vs_qsd_fuse"] = fuse["vs_qsd_fuse"];
	ratios["fuse_vs_file"] = fuse["fuse_vs_file"];
	for (auto &[k, v] : fuse["vs_qsd_fuse"].items())
		goals["vs_qsd_fuse_" + k + "_ge_1.0"] = v.get<double>() >= 1.0;
	double at64 = results["executor_ns_per_req"]["batch_64"]["median"];
	goals["executor_ns_per_req_batch_64_le_100"] = at64 <= 100;
	emit(o.common,
	     {{"benchmark", "sdp"},
	      {"machine", machine_info()},
	      {"program", p.name()},
	      {"results", results},
	      {"ratios", ratios},
	      {"goals", goals}},
	     text);
}

} // namespace

void register_sdp(CLI::App &bench)
{
	static SdpOptions o;
	CLI::App *cmd = bench.add_subcommand(
		"sdp", "SDP: the executor per request, storage I/O against io_uring, FUSE export.\n"
		"The SDP executor's cost per request at batch 1, 16 and 64 (wall time as a caller\n"
		       "sees it against the program's own run time, kernel BPF statistics), the same\n"
		       "requests through the executor's alternatives (a user ring buffer, the batch as\n"
		       "the program's context: figures or the verifier's refusal), and 4 KiB\n"
		       "random reads and writes at queue depth 1 and 32 through the SDP path against\n"
		       "io_uring directly on the same file (/var/tmp), same runs; fio through mkdp's FUSE\n"
		       "export of that file's volume against qemu-storage-daemon's export and the file. Needs root.");
	add_common_options(*cmd, o.common);
	cmd->add_option("--program", o.program, "the SDP program object")->capture_default_str();
	cmd->add_option("--requests", o.requests, "requests per batch size and run")
		->check(CLI::Range(1000u, 100'000'000u))
		->capture_default_str();
	cmd->callback([] { run(o); });
}

} // namespace mkdp::bench
