// SPDX-License-Identifier: BSD-2-Clause
// The storage act of `mkdp demo` (demo.h): requests from a client through
// an SDP program that steers by sector range to two partitions' workers,
// data written, read back and checked, the verdicts counted.
#include "demo.h"

#include <client.h>
#include <volume_io.h>

#include <mkdp/error.h>
#include <mkdp/supervisor.h>

#include <mkdp/subprocess.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace mkdp {

namespace {

std::string must(const std::vector<std::string> &argv)
{
	ProgramResult r = run_program(argv);
	if (r.status)
		throw Error("demo: " + argv[0] + " failed (" + std::to_string(r.status) + "): " +
			    r.err.substr(0, r.err.find('\n')));
	return r.out;
}

// The volume as a file any program uses: exported (FUSE), a loop device on
// it, ext4 made, files written, unmounted and checked. Everything it set
// up is undone, also when a step fails.
void export_act(const std::string &volume)
{
	struct Undo {
		std::string file, loop, dir;
		bool exported = false, mounted = false;
		~Undo()
		{
			if (mounted)
				run_program({"umount", dir});
			if (!loop.empty())
				run_program({"losetup", "-d", loop});
			if (exported)
				try {
					supervisor_request({{"cmd", "sdp-unexport"}, {"mountpoint", file}});
				} catch (const std::exception &) {
				}
			if (!dir.empty())
				rmdir(dir.c_str());
			unlink(file.c_str());
		}
	} u;
	u.file = "/tmp/mkdp-demo-" + volume + "-" + std::to_string(getpid()) + ".img";
	std::ofstream(u.file).close();
	supervisor_request(
		{{"cmd", "sdp-export"}, {"volume", volume}, {"mountpoint", u.file}, {"writable", true}, {"direct", true}});
	u.exported = true;
	std::printf("[demo] mkdp sdp export %s %s --writable --direct: the volume is a 64 MiB file now, sector_steer still judging every request\n",
		    volume.c_str(), u.file.c_str());
	u.loop = must({"losetup", "--find", "--show", u.file});
	u.loop = u.loop.substr(0, u.loop.find('\n'));
	must({"mkfs.ext4", "-q", "-F", u.loop});
	char tmpl[] = "/tmp/mkdp-demo-mnt-XXXXXX";
	if (!mkdtemp(tmpl))
		throw_errno("mkdtemp");
	u.dir = tmpl;
	must({"mount", u.loop, u.dir});
	u.mounted = true;
	for (int i = 0; i < 8; i++) {
		std::ofstream f(u.dir + "/file" + std::to_string(i));
		for (int k = 0; k < 65536; k++)
			f << "line " << k << " of file " << i << "\n";
	}
	must({"umount", u.dir});
	u.mounted = false;
	must({"fsck.ext4", "-f", "-n", u.loop});
	std::printf("[demo] losetup %s, mkfs.ext4, mount, 8 files of 1.1 MiB written, umount, fsck.ext4 -f: clean\n",
		    u.loop.c_str());
}

} // namespace

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
		if (s["volume"] != volume)
			continue;
		std::string verdicts, parts;
		for (const auto &[k, n] : s["verdicts"].items())
			if (n != 0)
				verdicts += " " + k + " " + std::to_string(n.get<uint64_t>());
		for (const auto &[k, n] : s["requests_by_partition"].items())
			parts += " " + k + " " + std::to_string(n.get<uint64_t>());
		std::printf("[demo] %s verdicts:%s; served by:%s\n", volume.c_str(), verdicts.c_str(), parts.c_str());
	}
	export_act(volume);
	st = supervisor_request({{"cmd", "sdp-status"}});
	for (const auto &s : st["volumes"])
		if (s["volume"] == volume)
			std::printf("[demo] %s after the file system: %llu requests, verdicts pass %llu, redirect %llu, "
				    "drop %llu\n",
				    volume.c_str(), (unsigned long long)s["requests"], (unsigned long long)s["verdicts"]["pass"],
				    (unsigned long long)s["verdicts"]["redirect"], (unsigned long long)s["verdicts"]["drop"]);
}

} // namespace mkdp
