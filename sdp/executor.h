// SPDX-License-Identifier: BSD-2-Clause
// The SDP executor: runs an SDP program (sdp.h) on batches of requests.
//
// The kernel has no storage hook, so a batch goes through BPF_PROG_RUN of
// the program's SEC("syscall") entry point: the requests are written into
// the program's mmap'ed batch map, one system call runs the request function
// on each (bpf_loop), and the verdicts are read from the same mapping. The
// program is real BPF, verified and JIT-compiled by the running kernel; its
// maps are ordinary maps (bpftool map dump). See docs/sdp.md.
#pragma once

#include "sdp.h"

#include <cstdint>
#include <span>
#include <string>

struct bpf_object;

namespace mkdp::sdp {

class Program {
public:
	// Loads an SDP program object (a .bpf.o built against sdp.h): its one
	// SEC("syscall") program and its sdp_batch map. Throws mkdp::Error with
	// the verifier's or libbpf's reason.
	static Program load(const std::string &path);

	Program(Program &&o) noexcept;
	Program &operator=(Program &&o) noexcept;
	Program(const Program &) = delete;
	Program &operator=(const Program &) = delete;
	~Program();

	// Judges reqs (any number: SDP_BATCH_MAX per system call) in place: the
	// program may set err and target; verdicts[i] is req i's sdp_action.
	void run(std::span<sdp_md> reqs, uint8_t *verdicts);

	// Writes one element of the program's map `map` (bpf_map_update_elem);
	// throws naming the map, or the sizes it expects.
	void set_map(const std::string &map, std::span<const uint8_t> key, std::span<const uint8_t> value);

	const std::string &name() const noexcept { return name_; }
	int prog_fd() const noexcept { return prog_fd_; }
	bpf_object *object() const noexcept { return obj_; }

private:
	Program() = default;
	void run_batch(sdp_md *reqs, uint32_t n, uint8_t *verdicts);

	bpf_object *obj_ = nullptr;
	int prog_fd_ = -1;
	sdp_batch *batch_ = nullptr;	// the map's value, mapped
	size_t batch_map_len_ = 0;
	std::string name_;
};

const char *to_string(sdp_action a) noexcept;	// "pass", "drop", ...
const char *op_name(uint8_t op) noexcept;	// "read", "write", ...

} // namespace mkdp::sdp
