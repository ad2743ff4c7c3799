// SPDX-License-Identifier: BSD-2-Clause
// The KVM path's parts against a real guest on /dev/kvm: it boots in long
// mode, exits to the VMM, takes injected interrupts, reads every byte of
// every frame, and moves real blocks of a real file. Skipped only where
// this machine cannot make a VM (no /dev/kvm: e.g. a kernel that is itself
// a PVM guest has no KVM to offer).
#include "kvm_bench.h"
#include "bench_volume.h"

#include <mkdp/error.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <numeric>

namespace mkdp::bench::kvm {
namespace {

#define NEED_KVM()                                                      \
	do {                                                            \
		std::string why = unavailable();                        \
		if (!why.empty())                                       \
			GTEST_SKIP() << "no KVM here: " << why;         \
	} while (0)

TEST(KvmBench, DescribesTheKvm)
{
	nlohmann::json d = describe();
	EXPECT_TRUE(d.contains("module"));
	EXPECT_TRUE(d.contains("nested"));
}

TEST(KvmBench, GuestBootsAndExitsToTheVmm)
{
	NEED_KVM();
	Vm vm;
	uint64_t pings = 0;
	vm.run(KVMB_CMD_PING, 100, 0, 0, 0, [&] { pings++; });
	EXPECT_EQ(pings, 100u);
	EXPECT_EQ(vm.user_exits().ping, 100u);
	EXPECT_EQ(vm.user_exits().done, 2u) << "boot and the ping command";
	nlohmann::json k = vm.kernel_stats();
	EXPECT_GE(k.value("io_exits", uint64_t(0)), 100u) << k.dump();
}

TEST(KvmBench, InjectedInterruptsReachTheHaltedGuest)
{
	NEED_KVM();
	Vm vm;
	const uint64_t n = 20;
	uint64_t before = vm.mailbox().irqs;
	with_guest(vm, KVMB_CMD_IRQ_WAIT, n, 0, 0, 0, [&](const std::atomic<bool> &running) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t one = 1;
			ASSERT_EQ(write(vm.irqfd(), &one, sizeof(one)), ssize_t(sizeof(one)));
			uint64_t seen = before + i;
			while (running && __atomic_load_n(&vm.mailbox().irqs, __ATOMIC_ACQUIRE) == seen)
				vm.tick();
		}
	});
	EXPECT_EQ(vm.mailbox().irqs - before, n);
}

TEST(KvmBench, GuestReadsEveryByteOfEveryFrame)
{
	NEED_KVM();
	Vm vm;
	const uint32_t frames = 50'000;
	NetRun r = net_run(vm, frames);
	EXPECT_GT(r.pps, 0);
	EXPECT_GT(r.guest_cpu_ns_per_frame, 0);
	EXPECT_EQ(vm.mailbox().result[1], frames);
	// The guest's byte sum proves it read each frame whole.
	uint64_t per_frame = vm.mailbox().result[0] / frames;
	EXPECT_EQ(vm.mailbox().result[0] % frames, 0u);
	EXPECT_GT(per_frame, 0u);
	std::vector<double> lat = net_latency_ns(vm, 200);
	ASSERT_EQ(lat.size(), 200u);
	for (double l : lat)
		EXPECT_LT(l, 1e10) << "a latency from a clock that went backwards";
}

TEST(KvmBench, BlockRequestsMoveRealBlocks)
{
	NEED_KVM();
	char path[] = "/var/tmp/mkdp-kvm-blk-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_EQ(ftruncate(fd, BenchVolume::kSize), 0);
	// Every block holds its own number in each of its 64-bit words.
	std::vector<uint64_t> block(kLoadBlock / 8);
	for (uint64_t b = 0; b < 4096; b++) {
		std::fill(block.begin(), block.end(), b);
		ASSERT_EQ(pwrite(fd, block.data(), kLoadBlock, b * kLoadBlock), ssize_t(kLoadBlock));
	}
	Vm vm;
	// Reads among the first 4096 blocks: each buffer the guest read into
	// holds one whole block of the pattern.
	LoadResult r = blk_load(vm, fd, false, 8, 2000, 4096);
	EXPECT_GT(r.iops, 0);
	EXPECT_EQ(r.latency_ns.size(), 2000u);
	auto uniform = [](const uint64_t *w) {
		return std::all_of(w, w + kLoadBlock / 8, [&](uint64_t x) { return x == w[0] && x < 4096; });
	};
	for (unsigned s = 0; s < 8; s++)
		EXPECT_TRUE(uniform(vm.at<uint64_t>(KVMB_BLK_BUF + uint64_t(s) * KVMB_BLK_BLOCK))) << "slot " << s;
	// Writes of those buffers: every block stays one whole pattern block.
	blk_load(vm, fd, true, 8, 2000, 4096);
	for (uint64_t b = 0; b < 4096; b++) {
		ASSERT_EQ(pread(fd, block.data(), kLoadBlock, b * kLoadBlock), ssize_t(kLoadBlock));
		ASSERT_TRUE(uniform(block.data())) << "block " << b << " holds a torn write";
	}
	close(fd);
}

} // namespace
} // namespace mkdp::bench::kvm
