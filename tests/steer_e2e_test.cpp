// SPDX-License-Identifier: BSD-2-Clause
// The steering program end to end on a real veth: a testbed of our own,
// mkdp's steering attached natively to mkdp0 through the Steering loader,
// one AF_XDP socket per queue (partition p listens on queue p), the
// generator sending tagged frames from mkdp1. For each policy every frame
// must land where the policy says (checked by content), and the program's
// counters must agree with what was sent; detach must leave no program,
// pin or map behind.
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/packet.h>
#include <mkdp/region.h>
#include <mkdp/subprocess.h>
#include <mkdp/testbed.h>
#include <mkdp/traffic_gen.h>
#include <mkdp/xsk.h>
#include <steer_loader.h>

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "bare_redirect.skel.h"
#include "steer.skel.h"

using namespace mkdp;

namespace {

constexpr uint32_t kQueues = 2;	// partition p has its socket on queue p
constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kFrames = 4096;

// Where each of our tagged frames arrived: tag -> queue of the socket.
struct Arrivals {
	std::map<uint64_t, uint32_t> queue_of;
	uint64_t wrong_content = 0, duplicates = 0;
	std::vector<std::string> others;	// frames that were not the generator's
};

// What a frame that is not ours was, for the failure message.
std::string describe(std::span<const uint8_t> f)
{
	char buf[128];
	unsigned type = f.size() >= 14 ? unsigned(f[12]) << 8 | f[13] : 0;
	snprintf(buf, sizeof(buf), "[%zu bytes, ethertype 0x%04x, byte 20: %u, byte 54: %u] ", f.size(), type,
		 f.size() > 20 ? f[20] : 0, f.size() > 54 ? f[54] : 0);
	return buf;
}

std::string joined(const std::vector<std::string> &v)
{
	std::string s;
	for (const std::string &x : v)
		s += x;
	return s;
}

class SteerE2E : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (netns, XDP, AF_XDP)";
		ns_ = "mkdp-se-" + std::to_string(getpid());
		tb_ = std::make_unique<Testbed>(TestbedOptions{ns_, kQueues});
		run_in_netns(ns_, [&] {
			AttachOptions o;
			o.config.partitions = kQueues;
			o.config.policy = MKDP_STEER_POLICY_QUEUE | MKDP_STEER_POLICY_RULES;
			steer_ = std::make_unique<Steering>(Steering::attach(kTestbedRxDev, o));
			region_ = Region::create(RegionLayout().area("umem", uint64_t(kFrames) * kFrameSize, kFrameSize));
			umem_ = std::make_unique<Umem>(region_, "umem");
			for (uint32_t q = 0; q < kQueues; q++) {
				XskConfig cfg;
				cfg.tx_size = 0;
				socks_.push_back(std::make_unique<XskSocket>(*umem_, kTestbedRxDev, q, cfg));
				steer_->set_socket(q, q, socks_.back()->fd());
				socks_.back()->refill(1024);
			}
		});
	}

	void TearDown() override
	{
		if (!tb_)
			return;
		socks_.clear();
		umem_.reset();
		if (steer_) {
			steer_.reset();
			run_in_netns(ns_, [] { Steering::detach(kTestbedRxDev); });
		}
		tb_.reset();
		EXPECT_FALSE(netns_exists(ns_));
	}

	GenOptions gen_options(uint64_t first_tag, uint64_t count) const
	{
		GenOptions o;
		o.netns = ns_;
		o.ifname = kTestbedTxDev;
		o.flows = 16;
		o.count = count;
		o.rate_pps = 20000;
		o.size = 128;
		o.dst_port = 4000;
		o.first_tag = first_tag;
		return o;
	}

	// Sends, and drains every socket until all of our frames that should
	// arrive (`expect`) did, or a 3 s quiet spell after sending ends (a
	// hang guard: frames that must not arrive are waited for too).
	GenReport send_and_collect(const GenOptions &o, uint64_t expect, Arrivals &got)
	{
		GenReport sent;
		std::exception_ptr err;
		std::atomic<bool> done{false};
		std::thread gen([&] {
			try {
				sent = generate(o);
			} catch (...) {
				err = std::current_exception();
			}
			done = true;
		});
		const TestbedInfo &ti = tb_->info();
		auto quiet_since = std::chrono::steady_clock::now();
		mkdp_frame_desc d[64];
		while (true) {
			bool any = false;
			for (auto &s : socks_) {
				uint32_t n = s->rx_burst(d, 64);
				for (uint32_t i = 0; i < n; i++) {
					std::span<const uint8_t> f{umem_->data(d[i].addr), d[i].len};
					auto p = parse_frame(f);
					if (!p || !p->tag || p->tuple.dst_port != o.dst_port || *p->tag < o.first_tag ||
					    *p->tag >= o.first_tag + o.count) {
						got.others.push_back(describe(f));
						continue; // not ours
					}
					uint64_t idx = *p->tag - o.first_tag;
					FrameSpec spec = gen_frame_spec(o, ti.tx.mac, ti.rx.mac, o.ipv6 ? ti.tx.ip6 : ti.tx.ip4,
									o.ipv6 ? ti.rx.ip6 : ti.rx.ip4, idx);
					if (p->tuple != FiveTuple{spec.src_ip, spec.dst_ip, spec.proto, spec.src_port,
								  spec.dst_port} ||
					    p->vlan != spec.vlan || p->src_mac != spec.src_mac || !l3_checksum_ok(f, *p) ||
					    !l4_checksum_ok(f, *p))
						got.wrong_content++;
					if (!got.queue_of.emplace(*p->tag, s->queue()).second)
						got.duplicates++;
				}
				if (n) {
					s->recycle(d, n);
					any = true;
				}
			}
			auto now = std::chrono::steady_clock::now();
			if (any || !done)
				quiet_since = now;
			if (done && (got.queue_of.size() >= expect || now - quiet_since > std::chrono::seconds(3)))
				break;
			if (!any)
				std::this_thread::sleep_for(std::chrono::microseconds(200));
		}
		gen.join();
		if (err)
			std::rethrow_exception(err);
		return sent;
	}

	std::string ns_;
	std::unique_ptr<Testbed> tb_;
	std::unique_ptr<Steering> steer_;
	Region region_;
	std::unique_ptr<Umem> umem_;
	std::vector<std::unique_ptr<XskSocket>> socks_;
};

