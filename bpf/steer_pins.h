// SPDX-License-Identifier: BSD-2-Clause
// Internal to the steering loader: the bpffs, the lock over mkdp's pins and
// what a pin directory holds besides the maps (libbpf pins those by name,
// steer.bpf.c asks LIBBPF_PIN_BY_NAME).
#pragma once

#include <optional>
#include <string>

#include "bpf_util.h"
#include "steer.h"

namespace mkdp {

inline constexpr const char *kPinRoot = "/sys/fs/bpf/mkdp";
inline constexpr const char *kProgPin = "mkdp_steer";
inline constexpr const char *kLinkPin = "redirect_err_link";
inline constexpr const char *kHostLabel = "host";	// the initial network namespace

// Mounts the bpffs on /sys/fs/bpf if it is not, where that is of use.
void ensure_bpffs();

// Serialises every change of mkdp's pins, between processes.
class PinLock {
public:
	PinLock();

private:
	Fd fd_;
};

// The pins, then their namespace's directory and the root if empty (other
// interfaces and namespaces keep theirs).
void remove_pins(const std::string &dir);
// Creates the pin root and the namespace's directory, not `dir` itself.
void make_pin_parents(const std::string &dir);

// A pin directory's steer_info, or nothing when it cannot be read.
std::optional<mkdp_steer_info> pinned_info(const std::string &dir);
// The pinned program, or the one steer_info names when its pin is missing.
Fd pinned_prog(const std::string &dir);

// "no mkdp steering on 'mkdp0' in network namespace host", and where
// there is some on an interface of that name.
std::string no_pins(const std::string &label, const std::string &ifname);

} // namespace mkdp
