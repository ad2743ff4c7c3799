// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench sdp`'s FUSE figures: fio, 4 KiB random reads and writes at
// queue depth 1 and 32 with O_DIRECT, on the benchmark's backing file three
// ways: (a) the file itself, (b) qemu-storage-daemon's FUSE export of it
// (the baseline an export is judged against: same client, same kernel
// path), (c) mkdp's FUSE export of the volume served on that file (the
// export process -> the storage plane and the volume's program -> the
// owner partition's worker). The three alternate within each repetition,
// their order rotated.
//
// fio's ioengine is libaio: both exports accept io_uring too, but io_uring
// hands FUSE requests to its worker threads, which measures io-wq rather
// than the export; libaio's O_DIRECT goes to FUSE's asynchronous direct I/O.
#include "bench.h"
#include "bench_volume.h"
#include "export_mounts.h"

#include <mkdp/error.h>
#include <mkdp/subprocess.h>

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

namespace mkdp::bench {

namespace {

// One time-based fio run; its IOPS. Throws on any I/O error.
double fio_iops(const std::string &file, bool write, unsigned qd, int seconds)
{
	ProgramResult r = run_program({"fio", "--name=bench", "--filename=" + file,
				       std::string("--rw=") + (write ? "randwrite" : "randread"), "--bs=4k",
				       "--iodepth=" + std::to_string(qd), "--direct=1", "--ioengine=libaio",
				       "--time_based", "--runtime=" + std::to_string(seconds), "--norandommap",
				       "--randrepeat=0", "--output-format=json"});
	if (r.status)
		throw Error("fio on " + file + " failed: " + r.err);
	// fio may print warnings before its document.
	nlohmann::json d = nlohmann::json::parse(r.out.substr(r.out.find('{')));
	const nlohmann::json &job = d.at("jobs").at(0);
	if (job.value("error", 0))
		throw Error("fio on " + file + ": " + std::strerror(job["error"].get<int>()));
	return job.at(write ? "write" : "read").at("iops").get<double>();
}

// The clients and the qsd daemon get both CPUs, whatever the caller was
// pinned to (sdp_io pins itself to CPU 0): forked children inherit it.
void unpin()
{
	cpu_set_t all;
	CPU_ZERO(&all);
	for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN); c++)
		CPU_SET(c, &all);
	sched_setaffinity(0, sizeof(all), &all);
}

} // namespace

nlohmann::json measure_sdp_fuse(BenchVolume &bv, bool quick, int reps, std::string &text)
{
	unpin();
	std::string base = "/tmp/mkdp-bench-fuse-" + std::to_string(getpid());
	int seconds = quick ? 1 : 3;
	QsdExport qsd(bv.path(), base + "-qsd");
	std::optional<MkdpExport> mkdp;
	std::string unavailable;
	try {
		mkdp.emplace(BenchVolume::kName, base + "-mkdp");
	} catch (const Error &e) {
		// A supervisor without the export: the other two are measured
		// and the report says so. Any other failure is the benchmark's.
		if (std::string(e.what()).find("unknown command") == std::string::npos)
			throw;
		unavailable = e.what();
	}
	const std::string kinds[] = {"file", "qsd", "mkdp"};
	const std::string targets[] = {bv.path(), qsd.path(), mkdp ? mkdp->path() : ""};
	size_t n = mkdp ? 3 : 2;
	nlohmann::json results, vs_qsd, vs_file;
	text += "  FUSE exports, fio 4 KiB random, O_DIRECT, libaio, " + std::to_string(seconds) + " s per run:\n";
	if (!mkdp)
		text += "    mkdp's export unavailable: " + unavailable + "\n";
	for (bool write : {false, true}) {
		for (unsigned qd : {1u, 32u}) {
			std::vector<double> iops[3];
			for (int rep = 0; rep < reps; rep++)
				for (size_t k = 0; k < n; k++) {
					size_t t = (size_t(rep) + k) % n;
					iops[t].push_back(fio_iops(targets[t], write, qd, seconds));
				}
			std::string key = std::string(write ? "randwrite" : "randread") + "_qd" + std::to_string(qd);
			Summary s[3];
			for (size_t t = 0; t < n; t++) {
				s[t] = summarize(iops[t]);
				results[kinds[t] + "_iops"][key] = to_json(s[t]);
			}
			char line[200];
			if (mkdp) {
				vs_qsd[key] = s[2].median / s[1].median;
				vs_file[key] = s[2].median / s[0].median;
				std::snprintf(line, sizeof(line),
					      "    %-14s mkdp %7.0f IOPS (%.2fx qsd, %.2fx file), qsd %7.0f, file %7.0f\n",
					      key.c_str(), s[2].median, s[2].median / s[1].median, s[2].median / s[0].median,
					      s[1].median, s[0].median);
			} else {
				std::snprintf(line, sizeof(line), "    %-14s qsd %7.0f IOPS (%.2fx file), file %7.0f\n",
					      key.c_str(), s[1].median, s[1].median / s[0].median, s[0].median);
			}
			text += line;
		}
	}
	if (!mkdp)
		results["mkdp_unavailable"] = unavailable;
	return {{"results", results}, {"vs_qsd_fuse", vs_qsd}, {"fuse_vs_file", vs_file}};
}

} // namespace mkdp::bench
