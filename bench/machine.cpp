// SPDX-License-Identifier: BSD-2-Clause
#include "bench.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cpuid.h>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

namespace mkdp::bench {

namespace {

std::string cpu_model()
{
	std::ifstream f("/proc/cpuinfo");
	std::string line;
	while (std::getline(f, line))
		if (line.rfind("model name", 0) == 0) {
			auto p = line.find(':');
			return p == std::string::npos ? line : line.substr(p + 2);
		}
	return "unknown";
}

bool virtualised()
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d))
		return c & (1u << 31); // the hypervisor-present bit
#endif
	return false;
}

} // namespace

nlohmann::json machine_info()
{
	utsname u{};
	uname(&u);
	return {{"cpu", cpu_model()},
		{"cores", std::thread::hardware_concurrency()},
		{"kernel", std::string(u.release)},
		{"virtualised", virtualised()}};
}

void add_common_options(CLI::App &cmd, CommonOptions &o)
{
	cmd.add_flag("-j,--json", o.json, "print one JSON document (machine, results, ratios)");
	cmd.add_flag("--quick", o.quick, "fewer repetitions and shorter runs, for a smoke check");
	cmd.add_option("--repetitions,-r", o.repetitions, "runs of every figure; medians are reported")
		->check(CLI::Range(1, 1000))
		->capture_default_str();
}

std::string default_out_dir(const std::string &name)
{
	const char *xdg = std::getenv("XDG_CACHE_HOME"), *home = std::getenv("HOME");
	if (xdg && *xdg == '/')
		return std::string(xdg) + "/mkdp/bench/" + name;
	if (home && *home == '/')
		return std::string(home) + "/.cache/mkdp/bench/" + name;
	return "/tmp/mkdp-bench/" + name;
}

void add_out_option(CLI::App &cmd, CommonOptions &o, const std::string &name)
{
	cmd.add_option("--out", o.out_dir,
		       "directory for the reports and plots (created; default " + default_out_dir(name) +
			       ", i.e. $XDG_CACHE_HOME or ~/.cache, then /tmp/mkdp-bench)");
}

void emit(const CommonOptions &o, const nlohmann::json &doc, const std::string &text)
{
	if (o.json)
		std::cout << doc.dump(2) << std::endl;
	else
		std::cout << text << std::flush;
}

} // namespace mkdp::bench
