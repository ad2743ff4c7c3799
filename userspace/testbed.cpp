// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/subprocess.h>
#include <mkdp/testbed.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/pkt_cls.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstring>
#include <nlohmann/json.hpp>

namespace mkdp {

namespace {

using json = nlohmann::json;

struct EndPlan {
	const char *ifname, *ip4, *ip6;
};
constexpr EndPlan kRxPlan{kTestbedRxDev, "10.77.0.1", "fd77::1"};
constexpr EndPlan kTxPlan{kTestbedTxDev, "10.77.0.2", "fd77::2"};

void ip(const std::string &ns, std::vector<std::string> args, const std::string &what)
{
	args.insert(args.begin(), {"ip", "-n", ns});
	run_checked(args, what);
}

// Called inside the namespace. veth's NAPI (and so native XDP) takes an skb
// only when veth_skb_is_eligible_for_gro() says so: a sender with TSO on
// disqualifies every skb that is not a plain socket write, which includes
// AF_PACKET TX-ring frames and AF_XDP copy-mode frames. TSO off on both
// ends makes every frame eligible.
void tso_off(const char *ifname)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw_errno("socket");
	ethtool_value ev{ETHTOOL_STSO, 0};
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = reinterpret_cast<char *>(&ev);
	int rc = ioctl(fd, SIOCETHTOOL, &ifr);
	int e = errno;
	close(fd);
	if (rc < 0)
		throw_errno(std::string("turn TSO off on ") + ifname, e);
}

// The TX queue selector, attached at tc egress inside the namespace:
//
//	r2 = skb->priority
//	if r2 >= queues goto out	; other priorities: the kernel's hash
//	skb->queue_mapping = r2 + 1	; "recorded queue + 1", see below
//  out:
//	return TC_ACT_OK
//
// This kernel has neither mqprio nor act_skbedit, so a classifier is the
// way to pin a queue. netdev_pick_tx() then finds a recorded queue
// (queue_mapping != 0) and skb_tx_hash() returns queue_mapping - 1. Six
// instructions, loaded here rather than built as a .bpf.c, because they are
// part of the testbed, not of mkdp's data plane.
int load_txq_selector(uint32_t queues)
{
	auto insn = [](uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
		bpf_insn i{};
		i.code = code;
		i.dst_reg = dst & 0xf;
		i.src_reg = src & 0xf;
		i.off = off;
		i.imm = imm;
		return i;
	};
	const bpf_insn prog[] = {
		insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, offsetof(__sk_buff, priority), 0),
		insn(BPF_JMP | BPF_JGE | BPF_K, 2, 0, 2, int32_t(queues)),
		insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, 1),
		insn(BPF_STX | BPF_MEM | BPF_W, 1, 2, offsetof(__sk_buff, queue_mapping), 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, TC_ACT_OK),
		insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_level = 1, .log_size = sizeof(log), .log_buf = log);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "mkdp_txq_select", "Dual BSD/GPL", prog,
			       sizeof(prog) / sizeof(prog[0]), &o);
	if (fd < 0)
		throw_errno(std::string("load the TX queue selector: ") + log, -fd);
	return fd;
}

void attach_txq_selector(int prog_fd, const char *ifname)
{
	int ifindex = int(if_nametoindex(ifname));
	if (!ifindex)
		throw_errno(std::string("find ") + ifname);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	int rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST)
		throw_errno(std::string("create clsact on ") + ifname, -rc);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = 1, .priority = 1);
	rc = bpf_tc_attach(&hook, &opts);
	if (rc)
		throw_errno(std::string("attach the TX queue selector to ") + ifname, -rc);
}

// Called inside the namespace (/proc/sys/net follows the calling thread's).
void set_sysctl(const std::string &path, const char *value)
{
	int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		throw_errno("open " + path);
	ssize_t n = write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	if (n < 0)
		throw_errno("write " + path, e);
}

