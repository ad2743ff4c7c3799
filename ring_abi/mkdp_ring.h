/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * mkdp shared-ring ABI, version 2.0.
 *
 * The layout of a shared region and of the single-producer/single-consumer
 * rings inside it. Everything is an offset from the start of the region, so
 * each side may map the region at any address. The normative text, including
 * the memory-ordering contract, is docs/ring-abi.md; this header is its C
 * rendering and is usable from BPF C, kernel C and C++.
 *
 * Byte order is the host's: a region never leaves the machine.
 */
#ifndef _MKDP_RING_ABI_H
#define _MKDP_RING_ABI_H

#include <linux/types.h>

#ifdef __cplusplus
#define MKDP_STATIC_ASSERT(e, msg) static_assert(e, msg)
#else
#define MKDP_STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#endif

/*
 * offsetof without <stddef.h>: BPF programs built against vmlinux.h or the
 * bare UAPI headers do not always have it. __builtin_offsetof is what
 * <stddef.h> expands to in GCC and clang, and it is a constant expression
 * in C11 and C++ alike, so the layout checks below hold in every language.
 */
#define MKDP_OFFSETOF(type, field) __builtin_offsetof(type, field)
#define MKDP_ASSERT_OFFSET(type, field, off) \
	MKDP_STATIC_ASSERT(MKDP_OFFSETOF(type, field) == (off), #type "." #field " offset")

#define MKDP_REGION_MAGIC	0x50444b4dU	/* "MKDP" read as little-endian bytes */
#define MKDP_ABI_MAJOR		2		/* bumped on incompatible layout change */
#define MKDP_ABI_MINOR		1		/* bumped on compatible additions */
/* minor 1: MKDP_SOP_WRITE_ZEROES (a minor-0 reader refuses op 4 as unknown) */

#define MKDP_CACHELINE		64		/* alignment of every ring word and area */
#define MKDP_AREA_ALIGN		4096		/* data areas start on a page (UMEM needs it) */
#define MKDP_NAME_LEN		16		/* NUL-padded names in the table */
#define MKDP_RING_MIN		2		/* smallest ring, in entries */
#define MKDP_RING_MAX		(1U << 24)	/* largest ring, in entries */

/* ---------------------------------------------------------------------------
 * Region header, at offset 0 of every region, followed by the table.
 */

/* mkdp_region_entry.kind */
#define MKDP_ENTRY_RING		1	/* an SPSC ring: struct mkdp_ring + slots */
#define MKDP_ENTRY_AREA		2	/* a data area that descriptors point into */

/* mkdp_region_entry.desc_type: what the slots of a ring hold */
#define MKDP_DESC_FRAME		1	/* struct mkdp_frame_desc */
#define MKDP_DESC_SREQ		2	/* struct mkdp_sreq_desc */
#define MKDP_DESC_SCPL		3	/* struct mkdp_scpl_desc */
#define MKDP_DESC_ADDR		4	/* __u64 frame address (fill/return rings) */

#define MKDP_NO_AREA		0xffffffffU	/* mkdp_region_entry.area: none */

struct mkdp_region_entry {
	__u32	kind;		/* MKDP_ENTRY_* */
	__u32	desc_type;	/* rings: MKDP_DESC_*; areas: 0 */
	__u64	offset;		/* from region start; rings: MKDP_CACHELINE, areas: MKDP_AREA_ALIGN aligned */
	__u64	size;		/* bytes, header and slots included for rings */
	__u32	entries;	/* rings: slot count, a power of two; areas: 0 */
	__u32	desc_size;	/* rings: bytes per slot; areas: 0 */
	__u32	area;		/* rings: table index of the area their descriptors point into, or MKDP_NO_AREA */
	__u32	frame_size;	/* areas: frame size in bytes (power of two), 0 if byte-addressed */
	char	name[MKDP_NAME_LEN];	/* NUL-padded, unique within the region */
};
MKDP_STATIC_ASSERT(sizeof(struct mkdp_region_entry) == 56, "region entry size");
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, kind, 0);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, desc_type, 4);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, offset, 8);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, size, 16);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, entries, 24);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, desc_size, 28);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, area, 32);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, frame_size, 36);
MKDP_ASSERT_OFFSET(struct mkdp_region_entry, name, 40);