// Untagged UDP/IPv4, 802.1Q-tagged UDP/IPv6 and tagged TCP/IPv4: every
// frame arrives once, intact, in its queue's partition, and the counters
// match exactly (the testbed sends nothing of its own: no IPv6 autoconf).

// Whether the kernel has freed a BPF object: get(), an fd-by-id call, fails
// with ENOENT within 2 s (release is deferred past an RCU grace period).
template <class Get> bool freed_eventually(Get get)
{
	for (int i = 0; i < 200; i++) {
		int fd = get();
		if (fd < 0 && errno == ENOENT)
			return true;
		if (fd >= 0)
			close(fd);
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return false;
}

TEST_F(SteerE2E, QueuePolicyDeliversEachFrameToItsQueuesPartition)
{
	struct Flavour {
		const char *name;
		bool ipv6;
		uint16_t vlan;
		L4Proto proto;
	};
	uint64_t first = 1000;
	for (Flavour fl : {Flavour{"udp/ipv4", false, 0, L4Proto::udp}, Flavour{"udp/ipv6/vlan 7", true, 7, L4Proto::udp},
			   Flavour{"tcp/ipv4/vlan 4094", false, 4094, L4Proto::tcp}}) {
		SCOPED_TRACE(fl.name);
		SteerStats before = steer_->read_stats();
		GenOptions o = gen_options(first, 1000);
		first += o.count;
		o.ipv6 = fl.ipv6;
		o.vlan = fl.vlan;
		o.proto = fl.proto;
		Arrivals got;
		GenReport sent = send_and_collect(o, o.count, got);
		SteerStats after = steer_->read_stats();

		ASSERT_EQ(sent.frames, o.count);
		EXPECT_EQ(got.queue_of.size(), o.count) << "frames lost";
		EXPECT_EQ(got.duplicates, 0u);
		EXPECT_EQ(got.wrong_content, 0u);
		for (auto [tag, q] : got.queue_of)
			ASSERT_EQ(q, gen_frame_queue(o, kQueues, tag - o.first_tag)) << "tag " << tag;
		for (uint32_t p = 0; p < kQueues; p++) {
			uint64_t steered = after.partitions[p].packets - before.partitions[p].packets;
			EXPECT_EQ(steered, sent.per_queue[p]) << "partition " << p << "; not ours: " << joined(got.others);
			EXPECT_EQ(after.partitions[p].no_socket, before.partitions[p].no_socket);
			EXPECT_EQ(after.partitions[p].redirect_errors, 0u);
		}
		EXPECT_EQ(after.totals.packets - before.totals.packets, o.count) << "frames the generator did not send";
	}
	EXPECT_EQ(umem_->ownership_errors(), 0u);
}

// A socket bound to another queue refuses the frame after the program
// returned XDP_REDIRECT: only the redirect-error program (tp_btf) sees it,
// and counts it against the slot's partition.
TEST_F(SteerE2E, RedirectsTheSocketRefusesAreCounted)
{
	run_in_netns(ns_, [&] { steer_->set_socket(0, 0, socks_[1]->fd()); });
	SteerStats before = steer_->read_stats();
	GenOptions o = gen_options(9000, 400);
	uint64_t on_queue0 = 0;
	for (uint64_t i = 0; i < o.count; i++)
		on_queue0 += gen_frame_queue(o, kQueues, i) == 0;
	ASSERT_GT(on_queue0, 0u);
	Arrivals got;
	GenReport sent = send_and_collect(o, o.count - on_queue0, got);
	SteerStats after = steer_->read_stats();

	ASSERT_EQ(sent.per_queue[0], on_queue0);
	EXPECT_EQ(got.queue_of.size(), o.count - on_queue0);
	for (auto [tag, q] : got.queue_of)
		EXPECT_NE(gen_frame_queue(o, kQueues, tag - o.first_tag), 0u) << "tag " << tag << " got through";
	EXPECT_EQ(after.partitions[0].redirect_errors - before.partitions[0].redirect_errors, on_queue0);
	for (uint32_t p = 1; p < kQueues; p++)
		EXPECT_EQ(after.partitions[p].redirect_errors, before.partitions[p].redirect_errors) << "partition " << p;
}

TEST_F(SteerE2E, ExactRuleWinsAndCountsNoSocketThenDefaultDrop)
{
	// Every frame leaves on queue 0, but a rule sends flow 3 to partition 1,
	// which has no socket on queue 0: no_socket, then the default action.
	GenOptions o = gen_options(5000, 800);
	o.queue = 0;
	o.flows = 4;
	const TestbedInfo &ti = tb_->info();
	FrameSpec f3 = gen_frame_spec(o, ti.tx.mac, ti.rx.mac, ti.tx.ip4, ti.rx.ip4, 3);
	SteerRule r = SteerRule::parse("exact udp " + f3.src_ip.str() + ":" + std::to_string(f3.src_port) + " " +
				       f3.dst_ip.str() + ":" + std::to_string(f3.dst_port) + " part 1");
	uint32_t id = steer_->add_rule(r);

	for (SteerAction dflt : {SteerAction::pass, SteerAction::drop}) {
		SCOPED_TRACE(to_string(dflt));
		SteerConfig c = steer_->config();
		c.default_action = dflt;
		steer_->configure(c);
		SteerStats before = steer_->read_stats();
		Arrivals got;
		GenReport sent = send_and_collect(o, o.count * 3 / 4, got);
		SteerStats after = steer_->read_stats();
		ASSERT_EQ(sent.frames, o.count);

		uint64_t flow3 = o.count / 4;
		EXPECT_EQ(got.queue_of.size(), o.count - flow3);
		for (auto [tag, q] : got.queue_of) {
			EXPECT_EQ(q, 0u);
			EXPECT_NE((tag - o.first_tag) % o.flows, 3u) << "flow 3 reached a socket";
		}
		auto rule = std::find_if(after.rules.begin(), after.rules.end(),
					 [&](auto &x) { return x.first.id == id; });
		auto rule0 = std::find_if(before.rules.begin(), before.rules.end(),
					  [&](auto &x) { return x.first.id == id; });
		ASSERT_NE(rule, after.rules.end());
		EXPECT_EQ(rule->second.packets - rule0->second.packets, flow3);
		EXPECT_EQ(after.partitions[1].no_socket - before.partitions[1].no_socket, flow3);
		EXPECT_EQ(after.partitions[1].drops - before.partitions[1].drops,
			  dflt == SteerAction::drop ? flow3 : 0);
		EXPECT_GE(after.partitions[0].packets - before.partitions[0].packets, o.count - flow3);
	}
}

TEST_F(SteerE2E, PrefixDropRuleStopsEverything)
{
	steer_->add_rule(SteerRule::parse("src " + tb_->info().tx.ip4.str() + "/32 drop"));
	SteerStats before = steer_->read_stats();
	GenOptions o = gen_options(9000, 500);
	Arrivals got;
	GenReport sent = send_and_collect(o, 0, got);
	SteerStats after = steer_->read_stats();
	ASSERT_EQ(sent.frames, o.count);
	EXPECT_TRUE(got.queue_of.empty());
	EXPECT_EQ(after.totals.dropped - before.totals.dropped, o.count);
}

TEST_F(SteerE2E, FlowHashSpreadsFlowsAndEveryFrameIsAccountedFor)
{
	SteerConfig c = steer_->config();
	c.policy = MKDP_STEER_POLICY_HASH;
	steer_->configure(c);
	SteerStats before = steer_->read_stats();
	GenOptions o = gen_options(20000, 1600);
	o.flows = 32;
	Arrivals got;
	GenReport sent = send_and_collect(o, 1, got);
	SteerStats after = steer_->read_stats();
	ASSERT_EQ(sent.frames, o.count);

	// A flow's frames all hash to one partition; they arrive only when that
	// partition has a socket on the queue the flow came in on.
	uint64_t steered = 0, no_socket = 0;
	for (uint32_t p = 0; p < kQueues; p++) {
		steered += after.partitions[p].packets - before.partitions[p].packets;
		no_socket += after.partitions[p].no_socket - before.partitions[p].no_socket;
	}
	EXPECT_GE(steered, o.count);
	// Every frame of ours arrived or found no socket; the kernel's own
	// chatter may add a few steered frames on top.
	EXPECT_GE(got.queue_of.size() + no_socket, o.count);
	EXPECT_LE(got.queue_of.size() + no_socket, steered);
	EXPECT_GT(got.queue_of.size(), 0u);
	EXPECT_GT(no_socket, 0u) << "32 flows over 2 partitions never crossed queues?";
	std::map<uint32_t, std::set<uint32_t>> queues_of_flow;
	for (auto [tag, q] : got.queue_of)
		queues_of_flow[(tag - o.first_tag) % o.flows].insert(q);
	for (auto &[flow, qs] : queues_of_flow)
		EXPECT_EQ(qs.size(), 1u) << "flow " << flow;
}

TEST(SteerDetach, LeavesNoProgramPinOrMapBehind)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root (netns, XDP)";
	std::string ns = "mkdp-sd-" + std::to_string(getpid());
	Testbed tb({ns, 2});
	std::vector<uint32_t> map_ids;
	uint32_t prog_id = 0;
	run_in_netns(ns, [&] {
		Steering s = Steering::attach(kTestbedRxDev, {});
		prog_id = s.status().prog_id;
		const bpf_map *m;
		bpf_object__for_each_map(m, s.skel().obj) {
			bpf_map_info info{};
			uint32_t len = sizeof(info);
			ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len), 0);
			map_ids.push_back(info.id);
		}
		// Attaching twice is idempotent: same program.
		EXPECT_EQ(Steering::attach(kTestbedRxDev, {}).status().prog_id, prog_id);
	});
	ASSERT_NE(prog_id, 0u);
	EXPECT_TRUE(std::filesystem::exists(Steering::pin_dir(ns, kTestbedRxDev)));
	run_in_netns(ns, [&] {
		Steering::detach(kTestbedRxDev);
		uint32_t id = 1;
		ASSERT_EQ(bpf_xdp_query_id(int(if_nametoindex(kTestbedRxDev)), 0, &id), 0);
		EXPECT_EQ(id, 0u) << "an XDP program is still attached";
	});
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir(ns, kTestbedRxDev)));
	// Nothing of ours may still hold the program or a map.
	for (auto &e : std::filesystem::directory_iterator("/proc/self/fd")) {
		std::error_code ec;
		std::string target = std::filesystem::read_symlink(e.path(), ec).string();
		EXPECT_EQ(target.find("bpf"), std::string::npos) << "fd " << e.path().filename() << " -> " << target;
	}
	// Freed maps and programs go away after an RCU grace period: poll.
	EXPECT_TRUE(freed_eventually([&] { return bpf_prog_get_fd_by_id(prog_id); })) << "program " << prog_id;
	for (uint32_t id : map_ids)
		EXPECT_TRUE(freed_eventually([&] { return bpf_map_get_fd_by_id(id); })) << "map " << id;
}

