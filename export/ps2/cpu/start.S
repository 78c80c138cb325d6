# start.S: entry of the PS2 programs.
#   GXemul (bare metal, default): stack at the top of the program image (link.ld), argv from the
#   argument block the runner loads into RAM (rt_ps2.c ps2_args), main's result to ps2_exit.
#   qemu-user (-DPS2_QEMU): the Linux o32 entry stack holds argc, then argv.
    .set noreorder
    .section .text.start, "ax"
    .globl _start
_start:
#ifdef PS2_QEMU
    lw $a0, 0($sp)
    addiu $a1, $sp, 4
    addiu $sp, $sp, -32
#else
    la $sp, _stack_top
    addiu $sp, $sp, -32
    jal ps2_args            # v0 = argc, argv in ps2_argv
    nop
    move $a0, $v0
    la $a1, ps2_argv
#endif
    jal ps2_main
    nop
    jal ps2_exit
    move $a0, $v0
1:  b 1b
    nop
