// SPDX-License-Identifier: BSD-2-Clause
// `mkdp topology down`: ask the supervisor to stop (it undoes everything, see
// Supervisor::teardown), stop one still setting up, or clean up after one
// that died.
#include "supervisor.h"
#include "supervisor_leftovers.h"

#include <mkdp/error.h>
#include <mkdp/subprocess.h>
#include <mkdp/supervisor.h>

#include <signal.h>

#include <nlohmann/json.hpp>

namespace mkdp {

std::string supervisor_down()
{
	if (int pid = supervisor_pid()) {
		nlohmann::json r;
		try {
			r = supervisor_request({{"cmd", "down"}}, 15000);
		} catch (const Error &e) {
			if ((e.code() == ENOENT || e.code() == ECONNREFUSED) && kill(pid, SIGTERM) == 0) {
				// Alive without a control socket: still setting up.
				// SIGTERM makes it roll back at its next checkpoint.
				if (!wait_for_exit(pid, 20000))
					throw Error("the supervisor (pid " + std::to_string(pid) +
						    ") was setting up and did not stop within 20 s");
				return "mkdp is down (supervisor " + std::to_string(pid) + " stopped during set-up)";
			}
			if (supervisor_pid() == pid && kill(pid, 0) == 0)
				throw;	// alive but not answering: leave it to the user
			r = nullptr;
		}
		if (r.is_object()) {
			// The answer comes after teardown; wait for the process too.
			wait_for_exit(pid, 5000);
			std::string said = "mkdp is down (supervisor " + std::to_string(pid) + " stopped)";
			if (!r.value("steering", "").empty())
				said += "; " + r.value("steering", "");
			if (!r.value("problems", "").empty())
				throw Error(said + ", but it could not remove: " + r.value("problems", ""));
			return said;
		}
	}
	// A supervisor that died (SIGKILL) left its state behind: undo it.
	if (!supervisor_leftovers_exist())
		return "nothing to do: mkdp is not up";
	std::string what = remove_supervisor_leftovers();
	return "cleaned up after a supervisor that died" + (what.empty() ? std::string() : ": " + what);
}

} // namespace mkdp
