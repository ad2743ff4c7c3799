// SPDX-License-Identifier: BSD-2-Clause
// The guest (guest/guest.c, built flat by bench/CMakeLists.txt) as bytes in
// this program: mkdp_kvm_guest_start .. mkdp_kvm_guest_end.
#ifndef MKDP_KVM_GUEST_BIN
#error "MKDP_KVM_GUEST_BIN names the flat guest image"
#endif

#define MKDP_STR2(x) #x
#define MKDP_STR(x) MKDP_STR2(x)

__asm__(".pushsection .rodata\n"
	".balign 64\n"
	".globl mkdp_kvm_guest_start\n"
	".globl mkdp_kvm_guest_end\n"
	"mkdp_kvm_guest_start:\n"
	".incbin \"" MKDP_STR(MKDP_KVM_GUEST_BIN) "\"\n"
	"mkdp_kvm_guest_end:\n"
	".popsection\n");
