// SPDX-License-Identifier: BSD-2-Clause
#include "plot_run.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace mkdp::bench {

namespace {

std::filesystem::path find_script(const std::string &script, const char *env_var, std::vector<std::string> &tried)
{
	namespace fs = std::filesystem;
	std::vector<fs::path> candidates;
	if (const char *e = std::getenv(env_var))
		candidates.emplace_back(e);
	std::error_code ec;
	fs::path exe = fs::read_symlink("/proc/self/exe", ec);
	if (!ec) {
		fs::path bin = exe.parent_path();
		for (fs::path d = bin; !d.empty() && d != d.root_path(); d = d.parent_path())
			candidates.push_back(d / "bench" / script);
		candidates.push_back(bin.parent_path() / "share" / "mkdp" / script);
	}
	candidates.push_back(fs::path(__FILE__).parent_path() / script);
	for (const fs::path &c : candidates) {
		tried.push_back(c.string());
		if (fs::exists(c, ec))
			return c;
	}
	return {};
}

} // namespace

std::string run_plot_script(const std::string &script, const char *env_var, const std::string &dir)
{
	std::vector<std::string> tried;
	std::filesystem::path path = find_script(script, env_var, tried);
	if (path.empty()) {
		std::string where;
		for (const std::string &t : tried)
			where += (where.empty() ? "" : ", ") + t;
		return script + " not found (set " + env_var + "; looked in " + where + ")";
	}
	// Debian's interpreter first: python3-matplotlib installs there.
	for (const char *py : {"/usr/bin/python3", "python3"}) {
		pid_t pid = fork();
		if (pid < 0)
			return "fork failed";
		if (pid == 0) {
			int null = ::open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, 1);
				dup2(null, 2);
			}
			execlp(py, py, path.c_str(), dir.c_str(), (char *)nullptr);
			_exit(127);
		}
		int st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return {};
	}
	return "python3 with matplotlib not available (Debian: python3-matplotlib)";
}

} // namespace mkdp::bench
