// SPDX-License-Identifier: BSD-2-Clause
// A FUSE export of an SDP volume, as qemu-storage-daemon exports a block
// node: the volume appears as one regular file of its size, mounted over an
// existing file, so that any program (dd, fio, losetup and a file system)
// does I/O on it. Every request goes through the volume's SDP program, its
// rings and the serving partition's worker, as a client of the storage
// plane (client.h).
//
//   read, write          -> SDP read, write (split at the client's 128 KiB
//                           buffers; unaligned edges read first)
//   fsync, fdatasync     -> SDP flush
//   fallocate PUNCH_HOLE -> SDP discard;  ZERO_RANGE -> SDP write-zeroes
//
// One thread serves the FUSE device (libfuse's low-level API, without
// blocking) and owns the volume's session: the FUSE requests waiting
// together go to the plane together, in one batch (one BPF_PROG_RUN), and
// each is answered when its last piece completes.
// A request the program fails (SDP_DROP) fails with the program's errno;
// while the serving partition is down requests fail with EIO.
#pragma once

#include "client.h"

#include <functional>
#include <string>

namespace mkdp::sdp {

struct ExportOptions {
	std::string volume;
	std::string mountpoint;		// an existing regular file
	bool writable = false;		// else the file is read-only (EROFS on write)
	bool direct = false;		// FUSE direct_io: no page cache between client and volume
};

// Mounts, calls ready() once the mount is in place, and serves through the
// session `v` (a session on o.volume) until unmounted or SIGTERM, SIGINT,
// SIGHUP; unmounts on the way out. Throws mkdp::Error when it cannot mount.
void run_export(const ExportOptions &o, Volume v, const std::function<void()> &ready);

} // namespace mkdp::sdp
