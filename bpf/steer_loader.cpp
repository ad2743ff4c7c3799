// SPDX-License-Identifier: BSD-2-Clause
#include "steer_loader.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <utility>
#include <set>
#include <tuple>
#include <sstream>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <mkdp/error.h>
#include <mkdp/netns.h>

#include "steer.skel.h"

namespace mkdp {

namespace {

constexpr const char *kBpffs = "/sys/fs/bpf";
constexpr const char *kPinRoot = "/sys/fs/bpf/mkdp";
constexpr const char *kProgPin = "mkdp_steer";
constexpr const char *kLinkPin = "redirect_err_link";
constexpr const char *kHostLabel = "host";	// the initial network namespace

const char *const kMapNames[Steering::nr_maps] = {
	"steer_config", "steer_info", "queue_to_part", "flow_indir", "rules_exact_v4",
	"rules_exact_v6", "rules_v4_prefix", "rules_v6_prefix", "rules_v4_by_len",
	"rules_v6_by_len", "part_stats", "rule_stats", "steer_stats",
	"xsks_by_queue_part", "xsk_slots",
};

// An owned file descriptor for the set-up paths.
class Fd {
public:
	explicit Fd(int fd = -1) noexcept : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(o.release()) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(o.release());
		return *this;
	}
	~Fd() { reset(); }
	int get() const noexcept { return fd_; }
	int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_;
};

// libbpf and libxdp print their diagnostics to stderr; mkdp turns them into
// the one-line reason of its errors instead. Kept per call, restored after.
thread_local std::string g_last_diag;

int capture_print(const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	std::string line(buf);
	while (!line.empty() && (line.back() == '\n' || line.back() == ' '))
		line.pop_back();
	if (!line.empty())
		g_last_diag = line;
	return 0;
}

int capture_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : capture_print(fmt, ap);
}

int capture_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return level == LIBXDP_DEBUG ? 0 : capture_print(fmt, ap);
}

class QuietLibs {
public:
	QuietLibs()
		: bpf_(libbpf_set_print(capture_libbpf)), xdp_(libxdp_set_print(capture_libxdp))
	{
		g_last_diag.clear();
	}
	~QuietLibs()
	{
		libbpf_set_print(bpf_);
		libxdp_set_print(xdp_);
	}
	static std::string why() { return g_last_diag.empty() ? "" : " (" + g_last_diag + ")"; }

private:
	libbpf_print_fn_t bpf_;
	libxdp_print_fn_t xdp_;
};

// Serialises every change of mkdp's pins, between processes.
class PinLock {
public:
	PinLock()
	{
		if (::mkdir(kPinRoot, 0700) && errno != EEXIST)
			throw_errno(std::string("mkdir ") + kPinRoot);
		fd_.reset(::open(kPinRoot, O_DIRECTORY | O_RDONLY | O_CLOEXEC));
		if (fd_.get() < 0)
			throw_errno(std::string("open ") + kPinRoot);
		if (::flock(fd_.get(), LOCK_EX))
			throw_errno(std::string("lock ") + kPinRoot);
	}

private:
	Fd fd_;
};

// A mount namespace of our own that our parent does not share: what
// `ip netns exec` makes (it remounts /sys, hiding the bpffs).
bool private_mount_ns()
{
	struct stat me {}, parent {};
	std::string pp = "/proc/" + std::to_string(::getppid()) + "/ns/mnt";
	return ::stat("/proc/self/ns/mnt", &me) == 0 && ::stat(pp.c_str(), &parent) == 0 &&
	       me.st_ino != parent.st_ino;
}

void ensure_bpffs()
{
	struct statfs st {};
	if (::statfs(kBpffs, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return;
	// A bpffs mounted here would be a new, empty instance that disappears
	// with this mount namespace: the program would stay attached with no
	// pins left to find it by.
	if (private_mount_ns())
		throw Error(std::string("no bpffs at ") + kBpffs + " in this mount namespace (ip netns exec remounts /sys); "
			    "run mkdp with --netns NAME instead of under ip netns exec");
	if (::mount("bpf", kBpffs, "bpf", 0, "mode=0700"))
		throw_errno(std::string("mount bpffs on ") + kBpffs);
}

int ifindex_of(const std::string &ifname)
{
	unsigned idx = if_nametoindex(ifname.c_str());
	if (!idx)
		throw Error("unknown interface '" + ifname + "'", ENODEV);
	return int(idx);
}

// RX queues of the interface as its driver reports them (ethtool channels),
// asked through a socket so it holds in the caller's network namespace;
// 0 when the driver does not say.
uint32_t rx_queues_of(const std::string &ifname)
{
	Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (sock.get() < 0)
		return 0;
	ethtool_channels ch{};
	ch.cmd = ETHTOOL_GCHANNELS;
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
	ifr.ifr_data = reinterpret_cast<char *>(&ch);
	if (::ioctl(sock.get(), SIOCETHTOOL, &ifr))
		return 0;
	return ch.rx_count + ch.combined_count;
}

uint32_t prog_id_of(int fd)
{
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		throw_errno("bpf_obj_get_info_by_fd");
	return info.id;
}

uint32_t map_id_of(int fd)
{
	bpf_map_info info{};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		throw_errno("bpf_obj_get_info_by_fd");
	return info.id;
}

// The programs on ifindex: the single one, or the dispatcher's components.
struct Attached {
	std::vector<std::pair<uint32_t, std::string>> progs;	// id, name
	bool multiprog = false;
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
};

std::string prog_name_of_id(uint32_t id)
{
	Fd fd(bpf_prog_get_fd_by_id(id));
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	if (fd.get() < 0 || bpf_obj_get_info_by_fd(fd.get(), &info, &len))
		return "?";
	return info.name;
}

// Asked of the kernel (bpf_xdp_query) rather than libxdp: libxdp 1.3.1's
// xdp_multiprog__get_from_ifindex() leaks a program fd per call, which keeps
// a detached program alive in a long-lived process. libxdp is asked only
// when its dispatcher is what is attached, to list the components.
Attached attached_on(int ifindex)
{
	Attached a;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifindex, 0, &q) || q.attach_mode == XDP_ATTACHED_NONE)
		return a;
	uint32_t id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	a.mode = q.drv_prog_id ? XDP_MODE_NATIVE : q.skb_prog_id ? XDP_MODE_SKB : XDP_MODE_HW;
	std::string name = prog_name_of_id(id);
	a.progs.emplace_back(id, name);
	if (name != "xdp_dispatcher")
		return a;
	QuietLibs quiet;
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return a;
	a.multiprog = !xdp_multiprog__is_legacy(mp);
	for (auto *p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp))
		a.progs.emplace_back(xdp_program__id(p), xdp_program__name(p));
	xdp_multiprog__close(mp);
	return a;
}

bool has_prog(const Attached &a, uint32_t id)
{
	return std::any_of(a.progs.begin(), a.progs.end(), [id](auto &p) { return p.first == id; });
}

// The pins, then their namespace's directory and the root if empty (other
// interfaces and namespaces keep theirs).
void remove_pins(const std::string &dir)
{
	std::error_code ec;
	std::filesystem::remove_all(dir, ec);
	if (ec)
		throw Error("remove " + dir + ": " + ec.message(), ec.value());
	::rmdir(std::filesystem::path(dir).parent_path().c_str());
	::rmdir(kPinRoot);
}

void check_ifname(const std::string &ifname)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('/') != ifname.npos || ifname == "." ||
	    ifname == "..")
		throw Error("bad interface name '" + ifname + "'", EINVAL);
}

// A pin directory's steer_info, or nothing when it cannot be read.
std::optional<mkdp_steer_info> pinned_info(const std::string &dir)
{
	Fd fd(bpf_obj_get((dir + "/steer_info").c_str()));
	mkdp_steer_info inf{};
	uint32_t zero = 0;
	if (fd.get() < 0 || bpf_map_lookup_elem(fd.get(), &zero, &inf) || inf.magic != MKDP_STEER_INFO_MAGIC)
		return std::nullopt;
	return inf;
}

