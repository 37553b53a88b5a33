/* src/boot/entry.S: the first instructions of a uni Xen guest.
 *
 * The image is a PVH guest: Xen (or QEMU's PVH loader) finds the entry in the
 * XEN_ELFNOTE_PHYS32_ENTRY note and jumps to it in 32-bit flat protected mode,
 * paging off, interrupts off, %ebx = physical address of the hvm_start_info.
 * We clear the BSS, identity-map the first 4 GiB with 2 MiB pages (boot tables;
 * start of day replaces them with the final W^X tables), enter long mode, seed the
 * stack-protector canary and call uni_boot_main(start_info) in C++.
 *
 * Only PVH: a PV entry would need a second start of day (Xen-built page tables,
 * pseudo-physical memory, the PV console and traps); PVH is what current Xen and
 * MirageOS boot, and QEMU boots the same image directly.
 */
#include <xen/elfnote.h>

#define ELFNOTE(type, desc)                 \
  .pushsection .note.Xen, "a", @note;       \
  .balign 4;                                \
  .long 2f - 1f;                            \
  .long 4f - 3f;                            \
  .long type;                               \
1: .asciz "Xen";                            \
2: .balign 4;                               \
3: desc;                                    \
4: .balign 4;                               \
  .popsection

ELFNOTE(XEN_ELFNOTE_GUEST_OS, .asciz "uni")
ELFNOTE(XEN_ELFNOTE_XEN_VERSION, .asciz "xen-3.0")
ELFNOTE(XEN_ELFNOTE_PHYS32_ENTRY, .long uni_pvh_start)

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

  .section .text.boot, "ax", @progbits
  .code32
  .globl uni_pvh_start
uni_pvh_start:
  cli
  cld
  mov %ebx, %esi                 /* hvm_start_info: keep it over the BSS clear */
  rdtsc                          /* the first cycle count: boot time is measured from here */
  mov %eax, uni_boot_tsc
  mov %edx, uni_boot_tsc + 4

  mov $__bss_start, %edi         /* BSS (with the boot tables and the stack) */
  mov $__bss_end, %ecx
  sub %edi, %ecx
  xor %eax, %eax
  rep stosb
  mov %esi, uni_boot_start_info
  mov $__stack_top, %esp

  /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages */
  mov $uni_boot_pdpt + (PTE_P | PTE_W), %eax
  mov %eax, uni_boot_pml4
  mov $uni_boot_pd + (PTE_P | PTE_W), %eax
  mov $uni_boot_pdpt, %edi
  mov $4, %ecx
1:
  mov %eax, (%edi)
  add $4096, %eax
  add $8, %edi
  loop 1b
  mov $uni_boot_pd, %edi
  mov $(PTE_P | PTE_W | PTE_PS), %eax
  mov $2048, %ecx
2:
  mov %eax, (%edi)
  movl $0, 4(%edi)
  add $0x200000, %eax
  add $8, %edi
  loop 2b

  mov $0x80000001, %eax          /* NX available? (cpuid clobbers %ebx: start info is in %esi) */
  cpuid
  mov %edx, %ebp
  mov %cr4, %eax
  or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
  mov %eax, %cr4
  mov $uni_boot_pml4, %eax
  mov %eax, %cr3
  mov $MSR_EFER, %ecx
  rdmsr
  or $EFER_LME, %eax
  bt $20, %ebp
  jnc 3f
  or $EFER_NXE, %eax
3:
  wrmsr
  mov %cr0, %eax
  and $~CR0_EM, %eax
  or $(CR0_PE | CR0_MP | CR0_WP | CR0_PG), %eax
  mov %eax, %cr0
  lgdt uni_boot_gdt_ptr
  ljmp $0x08, $long_mode

  .code64
long_mode:
  mov $0x10, %eax
  mov %eax, %ds
  mov %eax, %es
  mov %eax, %ss
  xor %eax, %eax
  mov %eax, %fs
  mov %eax, %gs
  mov $__stack_top, %rsp
  xor %ebp, %ebp

  /* The canary is set before any protected function runs (none may return across
   * a change). The TSC at entry is unpredictable enough to differ boot to boot;
   * RDRAND, when the CPU has it, makes it a real secret. */
  rdtsc
  shl $32, %rdx
  or %rdx, %rax
  mov %rax, %rbx
  mov $1, %eax
  cpuid
  bt $30, %ecx
  jnc 5f
  mov $10, %ecx
4:
  rdrand %rax
  jc 6f
  loop 4b
  jmp 5f
6:
  xor %rax, %rbx
