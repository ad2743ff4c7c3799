// SPDX-License-Identifier: BSD-2-Clause
// `mkdp version`: what a bug report needs first.
#include "commands.h"

#include <bpf/libbpf.h>
#include <sys/utsname.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

void register_version(CLI::App &app)
{
	static bool json = false;
	CLI::App *v = app.add_subcommand("version", "Show mkdp's version, the libbpf it runs with and the kernel.\n"
						    "Example: mkdp version -j");
	v->add_flag("-j,--json", json, "print JSON");
	v->callback([] {
		utsname u{};
		uname(&u);
		if (json)
			std::cout << nlohmann::json{{"version", MKDP_VERSION},
						    {"libbpf", libbpf_version_string()},
						    {"kernel", u.release},
						    {"arch", u.machine}}
					     .dump(2)
				  << std::endl;
		else
			std::printf("mkdp %s\nlibbpf %s\nkernel %s %s\n", MKDP_VERSION, libbpf_version_string(), u.release,
				    u.machine);
	});
}

} // namespace mkdp::cli