// The pinned program, or the one steer_info names when its pin is missing.
Fd pinned_prog(const std::string &dir)
{
	Fd fd(bpf_obj_get((dir + "/" + kProgPin).c_str()));
	if (fd.get() < 0)
		if (auto inf = pinned_info(dir); inf && inf->prog_id)
			fd.reset(bpf_prog_get_fd_by_id(inf->prog_id));
	return fd;
}

std::string ifname_of(int ifindex)
{
	char buf[IF_NAMESIZE] = "";
	return if_indextoname(unsigned(ifindex), buf) ? buf : "ifindex " + std::to_string(ifindex);
}

// Where in the calling thread's namespace program `id` is attached: the
// recorded ifindex first, then every interface (one renamed meanwhile).
struct Where {
	int ifindex = 0;
	Attached cur;
};

std::optional<Where> find_attached(uint32_t id, int hint)
{
	if (!id)
		return std::nullopt;
	if (hint > 0)
		if (Attached a = attached_on(hint); has_prog(a, id))
			return Where{hint, a};
	struct if_nameindex *all = if_nameindex();
	if (!all)
		throw_errno("list interfaces");
	std::optional<Where> w;
	for (auto *i = all; i->if_index && !w; i++)
		if (Attached a = attached_on(int(i->if_index)); has_prog(a, id))
			w = Where{int(i->if_index), a};
	if_freenameindex(all);
	return w;
}

// Takes program pfd off ifindex: alone there, by the kernel's
// compare-and-replace, so only if it is still ours; behind libxdp's
// dispatcher, through libxdp.
void detach_prog(int ifindex, int pfd, const Attached &cur)
{
	if (!cur.multiprog) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = pfd);
		__u32 flags = XDP_FLAGS_REPLACE | (cur.mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
		if (bpf_xdp_attach(ifindex, -1, flags, &ao))
			throw_errno("detach XDP from '" + ifname_of(ifindex) + "'");
		return;
	}
	QuietLibs quiet;
	struct xdp_program *xp = xdp_program__from_fd(pfd);
	int err = libxdp_get_error(xp);
	if (!err) {	// xp holds its own dup of pfd
		err = xdp_program__detach(xp, ifindex, cur.mode, 0);
		xdp_program__close(xp);
	}
	if (err)
		throw Error("detach XDP from '" + ifname_of(ifindex) + "'" + QuietLibs::why() + ": " +
			    std::strerror(-err), -err);
}

// RX queue q must be one mkdp steers and, when the driver says, one ifname has.
void check_queue_on(const std::string &ifname, uint32_t queue)
{
	if (queue >= MKDP_STEER_MAX_QUEUES)
		throw Error("queue " + std::to_string(queue) + " out of range (mkdp steers queues 0.." +
			    std::to_string(MKDP_STEER_MAX_QUEUES - 1) + ")", ERANGE);
	if (!ifname.empty()) {
		uint32_t n = rx_queues_of(ifname);
		if (n && queue >= n)
			throw Error("queue " + std::to_string(queue) + " out of range ('" + ifname + "' has " +
				    std::to_string(n) + " RX queue" + (n == 1 ? "" : "s") + ")", ERANGE);
	}
}

std::string part_range(uint32_t n)
{
	return "(" + std::to_string(n) + " partition" + (n == 1 ? "" : "s") + ": 0.." + std::to_string(n - 1) + ")";
}

// The queue map entries and indirection table of an attach, against the
// interface and the partition count they will apply to.
void check_tables(const std::string &ifname, const AttachOptions &o, uint32_t partitions)
{
	for (auto [q, p] : o.queue_map) {
		check_queue_on(ifname, q);
		if (p != MKDP_STEER_PART_NONE && p >= partitions)
			throw Error("queue map " + std::to_string(q) + "=" + std::to_string(p) + ": partition out of range " +
				    part_range(partitions), ERANGE);
	}
	if (o.indirection.empty())
		return;
	if (MKDP_STEER_INDIR_SIZE % o.indirection.size())
		throw Error("indirection table of " + std::to_string(o.indirection.size()) +
			    " entries: the size must divide " + std::to_string(MKDP_STEER_INDIR_SIZE));
	for (uint32_t p : o.indirection)
		if (p != MKDP_STEER_PART_NONE && p >= partitions)
			throw Error("indirection table: partition " + std::to_string(p) + " out of range " +
				    part_range(partitions), ERANGE);
}

SteerConfig merge(const SteerConfig &old, const SteerConfig &given, uint32_t fields)
{
	SteerConfig c = old;
	if (fields & SteerConfig::f_policy)
		c.policy = given.policy;
	if (fields & SteerConfig::f_default)
		c.default_action = given.default_action;
	if (fields & SteerConfig::f_partitions)
		c.partitions = given.partitions;
	if (fields & SteerConfig::f_symmetric)
		c.symmetric = given.symmetric;
	if (fields & SteerConfig::f_seed)
		c.hash_seed = given.hash_seed;
	return c;
}

// Reads one element of a per-CPU map and sums it over the CPUs, field by
// field: every counter struct here is a sequence of __u64.
template <class T>
T percpu_sum(int fd, uint32_t key, int ncpus)
{
	static_assert(sizeof(T) % 8 == 0);
	std::vector<T> vals{size_t(ncpus)};
	T sum{};
	if (bpf_map_lookup_elem(fd, &key, vals.data()))
		throw_errno("read per-CPU counters");
	auto *out = reinterpret_cast<__u64 *>(&sum);
	for (const T &v : vals) {
		auto *in = reinterpret_cast<const __u64 *>(&v);
		for (size_t i = 0; i < sizeof(T) / 8; i++)
			out[i] += in[i];
	}
	return sum;
}

int possible_cpus()
{
	int n = libbpf_num_possible_cpus();
	if (n < 0)
		throw Error("cannot count possible CPUs", -n);
	return n;
}

template <class T>
void zero_percpu(int fd, uint32_t key, int ncpus)
{
	std::vector<T> zero{size_t(ncpus)};
	if (bpf_map_update_elem(fd, &key, zero.data(), BPF_ANY))
		throw_errno("reset per-CPU counters");
}

void validate(const SteerConfig &c)
{
	if (c.policy & ~uint32_t(MKDP_STEER_POLICY_ALL))
		throw Error("unknown policy bits " + std::to_string(c.policy));
	if (c.default_action != SteerAction::pass && c.default_action != SteerAction::drop)
		throw Error("the default action is pass or drop");
	if (c.partitions < 1 || c.partitions > MKDP_STEER_MAX_PARTITIONS)
		throw Error("partitions " + std::to_string(c.partitions) + " out of range 1.." +
			    std::to_string(MKDP_STEER_MAX_PARTITIONS));
}

mkdp_steer_config to_abi(const SteerConfig &c, uint32_t xsk_map_id)
{
	mkdp_steer_config k{};
	k.policy = c.policy;
	k.default_action = uint32_t(c.default_action);
	k.nr_partitions = c.partitions;
	k.symmetric = c.symmetric;
	k.hash_seed = c.hash_seed;
	k.xsk_map_id = xsk_map_id;
	return k;
}

// ---- rules <-> map entries -------------------------------------------------

mkdp_steer_v4_flow v4_flow(const SteerRule &r)
{
	mkdp_steer_v4_flow k{};
	std::memcpy(&k.saddr, r.saddr.data(), 4);
	std::memcpy(&k.daddr, r.daddr.data(), 4);
	k.sport = htons(r.sport);
	k.dport = htons(r.dport);
	k.proto = r.proto;
	return k;
}

mkdp_steer_v6_flow v6_flow(const SteerRule &r)
{
	mkdp_steer_v6_flow k{};
	std::memcpy(k.saddr, r.saddr.data(), 16);
	std::memcpy(k.daddr, r.daddr.data(), 16);
	k.sport = htons(r.sport);
	k.dport = htons(r.dport);
	k.proto = r.proto;
	return k;
}

