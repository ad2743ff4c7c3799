// SPDX-License-Identifier: BSD-2-Clause
// Reports that more than one command prints.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

// The supervisor's status document (`{"cmd": "status"}` without "ok"), or
// null when mkdp is not up.
nlohmann::json partitions_status_json();

// The partitions, frames and volumes of a status document, as text.
void print_partitions(const nlohmann::json &status);

// The steering on ifname (every interface with pins when empty): printed
// as text, or returned as {"interfaces": [...]} when json is set.
nlohmann::json steer_status(const std::string &ifname, const std::string &netns, bool json);

} // namespace mkdp::cli