// ---- the CLI, as a user drives it ------------------------------------------------

using json = nlohmann::json;

ProgramResult cli(std::vector<std::string> args)
{
	args.insert(args.begin(), MKDP_CLI);
	return run_program(args);
}

size_t lines(const std::string &s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

#define EXPECT_REFUSED(r, what)                                                                  \
	do {                                                                                     \
		ProgramResult r_ = (r);                                                          \
		EXPECT_NE(r_.status, 0) << r_.out;                                               \
		EXPECT_EQ(lines(r_.err), 1u) << r_.err;                                          \
		EXPECT_NE(r_.err.find(what), std::string::npos) << "wanted '" << (what) << "' in " << r_.err; \
	} while (0)

bool prog_freed(uint32_t id)
{
	return freed_eventually([&] { return bpf_prog_get_fd_by_id(id); });
}

// A testbed brought up and taken down with the CLI, whatever the test does.
class CliTestbed {
public:
	explicit CliTestbed(const char *tag)
		: name_(std::string("mkdp-sc") + tag + "-" + std::to_string(getpid()))
	{
		ProgramResult r = cli({"testbed", "up", "--name", name_, "--queues", "2"});
		if (r.status)
			throw Error("testbed up: " + r.err);
	}
	~CliTestbed()
	{
		cli({"testbed", "down", "--name", name_});
		run_program({"ip", "netns", "del", name_});
	}
	const std::string &name() const { return name_; }
	// `status IFACE --json` of mkdp0 here.
	json status() const
	{
		ProgramResult r = cli({"steer", "status", kTestbedRxDev, "--netns", name_, "--json"});
		EXPECT_EQ(r.status, 0) << r.err;
		return r.status ? json() : json::parse(r.out)["interfaces"][0];
	}
	ProgramResult run(std::vector<std::string> args) const
	{
		args.push_back("--netns");
		args.push_back(name_);
		return cli(args);
	}

private:
	std::string name_;
};

class SteerCli : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (netns, XDP)";
	}
};

