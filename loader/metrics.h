// SPDX-License-Identifier: BSD-2-Clause
// Metric families and their Prometheus text exposition (format 0.0.4), the
// model `mkdp exporter` fills on every scrape (metrics_collect.h) and serves
// (exporter.h). Pure: no I/O, unit tested on its text (tests/metrics_test).
//
// A family is written once, with its HELP and TYPE, in the order it was
// first added; samples in the order they were added. A histogram's buckets
// are given per bound (not cumulative) and written cumulative, ending in
// le="+Inf", which is always the histogram's count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mkdp::metrics {

enum class Type { counter, gauge, histogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
	Labels labels;
	double value = 0;
};

struct Histogram {
	Labels labels;
	// (upper bound, observations in (previous bound, bound]), bounds
	// ascending, +Inf left out.
	std::vector<std::pair<double, uint64_t>> buckets;
	uint64_t count = 0;	// every observation, those above the last bound too
	double sum = 0;
};

struct Family {
	std::string name, help;
	Type type = Type::gauge;
	std::vector<Sample> samples;		// counter, gauge
	std::vector<Histogram> histograms;	// histogram
};

class Exposition {
public:
	// The family of that name, added (with help and type) when new. Throws
	// mkdp::Error on a name Prometheus would refuse or a type that differs
	// from the family's: a bug here, not a scrape-time surprise.
	Family &family(const std::string &name, const std::string &help, Type type);

	void counter(const std::string &name, const std::string &help, Labels labels, double v)
	{
		family(name, help, Type::counter).samples.push_back({std::move(labels), v});
	}
	void gauge(const std::string &name, const std::string &help, Labels labels, double v)
	{
		family(name, help, Type::gauge).samples.push_back({std::move(labels), v});
	}
	void histogram(const std::string &name, const std::string &help, Histogram h)
	{
		family(name, help, Type::histogram).histograms.push_back(std::move(h));
	}

	const std::vector<Family> &families() const noexcept { return families_; }
	std::string text() const;

private:
	std::vector<Family> families_;
};

// The content type of text(), for the Content-Type header.
inline constexpr const char *kContentType = "text/plain; version=0.0.4; charset=utf-8";

// The format's escapes: a label value escapes \ " and newline; HELP text
// escapes \ and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value or bound: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

} // namespace mkdp::metrics
