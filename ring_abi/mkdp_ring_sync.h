/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * mkdp shared-ring ABI: the memory-ordering operations of its contract
 * (docs/ring-abi.md, section 2.1), as macros usable from C11, C++, BPF C
 * and kernel C. A side written against mkdp_ring.h uses these and nothing
 * else to touch the ring's control words and slots:
 *
 *   mkdp_load_acquire(p)      load *p; later loads and stores stay after it
 *                             (P1, C1: reading the other side's index)
 *   mkdp_store_release(p, v)  store v to *p; earlier loads and stores stay
 *                             before it (P3, C3: publishing one's own index)
 *   mkdp_smp_mb()             full fence: orders earlier stores before later
 *                             loads (R2, W2: the doorbell's Dekker pattern)
 *   MKDP_READ_ONCE(x)         one load of x the compiler may not repeat,
 *                             merge or drop (C2: copying a slot out)
 *   MKDP_WRITE_ONCE(x, v)     one store of v to x, likewise
 *
 * p points to a naturally aligned __u32 (a control word), x is an lvalue of
 * at most 8 bytes (a descriptor field).
 *
 * Where each comes from:
 * - kernel C (__KERNEL__): the kernel's own smp_load_acquire(),
 *   smp_store_release(), smp_mb(), READ_ONCE() and WRITE_ONCE().
 * - BPF C built by clang 20 or later: __atomic builtins, which become the
 *   BPF load-acquire and store-release instructions (kernel 6.15 or later).
 * - BPF C built by older clang (Debian 12 has clang 14, which aborts on an
 *   acquire __atomic_load_n for -target bpf): a volatile access plus a
 *   compiler barrier. That is acquire and release on x86-64, where the JIT
 *   emits plain moves and TSO keeps their order, but NOT on weakly ordered
 *   CPUs (arm64). The full fence is a discarded atomic add to a stack word,
 *   which the x86-64 JIT emits as a locked instruction, a full barrier.
 * - C11 and C++ (GCC or clang, user space): the __atomic builtins.
 */
#ifndef _MKDP_RING_SYNC_H
#define _MKDP_RING_SYNC_H

#if defined(__KERNEL__)

#define mkdp_load_acquire(p)		smp_load_acquire(p)
#define mkdp_store_release(p, v)	smp_store_release((p), (v))
#define mkdp_smp_mb()			smp_mb()
#define MKDP_READ_ONCE(x)		READ_ONCE(x)
#define MKDP_WRITE_ONCE(x, v)		WRITE_ONCE((x), (v))

#else /* !__KERNEL__ */

#define MKDP_READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define MKDP_WRITE_ONCE(x, v)		(*(volatile __typeof__(x) *)&(x) = (v))

#if defined(__bpf__) && __clang_major__ < 20

/* Volatile access and a compiler barrier: acquire/release on x86-64 only. */
#define mkdp_load_acquire(p) __extension__({				\
	__typeof__(*(p)) ___mkdp_v = MKDP_READ_ONCE(*(p));		\
	__asm__ __volatile__("" : : : "memory");			\
	___mkdp_v;							\
})
#define mkdp_store_release(p, v) __extension__({			\
	__asm__ __volatile__("" : : : "memory");			\
	MKDP_WRITE_ONCE(*(p), (v));					\
})
/* A locked add to a stack word: a full barrier on the x86-64 JIT. */
#define mkdp_smp_mb() __extension__({					\
	unsigned long long ___mkdp_f = 0;				\
	__asm__ __volatile__("" : : : "memory");			\
	__sync_fetch_and_add(&___mkdp_f, 0);				\
	__asm__ __volatile__("" : : : "memory");			\
})

#else /* C11, C++, BPF with clang >= 20 */

#define mkdp_load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define mkdp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define mkdp_smp_mb()			__atomic_thread_fence(__ATOMIC_SEQ_CST)

#endif
#endif /* __KERNEL__ */

#endif /* _MKDP_RING_SYNC_H */
