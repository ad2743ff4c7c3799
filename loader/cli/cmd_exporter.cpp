// SPDX-License-Identifier: BSD-2-Clause
// `mkdp exporter`: serves /metrics for Prometheus until SIGINT or SIGTERM
// (loader/exporter.h does the work; docs/metrics.md lists the metrics).
#include "commands.h"

#include <exporter.h>

#include <mkdp/error.h>

#include <pthread.h>
#include <signal.h>

#include <cstdio>

namespace mkdp::cli {

namespace {

struct ExporterCmd {
	std::string listen = kExporterDefaultListen, netns;
};

void run_exporter(const ExporterCmd &c)
{
	// Blocked before the server's thread exists, so it inherits the mask
	// and the signals wait for sigwait() here: the exporter stops between
	// scrapes, closing its socket, and exits 0.
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, nullptr);
	ExporterOptions o;
	o.listen = c.listen;
	o.netns = c.netns;
	Exporter e(o);
	std::printf("mkdp exporter: serving http://%s/metrics%s\n", e.address().c_str(),
		    c.netns.empty() ? "" : (" in network namespace " + c.netns).c_str());
	std::fflush(stdout);
	int sig = 0;
	sigwait(&stop, &sig);
}

} // namespace

void register_exporter(CLI::App &app)
{
	static ExporterCmd c;
	CLI::App *cmd = app.add_subcommand(
		"exporter", "Serve mkdp's counters to Prometheus on /metrics.\n"
			    "The Prometheus text format: steering per interface, partition and rule;\n"
			    "partitions' state, frames and doorbells; SDP volumes' verdicts, errors and latency histograms (docs/metrics.md). Gathered\n"
			    "per scrape, off the data path; runs until Ctrl-C or SIGTERM.\n"
			    "Examples:\n"
			    "  mkdp exporter                       # 127.0.0.1:9477\n"
			    "  mkdp exporter --listen 127.0.0.1:9477 --netns mkdp-tb");
	cmd->add_option("--listen", c.listen, "ADDR:PORT to listen on ([ADDR6]:PORT for IPv6)")->capture_default_str();
	cmd->add_option("--netns", c.netns,
			"network namespace to listen in (the socket only; the counters are read from\n"
			"every namespace with mkdp steering)");
	cmd->callback([] { run_exporter(c); });
}

} // namespace mkdp::cli
