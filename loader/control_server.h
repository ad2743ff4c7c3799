// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's control socket: a Unix stream socket where each client
// sends one JSON request line and gets one JSON reply line
// (<mkdp/supervisor.h> is the client side). A request that must wait (a
// partition starting) keeps its fd until the reply.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include <poll.h>

namespace mkdp {

class ControlServer {
public:
	ControlServer() = default;
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;
	~ControlServer() { close(); }

	// Listens on `path` (replacing a stale socket). Throws.
	void listen(const char *path);
	void close() noexcept;

	// Waits up to timeout_ms for a client or one of `also` (fds the caller
	// watches; their revents are filled in). Calls on_request(fd, line) for
	// each complete request; the fd is then the handler's to reply() on.
	void serve(std::span<pollfd> also, int timeout_ms,
		   const std::function<void(int fd, const std::string &line)> &on_request);

	// Sends one reply line and closes the client.
	static void reply(int fd, const nlohmann::json &j) noexcept;

	// At most kMaxClients clients may be part-way through a request
	// (control_request.h bounds each request).
	static constexpr size_t kMaxClients = 64;

private:
	struct Client {
		int fd;
		std::string in;
	};
	int listen_fd_ = -1;
	std::string path_;
	std::vector<Client> clients_;
	std::vector<pollfd> pfds_;	// reused: no allocation per wait once grown
};

} // namespace mkdp