uint8_t side_of(const SteerRule &r)
{
	return r.match == SteerRule::Match::dst_prefix ? MKDP_STEER_SIDE_DST : MKDP_STEER_SIDE_SRC;
}

mkdp_steer_v4_prefix v4_key(const SteerRule &r)
{
	mkdp_steer_v4_prefix k{};
	k.prefixlen = MKDP_STEER_SIDE_BITS + r.prefix_len;
	k.side = side_of(r);
	std::memcpy(k.addr, r.saddr.data(), 4);
	return k;
}

mkdp_steer_v6_prefix v6_key(const SteerRule &r)
{
	mkdp_steer_v6_prefix k{};
	k.prefixlen = MKDP_STEER_SIDE_BITS + r.prefix_len;
	k.side = side_of(r);
	std::memcpy(k.addr, r.saddr.data(), 16);
	return k;
}

template <class K> K by_len_key(const SteerRule &r)
{
	K k{};
	k.side = side_of(r);
	k.len = r.prefix_len;
	std::memcpy(k.addr, r.saddr.data(), sizeof(k.addr));
	return k;
}

void set_action(SteerRule &r, const mkdp_steer_rule &v)
{
	r.action = SteerAction(v.action);
	r.partition = v.partition;
	r.id = v.id;
}

template <class K>
SteerRule from_exact(const K &k, uint8_t family, const mkdp_steer_rule &v)
{
	SteerRule r;
	r.match = SteerRule::Match::exact;
	r.family = family;
	r.proto = k.proto;
	r.sport = ntohs(k.sport);
	r.dport = ntohs(k.dport);
	std::memcpy(r.saddr.data(), &k.saddr, sizeof(k.saddr));
	std::memcpy(r.daddr.data(), &k.daddr, sizeof(k.daddr));
	set_action(r, v);
	return r;
}

template <class K>
SteerRule from_prefix(const K &k, uint8_t family, const mkdp_steer_rule &v)
{
	SteerRule r;
	r.match = k.side == MKDP_STEER_SIDE_DST ? SteerRule::Match::dst_prefix : SteerRule::Match::src_prefix;
	r.family = family;
	r.prefix_len = uint8_t(k.prefixlen - MKDP_STEER_SIDE_BITS);
	std::memcpy(r.saddr.data(), k.addr, sizeof(k.addr));
	set_action(r, v);
	return r;
}

// Every entry of a map: fn(key, value).
template <class K, class V, class Fn>
void for_each_entry(int fd, Fn &&fn)
{
	K key{}, next{};
	V val{};
	bool first = true;
	for (;;) {
		if (bpf_map_get_next_key(fd, first ? nullptr : &key, &next)) {
			if (errno == ENOENT)
				return;
			throw_errno("iterate rules");
		}
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &val)) {
			if (errno == ENOENT)
				continue;	// deleted meanwhile
			throw_errno("read rule");
		}
		fn(key, val);
	}
}

bool parse_addr(std::string_view s, uint8_t &family, std::array<uint8_t, 16> &out)
{
	std::string str(s);
	out.fill(0);
	if (inet_pton(AF_INET, str.c_str(), out.data()) == 1) {
		family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, str.c_str(), out.data()) == 1) {
		family = 6;
		return true;
	}
	return false;
}

std::string addr_string(uint8_t family, const std::array<uint8_t, 16> &a)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf));
	return buf;
}

// "10.0.0.1:5000", "[fd00::1]:80", "10.0.0.1", "fd00::1"; false when no
// port was given.
bool parse_endpoint(std::string_view s, uint8_t &family, std::array<uint8_t, 16> &addr, uint16_t &port)
{
	std::string_view a = s, p;
	if (!s.empty() && s.front() == '[') {
		auto close = s.find(']');
		if (close == s.npos)
			throw Error("rule: bad endpoint '" + std::string(s) + "'");
		a = s.substr(1, close - 1);
		if (close + 1 < s.size()) {
			if (s[close + 1] != ':')
				throw Error("rule: bad endpoint '" + std::string(s) + "'");
			p = s.substr(close + 2);
		}
	} else if (std::count(s.begin(), s.end(), ':') == 1) {
		a = s.substr(0, s.find(':'));
		p = s.substr(s.find(':') + 1);
	}
	if (!parse_addr(a, family, addr))
		throw Error("rule: bad address '" + std::string(a) + "'");
	port = 0;
	if (!p.empty()) {
		char *end;
		std::string ps(p);
		unsigned long v = std::strtoul(ps.c_str(), &end, 10);
		if (*end || ps.empty() || v > 65535)
			throw Error("rule: bad port '" + ps + "' (0..65535)");
		port = uint16_t(v);
		return true;
	}
	return false;
}

std::string endpoint_string(uint8_t family, const std::array<uint8_t, 16> &a, uint16_t port, bool ports)
{
	std::string s = addr_string(family, a);
	if (!ports)
		return s;
	if (family == 6)
		s = "[" + s + "]";
	return s + ":" + std::to_string(port);
}

