// SPDX-License-Identifier: BSD-2-Clause
// `mkdp exporter` scraped by a real Prometheus (Debian's 2.42): partitions
// up on a testbed of the test's own, frames and storage I/O through them,
// the exporter and Prometheus both listening inside a network namespace the
// test creates (nothing is bound in the host's), and Prometheus' HTTP API
// asked whether it parsed the page and holds the values mkdp reports.
// Prometheus' own parser accepting every scrape is the point; promtool
// lints a page too.
#include "partition_harness.h"
#include "temp_dir.h"

#include <mkdp/netns.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <optional>

namespace mkdp::test {
namespace {

constexpr uint16_t kExporterPort = 9477, kPrometheusPort = 9090;
constexpr int kWaitMs = 90'000;	// a busy 2-CPU machine: generous, and only ever a bound

// A network namespace of the test's own, with its loopback up; removed
// whatever happens (and one left by a test process that died, at start).
class OwnNetns {
public:
	OwnNetns() : name_("mkdp-exp-" + std::to_string(getpid()))
	{
		for (const std::string &ns : netns_list())
			if (ns.rfind("mkdp-exp-", 0) == 0 && ns != name_ && ns.size() > 9 &&
			    ns.find_first_not_of("0123456789", 9) == std::string::npos &&
			    kill(std::stoi(ns.substr(9)), 0) && errno == ESRCH)
				run_program({"ip", "netns", "del", ns});
		run_program({"ip", "netns", "del", name_});
		run_checked({"ip", "netns", "add", name_}, "ip netns add " + name_);
		if (run_program({"ip", "-n", name_, "link", "set", "lo", "up"}).status) {
			run_program({"ip", "netns", "del", name_});
			throw Error("cannot bring lo up in " + name_);
		}
	}
	~OwnNetns() { run_program({"ip", "netns", "del", name_}); }
	const std::string &name() const { return name_; }

private:
	std::string name_;
};

struct HttpReply {
	int status = 0;
	std::string headers, body;
};

// A GET on 127.0.0.1:port of namespace ns (HTTP/1.0: the server closes,
// the body is what follows the headers). nullopt when nothing listens.
std::optional<HttpReply> http_get(const std::string &ns, uint16_t port, const std::string &target)
{
	return run_in_netns(ns, [&]() -> std::optional<HttpReply> {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return std::nullopt;
		timeval tv{10, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_port = htons(port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", in;
		if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) ||
		    send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
			close(fd);
			return std::nullopt;
		}
		char buf[65536];
		for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
			in.append(buf, size_t(n));
		close(fd);
		auto end = in.find("\r\n\r\n");
		if (in.rfind("HTTP/1.", 0) != 0 || end == std::string::npos)
			return std::nullopt;
		return HttpReply{std::stoi(in.substr(9, 3)), in.substr(0, end), in.substr(end + 4)};
	});
}

std::string url_encode(const std::string &s)
{
	std::string o;
	char hex[4];
	for (unsigned char c : s) {
		if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
			o += char(c);
		} else {
			std::snprintf(hex, sizeof hex, "%%%02X", c);
			o += hex;
		}
	}
	return o;
}

class Prometheus {
public:
	Prometheus(const std::string &ns, const std::string &dir) : ns_(ns)
	{
		std::string cfg = dir + "/prometheus.yml";
		std::ofstream(cfg) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
				      "scrape_configs:\n  - job_name: mkdp\n    static_configs:\n      - targets: ['127.0.0.1:"
				   << kExporterPort << "']\n";
		proc_.emplace(std::vector<std::string>{
			"ip", "netns", "exec", ns, "prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + dir + "/data",
			"--web.listen-address=127.0.0.1:" + std::to_string(kPrometheusPort), "--log.level=warn"});
	}
	~Prometheus()
	{
		kill(proc_->pid(), SIGTERM);
		if (!proc_->wait(20'000))
			std::fprintf(stderr, "prometheus did not stop on SIGTERM: killed\n");
	}
	bool ready()
	{
		auto r = http_get(ns_, kPrometheusPort, "/-/ready");
		return r && r->status == 200;
	}
	// The instant vector of expr: each series' labels and value.
	std::vector<std::pair<json, double>> query(const std::string &expr)
	{
		std::vector<std::pair<json, double>> out;
		auto r = http_get(ns_, kPrometheusPort, "/api/v1/query?query=" + url_encode(expr));
		if (!r || r->status != 200)
			return out;
		json j = json::parse(r->body, nullptr, false);
		if (j.is_discarded() || j.value("status", "") != "success")
			return out;
		for (const auto &s : j["data"]["result"])
			out.emplace_back(s["metric"], std::stod(s["value"][1].get<std::string>()));
		return out;
	}
	// The value of an expression that gives one series (nullopt: none yet).
	std::optional<double> value(const std::string &expr)
	{
		auto v = query(expr);
		return v.size() == 1 ? std::optional<double>(v[0].second) : std::nullopt;
	}
	// Waits until expr has one value and ok(value) holds; asserts it did.
	template <class F> void expect(const std::string &expr, F ok, const std::string &what)
	{
		std::optional<double> v;
		bool held = wait_until([&] { return (v = value(expr)) && ok(*v); }, kWaitMs, 200'000);
		EXPECT_TRUE(held) << what << ": " << expr << " = " << (v ? std::to_string(*v) : "no single series");
	}

private:
	std::string ns_;
	std::optional<RunningProgram> proc_;
};

// Whether every steering pin on the host is the testbed's: pins that some
// other, broken set-up left (an interface gone without a detach) are a
// scrape error the exporter rightly reports, but not this test's.
bool only_pins_of(const std::string &netns)
{
	for (const SteerPins &p : Steering::list_pins())
		if (p.netns != netns && !p.netns_gone) {
			std::printf("steering pins of another set-up: %s (scrape errors for steering not asserted)\n",
				    p.dir.c_str());
			return false;
		}
	return true;
}

class ExporterTest : public PartitionFixture {};

TEST_F(ExporterTest, RealPrometheusScrapesWhatMkdpCounts)
{
	// A dependency, not a capability: `make deps` installs it, so its
	// absence is a broken set-up and fails rather than skips.
	ASSERT_EQ(access("/usr/bin/prometheus", X_OK), 0)
		<< "prometheus is not installed: run `make deps` (Debian package prometheus)";
	PartitionBed bed;
	ProgramResult up = bed.up();
	ASSERT_EQ(up.status, 0) << up.out << up.err;
	ASSERT_TRUE(bed.rule_one_flow_per_partition());
	OwnNetns ns;
	TempDir dir("exp");
	std::optional<RunningProgram> exporter;
	exporter.emplace(std::vector<std::string>{MKDP_CLI, "exporter", "--listen",
						  "127.0.0.1:" + std::to_string(kExporterPort), "--netns", ns.name()});
	std::optional<HttpReply> page;
	ASSERT_TRUE(wait_until([&] { return (page = http_get(ns.name(), kExporterPort, "/metrics")).has_value(); }, 30'000, 50'000))
		<< "the exporter never answered in " << ns.name();
	EXPECT_EQ(page->status, 200);
	EXPECT_NE(page->headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos)
		<< page->headers;
	EXPECT_NE(page->body.find("# TYPE mkdp_supervisor_up gauge\nmkdp_supervisor_up 1\n"), std::string::npos);
	auto index = http_get(ns.name(), kExporterPort, "/");
	ASSERT_TRUE(index);
	EXPECT_NE(index->body.find("href=\"/metrics\""), std::string::npos);

	// Frames: one flow to each partition, by rule.
	constexpr uint64_t n = 3000;
	VethSender tx(bed.netns(), 2);
	std::vector<VethSender::Flow> flows{{tx.udp(5001, 7001), 0, (1ULL << 32) + 1, 0},
					    {tx.udp(5002, 7002), 1, (2ULL << 32) + 1, 0}};
	tx.send_flows(flows, n, 100'000);
	expect_delivered_or_counted("p0", n, bed.netns());
	json after = expect_delivered_or_counted("p1", n, bed.netns());
	// Storage: 16 writes and 16 reads of 64 KiB through v0.
	uint64_t requests = 0;
	for (const char *op : {"write", "read"}) {
		ProgramResult io = mkdp_cli({"sdp", "io", "v0", "--op", op, "--size", "1M", "--bs", "64k", "--qd", "4",
					     "--seed", "7", "--json"});
		ASSERT_EQ(io.status, 0) << io.out << io.err;
		requests += json::parse(io.out)["requests"].get<uint64_t>();
	}
	ASSERT_EQ(requests, 32u);
	// The supervisor's own view of the histogram first (mkdp sdp stats --json).
	ProgramResult sdp = mkdp_cli({"sdp", "stats", "v0", "--json"});
	ASSERT_EQ(sdp.status, 0) << sdp.err;
	json lat = json::parse(sdp.out)["volumes"][0]["request_latency_ns"];
	EXPECT_EQ(lat["count"], requests);
	EXPECT_GT(lat["sum_ns"].get<uint64_t>(), 0u);

	Prometheus prom(ns.name(), dir.str());
	ASSERT_TRUE(wait_until([&] { return prom.ready(); }, kWaitMs, 200'000)) << "prometheus never became ready";
	prom.expect("up{job=\"mkdp\"}", [](double v) { return v == 1; }, "Prometheus scrapes the exporter");
	prom.expect("scrape_samples_scraped{job=\"mkdp\"}", [](double v) { return v > 100; }, "samples per scrape");
	prom.expect("mkdp_supervisor_up", [](double v) { return v == 1; }, "supervisor up");
	json now = status();
	for (const char *p : {"p0", "p1"}) {
		// Between what mkdp said once the traffic was in, and what it
		// says now (a stray frame of the testbed's own may come later).
		double lo = double(part(after, p)["rx"].get<uint64_t>()), hi = double(part(now, p)["rx"].get<uint64_t>());
		EXPECT_GE(lo, double(n) - double(counted_losses(part(after, p))) - double(veth_drops(bed.netns())));
		prom.expect(std::string("mkdp_partition_rx_frames_total{partition=\"") + p + "\"}",
			    [&](double v) { return v >= lo && v <= hi; }, std::string(p) + " rx as mkdp part list says");
		double slo = double(part(after, p)["steering"]["packets"].get<uint64_t>()),
		       shi = double(part(now, p)["steering"]["packets"].get<uint64_t>());
		prom.expect(std::string("mkdp_steer_partition_frames_total{interface=\"mkdp0\",netns=\"") + bed.netns() +
				    "\",partition=\"" + p + "\"}",
			    [&](double v) { return v >= slo && v <= shi; }, std::string(p) + " steered frames");
		prom.expect(std::string("mkdp_partition_state{partition=\"") + p + "\",state=\"running\"}",
			    [](double v) { return v == 1; }, "running");
	}
	prom.expect("mkdp_steer_rule_frames_total{rule_text=\"exact udp 10.77.0.2:5001 10.77.0.1:7001 part 0\"}",
		    [&](double v) { return v > 0 && v <= double(n); }, "the rule's hits");
	const double req = double(requests);
	prom.expect("mkdp_sdp_request_duration_seconds_count{volume=\"v0\"}", [&](double v) { return v == req; },
		    "one latency observation per request");
	prom.expect("mkdp_sdp_requests_total{volume=\"v0\"}", [&](double v) { return v == req; }, "requests");
	prom.expect("sum(mkdp_sdp_verdicts_total{volume=\"v0\"})", [&](double v) { return v == req; }, "verdicts");
	prom.expect("mkdp_sdp_request_duration_seconds_bucket{volume=\"v0\",le=\"+Inf\"}",
		    [&](double v) { return v == req; }, "+Inf bucket");
	// Prometheus reads it as a histogram: a quantile within its bounds.
	prom.expect("histogram_quantile(0.5, mkdp_sdp_request_duration_seconds_bucket{volume=\"v0\"})",
		    [](double v) { return v > 0 && v <= 17.2; }, "median latency");
	// No scrape failed since Prometheus started.
	prom.expect("min_over_time(up{job=\"mkdp\"}[10m])", [](double v) { return v == 1; }, "no failed scrape");
	prom.expect("max_over_time(mkdp_scrape_errors{source=\"supervisor\"}[10m])", [](double v) { return v == 0; },
		    "the supervisor answered every scrape");
	if (only_pins_of(bed.netns()))
		prom.expect("max_over_time(mkdp_scrape_errors{source=\"steering\"}[10m])", [](double v) { return v == 0; },
			    "the steering read in every scrape");

	// promtool's lint on a page as served now.
	page = http_get(ns.name(), kExporterPort, "/metrics");
	ASSERT_TRUE(page);
	if (!access("/usr/bin/promtool", X_OK)) {
		std::string file = dir.str() + "/page.prom";
		std::ofstream(file) << page->body;
		ProgramResult lint = run_program({"sh", "-c", "promtool check metrics < " + file});
		EXPECT_EQ(lint.status, 0) << lint.out << lint.err;
	}

	// SIGTERM: exit 0, the socket closed.
	kill(exporter->pid(), SIGTERM);
	std::optional<ProgramResult> done = exporter->wait(20'000);
	ASSERT_TRUE(done) << "the exporter did not stop on SIGTERM";
	EXPECT_EQ(done->status, 0) << done->err;
	EXPECT_FALSE(http_get(ns.name(), kExporterPort, "/metrics")) << "still listening after exit";
}

TEST_F(ExporterTest, WithoutTheSupervisorSteeringIsStillServed)
{
	PartitionBed bed;
	ProgramResult a = mkdp_cli({"steer", "attach", "mkdp0", "--netns", bed.netns(), "--partitions", "2"});
	ASSERT_EQ(a.status, 0) << a.err;
	OwnNetns ns;
	RunningProgram exporter({MKDP_CLI, "exporter", "--listen", "127.0.0.1:" + std::to_string(kExporterPort),
				 "--netns", ns.name()});
	std::optional<HttpReply> page;
	ASSERT_TRUE(wait_until([&] { return (page = http_get(ns.name(), kExporterPort, "/metrics")).has_value(); }, 30'000, 50'000))
		<< "the exporter never answered in " << ns.name();
	EXPECT_EQ(page->status, 200);
	EXPECT_NE(page->body.find("\nmkdp_supervisor_up 0\n"), std::string::npos) << page->body;
	std::string l = "{interface=\"mkdp0\",netns=\"" + bed.netns() + "\"";
	EXPECT_NE(page->body.find("mkdp_steer_frames_total" + l + "} "), std::string::npos) << page->body;
	EXPECT_NE(page->body.find("mkdp_steer_partition_frames_total" + l + ",partition=\"1\"} "), std::string::npos);
	if (only_pins_of(bed.netns())) {
		EXPECT_NE(page->body.find("mkdp_scrape_errors{source=\"steering\"} 0\n"), std::string::npos);
	}
	EXPECT_EQ(page->body.find("mkdp_partition_"), std::string::npos) << "no partitions without the supervisor";
	kill(exporter.pid(), SIGINT);
	auto done = exporter.wait(20'000);
	ASSERT_TRUE(done);
	EXPECT_EQ(done->status, 0) << done->err;
	EXPECT_EQ(mkdp_cli({"steer", "detach", "mkdp0", "--netns", bed.netns()}).status, 0);
}

} // namespace
} // namespace mkdp::test
