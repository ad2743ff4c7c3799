// SPDX-License-Identifier: BSD-2-Clause
// bench all's storage figures for the partition and namespace paths (the
// KVM path is bench/kvm/), on the benchmark volume's file (BenchVolume):
//
// partition: a client session of volume "bench" of the benchmark's `mkdp
//   up` -> the storage plane and the volume's program -> partition p1's
//   storage worker (its process, CPU 1) -> io_uring on the file;
// namespace: what a container would do, io_uring on the same file from a
//   process of its own in a cpuset cgroup (mkdp/bench-ns-<pid>, CPU 0).
//
// Same load (storage_load.h), rotated within each repetition.
#include "compare.h"
#include "bench_volume.h"
#include "storage_load.h"
#include "kvm_bench.h"

#include <client.h>

#include <mkdp/cgroup.h>
#include <mkdp/cpu.h>
#include <mkdp/error.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mkdp::bench {

namespace {

// What the namespace process sends back through its pipe.
struct ChildResult {
	int32_t err;	// 0, or an errno
	double iops, p50, p99;
};

bool full_io(ssize_t (*op)(int, void *, size_t), int fd, void *buf, size_t len)
{
	auto *p = static_cast<uint8_t *>(buf);
	while (len) {
		ssize_t n = op(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= size_t(n);
	}
	return true;
}

ssize_t write_some(int fd, void *buf, size_t len)
{
	return write(fd, buf, len);
}

// One run of the load in a forked process placed in a cpuset cgroup of its
// own. The benchmark is single-threaded here (DeliveryBed's threads are
// joined, the supervisor is another process), so fork is safe.
ChildResult cgroup_load(int fd, bool write, unsigned qd, uint64_t ops)
{
	int go[2], back[2];
	if (pipe2(go, O_CLOEXEC) || pipe2(back, O_CLOEXEC))
		throw_errno("pipe");
	pid_t pid = fork();
	if (pid < 0)
		throw_errno("fork");
	if (pid == 0) {
		close(go[1]);
		close(back[0]);
		char c;
		ChildResult r{};
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		try {
			pin_to_cpu(0);
			LoadResult l = uring_load(fd, write, qd, ops, true);
			r.iops = l.iops;
			r.p50 = percentile(l.latency_ns, 50);
			r.p99 = percentile(l.latency_ns, 99);
		} catch (const Error &e) {
			r.err = e.code() ? e.code() : EIO;
		}
		full_io(write_some, back[1], &r, sizeof(r));
		_exit(0);
	}
	close(go[0]);
	close(back[1]);
	CpuPlacement place;
	std::string why;
	try {
		place = place_in_cpuset("bench-ns-" + std::to_string(getpid()), "0", pid);
	} catch (const Error &e) {
		why = e.what();
	}
	ChildResult r{};
	char c = 1;
	bool ok = why.empty() && ::write(go[1], &c, 1) == 1 && full_io(read, back[0], &r, sizeof(r));
	close(go[1]);
	close(back[0]);
	if (!ok && why.empty())
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	std::string stays = remove_cpuset(place);
	if (!why.empty())
		throw Error("namespace storage path: " + why);
	if (!ok)
		throw Error("namespace storage path: the measuring process died");
	if (r.err)
		throw Error(std::string("namespace storage path: ") + std::strerror(r.err), r.err);
	if (!stays.empty())
		throw Error("namespace storage path: " + stays);
	return r;
}

} // namespace

nlohmann::json measure_storage_paths(BenchVolume &bv, bool quick, int reps, kvm::Vm *vm)
{
	sdp::Volume vol = sdp::Volume::open(BenchVolume::kName);
	pin_to_cpu(0);
	const uint64_t ops = quick ? 4000 : 40000;
	nlohmann::json part, ns, kv;
	const int paths = vm ? 3 : 2;
	struct Series {
		std::vector<double> iops, p50, p99;
		void add(double i, double a, double b)
		{
			iops.push_back(i);
			p50.push_back(a);
			p99.push_back(b);
		}
		nlohmann::json json() const
		{
			return {{"iops", to_json(summarize(iops))},
				{"latency_ns", {{"p50", to_json(summarize(p50))}, {"p99", to_json(summarize(p99))}}}};
		}
	};
	auto add = [](Series &s, LoadResult &l) {
		s.add(l.iops, percentile(l.latency_ns, 50), percentile(l.latency_ns, 99));
	};
	for (bool write : {false, true}) {
		for (unsigned qd : {1u, 32u}) {
			Series sp, sn, sk;
			for (int rep = 0; rep < reps; rep++) {
				for (int k = 0; k < paths; k++) {
					int which = (rep + k) % paths;	// which goes first rotates
					if (which == 0) {
						LoadResult l = volume_load(vol, write, qd, ops, true);
						add(sp, l);
					} else if (which == 1) {
						ChildResult c = cgroup_load(bv.backend().fd, write, qd, ops);
						sn.add(c.iops, c.p50, c.p99);
					} else {
						LoadResult l = kvm::blk_load(*vm, bv.backend().fd, write, qd, ops);
						add(sk, l);
					}
				}
			}
			std::string key = std::string(write ? "randwrite" : "randread") + "_qd" + std::to_string(qd);
			part[key] = sp.json();
			ns[key] = sn.json();
			if (vm)
				kv[key] = sk.json();
		}
	}
	part["what"] = "client session (CPU 0) -> storage plane with the volume's program -> partition p1's "
		       "worker (CPU 1) -> io_uring, O_DIRECT file";
	ns["what"] = "io_uring on the same file from a process in its own cpuset cgroup (CPU 0), polled";
	nlohmann::json out = {{"partition", part}, {"namespace", ns}, {"ops_per_run", ops},
			      {"direct", bv.backend().direct}};
	if (vm) {
		kv["what"] = "guest virtio-blk driver on CPU 1 -> VMM device thread on CPU 0 polling the queue -> "
			     "io_uring on the same file into guest memory, polled";
		out["kvm"] = kv;
	}
	return out;
}

} // namespace mkdp::bench