void prepare_in_netns(uint32_t queues)
{
	int prog = load_txq_selector(queues);
	try {
		for (const EndPlan *e : {&kRxPlan, &kTxPlan}) {
			// The one report the kernel still sends on a link without
			// a link-local address, MLD for the global address's
			// solicited-node group, goes out at link up after a random
			// delay below this interval, and its repeat after another:
			// 0 (one jiffy) sends both before `up` returns, so none
			// arrives once steering is attached.
			for (const char *v : {"mldv1_unsolicited_report_interval", "mldv2_unsolicited_report_interval"})
				set_sysctl(std::string("/proc/sys/net/ipv6/conf/") + e->ifname + "/" + v, "0");
			tso_off(e->ifname);
			attach_txq_selector(prog, e->ifname);
		}
	} catch (...) {
		close(prog);
		throw;
	}
	close(prog);
}

TestbedEnd parse_end(const json &link, const std::string &ns)
{
	TestbedEnd e;
	e.ifname = link.value("ifname", "");
	e.ifindex = link.value("ifindex", 0);
	if (link.value("linkinfo", json::object()).value("info_kind", "") != "veth")
		throw Error("namespace " + ns + ": " + e.ifname + " is not a veth");
	if (link.value("ifalias", "") != kTestbedAlias)
		throw Error("namespace " + ns + ": " + e.ifname + " was not made by mkdp testbed");
	e.mac = MacAddr::parse(link.value("address", ""));
	e.rx_queues = link.value("num_rx_queues", 0u);
	e.tx_queues = link.value("num_tx_queues", 0u);
	e.mtu = link.value("mtu", 0u);
	for (const std::string &f : link.value("flags", std::vector<std::string>{}))
		if (f == "UP")
			e.up = true;
	if (link.contains("xdp") && link["xdp"].contains("prog"))
		e.xdp_prog = link["xdp"]["prog"].value("name", "");
	for (const json &a : link.value("addr_info", json::array())) {
		std::string fam = a.value("family", "");
		if (fam == "inet")
			e.ip4 = IpAddr::parse(a.value("local", ""));
		else if (fam == "inet6" && a.value("scope", "") == "global")
			e.ip6 = IpAddr::parse(a.value("local", ""));
	}
	return e;
}

// PID 1's namespace may be unreadable inside a container; then the
// device check in testbed_info() is what stands guard.
bool is_init_netns(const std::string &name)
{
	try {
		return netns_id(name) == init_netns_id();
	} catch (const Error &) {
		return false;
	}
}

} // namespace

void check_testbed_name(const std::string &name)
{
	bool ok = name.size() <= 32 && name.rfind("mkdp", 0) == 0;
	for (char c : name)
		ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
	if (!ok)
		throw Error("bad testbed name '" + name +
			    "': it must start with 'mkdp' and use only letters, digits, '-', '_', '.' (max 32)");
}

std::optional<TestbedInfo> testbed_info(const std::string &name)
{
	check_testbed_name(name);
	if (!netns_exists(name))
		return std::nullopt;
	if (is_init_netns(name))
		throw Error("namespace " + name + " is the machine's initial network namespace");
	json links = json::parse(run_checked({"ip", "-n", name, "-j", "-d", "addr", "show"},
					     "list devices in " + name));
	TestbedInfo info;
	info.name = name;
	bool have_rx = false, have_tx = false;
	for (const json &l : links) {
		std::string ifname = l.value("ifname", "");
		if (ifname == kTestbedRxDev) {
			info.rx = parse_end(l, name);
			have_rx = true;
		} else if (ifname == kTestbedTxDev) {
			info.tx = parse_end(l, name);
			have_tx = true;
		} else if (ifname != "lo") {
			// A testbed holds nothing else: this is what keeps a
			// namespace with real uplinks from passing as one.
			throw Error("namespace " + name + " holds " + ifname + ": not an mkdp testbed");
		}
	}
	if (!have_rx || !have_tx)
		throw Error("namespace " + name + " holds no complete mkdp testbed (" + kTestbedRxDev +
			    "/" + kTestbedTxDev + " missing)");
	info.queues = info.rx.rx_queues;
	return info;
}

