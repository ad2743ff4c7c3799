// SPDX-License-Identifier: BSD-2-Clause
#include "control_server.h"
#include "control_request.h"

#include <mkdp/error.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace mkdp {

void ControlServer::listen(const char *path)
{
	listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	unlink(path);
	// Root's only, whatever the umask: partitions run as an unprivileged
	// user and must not reach the supervisor (docs/partitions.md). Set
	// before listen(), so that nobody connects in between.
	if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) || chmod(path, 0600) ||
	    ::listen(listen_fd_, 16))
		throw_errno("control socket " + std::string(path));
	path_ = path;
}

void ControlServer::close() noexcept
{
	for (Client &c : clients_)
		::close(c.fd);
	clients_.clear();
	if (listen_fd_ >= 0)
		::close(listen_fd_);
	listen_fd_ = -1;
	if (!path_.empty())
		unlink(path_.c_str());
	path_.clear();
}

void ControlServer::reply(int fd, const nlohmann::json &j) noexcept
{
	std::string s = control_reply_line(j);
	(void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL);
	::close(fd);
}

void ControlServer::serve(std::span<pollfd> also, int timeout_ms,
			  const std::function<void(int, const std::string &)> &on_request)
{
	pfds_.assign(also.begin(), also.end());
	size_t first = pfds_.size();
	pfds_.push_back({listen_fd_, POLLIN, 0});
	for (const Client &c : clients_)
		pfds_.push_back({c.fd, POLLIN, 0});
	int n = poll(pfds_.data(), pfds_.size(), timeout_ms);
	for (size_t i = 0; i < also.size(); i++)
		also[i].revents = n > 0 ? pfds_[i].revents : 0;
	if (n <= 0)
		return;
	// Clients first: the indices below are those of this poll.
	for (size_t i = first + 1; i < pfds_.size(); i++) {
		if (!pfds_[i].revents)
			continue;
		Client &c = clients_[i - first - 1];
		char buf[4096];
		ssize_t r = read(c.fd, buf, sizeof(buf));
		std::optional<std::string> line;
		try {
			if (r > 0)
				line = take_request_line(c.in, {buf, size_t(r)});
		} catch (const Error &e) {
			reply(c.fd, {{"ok", false}, {"error", e.what()}});
			c.fd = -1;
			continue;
		}
		if (line) {
			int fd = c.fd;
			c.fd = -1;	// handed over: the handler replies and closes it
			on_request(fd, *line);
		} else if (r <= 0) {
			::close(c.fd);
			c.fd = -1;
		}
	}
	std::erase_if(clients_, [](const Client &c) { return c.fd < 0; });
	if (pfds_[first].revents) {
		int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
		// Past kMaxClients half-written requests, the oldest goes: a
		// client that connects and says nothing cannot use up the fds.
		if (fd >= 0 && clients_.size() >= kMaxClients) {
			::close(clients_.front().fd);
			clients_.erase(clients_.begin());
		}
		if (fd >= 0)
			clients_.push_back({fd, {}});
	}
}

} // namespace mkdp
