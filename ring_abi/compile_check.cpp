// SPDX-License-Identifier: BSD-2-Clause
// Built, never run: ring_abi/CMakeLists.txt compiles this with -Wpedantic
// -Werror, so the header stays warning-free for C++ users that ask for
// pedantic warnings (the flexible table[] is the one construct ISO C++
// lacks; the header silences it for itself only).
#include <mkdp_ring.h>

static_assert(sizeof(mkdp_region_hdr) == 64);
