// SPDX-License-Identifier: BSD-2-Clause
// Internal to the steering loader: what XDP programs an interface carries,
// taking mkdp's program off, and taking a foreign program off for --force
// with the means to put it back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <xdp/libxdp.h>

#include "bpf_util.h"

namespace mkdp {

// The programs on an interface: the single one, or libxdp's dispatcher and
// its components.
struct Attached {
	std::vector<std::pair<uint32_t, std::string>> progs;	// id, name
	bool multiprog = false;
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
};

Attached attached_on(int ifindex);
bool has_prog(const Attached &a, uint32_t id);

// Where in the calling thread's namespace program `id` is attached: the
// interface `hint` first, then every interface (one renamed meanwhile).
struct Where {
	int ifindex = 0;
	Attached cur;
};
std::optional<Where> find_attached(uint32_t id, int hint);

// Takes program pfd off ifindex, only if it is still there.
void detach_prog(int ifindex, int pfd, const Attached &cur);

// What `attach --force` took off an interface. A program attached alone is
// held by fd meanwhile, so it survives to be put back; libxdp's dispatcher
// cannot be rebuilt from here, so its components are not.
class Displaced {
public:
	// Takes cur's programs off ifindex; throws, changing nothing, when it cannot.
	Displaced(int ifindex, const std::string &ifname, const Attached &cur);
	// Puts the program back in its mode, unless another took the interface
	// meanwhile. What happened, to append to the attach's error.
	std::string restore() noexcept;

private:
	int ifindex_;
	std::string ifname_;
	Attached was_;
	Fd prog_;	// -1 for a dispatcher
};

} // namespace mkdp
