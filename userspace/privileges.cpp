// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>
#include <mkdp/privileges.h>

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <charconv>
#include <optional>

namespace mkdp {

namespace {

std::optional<uint32_t> number(std::string_view s)
{
	uint32_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size() || s.empty())
		return std::nullopt;
	return v;
}

} // namespace

RunAs resolve_run_as(const std::string &spec)
{
	RunAs r;
	if (spec.empty()) {
		if (const passwd *pw = getpwnam("nobody"))
			r.uid = pw->pw_uid;
		if (const group *gr = getgrnam("nogroup"))
			r.gid = gr->gr_gid;
		return r;
	}
	std::string user = spec, grp;
	if (auto c = spec.find(':'); c != std::string::npos) {
		user = spec.substr(0, c);
		grp = spec.substr(c + 1);
	}
	if (auto n = number(user)) {
		r.uid = *n;
		r.gid = *n;
	} else if (const passwd *pw = getpwnam(user.c_str())) {
		r.uid = pw->pw_uid;
		r.gid = pw->pw_gid;
	} else {
		throw Error("unknown user '" + user + "'");
	}
	if (!grp.empty()) {
		if (auto n = number(grp))
			r.gid = *n;
		else if (const group *gr = getgrnam(grp.c_str()))
			r.gid = gr->gr_gid;
		else
			throw Error("unknown group '" + grp + "'");
	}
	if (r.uid == 0 || r.gid == 0)
		throw Error("a partition never runs as root (uid/gid 0): give an unprivileged user");
	return r;
}

void drop_privileges(const RunAs &who)
{
	if (who.uid == 0 || who.gid == 0)
		throw Error("refusing to run a partition as uid/gid 0");
	// Ambient capabilities survive exec for unprivileged programs: clear
	// them first, while we may still change them.
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		throw_errno("clear ambient capabilities");
	// Groups first (setgroups needs CAP_SETGID), then gid, then uid: the
	// uid change drops the permitted and effective sets (no KEEP_CAPS).
	if (setgroups(0, nullptr))
		throw_errno("clear supplementary groups");
	if (setresgid(who.gid, who.gid, who.gid))
		throw_errno("setresgid " + std::to_string(who.gid));
	if (setresuid(who.uid, who.uid, who.uid))
		throw_errno("setresuid " + std::to_string(who.uid));
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) || r != who.uid || e != who.uid || s != who.uid)
		throw Error("the uid change did not take");
	cap_t caps = cap_init();	// every set empty, inheritable included
	if (!caps)
		throw_errno("cap_init");
	int rc = cap_set_proc(caps);
	int err = errno;
	cap_free(caps);
	if (rc)
		throw_errno("drop capabilities", err);
	// Peers run as the same user: non-dumpable keeps them from ptracing
	// us or reading our /proc/PID/mem.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		throw_errno("clear the dumpable flag");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		throw_errno("set no_new_privs");
}

} // namespace mkdp
