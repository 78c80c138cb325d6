/* crt0.S: process start-up for the ColdFire build under Linux (qemu-m68k, or a uClinux/m68k
 * kernel on the board). The kernel leaves argc at (sp) and argv[] right above it; rt_start
 * (export/rt/rt_linux.c) returns the exit code, which goes to exit_group (247) in d1. */
    .text
    .globl _start
_start:
    move.l  (%sp),%d0           /* argc */
    lea     4(%sp),%a0          /* argv */
    move.l  %a0,-(%sp)
    move.l  %d0,-(%sp)
    jsr     rt_start
    move.l  %d0,%d1
    move.l  #247,%d0            /* exit_group(code) */
    trap    #0
    .section .note.GNU-stack,"",@progbits