bool host_bits_clear(const std::array<uint8_t, 16> &a, unsigned len, unsigned bytes)
{
	for (unsigned bit = len; bit < bytes * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

} // namespace

// ---- names ------------------------------------------------------------------

const char *to_string(XdpMode m) noexcept
{
	return m == XdpMode::native ? "native" : "skb";
}

const char *to_string(SteerAction a) noexcept
{
	switch (a) {
	case SteerAction::pass:
		return "pass";
	case SteerAction::drop:
		return "drop";
	case SteerAction::steer:
		return "part";
	}
	return "?";
}

uint32_t parse_policy(std::string_view s)
{
	if (s.empty())
		throw Error("empty policy (queue, hash, rules, combined like rules,hash; or none)");
	uint32_t bits = 0;
	for (;;) {
		auto sep = s.find_first_of(",+");
		std::string_view w = s.substr(0, sep);
		if (w.empty())
			throw Error("policy '" + std::string(s) + "': empty word (queue, hash, rules)");
		if (w == "queue")
			bits |= MKDP_STEER_POLICY_QUEUE;
		else if (w == "hash")
			bits |= MKDP_STEER_POLICY_HASH;
		else if (w == "rules")
			bits |= MKDP_STEER_POLICY_RULES;
		else if (w == "none")
			;
		else
			throw Error("unknown policy '" + std::string(w) + "' (queue, hash, rules)");
		if (sep == s.npos)
			return bits;
		s = s.substr(sep + 1);
	}
}

std::string policy_string(uint32_t policy)
{
	std::string s;
	if (policy & MKDP_STEER_POLICY_RULES)
		s += "rules,";
	if (policy & MKDP_STEER_POLICY_HASH)
		s += "hash,";
	if (policy & MKDP_STEER_POLICY_QUEUE)
		s += "queue,";
	if (s.empty())
		return "none";
	s.pop_back();
	return s;
}

SteerRule SteerRule::parse(std::string_view text)
{
	std::istringstream in{std::string(text)};
	std::vector<std::string> w;
	for (std::string t; in >> t;)
		w.push_back(t);
	SteerRule r;
	size_t i = 0;
	auto need = [&](const char *what) -> const std::string & {
		if (i >= w.size())
			throw Error("rule '" + std::string(text) + "': missing " + what);
		return w[i++];
	};
	const std::string &kind = need("match (exact, dst, src)");
	if (kind == "exact") {
		r.match = Match::exact;
		const std::string &proto = need("protocol");
		if (proto == "tcp")
			r.proto = IPPROTO_TCP;
		else if (proto == "udp")
			r.proto = IPPROTO_UDP;
		else if (proto == "icmp")
			r.proto = IPPROTO_ICMP;
		else if (proto == "icmp6" || proto == "icmpv6")
			r.proto = IPPROTO_ICMPV6;
		else {
			char *end;
			unsigned long v = std::strtoul(proto.c_str(), &end, 10);
			if (*end || proto.empty() || v > 255)
				throw Error("rule: unknown protocol '" + proto + "'");
			r.proto = uint8_t(v);
		}
		uint8_t fs, fd;
		bool sp = parse_endpoint(need("source"), fs, r.saddr, r.sport);
		bool dp = parse_endpoint(need("destination"), fd, r.daddr, r.dport);
		if (fs != fd)
			throw Error("rule: source and destination of different families");
		r.family = fs;
		// A missing port would silently be port 0, which matches only
		// non-first fragments: say it explicitly or not at all.
		bool ports = r.proto == IPPROTO_TCP || r.proto == IPPROTO_UDP;
		if (ports && (!sp || !dp))
			throw Error("rule: exact " + proto + " needs both ports, SRC:PORT DST:PORT (':0' on both matches "
				    "non-first fragments)");
		if (!ports && (sp || dp))
			throw Error("rule: exact " + proto + " has no ports; give addresses only");
	} else if (kind == "dst" || kind == "src") {
		r.match = kind == "dst" ? Match::dst_prefix : Match::src_prefix;
		const std::string &pfx = need("prefix");
		auto slash = pfx.find('/');
		if (!parse_addr(pfx.substr(0, slash), r.family, r.saddr))
			throw Error("rule: bad prefix '" + pfx + "'");
		unsigned bits = r.family == 4 ? 32 : 128;
		if (slash != pfx.npos) {
			char *end;
			std::string l = pfx.substr(slash + 1);
			unsigned long v = std::strtoul(l.c_str(), &end, 10);
			if (*end || l.empty() || v > bits)
				throw Error("rule: bad prefix length in '" + pfx + "'");
			bits = unsigned(v);
		}
		r.prefix_len = uint8_t(bits);
	} else {
		throw Error("rule: unknown match '" + kind + "' (exact, dst, src)");
	}
	const std::string &act = need("action (part N, drop, pass)");
	if (act == "drop")
		r.action = SteerAction::drop;
	else if (act == "pass")
		r.action = SteerAction::pass;
	else if (act == "part" || act == "partition") {
		const std::string &n = need("partition number");
		char *end;
		unsigned long v = std::strtoul(n.c_str(), &end, 10);
		if (*end || n.empty() || v >= MKDP_STEER_MAX_PARTITIONS)
			throw Error("rule: bad partition '" + n + "' (0.." + std::to_string(MKDP_STEER_MAX_PARTITIONS - 1) +
				    ", below the attached partition count)");
		r.action = SteerAction::steer;
		r.partition = uint32_t(v);
	} else
		throw Error("rule: unknown action '" + act + "' (part N, drop, pass)");
	if (i != w.size())
		throw Error("rule: unexpected '" + w[i] + "'");
	return r;
}

std::string SteerRule::to_string() const
{
	return "#" + std::to_string(id) + " " + text();
}

std::string SteerRule::text() const
{
	std::string s;
	if (match == Match::exact) {
		const char *p = proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp"
			: proto == IPPROTO_ICMP ? "icmp" : proto == IPPROTO_ICMPV6 ? "icmp6" : nullptr;
		bool ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
		s += "exact " + (p ? std::string(p) : std::to_string(proto)) + " " +
		     endpoint_string(family, saddr, sport, ports) + " " + endpoint_string(family, daddr, dport, ports);
	} else {
		s += match == Match::dst_prefix ? "dst " : "src ";
		s += addr_string(family, saddr) + "/" + std::to_string(prefix_len);
	}
	s += std::string(" ") + mkdp::to_string(action);
	if (action == SteerAction::steer)
		s += " " + std::to_string(partition);
	return s;
}

bool SteerRule::same_match(const SteerRule &o) const
{
	if (match != o.match || family != o.family)
		return false;
	if (match == Match::exact)
		return proto == o.proto && sport == o.sport && dport == o.dport &&
		       saddr == o.saddr && daddr == o.daddr;
	return prefix_len == o.prefix_len && saddr == o.saddr;
}

// ---- life cycle ---------------------------------------------------------------

Steering::Steering() { maps_.fill(-1); }

Steering::Steering(Steering &&o) noexcept
	: ifname_(std::move(o.ifname_)), netns_(std::move(o.netns_)), ifindex_(o.ifindex_), prog_fd_(o.prog_fd_),
	  maps_(o.maps_)
{
	o.prog_fd_ = -1;
	o.maps_.fill(-1);
}

Steering &Steering::operator=(Steering &&o) noexcept
{
	if (this != &o) {
		close_all();
		ifname_ = std::move(o.ifname_);
		netns_ = std::move(o.netns_);
		ifindex_ = o.ifindex_;
		prog_fd_ = std::exchange(o.prog_fd_, -1);
		maps_ = o.maps_;
		o.maps_.fill(-1);
	}
	return *this;
}

Steering::~Steering() { close_all(); }

void Steering::close_all() noexcept
{
	if (prog_fd_ >= 0)
		::close(prog_fd_);
	prog_fd_ = -1;
	for (int &fd : maps_) {
		if (fd >= 0)
			::close(fd);
		fd = -1;
	}
}

const char *Steering::map_name(MapId m) noexcept { return kMapNames[m]; }

std::string Steering::netns_label()
{
	struct stat st {};
	if (::stat("/proc/thread-self/ns/net", &st))
		throw_errno("stat /proc/thread-self/ns/net");
	// Recent kernels give the initial namespace a fixed inode
	// (PROC_NET_INIT_INO): the answer even where PID 1's is unreadable.
	constexpr ino_t kInitNetIno = 0xEFFFFFF9U;
	if (st.st_ino == kInitNetIno)
		return kHostLabel;
	try {
		if (current_netns_id() == init_netns_id())
			return kHostLabel;
	} catch (const Error &) {
		// PID 1's namespace is unreadable (a container): a name or the inode
	}
	if (std::optional<std::string> n = current_netns_name(); n && *n != kHostLabel && n->rfind("netns-", 0))
		return *n;
	return "netns-" + std::to_string(st.st_ino);
}

std::string Steering::pin_dir(const std::string &netns, const std::string &ifname)
{
	check_ifname(ifname);
	if (netns.empty() || netns.find('/') != netns.npos || netns == "." || netns == "..")
		throw Error("bad network namespace name '" + netns + "'", EINVAL);
	return std::string(kPinRoot) + "/" + netns + "/" + ifname;
}

std::string Steering::pin_dir(const std::string &ifname) { return pin_dir(netns_label(), ifname); }

std::vector<SteerPins> Steering::list_pins()
{
	ensure_bpffs();
	std::vector<SteerPins> out;
	std::error_code ec;
	for (auto &ns : std::filesystem::directory_iterator(kPinRoot, ec)) {
		if (!ns.is_directory())
			continue;
		std::string label = ns.path().filename().string();
		bool gone = label != kHostLabel && label.rfind("netns-", 0) && !netns_exists(label);
		std::error_code ec2;
		for (auto &i : std::filesystem::directory_iterator(ns.path(), ec2))
			if (i.is_directory())
				out.push_back({label, i.path().filename().string(), i.path().string(), gone});
	}
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) {
		return std::tie(a.netns, a.ifname) < std::tie(b.netns, b.ifname);
	});
	return out;
}

namespace {

// "no mkdp steering on 'mkdp0' in this network namespace (host)", and where
// there is some on an interface of that name.
std::string no_pins(const std::string &label, const std::string &ifname)
{
	std::string msg = "no mkdp steering on '" + ifname + "' in network namespace " + label;
	std::string elsewhere;
	for (const SteerPins &p : Steering::list_pins())
		if (p.ifname == ifname && p.netns != label)
			elsewhere += (elsewhere.empty() ? "" : ", ") +
				     (p.netns == kHostLabel ? std::string("the host namespace (no --netns)")
							    : "--netns " + p.netns);
	return elsewhere.empty() ? msg + " (nothing pinned at " + Steering::pin_dir(label, ifname) + ")"
				 : msg + "; there is in " + elsewhere;
}

} // namespace

