// SPDX-License-Identifier: BSD-2-Clause
// `mkdp exporter`'s HTTP side: /metrics in the Prometheus text format
// (metrics.h), gathered per scrape (metrics_collect.h), and a small / page
// linking to it. libmicrohttpd serves, on one thread of its own, so scrapes
// run one at a time and never in a thread of the data path.
//
// The listening socket is made inside `netns` when one is named (a socket
// keeps the namespace it was created in), so a test keeps every byte of a
// scrape in a namespace it created; the exporter's threads stay where the
// process is, where the steering pins and the supervisor's socket are.
#pragma once

#include "metrics_collect.h"

#include <atomic>
#include <cstdint>
#include <string>

struct MHD_Daemon;

namespace mkdp {

// Chosen from the unassigned part of Prometheus' exporter port list; any
// other is a --listen away.
inline constexpr const char *kExporterDefaultListen = "127.0.0.1:9477";

struct ExporterOptions {
	std::string listen = kExporterDefaultListen;	// "ADDR:PORT" or "[ADDR6]:PORT"; port 0: any
	std::string netns;				// "" = the calling thread's
	metrics::CollectOptions collect;
};

class Exporter {
public:
	// Binds and serves, or throws mkdp::Error in one line (a bad address,
	// a port in use, no such namespace) having opened nothing.
	explicit Exporter(const ExporterOptions &o);
	~Exporter();	// stops serving and closes the socket
	Exporter(const Exporter &) = delete;
	Exporter &operator=(const Exporter &) = delete;

	// Where it listens, with the port the kernel chose for port 0.
	const std::string &address() const noexcept { return address_; }
	uint64_t scrapes() const noexcept { return scrapes_.load(); }

	// libmicrohttpd's request callback, behind a C trampoline (exporter.cpp).
	static int handle_request(void *self, void *conn, const char *url, const char *method);

private:
	ExporterOptions o_;
	std::string address_;
	MHD_Daemon *daemon_ = nullptr;
	std::atomic<uint64_t> scrapes_{0};
};

} // namespace mkdp
