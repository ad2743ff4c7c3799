// SPDX-License-Identifier: BSD-2-Clause
// `mkdp sdp test-run`'s work: an SDP program on the requests of a file
// (request_text.h), every verdict kept.
#pragma once

#include "request_text.h"

#include <string>
#include <vector>

namespace mkdp::sdp {

struct TestRunResult {
	std::string program;			// its SDP_PROGRAM name
	std::vector<RequestLine> requests;	// as judged: err and target filled in
	std::vector<uint8_t> verdicts;		// enum sdp_action, per request
};

// Loads `object`, applies the file's map lines, runs its requests in
// batches. Throws mkdp::Error ("FILE:LINE: ..." for the file's mistakes).
TestRunResult test_run(const std::string &object, const std::string &request_file);

} // namespace mkdp::sdp
