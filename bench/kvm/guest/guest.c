/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The benchmark's guest: a bare 64-bit program that plays a virtio driver.
 * The VMM (../vmm.cpp) enters it at guest_entry in long mode with a stack;
 * it answers one command per entry (../guest_abi.h) and leaves through a
 * port write. No libc, no floating point, no red zone (interrupts arrive on
 * the same stack).
 */
#include "../guest_abi.h"
#include "../virtq.h"

#define barrier() __asm__ volatile("" ::: "memory")

static volatile struct kvmb_mailbox *const mb = (struct kvmb_mailbox *)(uintptr_t)KVMB_MAILBOX;
static uint64_t *const lat_log = (uint64_t *)(uintptr_t)KVMB_LAT_LOG;
static volatile uint64_t *const irq_log = (uint64_t *)(uintptr_t)KVMB_IRQ_LOG;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint64_t clock_ns(void)
{
	return mb->clock_ns;
}

static inline void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(KVMB_LAPIC + reg) = v;
}

/* x86's ordering makes plain stores and loads enough between the two
 * sides, as long as the compiler keeps them in program order. */
static inline uint16_t load16(const volatile uint16_t *p)
{
	return *p;
}

static inline void store16(volatile uint16_t *p, uint16_t v)
{
	barrier();
	*p = v;
}

/* Spins until the device has used more than `seen` chains; returns its
 * used index, the ring entries up to it readable. */
static inline uint16_t wait_used(volatile struct kvmb_vq_used *used, uint16_t seen)
{
	uint16_t end;
	while ((end = load16(&used->idx)) == seen)
		pause();
	barrier();
	return end;
}

struct interrupt_frame;

__attribute__((interrupt)) static void on_irq(struct interrupt_frame *f)
{
	(void)f;
	uint64_t n = mb->irqs;
	if (n < KVMB_IRQ_MAX)
		irq_log[n] = clock_ns();
	mb->irqs = n + 1;
	lapic_write(0xb0, 0);	/* EOI */
}

/* Any exception: say which and stop. Vectors 0-31 only. */
#define FAULT(v)                                                        \
	__attribute__((interrupt)) static void fault_##v(struct interrupt_frame *f) \
	{                                                                \
		(void)f;                                                 \
		mb->result[0] = v;                                       \
		for (;;)                                                 \
			outb(KVMB_PORT_PANIC, v);                        \
	}
FAULT(0) FAULT(6) FAULT(8) FAULT(13) FAULT(14)

struct gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};

static void set_gate(unsigned vec, void *fn)
{
	volatile struct gate *g = (struct gate *)(uintptr_t)KVMB_IDT + vec;
	uintptr_t a = (uintptr_t)fn;
	g->off0 = (uint16_t)a;
	g->sel = 0x08;
	g->ist = 0;
	g->type = 0x8e;	/* present, DPL 0, 64-bit interrupt gate */
	g->off1 = (uint16_t)(a >> 16);
	g->off2 = (uint32_t)(a >> 32);
	g->zero = 0;
}

static void boot(void)
{
	set_gate(0, (void *)fault_0);
	set_gate(6, (void *)fault_6);
	set_gate(8, (void *)fault_8);
	set_gate(13, (void *)fault_13);
	set_gate(14, (void *)fault_14);
	set_gate(KVMB_IRQ_VECTOR, (void *)on_irq);
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {256 * 16 - 1, KVMB_IDT};
	__asm__ volatile("lidt %0" : : "m"(idtr));
	lapic_write(0x80, 0);		/* task priority: accept every vector */
	lapic_write(0xf0, 0x1ff);	/* software-enable, spurious vector 0xff */
}


static void net_rx(uint64_t count, int stamped)
{
	struct kvmb_vq vr = kvmb_vq_at((void *)(uintptr_t)KVMB_NET_RING, KVMB_NET_QSIZE);
	volatile struct kvmb_vq_avail *avail = vr.avail;
	volatile struct kvmb_vq_used *used = vr.used;
	/* Every buffer to the device, device-writable. */
	for (unsigned i = 0; i < KVMB_NET_QSIZE; i++) {
		vr.desc[i].addr = KVMB_NET_BUF + (uint64_t)i * KVMB_NET_BUF_SIZE;
		vr.desc[i].len = KVMB_NET_BUF_SIZE;
		vr.desc[i].flags = KVMB_VQ_DESC_F_WRITE;
		vr.desc[i].next = 0;
		avail->ring[i] = (uint16_t)i;
	}
	uint16_t avail_idx = load16(&avail->idx) + KVMB_NET_QSIZE;
	uint16_t used_idx = load16(&used->idx);
	store16(&avail->idx, avail_idx);
	uint64_t sum = 0, done = 0, logged = 0;
	while (done < count) {
		uint16_t end = wait_used(used, used_idx);
		for (; used_idx != end && done < count; used_idx++, done++) {
			uint32_t id = used->ring[used_idx % KVMB_NET_QSIZE].id;
			uint32_t len = used->ring[used_idx % KVMB_NET_QSIZE].len;
			const uint8_t *f = (const uint8_t *)(uintptr_t)vr.desc[id % KVMB_NET_QSIZE].addr;
			if (len > KVMB_NET_BUF_SIZE)
				len = KVMB_NET_BUF_SIZE;
			for (uint32_t b = 0; b < len; b++)
				sum += f[b];
			if (stamped && len >= KVMB_NET_STAMP_OFF + 8 && logged < KVMB_LAT_MAX) {
				uint64_t t = *(const uint64_t *)(f + KVMB_NET_STAMP_OFF);
				lat_log[logged++] = clock_ns() - t;
			}
			avail->ring[avail_idx % KVMB_NET_QSIZE] = (uint16_t)id;
			avail_idx++;
		}
		store16(&avail->idx, avail_idx);
	}
	mb->result[0] = sum;
	mb->result[1] = done;
	mb->lat_count = logged;
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	/* xorshift64 */
	uint64_t x = rnd_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rnd_state = x;
}

