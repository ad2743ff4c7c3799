// SPDX-License-Identifier: BSD-2-Clause
// The client side of the supervisor's control socket.
#include <mkdp/error.h>
#include <mkdp/supervisor.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace mkdp {

int supervisor_pid()
{
	std::ifstream f(kSupervisorPidfile);
	int pid = 0;
	if (!(f >> pid) || pid <= 0)
		return 0;
	// A pidfile left by a supervisor that died is not a supervisor.
	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	// Nor is a zombie nobody reaped (a killed supervisor's parent is
	// whoever adopted it). /proc/PID/stat: "pid (comm) state ...".
	std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
	std::string line;
	std::getline(stat, line);
	size_t close = line.rfind(')');
	if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z')
		return 0;
	size_t open = line.find('(');
	return line.compare(open + 1, 4, "mkdp") == 0 ? pid : 0;
}

int supervisor_connect()
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw_errno("socket");
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strncpy(sa.sun_path, kSupervisorSocket, sizeof(sa.sun_path) - 1);
	if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa))) {
		int e = errno;
		close(fd);
		throw Error(std::string("no mkdp supervisor is running (") + std::strerror(e) + "); run 'mkdp topology up'", e);
	}
	return fd;
}

nlohmann::json supervisor_request(const nlohmann::json &req, int timeout_ms)
{
	int fd = supervisor_connect();
	std::string line = req.dump() + "\n";
	if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size())) {
		close(fd);
		throw_errno("send to the supervisor");
	}
	std::string in;
	char buf[4096];
	while (in.find('\n') == std::string::npos) {
		pollfd p{fd, POLLIN, 0};
		int rc = poll(&p, 1, timeout_ms);
		if (rc <= 0) {
			close(fd);
			throw Error("the supervisor did not answer '" + req.value("cmd", std::string()) + "' in time");
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			close(fd);
			throw Error("the supervisor closed the connection");
		}
		in.append(buf, size_t(n));
	}
	close(fd);
	nlohmann::json r;
	try {
		r = nlohmann::json::parse(in.substr(0, in.find('\n')));
	} catch (const nlohmann::json::exception &e) {
		throw Error(std::string("bad answer from the supervisor: ") + e.what());
	}
	if (!r.value("ok", false))
		throw Error(r.value("error", std::string("the supervisor refused the request")));
	return r;
}

} // namespace mkdp
