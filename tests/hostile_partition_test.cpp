// SPDX-License-Identifier: BSD-2-Clause
// A hostile partition: p1 is mkdp-hostile-partition (tests/hostile_partition.cpp),
// which joins like any partition and then scribbles its rings, returns
// frames it never held and one twice, floods its return ring, stops
// consuming, and writes garbage into its forward and storage rings. A local
// client meanwhile sends the control socket garbage. The survivor p0 keeps
// every frame of its flow (or each loss is one the kernel counted for it)
// and every storage request on its volume completes with the right data;
// the supervisor stays up; each kind of misbehaviour shows in `status`.
#include "volume_bed.h"

#include <client.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <thread>

#ifndef MKDP_HOSTILE
#error "MKDP_HOSTILE names mkdp-hostile-partition"
#endif

namespace mkdp::test {
namespace {

using HostileTest = PartitionFixture;

// One connection to the control socket sending `bytes`, then reading what
// comes back until the supervisor closes it (or 2 s pass). "" when it
// could not connect.
std::string send_control(const std::string &bytes, bool close_early = false)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strncpy(sa.sun_path, kSupervisorSocket, sizeof(sa.sun_path) - 1);
	if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return "";
	}
	timeval tv{2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
	std::string out;
	char buf[4096];
	ssize_t n;
	while (!close_early && (n = read(fd, buf, sizeof(buf))) > 0)
		out.append(buf, size_t(n));
	close(fd);
	return out;
}

// Garbage a local client can send: not JSON, JSON of the wrong shape,
// unknown commands, wrong types, binary, a line far too long.
void abuse_control(const std::atomic<bool> &stop, std::atomic<uint64_t> &answered)
{
	const std::vector<std::string> lines = {
		"\n",
		"{\n",
		"not json at all\n",
		"[1,2,3]\n",
		"{\"cmd\": 7}\n",
		"{\"cmd\": \"no-such-command\"}\n",
		"{\"cmd\": \"kill\", \"name\": {\"a\": 1}}\n",
		"{\"cmd\": \"stop\", \"name\": \"" + std::string(5000, 'x') + "\"}\n",
		std::string("\x00\x01\x02\xff\xfe\n", 6),
		"{\"cmd\": \"status\"" + std::string(100000, ' ') + "}\n",
	};
	for (uint64_t i = 0; !stop; i++) {
		if (!send_control(lines[i % lines.size()]).empty())
			answered++;
		// A line that never ends, and a client that leaves mid-line.
		if (i % 16 == 0)
			send_control(std::string(1 << 20, 'y'));
		if (i % 16 == 8)
			send_control("{\"cmd\": \"sta", true);
	}
}

// Writes then reads back block after block of v0 (owner p0) while the
// hostile partition runs: every request must succeed with the right data.
void storage_traffic(const std::atomic<bool> &stop, uint64_t &ok, std::string &failed)
{
	sdp::Volume v = sdp::Volume::open("v0");
	const uint32_t blk = 4096;
	std::span<uint8_t> buf = v.buffer(0);
	for (uint64_t i = 0; !stop && failed.empty(); i++) {
		uint64_t sector = (i * 8) % (v.size() / 512 - 8);
		for (uint32_t w = 0; w < blk / 8; w++) {
			uint64_t x = i * 1000 + w;
			std::memcpy(buf.data() + w * 8, &x, 8);
		}
		for (uint8_t op : {uint8_t(SDP_OP_WRITE), uint8_t(SDP_OP_READ)}) {
			if (op == SDP_OP_READ)
				std::memset(buf.data(), 0, blk);
			sdp::Io io{op, 0, 0, blk, sector};
			sdp::IoResult r{};
			if (v.submit({&io, 1}) != 1 || v.reap({&r, 1}, 5'000'000'000) != 1) {
				failed = "no completion in 5 s";
				return;
			}
			if (r.status) {
				failed = std::string(op == SDP_OP_WRITE ? "write" : "read") + ": " + std::strerror(-r.status);
				return;
			}
		}
		for (uint32_t w = 0; w < blk / 8; w++) {
			uint64_t x;
			std::memcpy(&x, buf.data() + w * 8, 8);
			if (x != i * 1000 + w) {
				failed = "block " + std::to_string(i) + " read back wrong";
				return;
			}
		}
		ok++;
	}
}

TEST_F(HostileTest, MisbehavingPartitionCostsTheOthersNothing)
{
	VolumeBed bed;
	ASSERT_EQ(setenv("MKDP_PARTITION_EXEC", "p1=" MKDP_HOSTILE, 1), 0);
	ProgramResult up = bed.up();
	unsetenv("MKDP_PARTITION_EXEC");
	ASSERT_EQ(up.status, 0) << up.out << up.err;
	ASSERT_TRUE(bed.rule_one_flow_per_partition());
	json st0 = status();
	int supervisor = st0["supervisor"]["pid"];
	ASSERT_EQ(part(st0, "p1")["state"], "running");

	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows{
		{tx.udp(5001, 7001), 0, 1, 0},
		{tx.udp(5002, 7002), 1, 1ULL << 40, 0},
	};
	constexpr uint64_t per_flow = 60'000, pps = 40'000;
	std::atomic<bool> stop{false};
	std::atomic<uint64_t> answered{0};
	uint64_t blocks_ok = 0;
	std::string storage_failed;
	std::jthread control([&] { abuse_control(stop, answered); });
	std::jthread storage([&] {
		try {
			storage_traffic(stop, blocks_ok, storage_failed);
		} catch (const std::exception &e) {
			storage_failed = e.what();
		}
	});
	struct StopFirst {
		std::atomic<bool> &s;
		~StopFirst() { s = true; }	// before the jthreads join, whatever happens
	} stop_first{stop};
	tx.send_flows(flows, per_flow, pps);

	// Every kind of misbehaviour counted where `status` shows it.
	auto n = [](const json &j, const char *a, const char *b = nullptr) {
		const json &x = b ? j.value(a, json::object()) : j;
		return x.value(b ? b : a, uint64_t(0));
	};
	auto counted = [&](const json &st) {
		json p0 = part(st, "p0"), p1 = part(st, "p1");
		json v0 = volume_status("v0"), f0 = volume_status("f0");
		return n(p1, "frames", "refused_returns") > 0 && n(p1, "frames", "ret_corrupt_index") > 0 &&
		       n(p0, "bad_desc") > 0 && n(p0, "fwd_corrupt_index") > 0 && n(f0, "cq_rejected") > 0 &&
		       n(f0, "cq_corrupt_index") > 0 && n(v0, "cq_rejected") > 0;
	};
	json st = wait_for(counted, 15000);
	stop = true;
	control.join();
	storage.join();
	EXPECT_TRUE(counted(st)) << "p0 " << part(st, "p0").dump() << "\np1 " << part(st, "p1").dump() << "\nf0 "
				 << volume_status("f0").dump() << "\nv0 " << volume_status("v0").dump();

	// The survivor: its whole flow, its storage, still its first process.
	json end = expect_delivered_or_counted("p0", per_flow, bed.netns());
	json p0 = part(end, "p0");
	EXPECT_EQ(p0["state"], "running");
	EXPECT_EQ(p0["starts"], 1u) << "the survivor was restarted";
	EXPECT_EQ(p0["tag_order_errors"], 0u);
	if (counted_losses(p0) == 0) {
		EXPECT_EQ(p0["tag_sum"], tag_sum(1, per_flow));
	}
	EXPECT_TRUE(storage_failed.empty()) << storage_failed;
	EXPECT_GT(blocks_ok, 0u);
	// The supervisor: the same process, answering, whatever came in.
	EXPECT_EQ(end["supervisor"]["pid"], supervisor);
	EXPECT_GT(answered.load(), 0u) << "the control socket answered no request";
	EXPECT_EQ(part(end, "p1")["state"], "running") << "the hostile partition is not the one to die";
	std::printf("survivor: %llu/%llu frames, %llu blocks written and read back; hostile p1: refused returns "
		    "%llu, corrupt return index %llu; p0 bad forwards %llu, corrupt forward index %llu; control "
		    "answers %llu\n",
		    (unsigned long long)p0["rx"], (unsigned long long)per_flow, (unsigned long long)blocks_ok,
		    (unsigned long long)part(end, "p1")["frames"]["refused_returns"],
		    (unsigned long long)part(end, "p1")["frames"]["ret_corrupt_index"],
		    (unsigned long long)p0["bad_desc"], (unsigned long long)p0["fwd_corrupt_index"],
		    (unsigned long long)answered.load());

	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

} // namespace
} // namespace mkdp::test
