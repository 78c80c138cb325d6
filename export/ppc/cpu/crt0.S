/* crt0.S: process start-up for the PowerPC build under Linux (qemu-ppc, or Linux on the iMac G3).
 * The kernel leaves argc at 0(r1) and argv[] right above it. A fresh 16-byte aligned frame with
 * a null back chain, then rt_start (export/rt/rt_linux.c) and exit_group (234) with its result. */
    .text
    .globl _start
_start:
    lwz     3,0(1)              /* argc */
    addi    4,1,4               /* argv */
    clrrwi  1,1,4
    li      0,0
    stwu    1,-16(1)
    stw     0,0(1)
    bl      rt_start
    li      0,234               /* exit_group(code) */
    sc
    b       .
    .section .note.GNU-stack,"",@progbits
