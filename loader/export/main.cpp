// SPDX-License-Identifier: BSD-2-Clause
// mkdp-export: one FUSE export of an SDP volume (sdp/fuse_export.h). The
// supervisor starts it for `mkdp sdp export` with the volume's session
// already open on fd 3 and a pipe on fd 4 where it says "ok" once mounted
// (or why not). Not meant to be started by hand.
#include <fuse_export.h>

#include <mkdp/error.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char **argv)
{
	mkdp::sdp::ExportOptions o;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--volume" && i + 1 < argc)
			o.volume = argv[++i];
		else if (a == "--mountpoint" && i + 1 < argc)
			o.mountpoint = argv[++i];
		else if (a == "--writable")
			o.writable = true;
		else if (a == "--direct")
			o.direct = true;
		else
			o.volume.clear();
	}
	auto tell = [](const std::string &s) {
		std::string line = s + "\n";
		(void)!write(4, line.data(), line.size());
		close(4);
	};
	if (o.volume.empty() || o.mountpoint.empty()) {
		std::fprintf(stderr, "mkdp-export: usage: mkdp-export --volume V --mountpoint FILE [--writable] "
				     "[--direct] (the supervisor starts it)\n");
		return 2;
	}
	try {
		mkdp::sdp::Volume v = mkdp::sdp::Volume::adopt(3, o.volume);
		mkdp::sdp::run_export(o, std::move(v), [&] { tell("ok"); });
	} catch (const std::exception &e) {
		tell(e.what());
		return 1;
	}
	return 0;
}
