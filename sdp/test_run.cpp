// SPDX-License-Identifier: BSD-2-Clause
#include "test_run.h"
#include "executor.h"

#include <mkdp/error.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mkdp::sdp {

TestRunResult test_run(const std::string &object, const std::string &request_file)
{
	std::ifstream f(request_file);
	if (!f)
		throw Error("cannot read " + request_file + ": " + std::strerror(errno));
	std::stringstream text;
	text << f.rdbuf();
	RequestFile file = parse_requests(text.str(), request_file);
	Program p = Program::load(object);
	for (const MapSet &m : file.maps) {
		try {
			p.set_map(m.map, m.key, m.value);
		} catch (const Error &e) {
			throw Error(request_file + ":" + std::to_string(m.line) + ": " + e.what());
		}
	}
	std::vector<sdp_md> reqs;
	for (const RequestLine &r : file.requests)
		reqs.push_back(r.md);
	TestRunResult res;
	res.program = p.name();
	res.verdicts.resize(reqs.size());
	p.run(reqs, res.verdicts.data());
	res.requests = std::move(file.requests);
	for (size_t i = 0; i < reqs.size(); i++)
		res.requests[i].md = reqs[i];
	return res;
}

} // namespace mkdp::sdp