// bpffs is shared by every namespace: two namespaces with an mkdp0 each
// keep their own pins, and neither status nor detach from a third one
// touches them.
TEST_F(SteerCli, PinsAreKeptPerNamespace)
{
	CliTestbed a("a"), b("b");
	for (const CliTestbed *t : {&a, &b})
		ASSERT_EQ(t->run({"steer", "attach", kTestbedRxDev, "--partitions", "2"}).status, 0);
	std::string da = Steering::pin_dir(a.name(), kTestbedRxDev), db = Steering::pin_dir(b.name(), kTestbedRxDev);
	EXPECT_NE(da, db);
	EXPECT_TRUE(std::filesystem::exists(da + "/steer_config")) << da;
	EXPECT_TRUE(std::filesystem::exists(db + "/steer_config")) << db;
	json sa = a.status(), sb = b.status();
	EXPECT_TRUE(sa["attached"].get<bool>());
	EXPECT_TRUE(sb["attached"].get<bool>());
	EXPECT_NE(sa["prog_id"], sb["prog_id"]);

	// `status` from here lists both, each attached in its own namespace.
	ProgramResult all = cli({"steer", "status", "--json"});
	ASSERT_EQ(all.status, 0) << all.err;
	int seen = 0;
	json listed = json::parse(all.out);
	for (const json &i : listed["interfaces"])
		if (i["netns"] == a.name() || i["netns"] == b.name()) {
			seen++;
			EXPECT_TRUE(i["attached"].get<bool>()) << i.dump();
		}
	EXPECT_EQ(seen, 2);

	// From the wrong namespace: refused, naming where the steering is.
	EXPECT_REFUSED(cli({"steer", "detach", kTestbedRxDev}), "--netns " + a.name());
	EXPECT_REFUSED(cli({"steer", "rule", "list", kTestbedRxDev}), "--netns " + b.name());
	EXPECT_TRUE(a.status()["attached"].get<bool>());

	ProgramResult d = b.run({"steer", "detach", kTestbedRxDev, "--json"});
	ASSERT_EQ(d.status, 0) << d.err;
	EXPECT_EQ(json::parse(d.out)["detached_from"], kTestbedRxDev);
	EXPECT_FALSE(std::filesystem::exists(db));
	EXPECT_TRUE(prog_freed(sb["prog_id"].get<uint32_t>()));
	json sa2 = a.status();
	EXPECT_TRUE(sa2["attached"].get<bool>());
	EXPECT_EQ(sa2["prog_id"], sa["prog_id"]);
}