TestbedUpResult testbed_up(const TestbedOptions &o)
{
	check_testbed_name(o.name);
	if (o.queues < 1 || o.queues > kTestbedMaxQueues)
		throw Error("testbed: --queues must be 1.." + std::to_string(kTestbedMaxQueues));
	if (netns_exists(o.name)) {
		std::optional<TestbedInfo> have = testbed_info(o.name);
		if (have->queues != o.queues)
			throw Error("testbed " + o.name + " is already up with " + std::to_string(have->queues) +
				    " queues (mkdp testbed down --name " + o.name + " first)");
		return {*have, false};
	}

	run_checked({"ip", "netns", "add", o.name}, "create network namespace " + o.name);
	try {
		const std::string q = std::to_string(o.queues);
		ip(o.name, {"link", "add", kTestbedRxDev, "numtxqueues", q, "numrxqueues", q, "type", "veth",
			    "peer", "name", kTestbedTxDev, "numtxqueues", q, "numrxqueues", q},
		   "create the veth pair");
		ip(o.name, {"link", "set", "lo", "up"}, "bring lo up");
		for (const EndPlan *e : {&kRxPlan, &kTxPlan}) {
			ip(o.name, {"link", "set", e->ifname, "alias", kTestbedAlias}, "mark the veth");
			// No IPv6 link-local address: without one the kernel sends
			// no router solicitations and no DAD probes when the link
			// comes up, frames that would otherwise be steered and
			// counted next to the generator's (the global addresses
			// below are added with nodad).
			ip(o.name, {"link", "set", e->ifname, "addrgenmode", "none"}, "turn IPv6 autoconfiguration off");
			ip(o.name, {"addr", "add", std::string(e->ip4) + "/24", "dev", e->ifname},
			   "address the veth");
			ip(o.name, {"addr", "add", std::string(e->ip6) + "/64", "dev", e->ifname, "nodad"},
			   "address the veth");
		}
		run_in_netns(o.name, [&] { prepare_in_netns(o.queues); });
		for (const EndPlan *e : {&kRxPlan, &kTxPlan})
			ip(o.name, {"link", "set", e->ifname, "up"}, "bring the veth up");
		TestbedInfo info = *testbed_info(o.name);
		if (info.rx.rx_queues != o.queues || info.tx.tx_queues != o.queues)
			throw Error("testbed: the kernel gave " + std::to_string(info.rx.rx_queues) +
				    " queues, not " + q);
		return {info, true};
	} catch (...) {
		run_program({"ip", "netns", "del", o.name});
		throw;
	}
}

bool testbed_down(const std::string &name)
{
	check_testbed_name(name);
	if (!netns_exists(name))
		return false;
	if (is_init_netns(name))
		throw Error("refusing to remove " + name + ": it is the initial network namespace");
	run_checked({"ip", "netns", "del", name}, "remove network namespace " + name);
	return true;
}

TestbedInfo require_testbed_device(const std::string &netns, const std::string &ifname)
{
	if (ifname != kTestbedRxDev && ifname != kTestbedTxDev)
		throw Error("refusing to use " + ifname + ": not a testbed device (mkdp sends only on " + kTestbedRxDev +
			    " and " + kTestbedTxDev + " of a testbed namespace, e.g. mkdp testbed gen mkdp1 --netns " + netns + ")");
	std::optional<TestbedInfo> info;
	try {
		info = testbed_info(netns);
	} catch (const Error &e) {
		throw Error(std::string("refusing to use ") + ifname + ": " + e.what());
	}
	if (!info)
		throw Error("refusing to use " + ifname + ": no testbed namespace " + netns +
			    " (mkdp testbed up --name " + netns + ")");
	return *info;
}

Testbed::Testbed(const TestbedOptions &opts)
{
	check_testbed_name(opts.name);
	if (netns_exists(opts.name))
		throw Error("testbed: network namespace " + opts.name + " already exists");
	info_ = testbed_up(opts).info;
}

Testbed::~Testbed()
{
	try {
		run_program({"ip", "netns", "del", info_.name});
	} catch (const std::exception &) {
		// Nothing to do from a destructor; the name is unique to its test.
	}
}

} // namespace mkdp
