/* Bare-metal AArch64 start for QEMU virt (EL1): stack, FP/SIMD on, identity-mapped MMU (RAM as
 * normal cacheable memory, so unaligned loads are legal; the first GB as device memory), PMU
 * counter 0 counting INST_RETIRED (event 0x08), then main(); its return value leaves through
 * semihosting SYS_EXIT. */
    .section .text.boot, "ax"
    .global _start
_start:
    ldr x0, =__stack_top
    mov sp, x0
    mov x0, #(3 << 20)
    msr cpacr_el1, x0
    isb
    adrp x0, ttb
    add x0, x0, :lo12:ttb
    msr ttbr0_el1, x0
    ldr x0, =0xFF00
    msr mair_el1, x0
    ldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23))
    msr tcr_el1, x0
    isb
    tlbi vmalle1
    dsb sy
    isb
    mrs x0, sctlr_el1
    orr x0, x0, #1
    orr x0, x0, #(1 << 2)
    orr x0, x0, #(1 << 12)
    bic x0, x0, #(1 << 1)
    msr sctlr_el1, x0
    isb
    ldr x0, =__bss_start
    ldr x1, =__bss_end
1:  cmp x0, x1
    b.hs 2f
    str xzr, [x0], #8
    b 1b
2:  mov x0, #0x08
    msr pmevtyper0_el0, x0
    mov x0, #1
    msr pmcntenset_el0, x0
    mov x0, #3
    msr pmcr_el0, x0
    isb
    bl main
    adrp x1, exit_block
    add x1, x1, :lo12:exit_block
    str x0, [x1, #8]
    mov w0, #0x18
    hlt #0xf000
3:  b 3b

    .section .data
    .balign 4096
ttb:
    .quad 0x00000000 | (1 << 10) | 1
    .quad 0x40000000 | (1 << 10) | (3 << 8) | (1 << 2) | 1
    .fill 510, 8, 0
    .balign 8
exit_block:
    .quad 0x20026
    .quad 0
