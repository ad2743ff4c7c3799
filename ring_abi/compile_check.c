/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * Built, never run: ring_abi/CMakeLists.txt compiles this file as strict
 * C11 (-std=c11 -pedantic-errors) with the host C compiler and as BPF C with
 * clang -target bpf, so the headers' claim to serve kernel-style and BPF C
 * is checked by every build, static_asserts included.
 *
 * The functions are the steps of docs/ring-abi.md, section 2.1, written
 * against the two headers alone, so the build also shows that they are
 * enough to implement either side of a ring in C.
 */
#include <mkdp_ring.h>
#include <mkdp_ring_sync.h>

__u32 mkdp_ring_filled(const struct mkdp_ring *r, __u32 cons, __u32 entries);
int mkdp_frame_copy(const struct mkdp_frame_desc *slot, struct mkdp_frame_desc *out, __u64 area_size);
int mkdp_ring_publish(struct mkdp_ring *r, __u32 prod);
void mkdp_ring_release(struct mkdp_ring *r, __u32 cons);
__u32 mkdp_ring_record(void);

/* C1: filled slots from `cons`, or 0 if the producer index is impossible. */
__u32 mkdp_ring_filled(const struct mkdp_ring *r, __u32 cons, __u32 entries)
{
	__u32 prod = mkdp_load_acquire(&r->producer);
	__u32 n = prod - cons;

	return n > entries ? 0 : n;
}

/* C2: copy a slot out once, then validate the copy, never the slot. */
int mkdp_frame_copy(const struct mkdp_frame_desc *slot, struct mkdp_frame_desc *out, __u64 area_size)
{
	out->addr = MKDP_READ_ONCE(slot->addr);
	out->len = MKDP_READ_ONCE(slot->len);
	out->options = MKDP_READ_ONCE(slot->options);
	if (out->options & ~MKDP_FRAME_OPT_CONTD || out->len == 0)
		return -1;
	return out->addr <= area_size && out->len <= area_size - out->addr ? 0 : -1;
}

/* P3, then R2-R3: publish, full fence, read the consumer's flags. */
int mkdp_ring_publish(struct mkdp_ring *r, __u32 prod)
{
	mkdp_store_release(&r->producer, prod);
	mkdp_smp_mb();
	return (MKDP_READ_ONCE(r->flags) & MKDP_RING_NEED_WAKEUP) != 0;
}

/* C3: hand the slots read back to the producer. */
void mkdp_ring_release(struct mkdp_ring *r, __u32 cons)
{
	mkdp_store_release(&r->consumer, cons);
}

/* The record an adaptive consumer sleeping on the futex writes. */
__u32 mkdp_ring_record(void)
{
	return MKDP_RING_WAKE_RECORD(MKDP_WAKE_ADAPTIVE, 0);
}

MKDP_STATIC_ASSERT(MKDP_RING_WAKE_RECORD(MKDP_WAKE_ADAPTIVE, 1) == 0x8500, "adaptive/eventfd record");
MKDP_STATIC_ASSERT(MKDP_RING_WAKE_RECORD(MKDP_WAKE_POLLED, 1) == 0x8000, "polled has no mechanism");
MKDP_STATIC_ASSERT((MKDP_RING_WAKE_ATTACHED | MKDP_RING_WAKE_STRATEGY_MASK | MKDP_RING_WAKE_EVENTFD) ==
		   MKDP_RING_WAKE_MASK, "the record fills bits 8-15");
