// SPDX-License-Identifier: BSD-2-Clause
// The exporter's HTTP server (exporter.h), on libmicrohttpd.
#include "exporter.h"

#include <bpf_util.h>

#include <mkdp/error.h>
#include <mkdp/netns.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace mkdp {

namespace {

constexpr int kScrapeNice = 10;	// below the partitions and the supervisor's control thread

struct Listen {
	sockaddr_storage sa{};
	socklen_t len = 0;
};

Listen parse_listen(const std::string &s)
{
	auto bad = [&](const std::string &why) {
		return Error("--listen '" + s + "': " + why + " (expected ADDR:PORT, e.g. " + kExporterDefaultListen +
			     " or [::1]:9477)");
	};
	auto colon = s.rfind(':');
	if (colon == std::string::npos)
		throw bad("no port");
	if (colon == 0)
		throw bad("no address");
	std::string host = s.substr(0, colon), port = s.substr(colon + 1);
	if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
	    std::stoul(port) > 65535)
		throw bad("the port is not a number from 0 to 65535");
	uint16_t p = uint16_t(std::stoul(port));
	Listen l;
	if (host.front() == '[' && host.back() == ']') {
		auto *a = reinterpret_cast<sockaddr_in6 *>(&l.sa);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(p);
		if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) != 1)
			throw bad("not an IPv6 address");
		l.len = sizeof(*a);
	} else {
		auto *a = reinterpret_cast<sockaddr_in *>(&l.sa);
		a->sin_family = AF_INET;
		a->sin_port = htons(p);
		if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1)
			throw bad("not an IPv4 address (IPv6 goes in brackets)");
		l.len = sizeof(*a);
	}
	return l;
}

std::string to_string(const sockaddr_storage &sa)
{
	char buf[INET6_ADDRSTRLEN] = {};
	if (sa.ss_family == AF_INET6) {
		auto *a = reinterpret_cast<const sockaddr_in6 *>(&sa);
		inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
		return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
	}
	auto *a = reinterpret_cast<const sockaddr_in *>(&sa);
	inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
	return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
}

// The socket, bound and listening, made by the calling thread (in whatever
// namespace it is).
Fd listen_socket(const Listen &l, const std::string &text)
{
	Fd fd(socket(l.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (fd.get() < 0)
		throw_errno("--listen " + text + ": socket");
	int one = 1;
	setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd.get(), reinterpret_cast<const sockaddr *>(&l.sa), l.len))
		throw_errno("--listen " + text);
	if (listen(fd.get(), 16))
		throw_errno("--listen " + text + ": listen");
	return fd;
}

const char kIndex[] = "<html><head><title>mkdp exporter</title></head><body><h1>mkdp exporter</h1>"
		      "<p><a href=\"/metrics\">/metrics</a></p></body></html>\n";

MHD_Result reply(MHD_Connection *c, unsigned status, const std::string &body, const char *type)
{
	MHD_Response *r = MHD_create_response_from_buffer(body.size(), const_cast<char *>(body.data()),
							  MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

MHD_Result on_request(void *cls, MHD_Connection *c, const char *url, const char *method, const char *,
		      const char *, size_t *, void **)
{
	return MHD_Result(Exporter::handle_request(cls, c, url, method));
}

} // namespace

int Exporter::handle_request(void *self, void *conn, const char *url, const char *method)
{
	auto *e = static_cast<Exporter *>(self);
	auto *c = static_cast<MHD_Connection *>(conn);
	// A scrape is bulk work (a status request, every rule's per-CPU
	// counters): it yields to everything that moves frames.
	static thread_local bool niced = [] {
		return setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), kScrapeNice) == 0;
	}();
	(void)niced;
	if (std::strcmp(method, "GET") && std::strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", "text/plain; charset=utf-8");
	if (!std::strcmp(url, "/metrics")) {
		std::string body;
		try {
			body = metrics::collect(e->o_.collect).text();
		} catch (const std::exception &ex) {
			// collect() keeps going past any missing part; this is a bug.
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, std::string(ex.what()) + "\n",
				     "text/plain; charset=utf-8");
		}
		e->scrapes_++;
		return reply(c, MHD_HTTP_OK, body, metrics::kContentType);
	}
	if (!std::strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, kIndex, "text/html; charset=utf-8");
	return reply(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", "text/plain; charset=utf-8");
}

Exporter::Exporter(const ExporterOptions &o) : o_(o)
{
	Listen l = parse_listen(o.listen);
	Fd fd = o.netns.empty() ? listen_socket(l, o.listen)
				: run_in_netns(o.netns, [&] { return listen_socket(l, o.listen); });
	sockaddr_storage bound{};
	socklen_t len = sizeof bound;
	getsockname(fd.get(), reinterpret_cast<sockaddr *>(&bound), &len);
	address_ = to_string(bound);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | (l.sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, this, MHD_OPTION_LISTEN_SOCKET, fd.get(),
				   MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!daemon_)
		throw Error("--listen " + o.listen + ": the HTTP server (libmicrohttpd) did not start");
	fd.release();	// the daemon's now: MHD_stop_daemon closes it
}

Exporter::~Exporter()
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
}

} // namespace mkdp
