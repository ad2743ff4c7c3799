// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's families: partitions, frames, doorbells, the region and
// the SDP volumes (metrics_collect.h), from one `status` answer.
//
// Fields are read by name and a missing one leaves its sample out: the
// status JSON may grow or rename fields, a scrape keeps what it finds.
#include "metrics_collect.h"

namespace mkdp::metrics {

namespace {

using json = nlohmann::json;

// Adds a sample for j[key] when it is a number.
struct Adder {
	Exposition &e;
	void counter(const json &j, const char *key, const std::string &name, const std::string &help, const Labels &l)
	{
		if (j.contains(key) && j[key].is_number())
			e.counter(name, help, l, j[key].get<double>());
	}
	void gauge(const json &j, const char *key, const std::string &name, const std::string &help, const Labels &l)
	{
		if (j.contains(key) && (j[key].is_number() || j[key].is_boolean()))
			e.gauge(name, help, l, j[key].is_boolean() ? double(j[key].get<bool>()) : j[key].get<double>());
	}
};

constexpr const char *kStates[] = {"stopped", "starting", "running", "stopping", "reclaiming"};

void partition(Adder &a, const json &p)
{
	Labels l{{"partition", p.value("name", "")}};
	std::string state = p.value("state", "");
	for (const char *s : kStates) {
		Labels ls = l;
		ls.emplace_back("state", s);
		a.e.gauge("mkdp_partition_state", "1 for the state the partition is in (stopped, starting, running, stopping, reclaiming)",
			  ls, state == s);
	}
	a.counter(p, "starts", "mkdp_partition_starts_total", "Times the supervisor started the partition's process (restarts are starts after the first)", l);
	a.gauge(p, "last_exit", "mkdp_partition_last_exit_status", "Exit status of the partition's last process (128 + signal when a signal ended it)", l);
	a.counter(p, "rx", "mkdp_partition_rx_frames_total", "Frames the partition received from its AF_XDP sockets", l);
	a.counter(p, "rx_bytes", "mkdp_partition_rx_bytes_total", "Bytes of the frames the partition received", l);
	a.counter(p, "fwd", "mkdp_partition_forwarded_frames_total", "Frames the partition forwarded to another partition (zero copy)", l);
	a.counter(p, "fwd_rx", "mkdp_partition_forwarded_rx_frames_total", "Frames the partition received from another partition", l);
	a.counter(p, "drops", "mkdp_partition_dropped_frames_total", "Frames the partition dropped", l);
	a.counter(p, "returned", "mkdp_partition_returned_frames_total", "Frames the partition produced on its return ring", l);
	a.counter(p, "bad_desc", "mkdp_partition_bad_descriptors_total", "Forward descriptors the partition refused by validation", l);
	a.counter(p, "kicks", "mkdp_partition_kicks_total", "AF_XDP kicks (recvfrom) the partition's wake-up mode asked for", l);
	a.counter(p, "sleeps", "mkdp_partition_sleeps_total", "Times the partition slept in poll() waiting for work", l);
	a.counter(p, "doorbell_kicks", "mkdp_partition_doorbell_kicks_total", "Wake-ups the partition sent to its forward peer's doorbell", l);
	a.counter(p, "doorbell_suppressed", "mkdp_partition_doorbell_suppressed_total", "Submits whose consumer did not ask for a wake-up (adaptive doorbell)", l);
	if (p.contains("frames")) {
		const json &f = p["frames"];
		for (const char *k : {"free", "in_flight", "fill", "leaked"})
			if (f.contains(k)) {
				Labels ls = l;
				ls.emplace_back("state", k);
				a.gauge(f, k, "mkdp_partition_frames", "The partition's frames by where they are: free (in the pool), fill (in fill rings), in_flight (with the partition), leaked", ls);
			}
		a.gauge(f, "quota", "mkdp_partition_frame_quota", "Frames the partition may hold", l);
		a.gauge(f, "throttled", "mkdp_partition_throttled", "1 while the partition is over its frame quota", l);
		a.counter(f, "throttles", "mkdp_partition_throttles_total", "Times the partition went over its frame quota", l);
		a.counter(f, "reclaimed", "mkdp_partition_reclaimed_frames_total", "Frames reclaimed from the partition's dead processes", l);
		a.counter(f, "refused_returns", "mkdp_partition_refused_returns_total", "Frame returns from the partition the supervisor refused", l);
	}
	if (p.contains("xsk")) {
		a.counter(p["xsk"], "rx_dropped", "mkdp_partition_xsk_rx_dropped_total", "Frames the partition's AF_XDP sockets dropped (no fill frame)", l);
		a.counter(p["xsk"], "rx_ring_full", "mkdp_partition_xsk_rx_ring_full_total", "Frames the partition's AF_XDP sockets dropped (RX ring full)", l);
	}
	if (p.contains("storage")) {
		const json &s = p["storage"];
		a.counter(s, "requests", "mkdp_partition_storage_requests_total", "Storage requests the partition's storage worker served", l);
		a.counter(s, "errors", "mkdp_partition_storage_errors_total", "Storage requests the partition's storage worker failed", l);
		a.counter(s, "bytes", "mkdp_partition_storage_bytes_total", "Bytes the partition's storage worker read and wrote", l);
	}
}

void volume(Adder &a, const json &v)
{
	Labels l{{"volume", v.value("name", "")}};
	a.counter(v, "requests", "mkdp_sdp_requests_total", "Storage requests the SDP front end took from the volume's clients", l);
	a.counter(v, "bad_requests", "mkdp_sdp_bad_requests_total", "Requests refused before judging (bad descriptor, tag in flight)", l);
	a.counter(v, "outside_volume", "mkdp_sdp_outside_volume_requests_total", "Requests outside the volume (EINVAL, never judged)", l);
	a.gauge(v, "outstanding", "mkdp_sdp_outstanding_requests", "Requests submitted and not yet completed", l);
	a.gauge(v, "sessions", "mkdp_sdp_sessions", "Client sessions open on the volume", l);
	for (const char *k : {"verdicts", "per_partition", "errors"}) {
		if (!v.contains(k) || !v[k].is_object())
			continue;
		for (const auto &[key, n] : v[k].items()) {
			if (!n.is_number())
				continue;
			Labels ls = l;
			if (k == std::string("verdicts")) {
				ls.emplace_back("verdict", key);
				a.e.counter("mkdp_sdp_verdicts_total", "Requests by the verdict of the volume's SDP program (pass, drop, redirect, complete, aborted)", ls, n.get<double>());
			} else if (k == std::string("per_partition")) {
				ls.emplace_back("partition", key);
				a.e.counter("mkdp_sdp_partition_requests_total", "Requests the front end sent to a partition's storage lane", ls, n.get<double>());
			} else {
				ls.emplace_back("errno", key);
				a.e.counter("mkdp_sdp_errors_total", "Requests completed with an error, by errno name", ls, n.get<double>());
			}
		}
	}
	if (v.contains("request_latency_ns"))
		a.e.histogram("mkdp_sdp_request_duration_seconds",
			      "Request latency as the storage plane sees it: taken from the client's ring to completion",
			      latency_histogram(v["request_latency_ns"], l));
}

} // namespace

Histogram latency_histogram(const json &h, Labels labels)
{
	Histogram out{std::move(labels), {}, h.value("count", uint64_t(0)), double(h.value("sum_ns", uint64_t(0))) / 1e9};
	// 2^10 ns (~1 us) .. 2^34 ns (~17 s): finer buckets than a storage
	// request's latency needs would only multiply series.
	constexpr int kFirst = 10, kLast = 34;
	std::vector<uint64_t> n(kLast - kFirst + 1);
	for (const auto &b : h.value("buckets", json::array())) {
		uint64_t le = b.value("le_ns", uint64_t(0));
		int i = kFirst;
		while (i <= kLast && (1ULL << i) < le)
			i++;
		if (i <= kLast)
			n[i - kFirst] += b.value("count", uint64_t(0));
	}
	for (int i = kFirst; i <= kLast; i++)
		out.buckets.emplace_back(double(1ULL << i) / 1e9, n[i - kFirst]);
	return out;
}

PartitionNames partition_names(const json &st)
{
	PartitionNames out;
	std::string ns = st.value("netns", "");
	auto &m = out[{ns.empty() ? "host" : ns, st.value("interface", "")}];
	for (const auto &p : st.value("partitions", json::array()))
		m[p.value("index", 0u)] = p.value("name", "");
	return out;
}

void collect_supervisor(Exposition &e, const json &st)
{
	Adder a{e};
	for (const auto &p : st.value("partitions", json::array()))
		partition(a, p);
	if (st.contains("region")) {
		const json &r = st["region"];
		a.gauge(r, "frames", "mkdp_region_frames", "Frames in the shared UMEM region", {});
		for (const char *k : {"free", "fill", "in_flight", "leaked", "spare"})
			a.gauge(r, k, "mkdp_region_frames_by_state", "The region's frames by where they are", {{"state", k}});
		a.counter(r, "refused_returns", "mkdp_region_refused_returns_total", "Frame returns the supervisor refused", {});
	}
	for (const auto &q : st.value("queues", json::array()))
		a.counter(q, "fill_ring_empty", "mkdp_queue_fill_ring_empty_total", "Times the supervisor found an RX queue's fill ring empty",
			  {{"interface", st.value("interface", "")}, {"queue", std::to_string(q.value("queue", 0u))}});
	for (const auto &v : st.value("volumes", json::array()))
		volume(a, v);
}

} // namespace mkdp::metrics
