// SPDX-License-Identifier: BSD-2-Clause
// Built, never run: ring_abi/CMakeLists.txt compiles this with -Wpedantic
// -Werror, so the headers stay warning-free for C++ users that ask for
// pedantic warnings (the flexible table[] is the one construct ISO C++
// lacks; the header silences it for itself only), and the ordering macros
// of mkdp_ring_sync.h expand to valid C++.
#include <mkdp_ring.h>
#include <mkdp_ring_sync.h>

static_assert(sizeof(mkdp_region_hdr) == 64);
static_assert(MKDP_RING_WAKE_RECORD(MKDP_WAKE_INTERRUPT, 1) == 0x8300);

bool mkdp_publish_check(mkdp_ring *r, __u32 prod);
bool mkdp_publish_check(mkdp_ring *r, __u32 prod)
{
	mkdp_store_release(&r->producer, prod);
	mkdp_smp_mb();
	mkdp_frame_desc d{};
	d.len = MKDP_READ_ONCE(d.len);
	MKDP_WRITE_ONCE(r->doorbell, mkdp_load_acquire(&r->consumer) + d.len);
	return MKDP_READ_ONCE(r->flags) & MKDP_RING_NEED_WAKEUP;
}
