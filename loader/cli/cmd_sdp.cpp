// SPDX-License-Identifier: BSD-2-Clause
// `mkdp sdp ...`: SDP programs on volumes that `mkdp topology up` serves (load,
// attach, detach, list, stats: requests to the supervisor), and
// `mkdp sdp test-run`, a program on requests from a file, each verdict
// printed (BPF_PROG_RUN for storage, for unit-testing SDP programs).
// `mkdp sdp io` is in cmd_sdp_io.cpp.
#include "commands.h"

#include <client.h>
#include <executor.h>
#include <test_run.h>

#include <mkdp/error.h>
#include <mkdp/supervisor.h>

#include <filesystem>

#include <cstring>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

namespace mkdp::cli {

namespace {

struct TestRun {
	std::string prog, requests;
	bool json = false;
};

using sdp::errno_name;

void print_test_run(const TestRun &o)
{
	sdp::TestRunResult res = sdp::test_run(o.prog, o.requests);
	const auto &reqs = res.requests;
	const auto &verdicts = res.verdicts;
	std::map<std::string, uint64_t> counts;
	nlohmann::json arr = nlohmann::json::array();
	if (!o.json)
		std::printf("%s (%s): %zu requests\n", res.program.c_str(), o.prog.c_str(), reqs.size());
	for (size_t i = 0; i < reqs.size(); i++) {
		auto v = sdp_action(verdicts[i]);
		counts[sdp::to_string(v)]++;
		const sdp_md &md = reqs[i].md;
		nlohmann::json j{{"line", reqs[i].line},
				 {"request", sdp::request_text(md)},
				 {"verdict", sdp::to_string(v)},
				 {"errno", nullptr},
				 {"errno_name", nullptr},
				 {"partition_index", nullptr}};
		std::string extra;
		if (v == SDP_DROP) {
			j["errno"] = md.err;
			j["errno_name"] = strerrorname_np(md.err) ? strerrorname_np(md.err) : std::to_string(md.err);
			extra = " " + errno_name(md.err);
		} else if (v == SDP_REDIRECT) {
			j["partition_index"] = md.target;
			extra = " to partition " + std::to_string(md.target);
		}
		arr.push_back(j);
		if (!o.json)
			std::printf("  %4u  %-52s -> %s%s\n", reqs[i].line, sdp::request_text(md).c_str(),
				    sdp::to_string(v), extra.c_str());
	}
	if (o.json) {
		std::cout << nlohmann::json{{"program", res.program}, {"object", o.prog}, {"results", arr},
					    {"verdicts", counts}}
				     .dump(2)
			  << std::endl;
		return;
	}
	std::string sum;
	for (const auto &[k, n] : counts)
		sum += (sum.empty() ? "" : ", ") + k + " " + std::to_string(n);
	std::printf("verdicts: %s\n", sum.empty() ? "none" : sum.c_str());
}

struct Admin {
	std::string volume, prog, name, mountpoint;
	std::vector<std::string> maps;
	bool json = false, writable = false, direct = false;
};

void print_json(const nlohmann::json &j)
{
	std::cout << j.dump(2) << std::endl;
}

std::string size_text(uint64_t b)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (b >= 1024 && b % 1024 == 0 && u < 4) {
		b /= 1024;
		u++;
	}
	return std::to_string(b) + " " + unit[u];
}

nlohmann::json sdp_status()
{
	nlohmann::json r = supervisor_request({{"cmd", "sdp-status"}});
	r.erase("ok");
	return r;
}

void print_list(const nlohmann::json &st)
{
	std::printf("%-10s %-7s %-10s %-8s %-12s %-10s %-16s %s\n", "VOLUME", "BACKEND", "SIZE", "OWNER", "PARTITIONS",
		    "WAKEUP", "PROGRAM", "SESSIONS");
	for (const auto &v : st["volumes"]) {
		std::string parts;
		for (const auto &p : v["partitions"])
			parts += (parts.empty() ? "" : ",") + p["partition"].get<std::string>() +
				 (p["lane"] == "up" ? "" : "(down)");
		std::string prog = v["program"].is_null() ? "-" : v["program"].get<std::string>();
		std::printf("%-10s %-7s %-10s %-8s %-12s %-10s %-16s %u\n", v["volume"].get<std::string>().c_str(),
			    v["backend"].get<std::string>().c_str(), size_text(v["size_bytes"]).c_str(),
			    v["owner"].get<std::string>().c_str(), parts.c_str(), v["wakeup"].get<std::string>().c_str(),
			    prog.c_str(), v["sessions"].get<unsigned>());
	}
	for (const auto &e : st["exports"])
		std::printf("export of %s on %s (%s%s, pid %d)\n", e["volume"].get<std::string>().c_str(),
			    e["mountpoint"].get<std::string>().c_str(), e["writable"].get<bool>() ? "writable" : "read-only",
			    e["direct"].get<bool>() ? ", direct" : "", e["pid"].get<int>());
	for (const auto &p : st["programs"])
		std::printf("program %s: function %s, id %u (bpftool prog show id %u)\n", p["program"].get<std::string>().c_str(),
			    p["function"].get<std::string>().c_str(), p["prog_id"].get<unsigned>(),
			    p["prog_id"].get<unsigned>());
}

// The buckets are log2: a quantile is known only up to its bucket's upper
// bound, which is what is printed ("<=").
void print_latency(const nlohmann::json &h)
{
	uint64_t count = h.value("count", 0ULL);
	if (!count)
		return;
	auto quantile = [&](double q) {
		uint64_t want = uint64_t(q * double(count) + 0.999999), seen = 0;
		for (const auto &b : h["buckets"])
			if ((seen += b["count"].get<uint64_t>()) >= want)
				return b["le_ns"].get<uint64_t>();
		return uint64_t(0);
	};
	std::printf("  %-11s  mean %.1f us  p50 <= %.1f us  p99 <= %.1f us  (submission to completion)\n", "latency",
		    double(h["sum_ns"].get<uint64_t>()) / double(count) / 1e3, double(quantile(0.5)) / 1e3,
		    double(quantile(0.99)) / 1e3);
}

void print_stats(const nlohmann::json &st, const std::string &only)
{
	bool found = false;
	for (const auto &v : st["volumes"]) {
		if (!only.empty() && v["volume"] != only)
			continue;
		found = true;
		const nlohmann::json &prog = v["program"];
		std::printf("volume %s: %llu requests, %llu outstanding, %llu refused by the ring, program %s\n",
			    v["volume"].get<std::string>().c_str(), v["requests"].get<unsigned long long>(),
			    v["outstanding"].get<unsigned long long>(), v["bad_requests"].get<unsigned long long>(),
			    prog.is_null() ? "none (every request passes to the owner)" : prog.get<std::string>().c_str());
		auto line = [](const char *what, const nlohmann::json &m) {
			std::string s;
			for (const auto &[k, n] : m.items())
				s += "  " + k + " " + std::to_string(n.get<unsigned long long>());
			std::printf("  %-11s%s\n", what, s.empty() ? "  none" : s.c_str());
		};
		line("verdicts", v["verdicts"]);
		line("partitions", v["requests_by_partition"]);
		line("errors", v["errors_by_errno"]);
		print_latency(v.value("request_latency_ns", nlohmann::json::object()));
	}
	if (!only.empty() && !found)
		throw Error("volume '" + only + "' does not exist");
}

} // namespace

