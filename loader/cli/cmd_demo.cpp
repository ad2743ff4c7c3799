// SPDX-License-Identifier: BSD-2-Clause
// `mkdp demo` and `mkdp demo ring` (the scenarios are in loader/demo.cpp).
#include "commands.h"
#include "demo.h"

namespace mkdp::cli {

void register_demo(CLI::App &app)
{
	static PartDemoOptions po;
	CLI::App *cmd = app.add_subcommand(
		"demo", "Run the end-to-end scenario and narrate it (what `make demo` runs).\n"
		"It brings the testbed up, then the built-in topology (supervisor, two pinned\n"
		"unprivileged partitions, steering attached), sends UDP flows from the wire end\n"
		"spread over flows and queues, prints per-partition counters while they run, then\n"
		"takes the topology and the testbed down (also on failure). A narration for people:\n"
		"it has no --json ('mkdp topology status -j' and 'mkdp steer stats -j' report the same).\n"
		"'mkdp demo ring' is the older two-process ring demo.");
	cmd->add_option("--seconds", po.seconds, "how long traffic runs")->check(CLI::Range(1u, 600u))->capture_default_str();
	cmd->add_option("--pps", po.pps, "frames per second, all flows")->check(CLI::Range(1000ull, 10'000'000ull))->capture_default_str();
	cmd->add_option("--flows", po.flows, "UDP flows")->check(CLI::Range(1u, 1024u))->capture_default_str();
	cmd->add_option("--forward-every", po.forward_every, "forward every Nth frame to the peer partition (0 = none)")->capture_default_str();

	static RingDemoOptions o;
	CLI::App *ring = cmd->add_subcommand(
		"ring", "Two processes share one region and pass frames over a ring.\n"
		"The loader writes frames and posts their\n"
			"descriptors on a ring, the partition validates and checks each one and\n"
			"returns the frame on a second ring.");
	ring->add_option("--frames", o.frames, "frames to send")->check(CLI::Range(1ull, 1ull << 40))->capture_default_str();
	ring->add_option("--batch", o.batch, "descriptors per reserve/submit")->check(CLI::Range(1u, 1024u))->capture_default_str();
	ring->add_option("--ring", o.ring_entries, "forward ring entries (power of two)")->capture_default_str();
	ring->callback([] { run_ring_demo(o); });
	cmd->callback([cmd, ring] {
		if (!cmd->got_subcommand(ring))
			run_partitions_demo(po);
	});
}

} // namespace mkdp::cli
