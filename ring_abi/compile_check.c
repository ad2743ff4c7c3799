/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * Built, never run: ring_abi/CMakeLists.txt compiles this file as strict
 * C11 (-std=c11 -pedantic-errors) with the host C compiler and as BPF C with
 * clang -target bpf, so the header's claim to serve kernel-style and BPF C
 * is checked by every build, static_asserts included.
 *
 * The function is the consumer's check of the producer index
 * (docs/ring-abi.md, section 2) written against the header alone, so the
 * build also shows the header is enough to implement a side in C.
 */
#include <mkdp_ring.h>

/*
 * BPF has load-acquire instructions only from LLVM 20 (and kernel 6.15);
 * older clang aborts on __atomic_load_n(..., __ATOMIC_ACQUIRE) for the bpf
 * target. There a volatile load (READ_ONCE) is the best C can say: it is an
 * acquire load on x86, whose loads are not reordered with later loads, but
 * not on weakly ordered CPUs. docs/ring-abi.md section 2.1 says so.
 */
#if defined(__bpf__) && __clang_major__ < 20
#define load_acquire(p) (*(const volatile __u32 *)(p))
#else
#define load_acquire(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#endif

__u32 mkdp_ring_filled(const struct mkdp_ring *r, __u32 cons, __u32 entries);

/* Filled slots from `cons`, or 0 if the producer index is impossible. */
__u32 mkdp_ring_filled(const struct mkdp_ring *r, __u32 cons, __u32 entries)
{
	__u32 prod = load_acquire(&r->producer);	/* C1 */
	__u32 n = prod - cons;

	return n > entries ? 0 : n;
}
