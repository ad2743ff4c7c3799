// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench all`: the comparison the multikernel reviewers asked for, in
// one command. The partition path (XDP steering -> AF_XDP; SDP -> storage
// ring -> partition worker), a namespace/cgroup path (kernel stack -> UDP
// socket; io_uring from a cgroup) and a KVM guest (bench/kvm/: virtio-style
// rings, ioeventfd/irqfd), the same workload in the same run, plus the
// doorbell table. Writes report.json, report.md and PNG plots into --out.
#include "bench.h"
#include "bench_volume.h"
#include "compare.h"
#include "doorbell_table.h"
#include "kvm_bench.h"
#include "plot_run.h"
#include "report_md.h"

#include <mkdp/error.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace mkdp::bench {

namespace {

using json = nlohmann::json;

double med(const json &summary)
{
	return summary.is_object() && summary.contains("median") ? summary["median"].get<double>() : 0;
}

double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

// Every figure against the partition path's, and the goals of the design
// card (measured and reported, never asserted).
void add_ratios(json &doc)
{
	const json &net = doc["results"]["network"], &sto = doc["results"]["storage"];
	json &r = doc["ratios"], &g = doc["goals"];
	double p_pps = med(net["partition"]["pps"]);
	for (const char *other : {"namespace", "kvm"}) {
		if (!net.contains(other))
			continue;
		r["network"]["partition_vs_" + std::string(other) + "_pps"] = ratio(p_pps, med(net[other]["pps"]));
		r["network"][std::string(other) + "_vs_partition_cpu_per_frame"] =
			ratio(med(net[other]["cpu_ns_per_frame"]), med(net["partition"]["cpu_ns_per_frame"]));
	}
	for (auto &[key, fig] : sto["partition"].items()) {
		if (!fig.is_object())
			continue;
		for (const char *other : {"namespace", "kvm"})
			if (sto.contains(other) && sto[other].contains(key))
				r["storage"]["partition_vs_" + std::string(other)][key] =
					ratio(med(fig["iops"]), med(sto[other][key]["iops"]));
	}
	auto goal = [&](const char *name, const json &rs, const char *key, double at_least) {
		if (rs.contains(key))
			g[name] = {{"measured", rs[key]}, {"at_least", at_least},
				   {"met", rs[key].get<double>() >= at_least}};
	};
	goal("network_pps_ge_5x_kvm", r["network"], "partition_vs_kvm_pps", 5);
	goal("network_pps_ge_3x_namespace", r["network"], "partition_vs_namespace_pps", 3);
	if (r["storage"].contains("partition_vs_namespace"))
		goal("storage_qd32_ge_0.8x_namespace", r["storage"]["partition_vs_namespace"], "randread_qd32", 0.8);
	if (r["storage"].contains("partition_vs_kvm"))
		goal("storage_qd32_ge_2x_kvm", r["storage"]["partition_vs_kvm"], "randread_qd32", 2);
	double p_cpu = med(net["partition"]["cpu_ns_per_frame"]);
	bool lowest = true;
	for (const char *other : {"namespace", "kvm"})
		if (net.contains(other) && med(net[other]["cpu_ns_per_frame"]) < p_cpu)
			lowest = false;
	g["cpu_per_frame_lowest"] = {{"met", lowest}};
}

struct AllOptions {
	CommonOptions common;
};

void run(const AllOptions &ao)
{
	const CommonOptions &o = ao.common;
	std::string dir = o.out_dir.empty() ? default_out_dir("all") : o.out_dir;
	std::error_code ec;
	std::filesystem::create_directories(dir, ec);
	if (ec)
		throw Error("bench all: cannot create " + dir + ": " + ec.message());
	if (std::thread::hardware_concurrency() < 2)
		throw Error("bench all needs two CPUs (producer on 0, consumer on 1)");
	int reps = o.quick ? std::min(o.repetitions, 2) : o.repetitions;

	json doc = {{"benchmark", "all"}, {"machine", machine_info()}};
	doc["options"] = {{"quick", o.quick}, {"repetitions", reps}};
	json &res = doc["results"];
	auto progress = [&](const std::string &what) {
		if (!o.json)
			std::cerr << "bench all: " << what << std::endl;
	};

	// The KVM path, when a VM can be made here; else every KVM figure is
	// absent and machine.kvm.reason says why.
	std::shared_ptr<kvm::Vm> vm;
	std::string no_kvm = kvm::unavailable();
	if (no_kvm.empty()) {
		try {
			vm = std::make_shared<kvm::Vm>();
		} catch (const Error &e) {
			no_kvm = e.what();
		}
	}
	doc["machine"]["kvm"] = kvm::describe();
	doc["machine"]["kvm"]["available"] = vm != nullptr;
	if (!vm)
		doc["machine"]["kvm"]["reason"] = no_kvm;
	const std::string paths = vm ? "partition, namespace and KVM paths" : "partition and namespace paths";

	progress("network: " + paths);
	{
		DeliveryBed bed;
		res["network"] = measure_network_paths(bed, o.quick, reps, vm.get());
	}
	progress("storage: " + paths);
	{
		BenchVolume bv;
		res["storage"] = measure_storage_paths(bv, o.quick, reps, vm.get());
	}
	progress(vm ? "doorbells: the table, with the bare IPI and KVM's exit and irqfd"
		    : "doorbells: the table, with the bare IPI");
	res["doorbells"] = measure_doorbell_table(o.quick, reps, 20000, false, kvm::doorbell_sources(vm, no_kvm))
				   ["results"]["table"];
	if (vm)
		res["kvm_exits"] = kvm::exit_counts(*vm);
	doc["ratios"] = json::object();
	doc["goals"] = json::object();
	add_ratios(doc);

	std::string md = report_markdown(doc);
	std::ofstream(dir + "/report.json") << doc.dump(2) << "\n";
	std::ofstream(dir + "/report.md") << md;
	std::string why = run_plot_script("plot_all.py", "MKDP_PLOT_ALL", dir);
	doc["files"] = {{"dir", dir}, {"report_json", dir + "/report.json"}, {"report_md", dir + "/report.md"},
			{"plots", why.empty() ? json("drawn") : json(why)}};
	std::ofstream(dir + "/report.json") << doc.dump(2) << "\n";
	emit(o, doc, md + "\nwritten to " + dir + (why.empty() ? " (with plots)" : " (no plots: " + why + ")") + "\n");
}

} // namespace

void register_all(CLI::App &bench)
{
	auto o = std::make_shared<AllOptions>();
	CLI::App *cmd = bench.add_subcommand(
		"all", "The partition data path against namespaces/cgroups and a KVM guest.\n"
		"The partition data path against namespaces/cgroups and a KVM guest, network and storage,\n"
		       "with the doorbell table, in one run: report.json, report.md and PNG plots in --out.\n\n"
		       "Examples:\n"
		       "  mkdp bench all --quick --out report     # under a minute: a smoke check\n"
		       "  mkdp bench all --out report --json      # the full run, the JSON on stdout too");
	add_common_options(*cmd, o->common);
	add_out_option(*cmd, o->common, "all");
	cmd->callback([o] { run(*o); });
}

} // namespace mkdp::bench
