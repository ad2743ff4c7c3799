// SPDX-License-Identifier: BSD-2-Clause
// Cleaning up after a supervisor that died (see supervisor_leftovers.h).
#include "supervisor_leftovers.h"
#include "user_steering.h"

#include <mkdp/cgroup.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/supervisor.h>

#include <steer_loader.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

namespace mkdp {

namespace {

using json = nlohmann::json;

// The steering recorded in the state file: given back or detached. Adds
// what it did to `done`; throws what it could not.
void undo_steering(const json &st, std::vector<std::string> &done)
{
	std::string ifname = st.value("interface", ""), ns = st.value("netns", "");
	if (ifname.empty())
		return;
	if (!ns.empty() && !netns_exists(ns)) {
		// The namespace went, and the program with its interface: only
		// the pins are left.
		try {
			Steering::remove_stale(ns, ifname);
			done.push_back("stale steering pins of " + ifname);
		} catch (const Error &e) {
			if (e.code() != ENOENT)
				throw;
		}
		return;
	}
	std::function<void()> fn = [&] {
		try {
			if (st.contains("user_steering")) {
				UserSteering u = UserSteering::from_json(st["user_steering"]);
				u.restore();
				done.push_back("steering on " + ifname + " given back as attached before up (" + u.summary() + ")");
			} else {
				Steering::detach(ifname);
				done.push_back("steering detached from " + ifname);
			}
		} catch (const Error &e) {
			// No pins: it was never attached, or someone detached it.
			if (e.code() != ENOENT)
				throw;
		}
	};
	if (ns.empty())
		fn();
	else
		run_in_netns_fn(ns, fn);
}

} // namespace

bool supervisor_leftovers_exist()
{
	return std::filesystem::exists(kRunDir) || !mkdp_cgroup_dirs().empty();
}

std::string remove_supervisor_leftovers()
{
	std::vector<std::string> done, problems;
	if (std::ifstream f(kSupervisorState); f) {
		try {
			json st;
			f >> st;
			undo_steering(st, done);
		} catch (const std::exception &e) {
			problems.push_back(e.what());
		}
	}
	size_t cgroups = 0;
	for (const std::string &dir : mkdp_cgroup_dirs()) {
		bool was = std::filesystem::exists(dir);
		if (std::string why = remove_cgroup_dir(dir); !why.empty())
			problems.push_back(why);
		else if (was && std::filesystem::path(dir).filename() != "mkdp")
			cgroups++;
	}
	if (cgroups)
		done.push_back(std::to_string(cgroups) + " cgroup" + (cgroups == 1 ? "" : "s"));
	// Everything in /run/mkdp is the supervisor's: its socket, pid and state
	// files, a test's hold marker.
	std::error_code ec;
	if (std::filesystem::exists(kRunDir, ec)) {
		for (const auto &e : std::filesystem::directory_iterator(kRunDir, ec))
			std::filesystem::remove(e.path(), ec);
		if (::rmdir(kRunDir) && errno != ENOENT)
			problems.push_back(std::string("cannot remove ") + kRunDir + ": " + std::strerror(errno));
		else
			done.push_back(kRunDir);
	}
	if (!problems.empty()) {
		std::string p;
		for (const std::string &s : problems)
			p += (p.empty() ? "" : "; ") + s;
		throw Error(p);
	}
	std::string what;
	for (const std::string &s : done)
		what += (what.empty() ? "" : ", ") + s;
	return what;
}

std::string clean_before_up()
{
	if (supervisor_pid() || !supervisor_leftovers_exist())
		return {};
	std::string what = remove_supervisor_leftovers();
	return "removed what a supervisor that died had left" + (what.empty() ? std::string() : ": " + what);
}

} // namespace mkdp
