// SPDX-License-Identifier: BSD-2-Clause
// mkdp-partition: one partition runtime (<mkdp/partition.h>) and its
// storage worker (sdp/storage_service.h). The supervisor execs it with the
// control socket as fd 3; a fresh image, so nothing of the supervisor's
// memory (other partitions' control blocks, the fill rings) reaches a
// partition. Not meant to be started by hand.
#include <mkdp/partition.h>
#include <storage_service.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char **argv)
{
	int sock = -1;
	for (int i = 1; i < argc; i++) {
		if (!std::strcmp(argv[i], "--sock") && i + 1 < argc) {
			char *end;
			long v = std::strtol(argv[++i], &end, 10);
			if (*end || v < 0 || v > 1024)
				break;
			sock = int(v);
		} else {
			sock = -1;
			break;
		}
	}
	if (sock < 0) {
		std::fprintf(stderr, "mkdp-partition: usage: mkdp-partition --sock FD (the supervisor starts it)\n");
		return 2;
	}
	return mkdp::partition_run(sock, &mkdp::sdp::StorageService::start);
}
