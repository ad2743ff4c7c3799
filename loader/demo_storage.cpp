// SPDX-License-Identifier: BSD-2-Clause
// The storage act of `mkdp demo` (demo.h): requests from a client through
// an SDP program that steers by sector range to two partitions' workers,
// data written, read back and checked, the verdicts counted.
#include "demo.h"

#include <client.h>
#include <volume_io.h>

#include <mkdp/error.h>
#include <mkdp/supervisor.h>

#include <cstdio>

namespace mkdp {

void run_storage_demo(const std::string &volume)
{
	std::string prog = std::string(MKDP_SDP_EXAMPLES) + "/sector_steer.bpf.o";
	// Odd 1 MiB ranges to p1 (index 1); the rest passes to the owner, p0.
	supervisor_request({{"cmd", "sdp-attach"},
			    {"volume", volume},
			    {"prog", prog},
			    {"maps", {"map range_part u32:1 = u32:1", "map range_part u32:3 = u32:1",
				      "map range_part u32:5 = u32:1", "map range_part u32:7 = u32:1"}}});
	std::printf("[demo] storage: volume %s, SDP program sector_steer attached (odd MiB ranges to p1, the rest "
		    "to the owner p0)\n",
		    volume.c_str());
	sdp::Volume v = sdp::Volume::open(volume);
	sdp::IoJob j;
	j.size = 8 << 20;
	j.bs = 128 << 10;
	j.qd = 16;
	j.seed = 2026;
	j.random = true;
	j.op = SDP_OP_WRITE;
	j.flush = true;
	sdp::IoJobResult w = sdp::run_io(v, j);
	j.op = SDP_OP_READ;
	j.flush = false;
	j.verify = true;
	sdp::IoJobResult r = sdp::run_io(v, j);
	std::printf("[demo] wrote %llu bytes (%llu requests, qd %u, then a flush), read them back: %llu mismatches, "
		    "checksums %016llx / %016llx\n",
		    (unsigned long long)w.bytes, (unsigned long long)w.requests, j.qd, (unsigned long long)r.mismatches,
		    (unsigned long long)w.checksum, (unsigned long long)r.checksum);
	if (!w.errors.empty() || !r.errors.empty() || r.mismatches || r.checksum != w.checksum)
		throw Error("demo: storage I/O failed (" + sdp::errno_name(w.first_error ? w.first_error : r.first_error) +
			    ", " + std::to_string(r.mismatches) + " mismatches)");
	nlohmann::json st = supervisor_request({{"cmd", "sdp-status"}});
	for (const auto &s : st["volumes"]) {
		if (s["name"] != volume)
			continue;
		std::string verdicts, parts;
		for (const auto &[k, n] : s["verdicts"].items())
			if (n != 0)
				verdicts += " " + k + " " + std::to_string(n.get<uint64_t>());
		for (const auto &[k, n] : s["per_partition"].items())
			parts += " " + k + " " + std::to_string(n.get<uint64_t>());
		std::printf("[demo] %s verdicts:%s; served by:%s\n", volume.c_str(), verdicts.c_str(), parts.c_str());
	}
}

} // namespace mkdp