// A foreign program replaced mkdp's: attaching again is refused and changes
// nothing; detach then removes only mkdp's pins and leaves the foreign
// program alone.
TEST_F(SteerCli, RefusedAttachChangesNothing)
{
	CliTestbed t("r");
	ASSERT_EQ(t.run({"steer", "attach", kTestbedRxDev, "--policy", "rules"}).status, 0);
	ASSERT_EQ(t.run({"steer", "rule", "add", kTestbedRxDev, "dst", "10.9.0.0/16", "part", "1"}).status, 0);
	uint32_t bare_id = 0;
	run_in_netns(t.name(), [&] {
		bare_redirect *bare = bare_redirect__open_and_load();
		ASSERT_NE(bare, nullptr);
		int fd = bpf_program__fd(bare->progs.bare_redirect);
		ASSERT_EQ(bpf_xdp_attach(int(if_nametoindex(kTestbedRxDev)), fd, XDP_FLAGS_DRV_MODE, nullptr), 0);
		bpf_prog_info info{};
		uint32_t len = sizeof(info);
		bpf_obj_get_info_by_fd(fd, &info, &len);
		bare_id = info.id;
		bare_redirect__destroy(bare);	// the attachment keeps it
	});
	EXPECT_FALSE(t.status()["attached"].get<bool>());

	EXPECT_REFUSED(t.run({"steer", "attach", kTestbedRxDev, "--policy", "hash"}), "--force");
	std::string dir = Steering::pin_dir(t.name(), kTestbedRxDev);
	EXPECT_TRUE(std::filesystem::exists(dir + "/mkdp_steer"));
	ProgramResult rl = t.run({"steer", "rule", "list", kTestbedRxDev, "--json"});
	ASSERT_EQ(rl.status, 0) << rl.err;
	EXPECT_EQ(json::parse(rl.out)["rules"].size(), 1u);
	EXPECT_EQ(t.status()["policy"], "rules");

	ProgramResult d = t.run({"steer", "detach", kTestbedRxDev});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("no longer attached"), std::string::npos) << d.out;
	EXPECT_FALSE(std::filesystem::exists(dir));
	uint32_t id = 0;
	run_in_netns(t.name(), [&] { bpf_xdp_query_id(int(if_nametoindex(kTestbedRxDev)), 0, &id); });
	EXPECT_EQ(id, bare_id) << "detach removed a program mkdp did not attach";
}