struct mkdp_region_hdr {
	__u32	magic;		/* MKDP_REGION_MAGIC */
	__u16	abi_major;	/* MKDP_ABI_MAJOR of the creator; a mismatch is refused */
	__u16	abi_minor;	/* MKDP_ABI_MINOR of the creator; readers accept any */
	__u64	region_size;	/* bytes; must equal the size of the mapping */
	__u32	hdr_size;	/* sizeof(struct mkdp_region_hdr) of the creator */
	__u32	entry_size;	/* sizeof(struct mkdp_region_entry) of the creator */
	__u32	nr_entries;	/* used entries in table[] */
	__u32	flags;		/* MKDP_REGION_F_*; unknown bits are ignored */
	__u64	reserved[4];	/* zero */
/*
 * A flexible array member is C99 and later but not ISO C++; GCC and clang
 * accept it in C++ as an extension. Silence the pedantic warning here only,
 * so C++ users may build with -Wpedantic.
 */
#ifdef __cplusplus
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#ifdef __clang__
#pragma GCC diagnostic ignored "-Wc99-extensions"
#endif
#endif
	struct mkdp_region_entry table[];	/* nr_entries entries */
#ifdef __cplusplus
#pragma GCC diagnostic pop
#endif
};
MKDP_STATIC_ASSERT(sizeof(struct mkdp_region_hdr) == 64, "region header size");
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, magic, 0);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, abi_major, 4);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, abi_minor, 6);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, region_size, 8);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, hdr_size, 16);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, entry_size, 20);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, nr_entries, 24);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, flags, 28);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, reserved, 32);
MKDP_ASSERT_OFFSET(struct mkdp_region_hdr, table, 64);

#define MKDP_REGION_F_HUGETLB	(1U << 0)	/* backed by hugetlbfs pages */

/* ---------------------------------------------------------------------------
 * Ring: four cache lines of control words, one word each, then `entries`
 * slots. Words written by different sides never share a line.
 *
 * The producer owns `producer` and `doorbell`, the consumer owns `consumer`
 * and `flags`.
 * Both indices run freely modulo 2^32; slot = index & (entries - 1).
 * Entries in the ring = producer - consumer, never more than `entries`.
 * Cached copies of the other side's index live in each side's private
 * memory, never here. The ordering operations on these words are in
 * mkdp_ring_sync.h.
 */

/*
 * mkdp_ring.flags, written by the consumer only. A side changes only the
 * bits it knows (read-modify-write); unknown bits belong to later minor
 * versions and are left alone.
 */
#define MKDP_RING_NEED_WAKEUP	(1U << 0)	/* consumer is (about to be) asleep: the producer must ring the doorbell */

/*
 * Bits 8-15: the consumer's doorbell record, written when a consumer
 * attaches (together with clearing MKDP_RING_NEED_WAKEUP), 0 until one has.
 * A producer compares it with its own strategy and mechanism and refuses to
 * run on a mismatch: a producer that never rings would strand a consumer
 * that sleeps (docs/doorbells.md).
 *
 *   bit 15      MKDP_RING_WAKE_ATTACHED: a consumer has recorded itself
 *   bits 9-14   MKDP_WAKE_*: its doorbell strategy
 *   bit 8       MKDP_RING_WAKE_EVENTFD: its kernel sleeps wait on an eventfd
 *               handed over with the region, not on the futex `doorbell`;
 *               only for MKDP_WAKE_INTERRUPT and MKDP_WAKE_ADAPTIVE, 0
 *               for the others
 */
#define MKDP_RING_WAKE_SHIFT	8				/* first bit of the record */
#define MKDP_RING_WAKE_MASK	(0xffU << MKDP_RING_WAKE_SHIFT)	/* the whole record */
#define MKDP_RING_WAKE_ATTACHED	(1U << 15)			/* the record is valid */
#define MKDP_RING_WAKE_STRATEGY_SHIFT	9			/* first bit of the strategy */
#define MKDP_RING_WAKE_STRATEGY_MASK	(0x3fU << MKDP_RING_WAKE_STRATEGY_SHIFT)	/* MKDP_WAKE_* << shift */
#define MKDP_RING_WAKE_EVENTFD	(1U << 8)			/* kernel sleeps on an eventfd, not the futex */

/* The doorbell strategies, the values of bits 9-14 */
#define MKDP_WAKE_POLLED	0	/* consumer spins on `producer`; the producer never rings */
#define MKDP_WAKE_INTERRUPT	1	/* consumer sleeps at once; the producer rings after every publish */
#define MKDP_WAKE_ADAPTIVE	2	/* consumer polls, then raises NEED_WAKEUP and sleeps; rings only while it is up */
#define MKDP_WAKE_MONITOR	3	/* consumer waits in UMWAIT/MWAITX on `producer`'s line; the producer never rings */

/* The record a consumer with `strategy` (MKDP_WAKE_*) writes; `eventfd` 0 or 1 */
#define MKDP_RING_WAKE_RECORD(strategy, eventfd)				\
	(MKDP_RING_WAKE_ATTACHED |						\
	 ((__u32)(strategy) << MKDP_RING_WAKE_STRATEGY_SHIFT) |			\
	 (((strategy) == MKDP_WAKE_INTERRUPT || (strategy) == MKDP_WAKE_ADAPTIVE) && \
	  (eventfd) ? MKDP_RING_WAKE_EVENTFD : 0U))

