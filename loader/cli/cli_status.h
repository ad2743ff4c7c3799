// SPDX-License-Identifier: BSD-2-Clause
// Reports that more than one command prints (docs/json.md): the steering
// of an interface, the running topology, and the partition names a running
// topology gives the steering program's indexes. Text printers take the
// same document `--json` prints, so the two views cannot drift apart.
#pragma once

#include <steer_loader.h>

#include <string>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

// The supervisor's status document (`{"cmd": "status"}` without "ok"), or
// null when mkdp is not up.
nlohmann::json partitions_status_json();

// The steering on ifname (every interface with pins when empty): printed
// as text, or returned as {"interfaces": [...]} when json is set.
nlohmann::json steer_status(const std::string &ifname, const std::string &netns, bool json);

// One interface's steering (an element of `steer status`'s "interfaces").
// `names`: partition_names() for it. cmd_attach.cpp.
nlohmann::json steering_json(const SteerStatus &s, const nlohmann::json &names);
void print_steering(const nlohmann::json &steering);

// The names the running topology gives partition indexes 0..count-1 on
// this interface (null where none, or when mkdp is not up there), so that
// objects naming a partition by index carry its name too.
nlohmann::json partition_names(const std::string &netns_label, const std::string &ifname, uint32_t count);

// `topology status`: the supervisor, partitions, volumes, exports, regions
// and the steering of the topology's interface; `running` false when mkdp
// is not up. topology_status.cpp.
nlohmann::json topology_status_json();
void print_topology_status(const nlohmann::json &doc);

// A partition's "cpus" array as the topology file writes it: "2,3".
std::string cpus_text(const nlohmann::json &cpus);

// The partitions, queues and frame accounting of a `part list` or
// `topology status` document, as text.
void print_partitions(const nlohmann::json &status);

} // namespace mkdp::cli
