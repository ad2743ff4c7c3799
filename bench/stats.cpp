// SPDX-License-Identifier: BSD-2-Clause
#include "bench.h"

#include <algorithm>
#include <cmath>

namespace mkdp::bench {

double percentile(std::vector<double> &s, double pct)
{
	if (s.empty())
		return 0;
	std::sort(s.begin(), s.end());
	size_t rank = size_t(std::ceil(pct / 100.0 * double(s.size())));
	return s[rank ? rank - 1 : 0];
}

Summary summarize(std::vector<double> s)
{
	Summary r;
	r.n = s.size();
	if (s.empty())
		return r;
	std::sort(s.begin(), s.end());
	size_t n = s.size();
	r.min = s.front();
	r.max = s.back();
	r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r.p25 = percentile(s, 25);
	r.p75 = percentile(s, 75);
	return r;
}

nlohmann::json to_json(const Summary &s)
{
	return {{"median", s.median}, {"min", s.min}, {"max", s.max},
		{"p25", s.p25}, {"p75", s.p75}, {"n", s.n}};
}

nlohmann::json latency_json(std::vector<double> samples)
{
	nlohmann::json cdf = nlohmann::json::array();
	for (int q = 0; q <= 100; q += 5)
		cdf.push_back(percentile(samples, q == 100 ? 99.9 : q));
	return {{"p50", percentile(samples, 50)}, {"p99", percentile(samples, 99)},
		{"p999", percentile(samples, 99.9)}, {"samples", samples.size()}, {"cdf_5pct", cdf}};
}

} // namespace mkdp::bench