TEST_F(SteerCli, ReattachChangesOnlyWhatIsGiven)
{
	CliTestbed t("o");
	ASSERT_EQ(t.run({"steer", "attach", kTestbedRxDev, "--policy", "rules,hash", "--default", "drop", "--partitions", "2",
			 "--symmetric", "--seed", "5"})
			  .status,
		  0);
	ProgramResult r = t.run({"steer", "attach", kTestbedRxDev, "--partitions", "4", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json s = json::parse(r.out)["steering"];
	EXPECT_EQ(json::parse(r.out)["result"], "updated");
	EXPECT_EQ(s["policy"], "rules,hash");
	EXPECT_EQ(s["default_verdict"], "drop");
	EXPECT_EQ(s["partition_count"], 4);
	EXPECT_EQ(s["symmetric"], true);
	EXPECT_EQ(s["hash_seed"], 5);
	EXPECT_EQ(s["queue_map"], json::array({0, 1}));

	EXPECT_REFUSED(t.run({"steer", "attach", kTestbedRxDev, "--policy", ""}), "policy");
	EXPECT_REFUSED(t.run({"steer", "attach", kTestbedRxDev, "--queue-map", "2=0"}), "queue 2");
	EXPECT_REFUSED(t.run({"steer", "attach", kTestbedRxDev, "--queue-map", "0=4"}), "0..3");
	EXPECT_REFUSED(t.run({"steer", "attach", kTestbedRxDev, "--indir-table", "0,1,2"}), "divide");
	EXPECT_REFUSED(t.run({"steer", "attach", kTestbedRxDev, "--indir-table", "0,5", "--partitions", "5"}), "0..4");
	json same = t.status();
	EXPECT_EQ(same, s) << "a refused attach changed something";

	r = t.run({"steer", "attach", kTestbedRxDev, "--queue-map", "0=3,1=none", "--indir-weights", "1,3", "--no-symmetric",
		   "--seed", "9", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	s = json::parse(r.out)["steering"];
	EXPECT_EQ(s["queue_map"], json::array({3, nullptr}));
	EXPECT_EQ(s["symmetric"], false);
	EXPECT_EQ(s["hash_seed"], 9);
	EXPECT_EQ(s["policy"], "rules,hash");
	std::map<json, int> share;
	for (const json &p : s["indirection"])
		share[p]++;
	EXPECT_EQ(share[json(0)], 32);
	EXPECT_EQ(share[json(1)], 96);
	// The program reads what status shows.
	run_in_netns(t.name(), [&] {
		Steering st = Steering::open(kTestbedRxDev);
		EXPECT_EQ(st.queue_map()[0], 3u);
		EXPECT_EQ(st.config().hash_seed, 9u);
	});

	// Rules: ports explicit, ranges named, no id for a rule not yet added.
	EXPECT_REFUSED(t.run({"steer", "rule", "add", kTestbedRxDev, "exact", "udp", "10.0.0.1", "10.0.0.2", "part", "1"}), ":0");
	EXPECT_REFUSED(t.run({"steer", "rule", "add", kTestbedRxDev, "dst", "10.1.0.0/16", "part", "16"}), "0..15");
	ProgramResult bad = t.run({"steer", "rule", "add", kTestbedRxDev, "dst", "10.1.0.0/16", "part", "5"});
	EXPECT_REFUSED(bad, "0..3");
	EXPECT_EQ(bad.err.find('#'), std::string::npos) << bad.err;
	r = t.run({"steer", "rule", "add", kTestbedRxDev, "exact", "udp", "10.0.0.1:0", "10.0.0.2:0", "part", "2", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["result"], "added");
	json rule = json::parse(r.out)["rule"];
	EXPECT_EQ(rule["match"], "exact");
	EXPECT_EQ(rule["proto"], "udp");
	EXPECT_EQ(rule["sport"], 0);
	EXPECT_EQ(rule["verdict"], "steer");
	EXPECT_EQ(rule["partition_index"], 2);
	ASSERT_EQ(t.run({"steer", "rule", "add", kTestbedRxDev, "src", "fd77::/64", "drop"}).status, 0);
	r = t.run({"steer", "rule", "list", kTestbedRxDev, "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json rules = json::parse(r.out)["rules"];
	ASSERT_EQ(rules.size(), 2u);
	EXPECT_EQ(rules[1]["match"], "src");
	EXPECT_EQ(rules[1]["prefix"], "fd77::/64");
	EXPECT_EQ(rules[1]["verdict"], "drop");
	EXPECT_TRUE(rules[1]["partition_index"].is_null());
	EXPECT_TRUE(rules[1]["partition"].is_null());
	EXPECT_EQ(rules[1]["packets"], 0);
	r = t.run({"steer", "rule", "del", kTestbedRxDev, std::to_string(rules[0]["rule_id"].get<int>()), "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["result"], "deleted");
	EXPECT_EQ(json::parse(r.out)["rule"]["dst"], "10.0.0.2");

	r = t.run({"steer", "stats", kTestbedRxDev, "--count", "1", "--interval", "0.1", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	json sample = json::parse(r.out);
	EXPECT_EQ(sample["interface"], kTestbedRxDev);
	EXPECT_EQ(sample["netns"], t.name());
	EXPECT_GT(sample["time_seconds"].get<double>(), 1.6e9);
}

// testbed down takes the steering with it; pins whose namespace went some
// other way show as stale in status, with a hint that works.
TEST_F(SteerCli, TestbedDownDetachesAndStalePinsHaveAWayOut)
{
	auto prog_of = [](const CliTestbed &t) { return t.status()["prog_id"].get<uint32_t>(); };
	std::string down_name;
	{
		CliTestbed t("d");
		down_name = t.name();
		ASSERT_EQ(t.run({"steer", "attach", kTestbedRxDev}).status, 0);
		uint32_t id = prog_of(t);
		ProgramResult r = cli({"testbed", "down", "--name", t.name()});
		EXPECT_EQ(r.status, 0) << r.err;
		EXPECT_NE(r.out.find("detached mkdp steering from mkdp0"), std::string::npos) << r.out;
		EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir(t.name(), kTestbedRxDev)));
		EXPECT_TRUE(prog_freed(id));
	}
	CliTestbed t("s");
	ASSERT_EQ(t.run({"steer", "attach", kTestbedRxDev}).status, 0);
	uint32_t id = prog_of(t);
	run_checked({"ip", "netns", "del", t.name()}, "ip netns del");
	ProgramResult r = cli({"steer", "status", "--json"});
	ASSERT_EQ(r.status, 0) << r.err;
	std::string hint;
	json listed = json::parse(r.out);
	for (const json &i : listed["interfaces"])
		if (i["netns"] == t.name()) {
			EXPECT_TRUE(i["stale"].get<bool>());
			hint = i["hint"];
		}
	ASSERT_EQ(hint, "mkdp steer detach mkdp0 --netns " + t.name());
	EXPECT_NE(cli({"steer", "status"}).out.find(hint), std::string::npos);
	r = cli({"steer", "detach", kTestbedRxDev, "--netns", t.name()});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir(t.name(), kTestbedRxDev)));
	EXPECT_TRUE(prog_freed(id));
}

// The interface was renamed after attach: detach by the pinned name still
// finds the program (by the ifindex it was attached with) and removes it.
TEST_F(SteerCli, DetachFindsARenamedInterface)
{
	CliTestbed t("n");
	ASSERT_EQ(t.run({"steer", "attach", kTestbedRxDev}).status, 0);
	uint32_t id = t.status()["prog_id"].get<uint32_t>();
	run_checked({"ip", "-n", t.name(), "link", "set", kTestbedRxDev, "name", "mkdpren0"}, "rename");
	ProgramResult r = t.run({"steer", "detach", kTestbedRxDev, "--json"});
	run_program({"ip", "-n", t.name(), "link", "set", "mkdpren0", "name", kTestbedRxDev});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(json::parse(r.out)["detached_from"], "mkdpren0");
	EXPECT_FALSE(std::filesystem::exists(Steering::pin_dir(t.name(), kTestbedRxDev)));
	EXPECT_TRUE(prog_freed(id)) << "the program is still attached somewhere";
}

TEST(SteerCliErrors, ParseErrorsAreOneClearLine)
{
	ProgramResult r = cli({"frobnicate"});
	EXPECT_EQ(r.status, 2);
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_EQ(r.err.rfind("mkdp: unknown command 'frobnicate'", 0), 0u) << r.err;
	r = cli({"steer", "stats", "mkdp0", "--interval", "abc"});
	EXPECT_EQ(r.status, 2);
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_NE(r.err.find("--interval: 'abc' is not a number"), std::string::npos) << r.err;
	r = cli({"steer", "rule"});
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_NE(r.err.find("add, del, list"), std::string::npos) << r.err;
	r = cli({"testbed", "gen", "eth0"});
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_NE(r.err.find("eth0: not a testbed device"), std::string::npos) << r.err;
}

} // namespace