int Steering::xskmap_fd() const noexcept { return maps_[xsks_by_queue_part]; }

namespace {

// The loaded object, kept only while attach needs the tracepoint program.
struct Loaded {
	steer *skel = nullptr;
	~Loaded() { steer__destroy(skel); }
};

void load_skeleton(Loaded &l)
{
	QuietLibs quiet;
	l.skel = steer__open();
	if (!l.skel)
		throw_errno("open the steering BPF object" + QuietLibs::why());
	if (int err = steer__load(l.skel))
		throw Error("load the steering program" + QuietLibs::why() + ": " + std::strerror(-err), -err);
}

} // namespace

Steering Steering::from_object(steer *skel, const SteerConfig &c)
{
	Steering s;
	s.prog_fd_ = ::dup(bpf_program__fd(skel->progs.mkdp_steer));
	for (int m = 0; m < nr_maps; m++) {
		bpf_map *map = bpf_object__find_map_by_name(skel->obj, kMapNames[m]);
		if (!map)
			throw Error(std::string("steering object has no map ") + kMapNames[m]);
		s.maps_[m] = ::dup(bpf_map__fd(map));
	}
	if (s.prog_fd_ < 0 || std::any_of(s.maps_.begin(), s.maps_.end(), [](int fd) { return fd < 0; }))
		throw_errno("dup BPF fds");
	auto cfg = to_abi(c, map_id_of(s.maps_[xsks_by_queue_part]));
	uint32_t zero = 0;
	if (bpf_map_update_elem(s.maps_[steer_config], &zero, &cfg, BPF_ANY))
		throw_errno("write steer_config");
	s.write_defaults(c.partitions);
	return s;
}

Steering Steering::load(const SteerConfig &c)
{
	validate(c);
	Loaded l;
	load_skeleton(l);
	return from_object(l.skel, c);
}

void Steering::write_defaults(uint32_t partitions)
{
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++) {
		uint32_t p = q % partitions;
		if (bpf_map_update_elem(maps_[queue_to_part], &q, &p, BPF_ANY))
			throw_errno("write queue_to_part");
	}
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint32_t p = i % partitions;
		if (bpf_map_update_elem(maps_[flow_indir], &i, &p, BPF_ANY))
			throw_errno("write flow_indir");
	}
}

Steering Steering::open(const std::string &ifname)
{
	ensure_bpffs();
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	Steering s;
	s.ifname_ = ifname;
	s.netns_ = label;
	for (int m = 0; m < nr_maps; m++) {
		s.maps_[m] = bpf_obj_get((dir + "/" + kMapNames[m]).c_str());
		if (s.maps_[m] < 0) {
			if (errno == ENOENT && m == 0)
				throw Error(no_pins(label, ifname), ENOENT);
			throw_errno("open pinned map " + dir + "/" + kMapNames[m]);
		}
	}
	s.prog_fd_ = bpf_obj_get((dir + "/" + kProgPin).c_str());
	if (s.prog_fd_ < 0)
		throw_errno("open pinned program " + dir + "/" + kProgPin);
	mkdp_steer_info inf = s.info();
	if (inf.magic != MKDP_STEER_INFO_MAGIC)
		throw Error(dir + " was not written by mkdp (bad steer_info magic)");
	if (inf.abi_version != MKDP_STEER_ABI_VERSION)
		throw Error(dir + ": steering ABI version " + std::to_string(inf.abi_version) +
			    ", this mkdp speaks " + std::to_string(MKDP_STEER_ABI_VERSION) + "; detach and attach again");
	s.ifindex_ = int(inf.ifindex);
	return s;
}

Steering Steering::attach(const std::string &ifname, const AttachOptions &o)
{
	validate(o.config);
	int ifindex = ifindex_of(ifname);
	ensure_bpffs();
	PinLock lock;
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	enum xdp_attach_mode want = o.mode == XdpMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB;
	Attached cur = attached_on(ifindex);

	// Every refusal comes before the first change.
	bool stale = false;
	if (std::filesystem::exists(dir)) {
		std::optional<Steering> old;
		try {
			old.emplace(open(ifname));
		} catch (const Error &) {
			// half-written or foreign pins: stale, see below
		}
		uint32_t old_id = old ? old->info().prog_id : 0;
		if (old && old->ifindex_ == ifindex && has_prog(cur, old_id)) {
			if (cur.mode != want)
				throw Error("'" + ifname + "' already has mkdp steering in " +
					    (cur.mode == XDP_MODE_SKB ? "skb" : "native") + " mode; detach it first");
			SteerConfig c = merge(old->config(), o.config, o.fields);
			validate(c);
			check_tables(ifname, o, c.partitions);
			old->configure(c);
			old->apply_tables(o);
			return std::move(*old);
		}
		// The interface was renamed and another took its name: the pins
		// still belong to a program at work.
		if (std::optional<Where> w = find_attached(old_id, old ? old->ifindex_ : 0))
			throw Error("the pins at " + dir + " belong to mkdp's program on '" + ifname_of(w->ifindex) +
				    "' (renamed?); run mkdp detach " + ifname + " first");
		stale = true;
	}
	if (!cur.progs.empty() && !o.force)
		throw Error("'" + ifname + "' has XDP program '" + cur.progs.front().second + "' (id " +
			    std::to_string(cur.progs.front().first) +
			    ") that mkdp did not attach; use --force to replace it");
	check_tables(ifname, o, o.config.partitions);

	Loaded l;
	load_skeleton(l);
	Steering s = from_object(l.skel, o.config);
	s.ifname_ = ifname;
	s.ifindex_ = ifindex;
	s.netns_ = label;
	s.apply_tables(o);
	if (stale)
		remove_pins(dir);	// not attached anywhere here: start afresh
	if (::mkdir(kPinRoot, 0700) && errno != EEXIST)
		throw_errno(std::string("mkdir ") + kPinRoot);
	std::string label_dir = std::filesystem::path(dir).parent_path().string();
	if (::mkdir(label_dir.c_str(), 0700) && errno != EEXIST)
		throw_errno("mkdir " + label_dir);

	// From here on, every failure undoes what was done.
	bool attached = false;
	struct xdp_program *xp = nullptr;
	try {
		if (::mkdir(dir.c_str(), 0700))
			throw_errno("mkdir " + dir);
		for (int m = 0; m < nr_maps; m++)
			if (bpf_obj_pin(s.maps_[m], (dir + "/" + kMapNames[m]).c_str()))
				throw_errno("pin " + dir + "/" + kMapNames[m]);
		if (bpf_obj_pin(s.prog_fd_, (dir + "/" + kProgPin).c_str()))
			throw_errno("pin " + dir + "/" + kProgPin);
		{
			QuietLibs quiet;
			bpf_link *link = bpf_program__attach(l.skel->progs.mkdp_steer_redirect_err);
			if (!link)
				throw_errno("attach the redirect-error tracepoint" + QuietLibs::why());
			int err = bpf_link__pin(link, (dir + "/" + kLinkPin).c_str());
			// Closes our fd; a pinned link stays (disconnect would leak the fd).
			bpf_link__destroy(link);
			if (err)
				throw Error("pin " + dir + "/" + kLinkPin + ": " + std::strerror(-err), -err);
		}

		QuietLibs quiet;
		if (!cur.progs.empty()) {
			// --force: take the foreign program(s) off first.
			int err = 0;
			if (!cur.multiprog) {
				__u32 flags = cur.mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE
					    : cur.mode == XDP_MODE_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
				err = bpf_xdp_detach(ifindex, flags, nullptr);
			} else {
				struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
				err = libxdp_get_error(mp);
				if (!err) {
					err = xdp_multiprog__detach(mp);
					xdp_multiprog__close(mp);
				}
			}
			if (err)
				throw Error("remove the XDP program on '" + ifname + "'" + QuietLibs::why() +
					    ": " + std::strerror(-err), -err);
		}
		xp = xdp_program__from_fd(s.prog_fd_);	// libxdp works on its own dup
		if (libxdp_get_error(xp)) {
			int err = libxdp_get_error(xp);
			xp = nullptr;
			throw Error("libxdp program" + QuietLibs::why() + ": " + std::strerror(-err), -err);
		}
		// libxdp tries its dispatcher first and, when the kernel refuses
		// freplace (EPERM here), attaches the program alone: which of the two
		// happened is read back below, never assumed.
		int err = xdp_program__attach(xp, ifindex, want, 0);
		if (err)
			throw Error("attach XDP to '" + ifname + "' in " + to_string(o.mode) + " mode" +
				    QuietLibs::why() + ": " + std::strerror(-err), -err);
		attached = true;

		Attached now = attached_on(ifindex);
		uint32_t id = prog_id_of(s.prog_fd_);
		if (!has_prog(now, id))
			throw Error("attach XDP to '" + ifname + "': program not found on the interface afterwards");
		mkdp_steer_info inf{};
		inf.magic = MKDP_STEER_INFO_MAGIC;
		inf.abi_version = MKDP_STEER_ABI_VERSION;
		inf.ifindex = uint32_t(ifindex);
		inf.prog_id = id;
		inf.xdp_mode = now.mode == XDP_MODE_SKB ? MKDP_STEER_MODE_SKB : MKDP_STEER_MODE_NATIVE;
		inf.attach_kind = now.multiprog ? MKDP_STEER_ATTACH_MULTIPROG : MKDP_STEER_ATTACH_SINGLE;
		inf.owner_pid = uint32_t(::getpid());
		inf.attach_time = uint64_t(::time(nullptr));
		uint32_t zero = 0;
		if (bpf_map_update_elem(s.maps_[steer_info], &zero, &inf, BPF_ANY))
			throw_errno("write steer_info");
		xdp_program__close(xp);
		xp = nullptr;
	} catch (...) {
		if (attached)
			xdp_program__detach(xp, ifindex, want, 0);
		if (xp)
			xdp_program__close(xp);
		try {
			remove_pins(dir);
		} catch (const Error &) {
		}
		throw;
	}
	return s;
}

