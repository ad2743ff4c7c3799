// SPDX-License-Identifier: BSD-2-Clause
// The Prometheus text exposition of metric families (metrics.h).
#include "metrics.h"

#include <mkdp/error.h>

#include <charconv>
#include <cmath>

namespace mkdp::metrics {

namespace {

bool valid_name(std::string_view n, bool colon)
{
	if (n.empty() || (n[0] >= '0' && n[0] <= '9'))
		return false;
	for (char c : n)
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      (colon && c == ':')))
			return false;
	return true;
}

void put_labels(std::string &out, const Labels &labels, const char *le = nullptr)
{
	if (labels.empty() && !le)
		return;
	out += '{';
	bool first = true;
	for (const auto &[k, v] : labels) {
		if (!first)
			out += ',';
		first = false;
		out += k + "=\"" + escape_label_value(v) + '"';
	}
	if (le)
		out += std::string(first ? "" : ",") + "le=\"" + le + '"';
	out += '}';
}

void put_sample(std::string &out, const std::string &name, const Labels &labels, double v, const char *le = nullptr)
{
	out += name;
	put_labels(out, labels, le);
	out += ' ' + format_value(v) + '\n';
}

// "le" is the histogram's own; names starting "__" are Prometheus'.
void check_labels(const std::string &family, const Labels &labels)
{
	for (const auto &l : labels)
		if (!valid_name(l.first, false) || l.first == "le" || l.first.rfind("__", 0) == 0)
			throw Error("metric " + family + ": bad label name '" + l.first + "'");
}

const char *type_name(Type t)
{
	switch (t) {
	case Type::counter:
		return "counter";
	case Type::gauge:
		return "gauge";
	case Type::histogram:
		return "histogram";
	}
	return "untyped";
}

// The format's two escapes: \ and newline everywhere, " in label values.
std::string escape(std::string_view v, bool quotes)
{
	std::string o;
	o.reserve(v.size());
	for (char c : v) {
		if (c == '\\')
			o += "\\\\";
		else if (c == '\n')
			o += "\\n";
		else if (c == '"' && quotes)
			o += "\\\"";
		else
			o += c;
	}
	return o;
}

} // namespace

std::string escape_label_value(std::string_view v) { return escape(v, true); }
std::string escape_help(std::string_view v) { return escape(v, false); }

std::string format_value(double v)
{
	if (std::isnan(v))
		return "NaN";
	if (std::isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	char buf[64];
	auto r = std::to_chars(buf, buf + sizeof buf, v);
	return std::string(buf, r.ptr);
}

Family &Exposition::family(const std::string &name, const std::string &help, Type type)
{
	for (Family &f : families_)
		if (f.name == name) {
			if (f.type != type)
				throw Error("metric " + name + ": added as " + type_name(f.type) + " and as " +
					    type_name(type));
			return f;
		}
	if (!valid_name(name, true))
		throw Error("metric name '" + name + "' is not a valid Prometheus name");
	families_.push_back({name, help, type, {}, {}});
	return families_.back();
}

std::string Exposition::text() const
{
	std::string out;
	for (const Family &f : families_) {
		if (f.samples.empty() && f.histograms.empty())
			continue;	// a HELP without samples says nothing
		out += "# HELP " + f.name + ' ' + escape_help(f.help) + '\n';
		out += "# TYPE " + f.name + ' ' + type_name(f.type) + '\n';
		for (const Sample &s : f.samples) {
			check_labels(f.name, s.labels);
			put_sample(out, f.name, s.labels, s.value);
		}
		for (const Histogram &h : f.histograms) {
			check_labels(f.name, h.labels);
			uint64_t cum = 0;
			for (const auto &[bound, n] : h.buckets) {
				cum += n;
				put_sample(out, f.name + "_bucket", h.labels, double(cum), format_value(bound).c_str());
			}
			// +Inf is the count: every observation is at most +Inf.
			uint64_t count = h.count > cum ? h.count : cum;
			put_sample(out, f.name + "_bucket", h.labels, double(count), "+Inf");
			put_sample(out, f.name + "_sum", h.labels, h.sum);
			put_sample(out, f.name + "_count", h.labels, double(count));
		}
	}
	return out;
}

} // namespace mkdp::metrics
