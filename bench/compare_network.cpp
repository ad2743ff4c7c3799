// SPDX-License-Identifier: BSD-2-Clause
// bench all's network figures for the partition and namespace paths (the
// KVM path is bench/kvm/). Both through one DeliveryBed (bench/delivery.cpp):
// the same 60-byte frames injected with BPF_PROG_RUN live frames on the
// testbed's mkdp0 queue 0 from CPU 0, consumed on CPU 1, alternating path
// within each repetition.
#include "compare.h"
#include "kvm_bench.h"

namespace mkdp::bench {

nlohmann::json measure_network_paths(DeliveryBed &bed, bool quick, int reps, kvm::Vm *vm)
{
	const uint32_t frames = quick ? 200'000 : 2'000'000;
	const uint32_t samples = quick ? 2'000 : 20'000;
	struct Series {
		std::vector<double> fps, cpu, host_cpu, guest_cpu, p50, p99, all;
	};
	Series s[3];
	const int paths = vm ? 3 : 2;
	using P = DeliveryBed::Path;
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < paths; k++) {
			int i = (r + k) % paths;	// which goes first rotates
			std::vector<double> lat;
			if (i < 2) {
				P path = i == 0 ? P::xsk : P::udp;
				DeliveryBed::PathRun run = bed.run(path, frames);
				s[i].fps.push_back(run.pps);
				s[i].cpu.push_back(run.cpu_ns_per_frame);
				lat = bed.latency_ns(path, samples);
			} else {
				kvm::NetRun run = kvm::net_run(*vm, frames);
				s[i].fps.push_back(run.pps);
				s[i].cpu.push_back(run.cpu_ns_per_frame);
				s[i].host_cpu.push_back(run.host_cpu_ns_per_frame);
				s[i].guest_cpu.push_back(run.guest_cpu_ns_per_frame);
				lat = kvm::net_latency_ns(*vm, samples);
			}
			s[i].all.insert(s[i].all.end(), lat.begin(), lat.end());
			s[i].p50.push_back(percentile(lat, 50));
			s[i].p99.push_back(percentile(lat, 99));
		}
	}
	auto path_json = [&](Series &x, const char *what) {
		nlohmann::json lat = latency_json(std::move(x.all));
		lat["p50_per_rep"] = to_json(summarize(x.p50));
		lat["p99_per_rep"] = to_json(summarize(x.p99));
		return nlohmann::json{{"what", what},
				      {"pps", to_json(summarize(x.fps))},
				      {"cpu_ns_per_frame", to_json(summarize(x.cpu))},
				      {"latency_ns", lat}};
	};
	nlohmann::json out = {
		{"partition", path_json(s[0], "XDP steering -> AF_XDP socket -> consumer on CPU 1 reading "
					      "every byte")},
		{"namespace", path_json(s[1], "kernel stack -> UDP socket in a network namespace -> consumer "
					      "on CPU 1 (recvmmsg)")},
		{"frames_per_run", frames},
		{"latency_samples_per_run", samples}};
	if (vm) {
		out["kvm"] = path_json(s[2], "VMM device thread on CPU 0 copies each frame into the guest's virtio "
					     "RX queue -> guest vCPU on CPU 1 reads every byte; both poll (the frames "
					     "cross no NIC or XDP on this path: less host work than the others)");
		out["kvm"]["host_cpu_ns_per_frame"] = to_json(summarize(s[2].host_cpu));
		out["kvm"]["guest_cpu_ns_per_frame"] = to_json(summarize(s[2].guest_cpu));
	}
	return out;
}

} // namespace mkdp::bench
