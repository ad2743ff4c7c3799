// SPDX-License-Identifier: BSD-2-Clause
// Handing file descriptors between processes over a Unix socket
// (SCM_RIGHTS): how the loader gives a partition its regions, sockets and
// doorbells, the way a multikernel host would hand a spawned kernel its
// memory and devices.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace mkdp {

// Upper bound of fds in one message.
inline constexpr size_t kMaxPassedFds = 64;

// Sends `payload` (non-empty; it names what the fds are) with the fds
// attached. Throws mkdp::Error.
void send_fds(int sock, std::span<const int> fds, const std::string &payload);

struct ReceivedFds {
	std::string payload;
	std::vector<int> fds; // owned by the caller; close them
};

// Receives one message; throws mkdp::Error on error, truncation (every fd
// that did arrive is closed first) or when the peer has gone.
ReceivedFds recv_fds(int sock);

} // namespace mkdp
