// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/device_safety.h>
#include <mkdp/error.h>
#include <mkdp/netns.h>
#include <mkdp/supervisor.h>

#include <sys/stat.h>

#include <fstream>

#include <nlohmann/json.hpp>

namespace mkdp {

TestbedDeviceCheck check_testbed_device(const std::string &netns, const std::string &ifname,
					const std::string &how_to_name)
{
	TestbedDeviceCheck c;
	std::string ns = netns.empty() ? current_netns_name().value_or("") : netns;
	try {
		// No namespace at all: the machine's own devices (eth0 would hand
		// the host's traffic, SSH included, to mkdp).
		if (ns.empty())
			throw Error("refusing to use " + ifname + ": mkdp attaches only to a testbed device; " +
				    how_to_name);
		if (!netns_exists(ns))
			throw Error("refusing to use " + ifname + ": network namespace " + ns +
				    " does not exist (run 'mkdp testbed up" +
				    (ns == kTestbedDefaultName ? std::string() : " --name " + ns) + "' first)");
		// Read from inside the namespace (ip -n): sysfs would show the
		// devices of whoever mounted it.
		c.testbed = require_testbed_device(ns, ifname);
	} catch (const Error &e) {
		c.refused = e.what();
	}
	return c;
}

void guard_interface(const std::string &netns, const std::string &ifname, bool allow_host,
		     const std::string &steered_in)
{
	if (allow_host)
		return;
	TestbedDeviceCheck c = check_testbed_device(
		netns, ifname,
		"give the testbed's namespace with --netns " +
			(steered_in.empty() ? "(mkdp testbed up)" : "(" + ifname + " has mkdp steering in " + steered_in + ")"));
	if (!c.refused.empty())
		throw Error(c.refused + "; pass " + kAllowHostDeviceOption +
			    " to use a device of this machine anyway");
}

namespace {

// The same identity netns_id() gives a named namespace, for a process's.
uint64_t netns_id_of_pid(int pid)
{
	struct stat st;
	std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
	if (stat(path.c_str(), &st) < 0)
		throw_errno(path);
	return uint64_t(st.st_dev) << 32 ^ uint64_t(st.st_ino);
}

} // namespace

SupervisorHold supervisor_holding(const std::string &netns, const std::string &ifname)
{
	int pid = supervisor_pid();
	if (!pid)
		return {};
	// The supervisor writes its state once the steering is attached;
	// before that it holds nothing a detach or a namespace removal could
	// take from it.
	std::ifstream f(kSupervisorState);
	nlohmann::json st;
	try {
		if (!(f >> st))
			return {};
	} catch (const nlohmann::json::exception &) {
		return {};
	}
	std::string theirs_if = st.value("interface", ""), theirs_ns = st.value("netns", "");
	if (theirs_if.empty() || (!ifname.empty() && theirs_if != ifname))
		return {};
	try {
		// "" in the state: the namespace `mkdp topology up` ran in, which the
		// supervisor it forked still is in.
		uint64_t theirs = theirs_ns.empty() ? netns_id_of_pid(pid) : netns_id(theirs_ns);
		uint64_t ours = netns.empty() ? current_netns_id() : netns_id(netns);
		if (theirs != ours)
			return {};
	} catch (const Error &) {
		return {};	// either namespace is gone: nothing left to share
	}
	return {pid, theirs_if, netns.empty() ? current_netns_name().value_or("") : netns};
}

void refuse_while_held(const std::string &netns, const std::string &ifname, const std::string &what)
{
	SupervisorHold h = supervisor_holding(netns, ifname);
	if (h.pid)
		throw Error("refusing to " + what + ": the partitions of 'mkdp topology up' (supervisor " + std::to_string(h.pid) +
			    ") receive from " + h.interface + (h.netns.empty() ? std::string() : " in " + h.netns) +
			    "; run 'mkdp topology down' first");
}

} // namespace mkdp
