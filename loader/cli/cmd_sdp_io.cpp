// SPDX-License-Identifier: BSD-2-Clause
// `mkdp sdp io`: dd for an SDP volume, on the client API (sdp/client.h,
// sdp/volume_io.h). Every request goes through the volume's program, rings
// and the serving partition's worker, as any client's would.
#include "commands.h"

#include <client.h>
#include <volume_io.h>

#include <mkdp/error.h>
#include <mkdp/topology.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct IoOpts {
	std::string volume, op, offset = "0", size, bs = "4k", from, to, as;
	uint32_t qd = 1;
	uint64_t seed = 1;
	bool random = false, fua = false, flush = false, verify = false, json = false;
};

const char *kOps[] = {"read", "write", "discard", "write-zeroes"};
const uint8_t kOpCodes[] = {SDP_OP_READ, SDP_OP_WRITE, SDP_OP_DISCARD, SDP_OP_WRITE_ZEROES};

void run(const IoOpts &o)
{
	sdp::IoJob job;
	for (size_t i = 0; i < 4; i++)
		if (o.op == kOps[i])
			job.op = kOpCodes[i];
	job.offset = parse_size(o.offset);
	job.bs = uint32_t(parse_size(o.bs));
	job.qd = o.qd;
	job.random = o.random;
	job.fua = o.fua;
	job.flush = o.flush;
	job.seed = o.seed;
	job.verify = o.verify;
	std::vector<uint8_t> data;
	if (!o.from.empty()) {
		if (job.op != SDP_OP_WRITE)
			throw Error("--from goes with --op write");
		std::ifstream f(o.from, std::ios::binary);
		if (!f)
			throw Error("cannot read " + o.from);
		data.assign(std::istreambuf_iterator<char>(f), {});
		data.resize((data.size() + 511) / 512 * 512);	// the last sector padded with zeros
	}
	sdp::Volume v = sdp::Volume::open(o.volume, {.as = o.as});
	job.size = !o.size.empty() ? parse_size(o.size) : !data.empty() ? data.size() : job.bs;
	if (!o.to.empty()) {
		if (job.op != SDP_OP_READ)
			throw Error("--to goes with --op read");
		data.resize(job.size);
	}
	if (!data.empty()) {
		if (data.size() != job.size)
			throw Error("--from holds " + std::to_string(data.size()) + " bytes, not --size");
		job.data = data;
	}
	sdp::IoJobResult r = sdp::run_io(v, job);
	if (!o.to.empty()) {
		std::ofstream f(o.to, std::ios::binary | std::ios::trunc);
		f.write(reinterpret_cast<const char *>(data.data()), std::streamsize(data.size()));
		if (!f)
			throw Error("cannot write " + o.to);
	}
	if (o.json) {
		nlohmann::json errs = nlohmann::json::object();
		for (const auto &[e, n] : r.errors)
			errs[strerrorname_np(-e) ? strerrorname_np(-e) : std::to_string(e)] = n;
		std::cout << nlohmann::json{{"result", r.first_error || r.mismatches ? "failed" : "done"},
					    {"volume", o.volume},
					    {"op", o.op},
					    {"offset_bytes", job.offset},
					    {"size_bytes", job.size},
					    {"block_size_bytes", job.bs},
					    {"queue_depth", job.qd},
					    {"requests", r.requests},
					    {"bytes", r.bytes},
					    {"errors_by_errno", errs},
					    {"mismatches", r.mismatches},
					    {"checksum", r.checksum},
					    {"elapsed_ns", r.elapsed_ns}}
				     .dump(2)
			  << std::endl;
	} else {
		double s = double(r.elapsed_ns) / 1e9;
		std::printf("%s %llu bytes at %llu of %s in %llu requests (bs %u, qd %u): %.3f s, %.1f MiB/s, "
			    "checksum %016llx\n",
			    o.op.c_str(), (unsigned long long)r.bytes, (unsigned long long)job.offset, o.volume.c_str(),
			    (unsigned long long)r.requests, job.bs, job.qd, s, s > 0 ? double(r.bytes) / s / (1 << 20) : 0.0,
			    (unsigned long long)r.checksum);
	}
	if (r.first_error) {
		uint64_t failed = 0;
		for (const auto &[e, n] : r.errors)
			failed += n;
		throw Error(o.op + " at offset " + std::to_string(r.first_error_offset) + ": " +
			    sdp::errno_name(r.first_error) + " (" + std::to_string(failed) + " of " +
			    std::to_string(r.requests) + " requests failed)");
	}
	if (r.mismatches)
		throw Error("read back " + std::to_string(r.mismatches) + " block(s) unlike pattern " +
			    std::to_string(job.seed) + ", the first at offset " + std::to_string(r.first_mismatch_offset));
}

} // namespace

void register_sdp_io(CLI::App &sdp)
{
	static IoOpts o;
	CLI::App *io = sdp.add_subcommand(
		"io", "Read or write a volume through its SDP program, like dd.\n"
		"I/O on a volume that `mkdp topology up` serves, like dd, through the volume's SDP program,\n"
		      "its rings and the serving partition's worker. Data is a pattern of --seed (a read\n"
		      "with --verify checks what a write of the same seed left) or a file.\n"
		      "Examples:\n"
		      "  mkdp sdp io v0 --op write --offset 1M --size 4M --bs 64k --qd 8 --seed 7\n"
		      "  mkdp sdp io v0 --op read  --offset 1M --size 4M --bs 64k --qd 8 --seed 7 --verify\n"
		      "  mkdp sdp io v0 --op write --from notes.txt --flush\n"
		      "  mkdp sdp io v0 --op read --size 4k --to block0.bin\n"
		      "Exits 1 with the first error (e.g. EROFS from a program's SDP_DROP).");
	io->add_option("VOLUME", o.volume, "the volume")->required();
	io->add_option("--op", o.op, "read | write | discard | write-zeroes")
		->required()
		->check(CLI::IsMember({"read", "write", "discard", "write-zeroes"}));
	io->add_option("--offset", o.offset, "where to start, bytes (512-aligned; 4k, 1M ...)")->capture_default_str();
	io->add_option("--size", o.size, "how much, bytes (default: --bs, or the --from file's size)");
	io->add_option("--bs", o.bs, "bytes per request (512-aligned, up to 128k)")->capture_default_str();
	io->add_option("--qd", o.qd, "requests in flight (1-64)")->capture_default_str()->check(CLI::Range(1, 64));
	io->add_option("--seed", o.seed, "the data pattern's seed")->capture_default_str();
	io->add_flag("--verify", o.verify, "read: compare with the pattern of --seed");
	io->add_option("--from", o.from, "write: the data of this file")->check(CLI::ExistingFile);
	io->add_option("--to", o.to, "read: into this file");
	io->add_flag("--random", o.random, "blocks in a random order (each once)");
	io->add_flag("--fua", o.fua, "writes durable on completion");
	io->add_flag("--flush", o.flush, "a flush once the data is written");
	io->add_option("--as", o.as, "issue the requests as this partition (sdp_md.part; default: the host)");
	io->add_flag("-j,--json", o.json, "print JSON");
	io->callback([] { run(o); });
}

} // namespace mkdp::cli
