// SPDX-License-Identifier: BSD-2-Clause
// What one scrape of `mkdp exporter` gathers (docs/metrics.md): the
// supervisor's status over its control socket (partitions, frames,
// doorbells, volumes with their latency histograms) and every interface's
// steering counters from the pinned maps, in every namespace that has
// pins. Control work, run per scrape in the exporter's own process: the
// supervisor answers on its control thread, as for `mkdp part list`, and
// the maps are read without the data path knowing.
//
// A part that cannot be read is left out and counted in
// mkdp_scrape_errors{source=...}; a scrape never fails because mkdp is not
// up (mkdp_supervisor_up 0) or an interface went away.
#pragma once

#include "metrics.h"

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace mkdp::metrics {

struct CollectOptions {
	int supervisor_timeout_ms = 2000;	// below Prometheus' default scrape timeout
};

Exposition collect(const CollectOptions &o = {});

// The parts of collect(), each adding its families to e. Throwing is
// allowed: collect() counts it as that source's scrape error.
void collect_supervisor(Exposition &e, const nlohmann::json &status);
// Partition names by (netns label, interface) -> index -> name, from the
// supervisor's status: the steering program knows partitions by index.
using PartitionNames = std::map<std::pair<std::string, std::string>, std::map<uint32_t, std::string>>;
PartitionNames partition_names(const nlohmann::json &status);
// Returns the number of interfaces it could not read (each said in `errors`).
int collect_steering(Exposition &e, const PartitionNames &names, std::string &errors);

// An SDP volume's request_latency_ns (storage_plane) as a histogram in
// seconds with one bucket per power of two from 1 us to 16 s.
Histogram latency_histogram(const nlohmann::json &h, Labels labels);

} // namespace mkdp::metrics
