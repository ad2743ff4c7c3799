/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The virtio split virtqueue (virtio 1.x, section 2.7) as the benchmark's
 * VMM and guest both use it: descriptor table, available ring, used ring,
 * the used ring aligned to 4 KiB. The layout is the spec's, so the same
 * memory would serve a real virtio driver; it is spelt out here because
 * <linux/virtio_ring.h> does not compile as C++. Little-endian x86 only.
 */
#ifndef MKDP_BENCH_KVM_VIRTQ_H
#define MKDP_BENCH_KVM_VIRTQ_H

#include <stdint.h>

#define KVMB_VQ_DESC_F_NEXT	1u	/* the chain continues at .next */
#define KVMB_VQ_DESC_F_WRITE	2u	/* the device writes this buffer */

struct kvmb_vq_desc {
	uint64_t addr;		/* guest-physical address of the buffer */
	uint32_t len;		/* its length in bytes */
	uint16_t flags;		/* KVMB_VQ_DESC_F_* */
	uint16_t next;		/* the next descriptor of the chain */
};

struct kvmb_vq_avail {		/* written by the driver (the guest) */
	uint16_t flags;		/* 0: the device is not asked to hold back interrupts */
	uint16_t idx;		/* free-running count of heads made available */
	uint16_t ring[];	/* heads of descriptor chains, idx % num */
};

struct kvmb_vq_used_elem {
	uint32_t id;		/* head of the chain the device is done with */
	uint32_t len;		/* bytes the device wrote into it */
};

struct kvmb_vq_used {		/* written by the device (the host) */
	uint16_t flags;
	uint16_t idx;		/* free-running count of chains used */
	struct kvmb_vq_used_elem ring[];
};

struct kvmb_vq {
	unsigned num;		/* entries, a power of two */
	struct kvmb_vq_desc *desc;
	struct kvmb_vq_avail *avail;
	struct kvmb_vq_used *used;
};

/* The queue laid out at `base` (an address in the caller's mapping of
 * guest memory; the guest-physical one in the guest). */
static inline struct kvmb_vq kvmb_vq_at(void *base, unsigned num)
{
	struct kvmb_vq q;
	uintptr_t a = (uintptr_t)base;
	uintptr_t used = a + 16u * num + 2u * (3u + num);
	q.num = num;
	q.desc = (struct kvmb_vq_desc *)a;
	q.avail = (struct kvmb_vq_avail *)(a + 16u * num);
	q.used = (struct kvmb_vq_used *)((used + 4095u) & ~(uintptr_t)4095u);
	return q;
}

/* Bytes the queue occupies from its base. */
static inline uintptr_t kvmb_vq_size(unsigned num)
{
	uintptr_t used = 16u * num + 2u * (3u + num);
	return ((used + 4095u) & ~(uintptr_t)4095u) + 2u * 3u + 8u * num;
}

/* The block request header (virtio_blk_outhdr) and the status that follows
 * the data, with the values the benchmark uses. */
#define KVMB_BLK_T_IN		0u	/* read */
#define KVMB_BLK_T_OUT		1u	/* write */
#define KVMB_BLK_S_OK		0u
#define KVMB_BLK_S_IOERR	1u

struct kvmb_blk_hdr {
	uint32_t type;		/* KVMB_BLK_T_* */
	uint32_t ioprio;	/* 0 */
	uint64_t sector;	/* 512-byte units */
};

#endif
