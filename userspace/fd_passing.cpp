// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace mkdp {

namespace {
constexpr size_t kMaxPayload = 4096;
}

void send_fds(int sock, std::span<const int> fds, const std::string &payload)
{
	if (payload.empty() || payload.size() > kMaxPayload)
		throw Error("send_fds: payload must be 1.." + std::to_string(kMaxPayload) + " bytes");
	if (fds.size() > kMaxPassedFds)
		throw Error("send_fds: too many fds (" + std::to_string(fds.size()) + ")");

	iovec iov{const_cast<char *>(payload.data()), payload.size()};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;

	alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
	if (!fds.empty()) {
		size_t bytes = sizeof(int) * fds.size();
		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(bytes);
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(bytes);
		std::memcpy(CMSG_DATA(c), fds.data(), bytes);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		throw_errno("send_fds");
	if (size_t(n) != payload.size())
		throw Error("send_fds: short send");
}

ReceivedFds recv_fds(int sock)
{
	ReceivedFds out;
	out.payload.resize(kMaxPayload);
	iovec iov{out.payload.data(), out.payload.size()};
	alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl;
	msg.msg_controllen = sizeof(ctl);

	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		throw_errno("recv_fds");

	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(c);
		for (size_t i = 0; i < count; i++) {
			int fd;
			std::memcpy(&fd, p + i * sizeof(int), sizeof(int));
			out.fds.push_back(fd);
		}
	}
	if (n == 0) {
		for (int fd : out.fds)
			close(fd);
		throw Error("recv_fds: peer closed the socket");
	}
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		for (int fd : out.fds)
			close(fd);
		throw Error("recv_fds: message truncated");
	}
	out.payload.resize(size_t(n));
	return out;
}

} // namespace mkdp