struct mkdp_ring {
	__u32	producer;	/* next slot the producer fills; store-release by the producer */
	__u32	pad0[15];	/* zero: keeps `producer` alone on its cache line */
	__u32	consumer;	/* next slot the consumer reads; store-release by the consumer */
	__u32	pad1[15];	/* zero: keeps `consumer` alone on its cache line */
	__u32	flags;		/* MKDP_RING_* above; written by the consumer, read by the producer */
	__u32	pad2[15];	/* zero: keeps `flags` alone on its cache line */
	__u32	doorbell;	/* futex word: the producer increments it before a wake-up */
	__u32	pad3[15];	/* zero: keeps `doorbell` alone on its cache line */
	/* slots follow, MKDP_CACHELINE aligned */
};
MKDP_STATIC_ASSERT(sizeof(struct mkdp_ring) == 4 * MKDP_CACHELINE, "ring control size");
MKDP_ASSERT_OFFSET(struct mkdp_ring, producer, 0);
MKDP_ASSERT_OFFSET(struct mkdp_ring, consumer, MKDP_CACHELINE);
MKDP_ASSERT_OFFSET(struct mkdp_ring, flags, 2 * MKDP_CACHELINE);
MKDP_ASSERT_OFFSET(struct mkdp_ring, doorbell, 3 * MKDP_CACHELINE);

/* ---------------------------------------------------------------------------
 * Descriptors. Fixed width, explicit padding; a reader copies a descriptor
 * out of the ring before validating it and never reads the slot again.
 */

/* Network frame: a frame in a MKDP_ENTRY_AREA, in the spirit of struct xdp_desc. */
struct mkdp_frame_desc {
	__u64	addr;		/* offset into the frame area; addr..addr+len stays inside one frame */
	__u32	len;		/* bytes of packet data */
	__u32	options;	/* MKDP_FRAME_OPT_* */
};
MKDP_STATIC_ASSERT(sizeof(struct mkdp_frame_desc) == 16, "frame desc size");
MKDP_ASSERT_OFFSET(struct mkdp_frame_desc, addr, 0);
MKDP_ASSERT_OFFSET(struct mkdp_frame_desc, len, 8);
MKDP_ASSERT_OFFSET(struct mkdp_frame_desc, options, 12);

#define MKDP_FRAME_OPT_CONTD	(1U << 0)	/* packet continues in the next descriptor */

/* Storage request. */
struct mkdp_sreq_desc {
	__u16	op;		/* MKDP_SOP_* */
	__u16	flags;		/* MKDP_SREQ_F_* */
	__u32	tag;		/* chosen by the client, echoed in the completion; < ring entries */
	__u64	sector;		/* 512-byte sector on the volume */
	__u64	buf;		/* offset of the data buffer in the ring's area */
	__u32	len;		/* bytes; a multiple of 512 (FLUSH: ignored) */
	__u32	volume;		/* volume id from the topology */
};
MKDP_STATIC_ASSERT(sizeof(struct mkdp_sreq_desc) == 32, "storage request size");
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, op, 0);
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, flags, 2);
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, tag, 4);
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, sector, 8);
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, buf, 16);
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, len, 24);
MKDP_ASSERT_OFFSET(struct mkdp_sreq_desc, volume, 28);

#define MKDP_SOP_READ		0	/* read len bytes at sector into buf */
#define MKDP_SOP_WRITE		1	/* write len bytes from buf at sector */
#define MKDP_SOP_FLUSH		2	/* make prior writes durable; len, buf ignored */
#define MKDP_SOP_DISCARD	3	/* drop len bytes at sector; buf ignored */
#define MKDP_SOP_WRITE_ZEROES	4	/* the range reads as zeros afterwards; buf ignored */
#define MKDP_SOP_MAX		MKDP_SOP_WRITE_ZEROES

#define MKDP_SREQ_F_FUA		(1U << 0)	/* write is durable on completion */

/* Storage completion. */
struct mkdp_scpl_desc {
	__u32	tag;		/* the request's tag */
	__s32	status;		/* 0, or a negative errno */
	__u32	bytes;		/* bytes transferred */
	__u32	reserved;	/* zero */
};
MKDP_STATIC_ASSERT(sizeof(struct mkdp_scpl_desc) == 16, "storage completion size");
MKDP_ASSERT_OFFSET(struct mkdp_scpl_desc, tag, 0);
MKDP_ASSERT_OFFSET(struct mkdp_scpl_desc, status, 4);
MKDP_ASSERT_OFFSET(struct mkdp_scpl_desc, bytes, 8);
MKDP_ASSERT_OFFSET(struct mkdp_scpl_desc, reserved, 12);

#define MKDP_SECTOR_SIZE	512

#endif /* _MKDP_RING_ABI_H */