/* Request slot s uses descriptors 3s (header), 3s+1 (data), 3s+2 (status). */
static void blk_post(struct kvmb_vq *vr, uint16_t *avail_idx, unsigned s, int write, uint64_t blocks,
		     uint64_t *started)
{
	struct kvmb_blk_hdr *h = (struct kvmb_blk_hdr *)(uintptr_t)(KVMB_BLK_HDR + s * 32u);
	h->type = write ? KVMB_BLK_T_OUT : KVMB_BLK_T_IN;
	h->ioprio = 0;
	h->sector = rnd() % blocks * (KVMB_BLK_BLOCK / 512);
	uint8_t *status = (uint8_t *)h + 16;
	*status = 0xff;
	struct kvmb_vq_desc *d = vr->desc + 3 * s;
	d[0] = (struct kvmb_vq_desc){(uintptr_t)h, 16, KVMB_VQ_DESC_F_NEXT, (uint16_t)(3 * s + 1)};
	d[1] = (struct kvmb_vq_desc){KVMB_BLK_BUF + (uint64_t)s * KVMB_BLK_BLOCK, KVMB_BLK_BLOCK,
				   (uint16_t)(KVMB_VQ_DESC_F_NEXT | (write ? 0 : KVMB_VQ_DESC_F_WRITE)),
				   (uint16_t)(3 * s + 2)};
	d[2] = (struct kvmb_vq_desc){(uintptr_t)status, 1, KVMB_VQ_DESC_F_WRITE, 0};
	started[s] = clock_ns();
	vr->avail->ring[*avail_idx % KVMB_BLK_QSIZE] = (uint16_t)(3 * s);
	++*avail_idx;
}

static void blk(uint64_t count, unsigned depth, int write, uint64_t blocks)
{
	struct kvmb_vq vr = kvmb_vq_at((void *)(uintptr_t)KVMB_BLK_RING, KVMB_BLK_QSIZE);
	volatile struct kvmb_vq_avail *avail = vr.avail;
	volatile struct kvmb_vq_used *used = vr.used;
	uint64_t started[KVMB_BLK_SLOTS];
	uint16_t avail_idx = load16(&avail->idx), used_idx = load16(&used->idx);
	uint64_t submitted = 0, done = 0, failed = 0, logged = 0;
	if (depth > KVMB_BLK_SLOTS)
		depth = KVMB_BLK_SLOTS;
	if (!blocks)
		blocks = 1;
	for (unsigned s = 0; s < depth && submitted < count; s++, submitted++)
		blk_post(&vr, &avail_idx, s, write, blocks, started);
	store16(&avail->idx, avail_idx);
	while (done < count) {
		uint16_t end = wait_used(used, used_idx);
		for (; used_idx != end; used_idx++) {
			unsigned s = used->ring[used_idx % KVMB_BLK_QSIZE].id / 3;
			const uint8_t *status = (const uint8_t *)(uintptr_t)(KVMB_BLK_HDR + s * 32u + 16);
			if (*status != KVMB_BLK_S_OK)
				failed++;
			if (logged < KVMB_LAT_MAX)
				lat_log[logged++] = clock_ns() - started[s];
			done++;
			if (submitted < count) {
				blk_post(&vr, &avail_idx, s, write, blocks, started);
				submitted++;
			}
		}
		store16(&avail->idx, avail_idx);
	}
	mb->result[0] = done;
	mb->result[1] = failed;
	mb->lat_count = logged;
}

static void irq_wait(uint64_t n)
{
	uint64_t until = mb->irqs + n;
	/* sti takes effect after the next instruction, so an interrupt that
	 * is already pending wakes the hlt instead of being lost before it. */
	while (mb->irqs < until)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	mb->result[0] = n;
}

__attribute__((noreturn)) void guest_main(void)
{
	for (;;) {
		uint64_t a0 = mb->arg[0], a1 = mb->arg[1], a2 = mb->arg[2], a3 = mb->arg[3];
		mb->lat_count = 0;
		switch (mb->cmd) {
		case KVMB_CMD_BOOT:
			boot();
			rnd_state = mb->seed | 1;
			break;
		case KVMB_CMD_NET_RX:
			net_rx(a0, a1 != 0);
			break;
		case KVMB_CMD_BLK:
			blk(a0, (unsigned)a1, a2 != 0, a3);
			break;
		case KVMB_CMD_PING:
			for (uint64_t i = 0; i < a0; i++)
				outb(KVMB_PORT_PING, 0);
			break;
		case KVMB_CMD_IRQ_WAIT:
			irq_wait(a0);
			break;
		}
		outb(KVMB_PORT_DONE, 0);
	}
}

/* The VMM sets rsp to KVMB_STACK_TOP and rip here. */
__asm__(".pushsection .text.entry, \"ax\"\n"
	".globl guest_entry\n"
	"guest_entry:\n"
	"	call guest_main\n"
	".popsection\n");
