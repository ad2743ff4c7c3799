// SPDX-License-Identifier: BSD-2-Clause
// Each command group of the `mkdp` CLI registers itself on the app here.
// One file per group: cmd_<group>.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace mkdp::cli {

void register_demo(CLI::App &app);
void register_bench(CLI::App &app);
void register_testbed(CLI::App &app);
void register_gen(CLI::App &testbed);		// cmd_gen.cpp
void register_topology(CLI::App &app);
void register_up(CLI::App &topology);		// cmd_up.cpp: up, down
void register_status(CLI::App &topology);	// cmd_status.cpp
void register_steer(CLI::App &app);
void register_attach(CLI::App &steer);		// attach, detach, status
void register_rule(CLI::App &steer);
void register_stats(CLI::App &steer);
void register_part(CLI::App &app);
void register_sdp(CLI::App &app);
void register_exporter(CLI::App &app);
void register_sdp_io(CLI::App &sdp);	// cmd_sdp_io.cpp
void register_version(CLI::App &app);

} // namespace mkdp::cli