void Steering::apply_tables(const AttachOptions &o)
{
	for (auto [q, p] : o.queue_map)
		set_queue_partition(q, p);
	if (!o.indirection.empty())
		set_indirection(o.indirection);
}

DetachResult Steering::detach(const std::string &ifname)
{
	ensure_bpffs();
	PinLock lock;
	std::string label = netns_label();
	std::string dir = pin_dir(label, ifname);
	if (!std::filesystem::exists(dir))
		throw Error(no_pins(label, ifname), ENOENT);
	DetachResult r{dir, ""};
	Fd pfd = pinned_prog(dir);
	if (pfd.get() >= 0) {
		// Where it was attached; a renamed interface keeps its ifindex.
		std::optional<mkdp_steer_info> inf = pinned_info(dir);
		int hint = inf ? int(inf->ifindex) : int(if_nametoindex(ifname.c_str()));
		if (std::optional<Where> w = find_attached(prog_id_of(pfd.get()), hint)) {
			detach_prog(w->ifindex, pfd.get(), w->cur);
			r.detached_from = ifname_of(w->ifindex);
		}
	}
	// else: no program is left in the pins (a half-written directory)
	remove_pins(dir);
	return r;
}

DetachResult Steering::remove_stale(const std::string &netns, const std::string &ifname)
{
	ensure_bpffs();
	PinLock lock;
	std::string dir = pin_dir(netns, ifname);
	if (!std::filesystem::exists(dir))
		throw Error("no mkdp pins for '" + ifname + "' of network namespace " + netns + " (nothing at " + dir + ")",
			    ENOENT);
	if (netns == kHostLabel || netns_exists(netns))
		throw Error("network namespace " + netns + " exists: detach from inside it (mkdp detach " + ifname +
			    (netns == kHostLabel ? "" : " --netns " + netns) + ")");
	if (netns.rfind("netns-", 0) == 0)
		throw Error(dir + " belongs to an unnamed network namespace mkdp cannot enter; detach from inside it, "
			    "or remove the directory if that namespace is gone");
	DetachResult r{dir, ""};
	// A deleted namespace destroys its virtual devices and returns physical
	// ones to the initial namespace, still carrying their XDP program.
	if (Fd pfd = pinned_prog(dir); pfd.get() >= 0)
		if (std::optional<Where> w = find_attached(prog_id_of(pfd.get()), 0)) {
			detach_prog(w->ifindex, pfd.get(), w->cur);
			r.detached_from = ifname_of(w->ifindex);
		}
	remove_pins(dir);
	return r;
}

// ---- configuration ----------------------------------------------------------

mkdp_steer_info Steering::info() const
{
	mkdp_steer_info inf{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(maps_[steer_info], &zero, &inf))
		throw_errno("read steer_info");
	return inf;
}

SteerConfig Steering::config() const
{
	mkdp_steer_config k{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(maps_[steer_config], &zero, &k))
		throw_errno("read steer_config");
	SteerConfig c;
	c.policy = k.policy;
	c.default_action = SteerAction(k.default_action);
	c.partitions = k.nr_partitions;
	c.symmetric = k.symmetric;
	c.hash_seed = k.hash_seed;
	return c;
}

void Steering::configure(const SteerConfig &c)
{
	validate(c);
	SteerConfig old = config();
	if (c.partitions < old.partitions)
		for (const SteerRule &r : list_rules())
			if (r.action == SteerAction::steer && r.partition >= c.partitions)
				throw Error("rule " + r.to_string() + " steers beyond " + std::to_string(c.partitions) +
					    " partitions; delete it first");
	auto k = to_abi(c, map_id_of(maps_[xsks_by_queue_part]));
	uint32_t zero = 0;
	mkdp_steer_config cur{};
	if (bpf_map_lookup_elem(maps_[steer_config], &zero, &cur))
		throw_errno("read steer_config");
	k.rules = cur.rules;	// the rule maps' index is theirs to write
	if (bpf_map_update_elem(maps_[steer_config], &zero, &k, BPF_ANY))
		throw_errno("write steer_config");
	if (c.partitions != old.partitions)
		write_defaults(c.partitions);
}

void Steering::check_partition(uint32_t part) const
{
	uint32_t n = config().partitions;
	if (part >= n)
		throw Error("partition " + std::to_string(part) + " out of range " + part_range(n), ERANGE);
}

void Steering::check_queue(uint32_t queue) const { check_queue_on(ifname_, queue); }

void Steering::set_queue_partition(uint32_t queue, uint32_t part)
{
	check_queue(queue);
	if (part != MKDP_STEER_PART_NONE)
		check_partition(part);
	if (bpf_map_update_elem(maps_[queue_to_part], &queue, &part, BPF_ANY))
		throw_errno("write queue_to_part");
}

void Steering::set_indirection(std::span<const uint32_t> table)
{
	if (table.empty() || MKDP_STEER_INDIR_SIZE % table.size())
		throw Error("indirection table of " + std::to_string(table.size()) + " entries: the size must divide " +
			    std::to_string(MKDP_STEER_INDIR_SIZE));
	for (uint32_t p : table)
		if (p != MKDP_STEER_PART_NONE)
			check_partition(p);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint32_t p = table[i % table.size()];
		if (bpf_map_update_elem(maps_[flow_indir], &i, &p, BPF_ANY))
			throw_errno("write flow_indir");
	}
}

