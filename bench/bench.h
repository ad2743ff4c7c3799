// SPDX-License-Identifier: BSD-2-Clause
// The benchmark harness behind `mkdp bench ...`.
//
// Conventions (../docs/benchmarks.md): every benchmark measures its figure
// and a named baseline in the same run, repeats both, and reports medians
// with their spread. With --json it prints exactly one JSON document with
// "machine", "results" and "ratios"; without it, a readable table.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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

// Options every benchmark understands.
struct CommonOptions {
	bool json = false;	// one JSON document on stdout
	bool quick = false;	// fewer repetitions, shorter runs
	int repetitions = 5;	// runs of each figure
	std::string out_dir;	// where reports and plots go ("" = none)
};
void add_common_options(CLI::App &cmd, CommonOptions &o);

// Prints the report: the JSON document, or `text` for people.
void emit(const CommonOptions &o, const nlohmann::json &doc, const std::string &text);

// Frames per second delivered into a partition's AF_XDP socket through the
// steering program, against the kernel stack into a UDP socket in the same
// netns, both on a testbed of its own (bench/delivery.cpp).
nlohmann::json measure_delivery(bool quick, int repetitions);

// Each benchmark registers its own subcommand under `mkdp bench`.
void register_ring(CLI::App &bench);
void register_steer(CLI::App &bench);
void register_doorbell(CLI::App &bench);
void register_isolation(CLI::App &bench);

} // namespace mkdp::bench
