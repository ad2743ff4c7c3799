// SPDX-License-Identifier: BSD-2-Clause
// One exit-status rule for every mkdp command (mkdp(8), docs/cli.md).
#pragma once

#include <utility>

namespace mkdp::cli {

// 0: done, or nothing to do because what was asked already holds (down
//    when nothing is up, detach where nothing is attached, stop of a
//    stopped partition); the output says which.
// 1: failed, or refused; one line on stderr says why. A question about
//    something that does not exist (testbed show, steer status IFACE) is
//    answered this way too, as `ip link show NOSUCH` does.
// 2: the command line is wrong (unknown command, bad option or value).
// 128+N: interrupted by signal N (130 for Ctrl-C), after undoing what the
//    command had set up.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// The rule above, for mkdp(8) and docs/cli.md: (status, meaning).
inline constexpr std::pair<const char *, const char *> kExitStatusText[] = {
	{"0", "Done, or nothing to do because what was asked already holds (topology down when nothing is up, "
	      "steer detach where nothing is attached, part stop of a stopped partition); the output says which."},
	{"1", "Failed or refused; one line on standard error says why. A question about something that does not "
	      "exist (testbed show, steer status IFACE) is answered this way too, as ip does."},
	{"2", "The command line is wrong: an unknown command, option or value."},
	{"128+N", "Interrupted by signal N (130 for Ctrl-C), after undoing what the command had set up."},
};

} // namespace mkdp::cli
