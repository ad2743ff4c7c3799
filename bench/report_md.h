// SPDX-License-Identifier: BSD-2-Clause
// bench all's report.md: tables that read well pasted into a mailing-list
// reply (plain columns, figures rounded, every ratio against the partition
// path), with the method in three sentences and the machine named.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace mkdp::bench {

// From bench all's JSON document (all_bench.cpp): machine, results.network
// and results.storage per path, results.doorbells rows, ratios, goals.
std::string report_markdown(const nlohmann::json &doc);

} // namespace mkdp::bench
