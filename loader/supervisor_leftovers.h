// SPDX-License-Identifier: BSD-2-Clause
// What a supervisor that is no longer running left behind (it was killed,
// even by SIGKILL, so its own teardown never ran), and its removal: the
// steering it attached (detached, or given back to the user who attached
// it before up, see user_steering.h), every mkdp cgroup (waiting for the
// partitions still exiting in them), and /run/mkdp. `mkdp topology down` uses it
// when no supervisor answers, `mkdp topology up` before starting a new one.
#pragma once

#include <string>

namespace mkdp {

// True when such leftovers exist. Call only when no supervisor is running
// (supervisor_pid() == 0): a live one's files look the same.
bool supervisor_leftovers_exist();

// Removes them; returns what it did in one line ("" when there was
// nothing). Tries everything, then throws mkdp::Error naming what stays.
std::string remove_supervisor_leftovers();

// When no supervisor runs and one left something: removes it and says so
// ("removed what a supervisor that died had left: ..."); "" otherwise.
// Throws as remove_supervisor_leftovers().
std::string clean_before_up();

} // namespace mkdp
