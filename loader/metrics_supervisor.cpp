// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's families: partitions, frames, doorbells, the region and
// the SDP volumes (metrics_collect.h), from one `status` answer.
//
// Fields are read by name and a missing one leaves its sample out: the
// status JSON may grow or rename fields, a scrape keeps what it finds.
#include "metrics_collect.h"

#include <steer_loader.h>

namespace mkdp::metrics {

namespace {

using json = nlohmann::json;

// One number of the status JSON and the family it becomes.
struct Field {
	const char *key;
	Type type;
	const char *name, *help;
};

// Adds a sample for each field that is a number (or a boolean) in j.
void add(Exposition &e, const json &j, std::initializer_list<Field> fields, const Labels &l)
{
	for (const Field &f : fields) {
		if (!j.contains(f.key) || !(j[f.key].is_number() || j[f.key].is_boolean()))
			continue;
		double v = j[f.key].is_boolean() ? double(j[f.key].get<bool>()) : j[f.key].get<double>();
		e.family(f.name, f.help, f.type).samples.push_back({l, v});
	}
}

constexpr Type C = Type::counter, G = Type::gauge;

constexpr const char *kStates[] = {"stopped", "starting", "running", "stopping", "reclaiming"};

void partition(Exposition &e, const json &p)
{
	Labels l{{"partition", p.value("partition", "")}};
	std::string state = p.value("state", "");
	for (const char *s : kStates) {
		Labels ls = l;
		ls.emplace_back("state", s);
		e.gauge("mkdp_partition_state", "1 for the state the partition is in (stopped, starting, running, stopping, reclaiming)",
			ls, state == s);
	}
	add(e, p, {
		{"starts", C, "mkdp_partition_starts_total", "Times the supervisor started the partition's process (restarts are starts after the first)"},
		{"rx", C, "mkdp_partition_rx_frames_total", "Frames the partition received from its AF_XDP sockets"},
		{"rx_bytes", C, "mkdp_partition_rx_bytes_total", "Bytes of the frames the partition received"},
		{"fwd", C, "mkdp_partition_forwarded_frames_total", "Frames the partition forwarded to another partition (zero copy)"},
		{"fwd_rx", C, "mkdp_partition_forwarded_rx_frames_total", "Frames the partition received from another partition"},
		{"drops", C, "mkdp_partition_dropped_frames_total", "Frames the partition dropped"},
		{"returned", C, "mkdp_partition_returned_frames_total", "Frames the partition produced on its return ring"},
		{"bad_desc", C, "mkdp_partition_bad_descriptors_total", "Forward descriptors the partition refused by validation"},
		{"kicks", C, "mkdp_partition_kicks_total", "AF_XDP kicks (recvfrom) the partition's wake-up mode asked for"},
		{"sleeps", C, "mkdp_partition_sleeps_total", "Times the partition slept in poll() waiting for work"},
		{"doorbell_kicks", C, "mkdp_partition_doorbell_kicks_total", "Wake-ups the partition sent to its forward peer's doorbell"},
		{"doorbell_suppressed", C, "mkdp_partition_doorbell_suppressed_total", "Submits whose consumer did not ask for a wake-up (adaptive doorbell)"},
	}, l);
	// null in the status before any process exited (docs/json.md); -1 here.
	const json &last = p.contains("last_exit") ? p["last_exit"] : json();
	e.gauge("mkdp_partition_last_exit_status",
		"Exit status of the partition's last process (128 + signal when a signal ended it; -1: none exited yet)", l,
		last.is_number() ? last.get<double>() : -1.0);
	const json none = json::object();
	const json &f = p.contains("frames") ? p["frames"] : none;
	for (const char *k : {"free", "in_flight", "fill", "leaked"}) {
		Labels ls = l;
		ls.emplace_back("state", k);
		add(e, f, {{k, G, "mkdp_partition_frames", "The partition's frames by where they are: free (in the pool), fill (in fill rings), in_flight (with the partition), leaked"}}, ls);
	}
	add(e, f, {
		{"quota", G, "mkdp_partition_frame_quota", "Frames the partition may hold"},
		{"throttled", G, "mkdp_partition_throttled", "1 while the partition is over its frame quota"},
		{"throttles", C, "mkdp_partition_throttles_total", "Times the partition went over its frame quota"},
		{"reclaimed", C, "mkdp_partition_reclaimed_frames_total", "Frames reclaimed from the partition's dead processes"},
		{"refused_returns", C, "mkdp_partition_refused_returns_total", "Frame returns from the partition the supervisor refused"},
	}, l);
	add(e, p.contains("xsk") ? p["xsk"] : none, {
		{"rx_dropped", C, "mkdp_partition_xsk_rx_dropped_total", "Frames the partition's AF_XDP sockets dropped (no fill frame)"},
		{"rx_ring_full", C, "mkdp_partition_xsk_rx_ring_full_total", "Frames the partition's AF_XDP sockets dropped (RX ring full)"},
	}, l);
	add(e, p.contains("storage") ? p["storage"] : none, {
		{"requests", C, "mkdp_partition_storage_requests_total", "Storage requests the partition's storage worker served"},
		{"errors", C, "mkdp_partition_storage_errors_total", "Storage requests the partition's storage worker failed"},
		{"bytes", C, "mkdp_partition_storage_bytes_total", "Bytes the partition's storage worker read and wrote"},
	}, l);
}

void volume(Exposition &e, const json &v)
{
	Labels l{{"volume", v.value("volume", "")}};
	add(e, v, {
		{"requests", C, "mkdp_sdp_requests_total", "Storage requests the SDP front end took from the volume's clients"},
		{"bad_requests", C, "mkdp_sdp_bad_requests_total", "Requests refused before judging (bad descriptor, tag in flight)"},
		{"outside_volume", C, "mkdp_sdp_outside_volume_requests_total", "Requests outside the volume (EINVAL, never judged)"},
		{"outstanding", G, "mkdp_sdp_outstanding_requests", "Requests submitted and not yet completed"},
		{"sessions", G, "mkdp_sdp_sessions", "Client sessions open on the volume"},
	}, l);
	// Objects of counts, one series per key.
	struct ByKey {
		const char *key, *label, *name, *help;
	};
	for (const ByKey &b : {
		     ByKey{"verdicts", "verdict", "mkdp_sdp_verdicts_total", "Requests by the verdict of the volume's SDP program (pass, drop, redirect, complete, aborted)"},
		     ByKey{"requests_by_partition", "partition", "mkdp_sdp_partition_requests_total", "Requests the front end sent to a partition's storage lane"},
		     ByKey{"errors_by_errno", "errno", "mkdp_sdp_errors_total", "Requests completed with an error, by errno name"}}) {
		if (!v.contains(b.key) || !v[b.key].is_object())
			continue;
		for (const auto &[key, n] : v[b.key].items()) {
			Labels ls = l;
			ls.emplace_back(b.label, key);
			if (n.is_number())
				e.counter(b.name, b.help, ls, n.get<double>());
		}
	}
	if (v.contains("request_latency_ns"))
		e.histogram("mkdp_sdp_request_duration_seconds",
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
	auto &m = out[{Steering::netns_label(st.value("netns", "")), st.value("interface", "")}];
	for (const auto &p : st.value("partitions", json::array()))
		m[p.value("partition_index", 0u)] = p.value("partition", "");
	return out;
}

void collect_supervisor(Exposition &e, const json &st)
{
	for (const auto &p : st.value("partitions", json::array()))
		partition(e, p);
	if (st.contains("region")) {
		const json &r = st["region"];
		add(e, r, {{"frames", G, "mkdp_region_frames", "Frames in the shared UMEM region"},
			   {"refused_returns", C, "mkdp_region_refused_returns_total", "Frame returns the supervisor refused"}}, {});
		for (const char *k : {"free", "fill", "in_flight", "leaked", "spare"})
			add(e, r, {{k, G, "mkdp_region_frames_by_state", "The region's frames by where they are"}}, {{"state", k}});
	}
	for (const auto &q : st.value("queues", json::array()))
		add(e, q, {{"fill_ring_empty", C, "mkdp_queue_fill_ring_empty_total", "Times the supervisor found an RX queue's fill ring empty"}},
		    {{"interface", st.value("interface", "")}, {"queue", std::to_string(q.value("queue", 0u))}});
	for (const auto &v : st.value("volumes", json::array()))
		volume(e, v);
}

} // namespace mkdp::metrics
