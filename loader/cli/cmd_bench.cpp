// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench ...`: each benchmark lives in bench/ and owns its subcommand.
#include "commands.h"

#include <bench.h>

namespace mkdp::cli {

void register_bench(CLI::App &app)
{
	CLI::App *bench = app.add_subcommand(
		"bench", "Measure mkdp against its baselines, in the same run.\n"
			 "Every benchmark reports ratios against a named baseline (medians of\n"
			 "repeated runs); --json prints one document with machine, results, ratios.");
	bench->require_subcommand(1);
	mkdp::bench::register_ring(*bench);
	mkdp::bench::register_steer(*bench);
	mkdp::bench::register_doorbell(*bench);
	mkdp::bench::register_isolation(*bench);
	mkdp::bench::register_sdp(*bench);
	mkdp::bench::register_all(*bench);
}

} // namespace mkdp::cli
