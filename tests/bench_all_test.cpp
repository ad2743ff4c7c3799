// SPDX-License-Identifier: BSD-2-Clause
// `mkdp bench all --quick --out DIR --json` writes a complete and sane
// report: all three paths for network and storage, the doorbell table, a
// KVM guest that really ran (its exits and interrupts counted), report.md
// naming every path, and the plots. Never a timing threshold. Where this
// machine cannot make a VM (no /dev/kvm), the report must say so and why,
// and have no KVM figures.
#include "partition_harness.h"	// mkdp_cli, have_root
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mkdp::test {
namespace {

double med(const json &j)
{
	return j.at("median").get<double>();
}

TEST(BenchAll, QuickReportIsCompleteAndSane)
{
	if (!have_root())
		GTEST_SKIP() << "needs root (BPF, network namespaces)";
	TempDir out("bench-all");
	std::string dir = out.str();
	ProgramResult r = mkdp_cli({"bench", "all", "--quick", "--out", dir, "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json d = json::parse(r.out);
	std::ifstream f(dir + "/report.json");
	ASSERT_TRUE(f) << "no report.json in " << dir;
	EXPECT_EQ(json::parse(f)["results"], d["results"]) << "report.json is not what --json printed";

	EXPECT_TRUE(d["machine"].contains("cpu"));
	const json &kvm = d["machine"]["kvm"];
	ASSERT_TRUE(kvm.contains("available")) << kvm.dump();
	int kfd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	bool have_kvm = kfd >= 0;
	if (kfd >= 0)
		close(kfd);
	// A machine with /dev/kvm must measure the KVM path.
	EXPECT_EQ(kvm["available"].get<bool>(), have_kvm) << kvm.dump();
	std::vector<const char *> paths = {"partition", "namespace"};
	if (kvm["available"].get<bool>())
		paths.push_back("kvm");
	else
		EXPECT_FALSE(kvm.value("reason", std::string()).empty()) << "no reason for the missing KVM path";
	const json &net = d["results"]["network"], &sto = d["results"]["storage"];
	EXPECT_EQ(net.contains("kvm"), kvm["available"].get<bool>());
	EXPECT_EQ(sto.contains("kvm"), kvm["available"].get<bool>());
	for (const char *path : paths) {
		SCOPED_TRACE(path);
		ASSERT_TRUE(net.contains(path));
		EXPECT_GT(med(net[path]["pps"]), 0);
		EXPECT_GT(med(net[path]["cpu_ns_per_frame"]), 0);
		EXPECT_GT(net[path]["latency_ns"]["samples"].get<uint64_t>(), 0u);
		EXPECT_LE(net[path]["latency_ns"]["p50"].get<double>(), net[path]["latency_ns"]["p99"].get<double>());
		ASSERT_TRUE(sto.contains(path));
		for (const char *k : {"randread_qd1", "randread_qd32", "randwrite_qd1", "randwrite_qd32"}) {
			EXPECT_GT(med(sto[path][k]["iops"]), 0) << k;
			EXPECT_GT(med(sto[path][k]["latency_ns"]["p50"]), 0) << k;
		}
	}
	EXPECT_GT(d["ratios"]["network"]["partition_vs_namespace_pps"].get<double>(), 0);
	EXPECT_GT(d["ratios"]["storage"]["partition_vs_namespace"]["randread_qd32"].get<double>(), 0);

	const json &rows = d["results"]["doorbells"];
	ASSERT_TRUE(rows.is_array());
	bool bare_ipi = false;
	for (const json &row : rows) {
		SCOPED_TRACE(row.dump());
		if (row["name"].get<std::string>().find("IPI") != std::string::npos ||
		    row["name"].get<std::string>().find("ipi") != std::string::npos)
			bare_ipi = true;
		if (row["measured"].get<bool>())
			EXPECT_GT(med(row["oneway_p50_ns"]), 0);
		else
			EXPECT_FALSE(row["reason"].get<std::string>().empty());
	}
	EXPECT_GE(rows.size(), 5u) << "floor, polled, adaptive, futex, eventfd at least";
	EXPECT_TRUE(bare_ipi) << "no bare-IPI row";
	for (const char *name : {"kvm_exit_rtt", "kvm_irqfd"}) {
		auto it = std::find_if(rows.begin(), rows.end(), [&](const json &r) { return r["name"] == name; });
		ASSERT_NE(it, rows.end()) << "no " << name << " row";
		EXPECT_EQ((*it)["measured"].get<bool>(), kvm["available"].get<bool>()) << it->dump();
	}
	if (kvm["available"].get<bool>()) {
		// The guest really ran: it exited to the VMM and took interrupts.
		const json &ex = d["results"]["kvm_exits"];
		EXPECT_GT(ex["user"]["done"].get<uint64_t>(), 0u) << ex.dump();
		EXPECT_GT(ex["user"]["ping"].get<uint64_t>(), 0u) << ex.dump();
		EXPECT_GT(ex["kernel"].value("exits", uint64_t(0)), 0u) << ex.dump();
		EXPECT_GT(med(net["kvm"]["guest_cpu_ns_per_frame"]), 0);
	}

	std::ifstream mdf(dir + "/report.md");
	std::stringstream md;
	md << mdf.rdbuf();
	for (const char *want : {"## Network", "## Storage", "## Doorbells", "| partition |", "| namespace |", "Method:"})
		EXPECT_NE(md.str().find(want), std::string::npos) << "report.md lacks " << want;
	const char *kvm_says = kvm["available"].get<bool>() ? "| kvm |" : "the KVM path was not measured";
	EXPECT_NE(md.str().find(kvm_says), std::string::npos) << "report.md lacks " << kvm_says;
	if (d["files"]["plots"] == "drawn")
		for (const char *png : {"network_throughput.png", "network_latency.png", "network_cpu_per_frame.png",
					"storage_iops.png", "doorbell_ladder.png"})
			EXPECT_TRUE(std::filesystem::exists(dir + "/" + png)) << png;
	else
		ADD_FAILURE() << "no plots: " << d["files"]["plots"];
}

} // namespace
} // namespace mkdp::test
