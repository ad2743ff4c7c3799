// SPDX-License-Identifier: BSD-2-Clause
// mkdp: the command-line front end. Every failure ends here as one line on
// stderr and a non-zero exit; commands undo what they set up before they
// throw.
#include <cstdio>
#include <exception>

#include "commands.h"

int main(int argc, char **argv)
{
	CLI::App app{"mkdp: an eBPF data plane for kernel partitions.\n"
		     "XDP steering into per-partition AF_XDP rings, shared-memory rings\n"
		     "between partitions, and the benchmarks that compare them.",
		     "mkdp"};
	app.require_subcommand(1);
	app.set_version_flag("--version", "mkdp 0.1.0");
	app.footer("Run 'mkdp COMMAND --help' for what a command does and its options.");

	// In the order a new user meets them: a place to run, steering,
	// traffic, partitions, then the measurements.
	mkdp::cli::register_testbed(app);
	mkdp::cli::register_attach(app);
	mkdp::cli::register_rule(app);
	mkdp::cli::register_gen(app);
	mkdp::cli::register_stats(app);
	mkdp::cli::register_topology(app);
	mkdp::cli::register_part(app);
	mkdp::cli::register_bench(app);
	mkdp::cli::register_demo(app);

	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForVersion &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		// One line: CLI11's message plus where to look.
		std::fprintf(stderr, "mkdp: %s (try --help)\n", e.what());
		return 2;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mkdp: %s\n", e.what());
		return 1;
	}
	return 0;
}
