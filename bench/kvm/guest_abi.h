/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The contract between the benchmark's VMM (vmm.cpp) and its guest
 * (guest/guest.c): where things live in guest-physical memory, the mailbox
 * through which the host hands the guest a command, and the ports the guest
 * writes to leave the virtual machine.
 *
 * The guest is a bare 64-bit program, no operating system: the VMM enters
 * it in long mode (KVM_SET_SREGS) with identity-mapped page tables it built
 * itself, because a stock Linux guest does not boot on these machines' KVM
 * (docs/benchmarks.md, "## all"). Guest-physical == guest-virtual
 * everywhere below.
 *
 * One command at a time: the host writes cmd and args, enters the vCPU
 * (KVM_RUN) and the guest runs the command, then writes KVMB_PORT_DONE,
 * which returns KVM_RUN to the host. Meanwhile host threads on the other
 * CPU play the devices through the virtqueues and refresh clock_ns.
 *
 * C11 and C++, no host types: this header is compiled into both sides.
 */
#ifndef MKDP_BENCH_KVM_GUEST_ABI_H
#define MKDP_BENCH_KVM_GUEST_ABI_H

#include <stdint.h>

/* Guest-physical layout. Everything below KVMB_MEM_SIZE is RAM in one
 * memory slot; the local APIC page (0xfee00000) is the in-kernel irqchip's. */
#define KVMB_MEM_SIZE		(32u << 20)
#define KVMB_GDT		0x1000u		/* null, code64 (0x08), data (0x10) */
#define KVMB_IDT		0x2000u		/* 256 gates of 16 bytes */
#define KVMB_PML4		0x3000u		/* then one PDPT and 4 PDs: 4 GiB in 2 MiB pages */
#define KVMB_PDPT		0x4000u
#define KVMB_PD			0x5000u		/* 4 pages, 0x5000..0x8fff */
#define KVMB_MAILBOX		0x9000u		/* struct kvmb_mailbox */
#define KVMB_CODE		0x10000u	/* the guest image (guest.ld links it here) */
#define KVMB_STACK_TOP		0x100000u
#define KVMB_NET_RING		0x100000u	/* the RX virtqueue (virtio split ring) */
#define KVMB_BLK_RING		0x110000u	/* the block virtqueue */
#define KVMB_BLK_HDR		0x120000u	/* per slot: virtio_blk_outhdr, then a status byte */
#define KVMB_NET_BUF		0x200000u	/* KVMB_NET_QSIZE frame buffers of KVMB_NET_BUF_SIZE */
#define KVMB_BLK_BUF		0x400000u	/* KVMB_BLK_QSIZE data buffers of 4 KiB */
#define KVMB_LAT_LOG		0x800000u	/* uint64_t latencies, ns, KVMB_LAT_MAX of them */
#define KVMB_IRQ_LOG		0x1000000u	/* uint64_t clock_ns at each interrupt's entry */
#define KVMB_LAPIC		0xfee00000u

#define KVMB_NET_QSIZE		256u		/* descriptors in the RX queue */
#define KVMB_NET_BUF_SIZE	2048u
#define KVMB_BLK_QSIZE		128u		/* descriptors: 3 per request */
#define KVMB_BLK_SLOTS		32u		/* requests in flight at most (queue depth) */
#define KVMB_BLK_BLOCK		4096u
#define KVMB_LAT_MAX		(1u << 20)	/* 8 MiB of samples */
#define KVMB_IRQ_MAX		(1u << 16)

/* The interrupt the host injects through irqfd (an MSI to APIC 0). */
#define KVMB_IRQ_VECTOR		0x40u

/* Ports. KVMB_PORT_DONE and KVMB_PORT_PING exit to the VMM's user space
 * (KVM_EXIT_IO); nothing is registered on them in the kernel. */
#define KVMB_PORT_DONE		0x10u		/* a command finished; result in the mailbox */
#define KVMB_PORT_PING		0x11u		/* an exit and nothing else: the exit round trip */
#define KVMB_PORT_PANIC		0x12u		/* the guest hit a fault; vector in result[0] */

/* Commands (kvmb_mailbox.cmd). */
enum kvmb_cmd {
	KVMB_CMD_BOOT = 0,	/* set up the IDT and the local APIC, report ready */
	/* Post every RX buffer, then consume arg[0] frames: read every byte of
	 * each and give the buffer back. arg[1] != 0: log clock_ns minus the
	 * 64-bit stamp at offset KVMB_NET_STAMP_OFF of each frame. result[0]:
	 * the sum of all bytes read, result[1]: frames consumed. */
	KVMB_CMD_NET_RX = 1,
	/* arg[0] requests of KVMB_BLK_BLOCK bytes at random blocks below
	 * arg[3] blocks, arg[1] in flight, arg[2] != 0: writes. Logs each
	 * request's latency (clock_ns at completion minus at submission).
	 * result[0]: requests completed, result[1]: failed ones. */
	KVMB_CMD_BLK = 2,
	/* arg[0] writes to KVMB_PORT_PING. */
	KVMB_CMD_PING = 3,
	/* Interrupts on, halt until arg[0] interrupts have arrived (each logs
	 * clock_ns in KVMB_IRQ_LOG), interrupts off. result[0]: interrupts. */
	KVMB_CMD_IRQ_WAIT = 4,
};

/* The stamp the host writes into each frame in latency runs: after the
 * Ethernet, IPv4 and UDP headers. */
#define KVMB_NET_STAMP_OFF	42u

/* At KVMB_MAILBOX. Written by one side each, as marked; every field is
 * naturally aligned, so plain loads and stores are single-copy atomic. */
struct kvmb_mailbox {
	uint64_t cmd;		/* host: enum kvmb_cmd */
	uint64_t arg[4];	/* host: the command's arguments */
	uint64_t result[4];	/* guest: the command's results */
	/* host: CLOCK_MONOTONIC ns, refreshed by a host thread while a command
	 * runs. The guest's own clock (rdtsc) exits to the host on this KVM,
	 * so the guest stamps with this word instead; its resolution is one
	 * iteration of the refreshing loop. */
	uint64_t clock_ns;
	uint64_t irqs;		/* guest: interrupts taken since boot */
	uint64_t lat_count;	/* guest: samples in KVMB_LAT_LOG for this command */
	uint64_t seed;		/* host: the guest's random number seed */
	uint64_t pad[4];	/* zero */
};

#endif