void register_sdp(CLI::App &app)
{
	CLI::App *sdp = app.add_subcommand(
		"sdp", "SDP, the storage data path: BPF programs that judge storage requests.\n"
		"Load, attach and test SDP programs; do I/O on volumes; export them as files\n"
		       "(docs/sdp.md).");
	sdp->require_subcommand(1);
	static TestRun tr;
	CLI::App *t = sdp->add_subcommand(
		"test-run",
		"Run an SDP program on requests from a file and print each verdict.\n"
		"Run an SDP program (an object built against sdp/sdp.h) on the requests of a file,\n"
		"in batches through BPF_PROG_RUN, and print each verdict: unit tests for SDP\n"
		"programs. The file has one request per line and may set map elements first:\n"
		"  map ro_range u32:0 = u64:2048 u64:4096\n"
		"  write 2048 4096 volume=0 part=1 fua\n"
		"  read 0 512\n"
		"  flush\n"
		"Example: mkdp sdp test-run build/sdp/readonly_range.bpf.o --requests ro.req");
	t->add_option("PROG", tr.prog, "the SDP program object (.bpf.o)")->required();
	t->add_option("--requests", tr.requests, "the request file")->required();
	t->add_flag("-j,--json", tr.json, "print JSON");
	t->callback([] { print_test_run(tr); });

	static Admin a;
	auto abs = [](const std::string &p) { return std::filesystem::absolute(p).string(); };
	CLI::App *load = sdp->add_subcommand(
		"load", "Load an SDP program into the supervisor, ready to attach.\n"
		"Load an SDP program into the supervisor (verified and JIT-compiled by the kernel),\n"
			"ready to attach. Its maps are ordinary BPF maps: bpftool map dump name MAP.\n"
			"Example: mkdp sdp load build/sdp/readonly_range.bpf.o --name ro");
	load->add_option("PROG", a.prog, "the program object (.bpf.o)")->required()->check(CLI::ExistingFile);
	load->add_option("--name", a.name, "name it (default: its function's name)");
	load->add_flag("-j,--json", a.json, "print JSON");
	load->callback([abs] {
		auto r = supervisor_request({{"cmd", "sdp-load"}, {"path", abs(a.prog)}, {"prog", a.name}});
		if (a.json)
			return print_json({{"result", "loaded"}, {"program", r["program"]}});
		const auto &p = r["program"];
		std::printf("loaded %s (function %s, prog id %u)\n", p["program"].get<std::string>().c_str(),
			    p["function"].get<std::string>().c_str(), p["prog_id"].get<unsigned>());
	});
	CLI::App *unload = sdp->add_subcommand("unload", "Unload a program that no volume uses.\n"
							 "Example: mkdp sdp unload ro");
	unload->add_option("NAME", a.name, "the loaded program")->required();
	unload->add_flag("-j,--json", a.json, "print JSON");
	unload->callback([] {
		supervisor_request({{"cmd", "sdp-unload"}, {"prog", a.name}});
		if (a.json)
			return print_json({{"result", "unloaded"}, {"program", a.name}});
		std::printf("unloaded %s\n", a.name.c_str());
	});
	CLI::App *attach = sdp->add_subcommand(
		"attach", "Attach an SDP program to a volume.\n"
		"Attach an SDP program to a volume: from the next batch on, it judges every\n"
			  "request to the volume. PROG is a loaded program's name or an object file\n"
			  "(loaded first). --map sets an element of one of its maps first.\n"
			  "Examples:\n"
			  "  mkdp sdp attach v0 build/sdp/readonly_range.bpf.o --map 'ro_range u32:0 = u64:0 u64:2048'\n"
			  "  mkdp sdp attach v0 ro");
	attach->add_option("VOLUME", a.volume, "the volume")->required();
	attach->add_option("PROG", a.prog, "a loaded program, or a .bpf.o")->required();
	attach->add_option("--map", a.maps, "'NAME KEY... = VALUE...' (pieces u8:N u16:N u32:N u64:N)");
	attach->add_flag("-j,--json", a.json, "print JSON");
	attach->callback([abs] {
		std::string prog = std::filesystem::exists(a.prog) ? abs(a.prog) : a.prog;
		std::vector<std::string> maps;
		for (const std::string &m : a.maps)
			maps.push_back("map " + m);
		auto r = supervisor_request(
			{{"cmd", "sdp-attach"}, {"volume", a.volume}, {"prog", prog}, {"maps", maps}});
		r.erase("ok");
		r["result"] = "attached";
		if (a.json)
			return print_json(r);
		std::printf("attached %s to volume %s (prog id %u)\n", r["program"].get<std::string>().c_str(),
			    a.volume.c_str(), r["prog_id"].get<unsigned>());
	});
	CLI::App *detach = sdp->add_subcommand("detach", "Detach a volume's program: its requests pass to the owner.\n"
							 "Example: mkdp sdp detach v0");
	detach->add_option("VOLUME", a.volume, "the volume")->required();
	detach->add_flag("-j,--json", a.json, "print JSON");
	detach->callback([] {
		supervisor_request({{"cmd", "sdp-detach"}, {"volume", a.volume}});
		if (a.json)
			return print_json({{"result", "detached"}, {"volume", a.volume}});
		std::printf("detached the program of volume %s\n", a.volume.c_str());
	});
	CLI::App *list = sdp->add_subcommand("list", "The volumes `mkdp topology up` serves, and the loaded programs.");
	list->add_flag("-j,--json", a.json, "print JSON");
	list->callback([] {
		auto st = sdp_status();
		a.json ? print_json(st) : print_list(st);
	});
	CLI::App *stats = sdp->add_subcommand(
		"stats", "Per volume: requests, verdicts, which partitions served them, errors by errno,\n"
			 "request latency (log2 histogram, request_latency_ns in --json).\n"
			 "Example: mkdp sdp stats v0 --json");
	stats->add_option("VOLUME", a.volume, "only this volume");
	stats->add_flag("-j,--json", a.json, "print JSON");
	stats->callback([] {
		auto st = sdp_status();
		if (!a.json)
			return print_stats(st, a.volume);
		nlohmann::json vols = nlohmann::json::array();
		for (const auto &v : st["volumes"])
			if (a.volume.empty() || v["volume"] == a.volume)
				vols.push_back(v);
		if (!a.volume.empty() && vols.empty())
			throw Error("volume '" + a.volume + "' does not exist");
		print_json({{"volumes", vols}});
	});
	CLI::App *exp = sdp->add_subcommand(
		"export", "Export a volume as a file (FUSE) that any program can do I/O on.\n"
		"Export a volume as one regular file of its size, mounted (FUSE) over an existing\n"
			  "file, as qemu-storage-daemon does: dd, fio, losetup and file systems do I/O on it,\n"
			  "every request through the volume's SDP program, rings and partitions.\n"
			  "Examples:\n"
			  "  touch /tmp/v0.img && mkdp sdp export v0 /tmp/v0.img --writable --direct\n"
			  "  fio --name=t --filename=/tmp/v0.img --direct=1 --rw=randwrite --bs=4k --verify=crc32c\n"
			  "  mkdp sdp unexport /tmp/v0.img");
	exp->add_option("VOLUME", a.volume, "the volume")->required();
	exp->add_option("MOUNTPOINT", a.mountpoint, "an existing regular file")->required();
	exp->add_flag("--writable", a.writable, "allow writes (default: read-only)");
	exp->add_flag("--direct", a.direct, "FUSE direct_io: no page cache between clients and the volume");
	exp->add_flag("-j,--json", a.json, "print JSON");
	exp->callback([abs] {
		auto r = supervisor_request({{"cmd", "sdp-export"},
					     {"volume", a.volume},
					     {"mountpoint", abs(a.mountpoint)},
					     {"writable", a.writable},
					     {"direct", a.direct}});
		if (a.json)
			return print_json({{"result", "exported"}, {"exports", r["exports"]}});
		std::printf("exported %s on %s (%s%s)\n", a.volume.c_str(), abs(a.mountpoint).c_str(),
			    a.writable ? "writable" : "read-only", a.direct ? ", direct" : "");
	});
	CLI::App *unexp = sdp->add_subcommand("unexport", "Unmount an export and stop it.\n"
							  "Example: mkdp sdp unexport /tmp/v0.img");
	unexp->add_option("MOUNTPOINT", a.mountpoint, "where it is mounted")->required();
	unexp->add_flag("-j,--json", a.json, "print JSON");
	unexp->callback([abs] {
		supervisor_request({{"cmd", "sdp-unexport"}, {"mountpoint", abs(a.mountpoint)}});
		if (a.json)
			return print_json({{"result", "unexported"}, {"mountpoint", abs(a.mountpoint)}});
		std::printf("unexported %s\n", abs(a.mountpoint).c_str());
	});
	register_sdp_io(*sdp);
}

} // namespace mkdp::cli
