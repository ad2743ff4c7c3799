// SPDX-License-Identifier: BSD-2-Clause
// bench sdp's measurement of the executor's alternatives (docs/sdp.md):
// readonly_range through the real executor (the batch map) against the same
// request function behind a user ring buffer and with the batch as the
// syscall program's context (sdp/alternatives/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sdp.h"

namespace mkdp::bench {

// The same requests through every way, at batch 1, 16 and 64, interleaved,
// `reps` times; the verdicts must agree with the executor's or it throws.
// {"results": {"batch_map": {"batch_N": summary}, "user_ringbuf": {...}
//              (drained with BPF_RB_NO_WAKEUP), "user_ringbuf_wakeup": {...}
//              (default drain flags: an irq_work per drain),
//              "ctx_batch": {"loads", "verifier", "<program>": {"loads",
//              "verifier" | "batch_N": summary}},
//              "program_size": {"<program>": instructions, verified, JIT bytes}},
//  "ratios": {"user_ringbuf_vs_batch_map": {"batch_N": x}, ...}}
nlohmann::json measure_sdp_alternatives(const std::vector<sdp_md> &reqs, int reps, std::string &text);

} // namespace mkdp::bench
