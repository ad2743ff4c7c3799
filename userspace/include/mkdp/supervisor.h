// SPDX-License-Identifier: BSD-2-Clause
// The supervisor: the "host kernel" of the partition model, a daemon that
// `mkdp topology up` forks. It owns everything the partitions must not: the UMEM
// region's fill and completion rings (one pair per (netdev, queue), which
// AF_XDP shares between every socket bound there), the free pool of frames
// and the per-frame state table, the steering program, and the partition
// processes themselves. Partitions hand every frame back on their return
// ring; the supervisor validates it and refills. A dead partition's frames
// are reclaimed. It answers JSON requests, one per line, on a Unix socket.
// See docs/partitions.md.
//
// This header is the client side and the well-known paths; the daemon is
// part of the CLI (loader/supervisor.h), which links the steering loader.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace mkdp {

inline constexpr const char *kRunDir = "/run/mkdp";
inline constexpr const char *kSupervisorSocket = "/run/mkdp/mkdp.sock";
inline constexpr const char *kSupervisorPidfile = "/run/mkdp/supervisor.pid";
inline constexpr const char *kSupervisorState = "/run/mkdp/state.json";

// The pid of the running supervisor, 0 when there is none.
int supervisor_pid();

// A connection to the control socket (close-on-exec), for a client that
// keeps it (an SDP session, sdp/client.h). Throws mkdp::Error naming
// `mkdp topology up` when no supervisor listens.
int supervisor_connect();

// One request ({"cmd": "...", ...}) and its answer. Throws mkdp::Error when
// no supervisor answers or the answer is an error ({"ok": false, "error"}).
nlohmann::json supervisor_request(const nlohmann::json &req, int timeout_ms = 10000);

} // namespace mkdp
