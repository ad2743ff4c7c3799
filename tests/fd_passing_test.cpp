// SPDX-License-Identifier: BSD-2-Clause
// Handing fds over a Unix socket (SCM_RIGHTS), as the loader hands a
// partition its region, within one process and to another one.
#include <mkdp/error.h>
#include <mkdp/fd_passing.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "child_process.h"

using ::testing::HasSubstr;

namespace {

// A closes-on-scope-exit pair of connected sockets.
struct SocketPair {
	int fd[2] = {-1, -1};
	explicit SocketPair(int type = SOCK_SEQPACKET)
	{
		if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fd) < 0)
			fd[0] = fd[1] = -1;
	}
	~SocketPair()
	{
		for (int f : fd)
			if (f >= 0)
				close(f);
	}
	void close_end(int i)
	{
		close(fd[i]);
		fd[i] = -1;
	}
};

int memfd_with(const std::string &content)
{
	int fd = memfd_create("mkdp-test-fd", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, content.data(), content.size()) != ssize_t(content.size())) {
		close(fd);
		return -1;
	}
	return fd;
}

std::string read_all(int fd)
{
	std::string s(4096, '\0');
	ssize_t n = pread(fd, s.data(), s.size(), 0);
	s.resize(n > 0 ? size_t(n) : 0);
	return s;
}

bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

size_t open_fds()
{
	size_t n = 0;
	if (DIR *d = opendir("/proc/self/fd")) {
		while (readdir(d))
			n++;
		closedir(d);
	}
	return n;
}

} // namespace

TEST(FdPassing, SeveralFdsAndPayloadArrive)
{
	SocketPair sp;
	ASSERT_GE(sp.fd[0], 0);
	int region = memfd_with("region contents");
	int data = memfd_with("second memfd");
	int bell = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(region, 0);
	ASSERT_GE(data, 0);
	ASSERT_GE(bell, 0);
	const int sent[] = {region, data, bell};
	const std::string payload = "region,data,doorbell";

	mkdp::send_fds(sp.fd[0], sent, payload);
	mkdp::ReceivedFds got = mkdp::recv_fds(sp.fd[1]);
	EXPECT_EQ(got.payload, payload);
	ASSERT_EQ(got.fds.size(), 3u);
	for (size_t i = 0; i < 3; i++) {
		EXPECT_TRUE(same_file(got.fds[i], sent[i])) << "fd " << i << " is the same file";
		EXPECT_EQ(fcntl(got.fds[i], F_GETFD), FD_CLOEXEC) << "received fds are close-on-exec";
	}
	EXPECT_EQ(read_all(got.fds[0]), "region contents");
	EXPECT_EQ(read_all(got.fds[1]), "second memfd");

	// The eventfd is the same object: a post on one end is seen on the other.
	uint64_t one = 1, seen = 0;
	ASSERT_EQ(write(bell, &one, sizeof(one)), ssize_t(sizeof(one)));
	ASSERT_EQ(read(got.fds[2], &seen, sizeof(seen)), ssize_t(sizeof(seen)));
	EXPECT_EQ(seen, 1u);

	for (int f : got.fds)
		close(f);
	for (int f : sent)
		close(f);
}

TEST(FdPassing, PayloadWithoutFds)
{
	SocketPair sp;
	ASSERT_GE(sp.fd[0], 0);
	mkdp::send_fds(sp.fd[0], {}, "hello");
	mkdp::ReceivedFds got = mkdp::recv_fds(sp.fd[1]);
	EXPECT_EQ(got.payload, "hello");
	EXPECT_TRUE(got.fds.empty());
}

