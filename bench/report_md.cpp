// SPDX-License-Identifier: BSD-2-Clause
#include "report_md.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace mkdp::bench {

namespace {

using json = nlohmann::json;

double med(const json &j)
{
	if (j.is_number())
		return j.get<double>();
	return j.is_object() && j.contains("median") ? j["median"].get<double>() : NAN;
}

// Figures as people write them: 1 234 567, 12.3, 0.45.
std::string num(double v)
{
	if (std::isnan(v))
		return "-";
	char b[64];
	if (std::fabs(v) >= 1000) {
		std::snprintf(b, sizeof(b), "%.0f", v);
		std::string s = b, out;
		int n = 0;
		for (auto it = s.rbegin(); it != s.rend(); ++it) {
			if (n && n % 3 == 0 && *it != '-')
				out.insert(out.begin(), ' ');
			out.insert(out.begin(), *it);
			n++;
		}
		return out;
	}
	std::snprintf(b, sizeof(b), std::fabs(v) >= 10 ? "%.0f" : "%.2f", v);
	return b;
}

std::string x(double r)
{
	return std::isnan(r) || r == 0 ? "-" : num(r) + "x";
}

const char *kPaths[] = {"partition", "namespace", "kvm"};

// Under a table, one line per path saying what it measured.
void what_list(std::ostringstream &md, const json &paths)
{
	md << "\n";
	for (const char *path : kPaths)
		if (paths.contains(path) && paths[path].contains("what"))
			md << "- " << path << ": " << paths[path]["what"].get<std::string>() << "\n";
	md << "\n";
}

void network(std::ostringstream &md, const json &net)
{
	md << "## Network: frames delivered and consumed\n\n"
	   << "| path | frames/s | partition / path | CPU ns per frame | latency p50 ns | p99 ns |\n"
	   << "|---|---:|---:|---:|---:|---:|\n";
	double p = med(net["partition"]["pps"]);
	for (const char *path : kPaths) {
		if (!net.contains(path))
			continue;
		const json &n = net[path];
		double pps = med(n["pps"]);
		md << "| " << path << " | " << num(pps) << " | " << x(p / pps) << " | "
		   << num(med(n["cpu_ns_per_frame"])) << " | " << num(med(n["latency_ns"]["p50"])) << " | "
		   << num(med(n["latency_ns"]["p99"])) << " |\n";
	}
	if (net.contains("kvm") && net["kvm"].contains("guest_cpu_ns_per_frame"))
		md << "\nKVM CPU per frame: " << num(med(net["kvm"]["host_cpu_ns_per_frame"]))
		   << " ns in the host's device thread, " << num(med(net["kvm"]["guest_cpu_ns_per_frame"]))
		   << " ns in the vCPU thread (guest and its exits).\n";
	what_list(md, net);
}

void storage(std::ostringstream &md, const json &sto)
{
	md << "## Storage: 4 KiB random I/O, IOPS (latency p50 / p99, us)\n\n"
	   << "| path | read qd1 | read qd32 | write qd1 | write qd32 |\n|---|---:|---:|---:|---:|\n";
	for (const char *path : kPaths) {
		if (!sto.contains(path))
			continue;
		md << "| " << path;
		for (const char *k : {"randread_qd1", "randread_qd32", "randwrite_qd1", "randwrite_qd32"}) {
			const json &f = sto[path].contains(k) ? sto[path][k] : json();
			if (f.is_null()) {
				md << " | -";
				continue;
			}
			md << " | " << num(med(f["iops"])) << " (" << num(med(f["latency_ns"]["p50"]) / 1000) << " / "
			   << num(med(f["latency_ns"]["p99"]) / 1000) << ")";
		}
		md << " |\n";
	}
	what_list(md, sto);
}

void doorbells(std::ostringstream &md, const json &rows)
{
	md << "## Doorbells: waking the other side\n\n"
	   << "| doorbell | one-way p50 ns | p99 ns | / cache line | CPU ns per wake-up | idle CPU |\n"
	   << "|---|---:|---:|---:|---:|---:|\n";
	for (const json &r : rows) {
		md << "| " << r["name"].get<std::string>();
		if (!r.value("measured", false)) {
			md << " | not measured: " << r.value("reason", std::string("?")) << " | | | | |\n";
			continue;
		}
		double idle = r.contains("idle_cpu_fraction") ? med(r["idle_cpu_fraction"]) : NAN;
		md << " | " << num(med(r["oneway_p50_ns"])) << " | " << num(med(r["oneway_p99_ns"])) << " | "
		   << x(med(r["vs_cacheline"])) << " | " << num(med(r["cpu_ns_per_wakeup"])) << " | "
		   << (std::isnan(idle) ? std::string("-") : num(100 * idle) + " %") << " |\n";
	}
	md << "\n";
}

// What the guest cost in exits over the whole run.
void kvm_exits(std::ostringstream &md, const json &ex)
{
	md << "## KVM: the guest's exits over the run\n\n| counter | count |\n|---|---:|\n";
	for (auto &[k, v] : ex["user"].items())
		md << "| VMM: " << k << " | " << num(v.get<double>()) << " |\n";
	for (auto &[k, v] : ex["kernel"].items())
		md << "| kernel: " << k << " | " << num(v.get<double>()) << " |\n";
	md << "\n";
}

} // namespace

std::string report_markdown(const json &doc)
{
	const json &m = doc["machine"], &res = doc["results"];
	std::ostringstream md;
	md << "# mkdp bench all\n\n"
	   << "Machine: " << m.value("cpu", std::string("?")) << ", " << m.value("cores", 0) << " CPUs, kernel "
	   << m.value("kernel", std::string("?")) << (m.value("virtualised", false) ? ", virtualised" : "");
	if (m.contains("kvm")) {
		md << "; KVM: " << m["kvm"].value("kind", std::string("?"))
		   << (m["kvm"].value("nested", false) ? " (nested)" : "");
		if (!m["kvm"].value("available", true))
			md << ", **the KVM path was not measured**: " << m["kvm"].value("reason", std::string("?"));
	}
	md << ". Medians of " << doc["options"]["repetitions"].get<int>() << " repetitions"
	   << (doc["options"]["quick"].get<bool>() ? " (--quick: short runs)" : "") << ".\n\n"
	   << "Method: the same work goes through three paths in the same run, alternating: mkdp's partition "
	      "path (XDP steering into an AF_XDP socket; SDP into a partition's storage worker), a "
	      "namespace/cgroup path (the kernel stack into a UDP socket; io_uring from a cgroup), and a KVM "
	      "guest behind virtio-style rings. Frames are injected on a veth queue with BPF_PROG_RUN live "
	      "frames from CPU 0 and consumed on CPU 1, every byte read; storage is 4 KiB random I/O on one "
	      "O_DIRECT file. Ratios compare figures of the same run; the JSON has every repetition's spread.\n\n";
	if (res.contains("network"))
		network(md, res["network"]);
	if (res.contains("storage"))
		storage(md, res["storage"]);
	if (res.contains("doorbells"))
		doorbells(md, res["doorbells"]);
	if (res.contains("kvm_exits"))
		kvm_exits(md, res["kvm_exits"]);
	if (doc.contains("goals") && !doc["goals"].empty()) {
		md << "## Goals\n\n| goal | measured | met |\n|---|---:|---|\n";
		for (auto &[name, g] : doc["goals"].items())
			md << "| " << name << " | " << (g.contains("measured") ? x(g["measured"].get<double>()) : "-")
			   << " | " << (g["met"].get<bool>() ? "yes" : "no") << " |\n";
		md << "\n";
	}
	return md.str();
}

} // namespace mkdp::bench