std::vector<uint32_t> Steering::queue_map() const
{
	std::vector<uint32_t> t(MKDP_STEER_MAX_QUEUES);
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++)
		if (bpf_map_lookup_elem(maps_[queue_to_part], &q, &t[q]))
			throw_errno("read queue_to_part");
	return t;
}

std::vector<uint32_t> indirection_from_weights(std::span<const uint32_t> weights)
{
	uint64_t sum = 0;
	for (uint32_t w : weights)
		sum += w;
	if (weights.empty() || weights.size() > MKDP_STEER_MAX_PARTITIONS || !sum)
		throw Error("indirection weights: 1.." + std::to_string(MKDP_STEER_MAX_PARTITIONS) +
			    " weights, one per partition, not all 0");
	// Entry i goes to the partition whose cumulative weight range holds
	// i * sum / size, as ethtool_rxfh_indir_default-style spreading does.
	std::vector<uint32_t> t(MKDP_STEER_INDIR_SIZE);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++) {
		uint64_t x = uint64_t(i) * sum / MKDP_STEER_INDIR_SIZE, acc = 0;
		uint32_t p = 0;
		while (acc + weights[p] <= x)
			acc += weights[p++];
		t[i] = p;
	}
	return t;
}

std::vector<uint32_t> Steering::indirection() const
{
	std::vector<uint32_t> t(MKDP_STEER_INDIR_SIZE);
	for (uint32_t i = 0; i < MKDP_STEER_INDIR_SIZE; i++)
		if (bpf_map_lookup_elem(maps_[flow_indir], &i, &t[i]))
			throw_errno("read flow_indir");
	return t;
}

// ---- rules --------------------------------------------------------------------

std::vector<SteerRule> Steering::list_rules() const
{
	std::vector<SteerRule> out;
	for_each_entry<mkdp_steer_v4_flow, mkdp_steer_rule>(
		maps_[rules_exact_v4], [&](auto &k, auto &v) { out.push_back(from_exact(k, 4, v)); });
	for_each_entry<mkdp_steer_v6_flow, mkdp_steer_rule>(
		maps_[rules_exact_v6], [&](auto &k, auto &v) { out.push_back(from_exact(k, 6, v)); });
	for_each_entry<mkdp_steer_v4_prefix, mkdp_steer_rule>(
		maps_[rules_v4_prefix], [&](auto &k, auto &v) { out.push_back(from_prefix(k, 4, v)); });
	for_each_entry<mkdp_steer_v6_prefix, mkdp_steer_rule>(
		maps_[rules_v6_prefix], [&](auto &k, auto &v) { out.push_back(from_prefix(k, 6, v)); });
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.id < b.id; });
	return out;
}

uint32_t Steering::add_rule(SteerRule r)
{
	add_rules(std::span<SteerRule>(&r, 1));
	return r.id;
}

void Steering::add_rules(std::span<SteerRule> rules)
{
	uint32_t nparts = config().partitions;
	for (SteerRule &r : rules) {
		if (r.family != 4 && r.family != 6)
			throw Error("rule: family must be 4 or 6");
		if (r.action == SteerAction::steer && r.partition >= nparts)
			throw Error("rule " + r.text() + ": partition " + std::to_string(r.partition) +
				    " out of range " + part_range(nparts), ERANGE);
		if (r.action != SteerAction::steer)
			r.partition = 0;
		if (r.match == SteerRule::Match::exact) {
			if ((r.sport || r.dport) && r.proto != IPPROTO_TCP && r.proto != IPPROTO_UDP)
				throw Error("rule " + r.text() + ": ports need tcp or udp");
		} else {
			unsigned bytes = r.family == 4 ? 4 : 16;
			if (r.prefix_len > bytes * 8)
				throw Error("rule " + r.text() + ": prefix length out of range");
			if (!host_bits_clear(r.saddr, r.prefix_len, bytes))
				throw Error("rule " + r.text() + ": address has bits set past the prefix length");
		}
	}

	// Ids are unique across the rule maps; take the lowest free ones.
	std::optional<PinLock> lock;
	if (!ifname_.empty())
		lock.emplace();
	std::vector<SteerRule> existing = list_rules();
	const size_t before = existing.size();
	std::vector<bool> used(MKDP_STEER_MAX_RULES);
	for (const SteerRule &e : existing)
		if (e.id < used.size())
			used[e.id] = true;
	uint32_t next = 0;
	int ncpus = possible_cpus();
	size_t added = 0;
	try {
		for (SteerRule &r : rules) {
			while (next < used.size() && used[next])
				next++;
			if (next >= used.size())
				throw Error("no free rule id (" + std::to_string(MKDP_STEER_MAX_RULES) + " rules)", ENOSPC);
			r.id = next++;
			mkdp_steer_rule v{uint32_t(r.action), r.partition, r.id, 0};
			zero_percpu<mkdp_steer_rule_stats>(maps_[rule_stats], r.id, ncpus);
			int err = write_rule(r, v);
			if (err) {
				int e = errno;
				if (e == EEXIST) {
					auto same = std::find_if(existing.begin(), existing.end(),
								 [&](auto &x) { return x.same_match(r); });
					std::string what = same == existing.end() ? "an earlier rule of this batch"
						: same->to_string();
					bool dup = same != existing.end() && same->action == r.action &&
						   same->partition == r.partition;
					throw Error("rule " + r.to_string().substr(r.to_string().find(' ') + 1) +
						    (dup ? " duplicates " : " conflicts with ") + what, EEXIST);
				}
				if (e == E2BIG || e == ENOMEM || e == ENOSPC)
					throw Error("rule map full: " + std::string(std::strerror(e)), e);
				throw_errno("add rule " + r.to_string(), e);
			}
			added++;
			existing.push_back(r);
		}
		// After the entries: a frame that races sees the old rule set.
		write_rule_index(existing);
	} catch (...) {
		// Undo the entries, then the index as it was: one pass, whatever
		// the batch size.
		for (size_t i = 0; i < added; i++)
			erase_rule(rules[i]);
		existing.resize(before);
		try {
			write_rule_index(existing);
		} catch (...) {
		}
		throw;
	}
}

// The entry (exact) or entries (trie and by-length hash, prefix) of a rule.
int Steering::write_rule(const SteerRule &r, const mkdp_steer_rule &v)
{
	if (r.match == SteerRule::Match::exact) {
		if (r.family == 4) {
			auto k = v4_flow(r);
			return bpf_map_update_elem(maps_[rules_exact_v4], &k, &v, BPF_NOEXIST);
		}
		auto k = v6_flow(r);
		return bpf_map_update_elem(maps_[rules_exact_v6], &k, &v, BPF_NOEXIST);
	}
	int trie = r.family == 4 ? rules_v4_prefix : rules_v6_prefix;
	int hash = r.family == 4 ? rules_v4_by_len : rules_v6_by_len;
	auto tk4 = v4_key(r);
	auto tk6 = v6_key(r);
	auto hk4 = by_len_key<mkdp_steer_v4_by_len>(r);
	auto hk6 = by_len_key<mkdp_steer_v6_by_len>(r);
	const void *tk = r.family == 4 ? static_cast<const void *>(&tk4) : &tk6;
	const void *hk = r.family == 4 ? static_cast<const void *>(&hk4) : &hk6;
	if (bpf_map_update_elem(maps_[trie], tk, &v, BPF_NOEXIST))
		return -1;
	if (bpf_map_update_elem(maps_[hash], hk, &v, BPF_NOEXIST)) {
		int e = errno;
		bpf_map_delete_elem(maps_[trie], tk);
		errno = e;
		return -1;
	}
	return 0;
}

