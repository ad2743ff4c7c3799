// SPDX-License-Identifier: BSD-2-Clause
// Errors on mkdp's set-up paths. Fast paths never throw: they return counts
// or a DescError; everything that configures something throws mkdp::Error
// with a one-line reason a CLI can print as is.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace mkdp {

// s with its control characters escaped (\n, \xNN): one line, for any
// message that quotes what a file or a peer sent.
std::string one_line(const std::string &s);

class Error : public std::runtime_error {
public:
	// Control characters in `what` (a newline in a quoted rule, key or
	// request from a hostile file or peer) are escaped as \n, \xNN: the
	// reason stays one line whatever it quotes.
	explicit Error(const std::string &what, int err = 0)
		: std::runtime_error(one_line(what)), errno_(err) {}
	// The errno behind the failure, 0 when it was a validation failure.
	int code() const noexcept { return errno_; }

private:
	int errno_;
};

// Throws Error("<what>: <strerror(err)>", err).
[[noreturn]] void throw_errno(const std::string &what, int err = errno);

} // namespace mkdp
