// SPDX-License-Identifier: BSD-2-Clause
// The benchmark harness behind `mkdp bench ...`.
//
// Conventions (../docs/benchmarks.md): every benchmark measures its figure
// and a named baseline in the same run, repeats both, and reports medians
// with their spread. With --json it prints exactly one JSON document with
// "machine", "results" and "ratios"; without it, a readable table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <linux/if_xdp.h>

namespace mkdp::sdp {
class Program;
}

namespace mkdp::bench {

// cpu model, cores, kernel, whether we run under a hypervisor.
nlohmann::json machine_info();

// Median and spread of repeated measurements.
struct Summary {
	double median = 0, min = 0, max = 0, p25 = 0, p75 = 0;
	size_t n = 0;
};
Summary summarize(std::vector<double> samples);
nlohmann::json to_json(const Summary &s);

// Percentile (0..100) of samples, nearest-rank; sorts in place.
double percentile(std::vector<double> &samples, double pct);

// A latency distribution, ns: p50, p99, p99.9, the sample count, and
// "cdf_5pct", the 0th, 5th, ... 95th and 99.9th percentiles (for plots).
nlohmann::json latency_json(std::vector<double> samples);

// Options every benchmark understands.
struct CommonOptions {
	bool json = false;	// one JSON document on stdout
	bool quick = false;	// fewer repetitions, shorter runs
	int repetitions = 5;	// runs of each figure
	std::string out_dir;	// --out: where files go ("" = default_out_dir())
};
void add_common_options(CLI::App &cmd, CommonOptions &o);

// Where a benchmark writes its files without --out: outside any checkout,
// $XDG_CACHE_HOME/mkdp/bench/NAME, else $HOME/.cache/mkdp/bench/NAME, else
// /tmp/mkdp-bench/NAME.
std::string default_out_dir(const std::string &name);
// "--out DIR" (default: default_out_dir(name)) for a benchmark that writes files.
void add_out_option(CLI::App &cmd, CommonOptions &o, const std::string &name);

// Prints the report: the JSON document, or `text` for people.
void emit(const CommonOptions &o, const nlohmann::json &doc, const std::string &text);

// A testbed of its own (namespace mkdp-bd-<pid>) with mkdp's steering on
// mkdp0, one AF_XDP socket on queue 0 drained from CPU 1 and a UDP socket
// in the namespace; frames are injected on queue 0 from CPU 0 with
// BPF_PROG_RUN in live-frame mode (bench/delivery.cpp). Everything is
// removed by the destructor.
class DeliveryBed {
public:
	DeliveryBed();
	~DeliveryBed();
	DeliveryBed(const DeliveryBed &) = delete;
	DeliveryBed &operator=(const DeliveryBed &) = delete;

	// The socket on mkdp0 queue 0, for other programs' XSKMAPs.
	int xsk_fd() const noexcept;
	int ifindex() const noexcept;
	// Frames/s the application receives: steering into the AF_XDP socket,
	// and the kernel stack into the UDP socket.
	double xsk_pps(uint32_t frames);
	double udp_pps(uint32_t frames);
	// The same run with its CPU cost: the injector's and the receiver's
	// thread CPU per frame received (the kernel's delivery work runs on
	// the injecting CPU; the receiver reads every byte of every frame).
	enum class Path { xsk, udp };
	struct PathRun {
		double pps, cpu_ns_per_frame;
	};
	PathRun run(Path path, uint32_t frames);
	// One frame at a time, each stamped with the sender's clock just before
	// it enters the device: ns until the application holds it.
	std::vector<double> latency_ns(Path path, uint32_t samples);
	// The kernel-timed cost per frame on the receive CPU of running prog
	// on live frames that it redirects into the socket (drained meanwhile).
	double live_ns_per_frame(int prog_fd, const std::vector<uint8_t> &frame, uint32_t frames);
	struct xdp_statistics xsk_kernel_stats() const;

private:
	struct State;
	std::unique_ptr<State> s_;
};

// Frames/s into the AF_XDP socket against the netns UDP socket, interleaved.
nlohmann::json measure_delivery(DeliveryBed &bed, bool quick, int repetitions);

class BenchVolume;

// bench sdp's storage figures against io_uring (sdp_io.cpp), on the shared
// volume: {"results", "ratios", "up_ratios", "direct"}.
nlohmann::json measure_sdp_io(BenchVolume &bv, sdp::Program *prog, const std::string &prog_path, bool quick,
			      int reps, std::string &text);
// bench sdp's FUSE figures (sdp_fuse.cpp), fio on the shared volume's file,
// qemu-storage-daemon's export of it and mkdp's export of the volume:
// {"results", "vs_qsd_fuse", "fuse_vs_file"}.
nlohmann::json measure_sdp_fuse(BenchVolume &bv, bool quick, int reps, std::string &text);

// The bare-IPI row of the doorbell table (ipi_measure.cpp): a raw_tp
// program run on CPU 1 from CPU 0 by BPF_PROG_RUN with
// BPF_F_TEST_RUN_ON_CPU, on its own: the details the table gives as
// results.bare_ipi, {"measured": true, "oneway_ns", "rtt_ns",
// "cpu_ns_per_wakeup", "target_busy", "own_cpu", ...} or {"measured":
// false, "reason"}.
nlohmann::json measure_bare_ipi(bool quick, int reps);

// The doorbell table: measure_doorbell_table() and doorbell_row(), in
// doorbell_table.h.

// Each benchmark registers its own subcommand under `mkdp bench`.
void register_ring(CLI::App &bench);
void register_steer(CLI::App &bench);
void register_doorbell(CLI::App &bench);
void register_isolation(CLI::App &bench);
void register_sdp(CLI::App &bench);
void register_all(CLI::App &bench);

} // namespace mkdp::bench
