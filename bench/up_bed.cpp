// SPDX-License-Identifier: BSD-2-Clause
#include "up_bed.h"

#include <supervisor.h>	// the loader library

#include <mkdp/error.h>
#include <mkdp/supervisor.h>
#include <mkdp/testbed.h>
#include <mkdp/topology.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace mkdp::bench {

UpBed::UpBed(const std::string &tag, const std::string &extra_toml)
	: ns_("mkdp-b" + tag + "-" + std::to_string(getpid()))
{
	if (int pid = supervisor_pid())
		throw Error("mkdp is up (supervisor " + std::to_string(pid) +
			    "): the benchmark brings up its own; run 'mkdp topology down' first");
	testbed_up(TestbedOptions{ns_, 2});
	file_ = "/tmp/" + ns_ + ".toml";
	std::ofstream(file_) << Topology::testbed_toml(ns_) << extra_toml;
	try {
		supervisor_up(Topology::load(file_), SupervisorOptions{});
	} catch (...) {
		teardown();
		throw;
	}
}

UpBed::~UpBed()
{
	teardown();
}

void UpBed::teardown() noexcept
{
	try {
		supervisor_down();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mkdp bench: down: %s\n", e.what());
	}
	testbed_down(ns_);
	std::remove(file_.c_str());
}

} // namespace mkdp::bench