5:
  movb $0, %bl                   /* a NUL byte stops string overflows from copying it */
  mov %rbx, __stack_chk_guard(%rip)

  rdtsc                          /* long mode reached: the first step of the breakdown */
  shl $32, %rdx
  or %rdx, %rax
  mov %rax, uni_boot_tsc_long_mode(%rip)
  movl uni_boot_start_info(%rip), %edi
  call uni_boot_main
7:
  cli
  hlt
  jmp 7b

/* Exception stubs: vector and error code (0 where the CPU pushes none), then all
 * general registers, in the layout of uni::boot::trap_frame. Traps are fatal. */
.macro TRAP num, err
  .balign 16
trap_\num:
  .if \err == 0
  pushq $0
  .endif
  pushq $\num
  jmp trap_common
.endm
TRAP 0,0; TRAP 1,0; TRAP 2,0; TRAP 3,0; TRAP 4,0; TRAP 5,0; TRAP 6,0; TRAP 7,0
TRAP 8,1; TRAP 9,0; TRAP 10,1; TRAP 11,1; TRAP 12,1; TRAP 13,1; TRAP 14,1; TRAP 15,0
TRAP 16,0; TRAP 17,1; TRAP 18,0; TRAP 19,0; TRAP 20,0; TRAP 21,1; TRAP 22,0; TRAP 23,0
TRAP 24,0; TRAP 25,0; TRAP 26,0; TRAP 27,0; TRAP 28,0; TRAP 29,1; TRAP 30,1; TRAP 31,0

trap_common:
  push %rax
  push %rbx
  push %rcx
  push %rdx
  push %rsi
  push %rdi
  push %rbp
  push %r8
  push %r9
  push %r10
  push %r11
  push %r12
  push %r13
  push %r14
  push %r15
  mov %rsp, %rdi
  and $-16, %rsp
  call uni_boot_trap              /* does not return */
8:
  cli
  hlt
  jmp 8b

/* The Xen event upcall (HVM_PARAM_CALLBACK_IRQ, vector type). Xen keeps raising
 * it while the vCPU's evtchn_upcall_pending is set, so clear that and return:
 * the run loop scans the pending ports itself after its hlt. An upcall taken on
 * that hlt before it halted returns past it: halting there would sleep with the
 * upcall cleared but the ports not scanned, and Xen raises the upcall only when a
 * selector bit goes from 0 to 1, so nothing would wake the vCPU again. (Seen on
 * tier 3, Xen under QEMU's emulated SVM: a domU blocked at this hlt with
 * upcall_pending 0, its selector bit set, its timer and vchan ports pending.) */
  .balign 16
  .globl uni_boot_upcall_entry
uni_boot_upcall_entry:
  push %rax
  mov uni_boot_upcall_pending(%rip), %rax
  test %rax, %rax
  jz 9f
  movb $0, (%rax)
9:
  mov 8(%rsp), %rax               /* the interrupted rip */
  cmpb $0xf4, (%rax)              /* hlt: the only one run with interrupts on is the run loop's */
  jne 10f
  incq 8(%rsp)
10:
  pop %rax
  iretq

  .section .rodata, "a", @progbits
  .balign 8
  .globl uni_boot_trap_stubs
uni_boot_trap_stubs:
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  .quad trap_\n
  .endr

  .section .data, "aw", @progbits
  .balign 8
  .globl uni_boot_tsc
uni_boot_tsc:
  .quad 0
  .globl uni_boot_tsc_long_mode
uni_boot_tsc_long_mode:
  .quad 0
  .globl uni_boot_upcall_pending
uni_boot_upcall_pending:          /* &vcpu_info[0].evtchn_upcall_pending, once mapped */
  .quad 0
  .balign 16
  .globl uni_boot_gdt
uni_boot_gdt:
  .quad 0
  .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, ring 0 */
  .quad 0x00cf92000000ffff        /* 0x10: data, ring 0 */
  .quad 0, 0                      /* 0x18: the TSS (filled in by start of day) */
uni_boot_gdt_end:
  .balign 8
  .globl uni_boot_gdt_ptr
uni_boot_gdt_ptr:
  .word uni_boot_gdt_end - uni_boot_gdt - 1
  .quad uni_boot_gdt

  .section .bss.boot, "aw", @nobits
  .balign 4
  .globl uni_boot_start_info
uni_boot_start_info:
  .long 0
  .balign 4096
  .globl uni_boot_pml4, uni_boot_pdpt, uni_boot_pd
uni_boot_pml4:
  .skip 4096
uni_boot_pdpt:
  .skip 4096
uni_boot_pd:
  .skip 4 * 4096

  .section .note.GNU-stack, "", @progbits