int Steering::erase_rule(const SteerRule &r)
{
	if (r.match == SteerRule::Match::exact) {
		if (r.family == 4) {
			auto k = v4_flow(r);
			return bpf_map_delete_elem(maps_[rules_exact_v4], &k);
		}
		auto k = v6_flow(r);
		return bpf_map_delete_elem(maps_[rules_exact_v6], &k);
	}
	// The hash first: the trie is what list_rules reads, the record of the rule.
	int err;
	if (r.family == 4) {
		auto hk = by_len_key<mkdp_steer_v4_by_len>(r);
		auto tk = v4_key(r);
		err = bpf_map_delete_elem(maps_[rules_v4_by_len], &hk);
		if (!err || errno == ENOENT)
			err = bpf_map_delete_elem(maps_[rules_v4_prefix], &tk);
	} else {
		auto hk = by_len_key<mkdp_steer_v6_by_len>(r);
		auto tk = v6_key(r);
		err = bpf_map_delete_elem(maps_[rules_v6_by_len], &hk);
		if (!err || errno == ENOENT)
			err = bpf_map_delete_elem(maps_[rules_v6_prefix], &tk);
	}
	return err;
}

// Recomputes steer_config.rules from the rule set, so the program skips
// empty tables and probes the by-length hash when few lengths are in use.
void Steering::write_rule_index(const std::vector<SteerRule> &rules)
{
	mkdp_steer_rule_index ix{};
	std::array<uint64_t, MKDP_STEER_NR_PREFIX_TABLES * 3> lens{};	// 129 bits per table
	auto set_len = [&](int t, unsigned len) { lens[t * 3 + len / 64] |= 1ULL << (len % 64); };
	for (const SteerRule &r : rules) {
		if (r.match == SteerRule::Match::exact) {
			(r.family == 4 ? ix.nr_exact_v4 : ix.nr_exact_v6)++;
			continue;
		}
		bool dst = r.match == SteerRule::Match::dst_prefix;
		int t = r.family == 4 ? (dst ? MKDP_STEER_V4_DST : MKDP_STEER_V4_SRC)
				      : (dst ? MKDP_STEER_V6_DST : MKDP_STEER_V6_SRC);
		set_len(t, r.prefix_len);
	}
	for (int t = 0; t < MKDP_STEER_NR_PREFIX_TABLES; t++) {
		mkdp_steer_prefix_index &p = ix.prefix[t];
		for (int len = 128; len >= 0; len--) {
			if (!(lens[t * 3 + len / 64] & (1ULL << (len % 64))))
				continue;
			if (p.nr_lens < MKDP_STEER_HASHED_LENS)
				p.lens[p.nr_lens] = uint8_t(len);
			p.nr_lens++;
		}
		if (p.nr_lens > MKDP_STEER_HASHED_LENS)	// the trie: lens unused
			std::memset(p.lens, 0, sizeof(p.lens));
	}
	uint32_t zero = 0;
	mkdp_steer_config k{};
	if (bpf_map_lookup_elem(maps_[steer_config], &zero, &k))
		throw_errno("read steer_config");
	k.rules = ix;
	if (bpf_map_update_elem(maps_[steer_config], &zero, &k, BPF_ANY))
		throw_errno("write steer_config");
}

void Steering::del_rule(uint32_t id)
{
	std::vector<SteerRule> rules = list_rules();
	auto r = std::find_if(rules.begin(), rules.end(), [&](const SteerRule &x) { return x.id == id; });
	if (r == rules.end())
		throw Error("no rule #" + std::to_string(id), ENOENT);
	if (erase_rule(*r))
		throw_errno("delete rule " + r->to_string());
	// After the entries: a deleted length left in the index only misses.
	rules.erase(r);
	write_rule_index(rules);
}

// ---- sockets ------------------------------------------------------------------

void Steering::set_socket(uint32_t queue, uint32_t part, int xsk_fd)
{
	check_queue(queue);
	check_partition(part);
	uint32_t slot = MKDP_STEER_SLOT(queue, part);
	if (bpf_map_update_elem(maps_[xsks_by_queue_part], &slot, &xsk_fd, BPF_ANY))
		throw_errno("put the socket in slot (queue " + std::to_string(queue) + ", partition " +
			    std::to_string(part) + ")");
	mkdp_steer_slot rec{1, uint32_t(::getpid())};
	if (bpf_map_update_elem(maps_[xsk_slots], &slot, &rec, BPF_ANY))
		throw_errno("write xsk_slots");
}

void Steering::clear_socket(uint32_t queue, uint32_t part)
{
	check_queue(queue);
	if (part >= MKDP_STEER_MAX_PARTITIONS)
		check_partition(part);
	uint32_t slot = MKDP_STEER_SLOT(queue, part);
	if (bpf_map_delete_elem(maps_[xsks_by_queue_part], &slot) && errno != ENOENT)
		throw_errno("clear slot (queue " + std::to_string(queue) + ", partition " + std::to_string(part) + ")");
	mkdp_steer_slot rec{};
	if (bpf_map_update_elem(maps_[xsk_slots], &slot, &rec, BPF_ANY))
		throw_errno("write xsk_slots");
}

// ---- counters and status --------------------------------------------------------

SteerStats Steering::read_stats() const
{
	int ncpus = possible_cpus();
	SteerStats st;
	st.totals = percpu_sum<mkdp_steer_totals>(maps_[steer_stats], 0, ncpus);
	uint32_t n = config().partitions;
	for (uint32_t p = 0; p < n; p++)
		st.partitions.push_back(percpu_sum<mkdp_steer_part_stats>(maps_[part_stats], p, ncpus));
	for (SteerRule &r : list_rules()) {
		auto rs = percpu_sum<mkdp_steer_rule_stats>(maps_[rule_stats], r.id, ncpus);
		st.rules.emplace_back(std::move(r), rs);
	}
	return st;
}

void Steering::reset_stats()
{
	int ncpus = possible_cpus();
	zero_percpu<mkdp_steer_totals>(maps_[steer_stats], 0, ncpus);
	for (uint32_t p = 0; p < MKDP_STEER_MAX_PARTITIONS; p++)
		zero_percpu<mkdp_steer_part_stats>(maps_[part_stats], p, ncpus);
	for (const SteerRule &r : list_rules())
		zero_percpu<mkdp_steer_rule_stats>(maps_[rule_stats], r.id, ncpus);
}

SteerStatus Steering::status() const
{
	SteerStatus st;
	mkdp_steer_info inf = info();
	st.netns = netns_;
	st.ifname = ifname_;
	st.ifindex = ifindex_;
	st.prog_id = prog_id_of(prog_fd_);
	st.mode = inf.xdp_mode == MKDP_STEER_MODE_SKB ? XdpMode::skb : XdpMode::native;
	st.multiprog = inf.attach_kind == MKDP_STEER_ATTACH_MULTIPROG;
	st.owner_pid = inf.owner_pid;
	st.attach_time = inf.attach_time;
	st.config = config();
	if (ifindex_ && if_nametoindex(ifname_.c_str()) == unsigned(ifindex_)) {
		Attached cur = attached_on(ifindex_);
		st.attached = has_prog(cur, st.prog_id);
		if (st.attached) {
			st.mode = cur.mode == XDP_MODE_SKB ? XdpMode::skb : XdpMode::native;
			st.multiprog = cur.multiprog;
		}
	}
	st.rules = list_rules().size();
	st.rx_queues = rx_queues_of(ifname_);
	st.queue_map = queue_map();
	if (st.rx_queues && st.rx_queues < st.queue_map.size())
		st.queue_map.resize(st.rx_queues);
	st.indirection = indirection();
	for (uint32_t q = 0; q < MKDP_STEER_MAX_QUEUES; q++) {
		std::vector<uint32_t> parts;
		for (uint32_t p = 0; p < MKDP_STEER_MAX_PARTITIONS; p++) {
			uint32_t slot = MKDP_STEER_SLOT(q, p);
			mkdp_steer_slot rec{};
			if (bpf_map_lookup_elem(maps_[xsk_slots], &slot, &rec))
				throw_errno("read xsk_slots");
			if (rec.in_use)
				parts.push_back(p);
		}
		if (!parts.empty())
			st.sockets.emplace_back(q, std::move(parts));
	}
	return st;
}

} // namespace mkdp