TEST(FdPassing, MemfdToAnotherProcess)
{
	SocketPair sp;
	ASSERT_GE(sp.fd[0], 0);
	int to_child = sp.fd[1];
	// The child receives a memfd, reads it, writes its answer into it and
	// sends back a memfd of its own.
	mkdp::test::Child child([to_child] {
		mkdp::ReceivedFds in = mkdp::recv_fds(to_child);
		if (in.payload != "task" || in.fds.size() != 1)
			return 2;
		if (read_all(in.fds[0]) != "question")
			return 3;
		if (pwrite(in.fds[0], "answered", 8, 0) != 8)
			return 4;
		int mine = memfd_with("made by the child");
		const int out[] = {mine};
		mkdp::send_fds(to_child, out, "reply");
		return 0;
	});
	sp.close_end(1);

	int task = memfd_with("question");
	ASSERT_GE(task, 0);
	const int fds[] = {task};
	mkdp::send_fds(sp.fd[0], fds, "task");
	mkdp::ReceivedFds reply = mkdp::recv_fds(sp.fd[0]);
	EXPECT_EQ(child.wait(10000), 0);
	EXPECT_EQ(reply.payload, "reply");
	ASSERT_EQ(reply.fds.size(), 1u);
	EXPECT_EQ(read_all(reply.fds[0]), "made by the child");
	EXPECT_EQ(read_all(task), "answered") << "the child wrote into the very memfd we sent";
	close(reply.fds[0]);
	close(task);
}

TEST(FdPassing, PeerClosedIsAnError)
{
	SocketPair sp;
	ASSERT_GE(sp.fd[0], 0);
	sp.close_end(0);
	try {
		mkdp::recv_fds(sp.fd[1]);
		FAIL() << "recv_fds returned from a closed peer";
	} catch (const mkdp::Error &e) {
		EXPECT_THAT(e.what(), HasSubstr("peer closed"));
	}
	// Sending to a closed peer fails too, without SIGPIPE killing us.
	SocketPair sp2;
	sp2.close_end(1);
	try {
		mkdp::send_fds(sp2.fd[0], {}, "x");
		FAIL() << "send_fds to a closed peer succeeded";
	} catch (const mkdp::Error &e) {
		EXPECT_EQ(e.code(), EPIPE);
	}
}

TEST(FdPassing, RefusesBadArguments)
{
	SocketPair sp;
	ASSERT_GE(sp.fd[0], 0);
	EXPECT_THROW(mkdp::send_fds(sp.fd[0], {}, ""), mkdp::Error);
	EXPECT_THROW(mkdp::send_fds(sp.fd[0], {}, std::string(5000, 'x')), mkdp::Error);
	std::vector<int> many(mkdp::kMaxPassedFds + 1, sp.fd[0]);
	try {
		mkdp::send_fds(sp.fd[0], many, "many");
		FAIL() << "sent more than kMaxPassedFds";
	} catch (const mkdp::Error &e) {
		EXPECT_THAT(e.what(), HasSubstr("too many fds"));
	}
	try {
		mkdp::send_fds(-1, {}, "x");
		FAIL() << "sent on fd -1";
	} catch (const mkdp::Error &e) {
		EXPECT_EQ(e.code(), EBADF);
	}
}

// A sender (not mkdp's) that attaches more fds than recv_fds accepts: the
// message is refused and none of the fds that did arrive leak.
TEST(FdPassing, TruncatedMessageClosesWhatArrived)
{
	SocketPair sp;
	ASSERT_GE(sp.fd[0], 0);
	constexpr size_t kTooMany = mkdp::kMaxPassedFds * 2;
	std::vector<int> fds(kTooMany, sp.fd[0]);
	char byte = 'x';
	iovec iov{&byte, 1};
	std::vector<char> ctl(CMSG_SPACE(sizeof(int) * kTooMany));
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.data();
	msg.msg_controllen = ctl.size();
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * kTooMany);
	std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * kTooMany);
	ASSERT_EQ(sendmsg(sp.fd[0], &msg, 0), 1);

	size_t before = open_fds();
	try {
		mkdp::recv_fds(sp.fd[1]);
		FAIL() << "accepted a truncated message";
	} catch (const mkdp::Error &e) {
		EXPECT_THAT(e.what(), HasSubstr("truncated"));
	}
	EXPECT_EQ(open_fds(), before) << "fds of a refused message are closed";
}
