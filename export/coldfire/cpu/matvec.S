/* matvec.S: the transformer's matrix-vector products for ColdFire ISA_A (MCF5307), the same
 * functions and results as infer/lm_ops.c's lm_matvec_i8 / lm_matvec_i4 (which this build
 * renames to *_c, export/coldfire/cpu/ops.c). Tested bit-exact against infer/ on random and
 * extreme inputs (tests/cpu/kcheck_cases.c) and on whole stories260K runs.
 *
 * ISA_A has muls.w (16 x 16 -> 32) with a memory operand and post-increment, but no
 * sign-extending byte load (mvs.b is ISA_B) and no multiply-accumulate unit on the qemu m5206
 * model. So x is sign-extended once per call into an int16 copy on the stack, and each int8 MAC
 * is four instructions:
 *     move.b (w)+,d1 ; ext.w d1 ; muls.w (x16)+,d1 ; add.l d1,acc
 * unrolled eight times (cols / 8 blocks, then cols % 8 single steps).
 * int4: bytes b hold two nibbles; with b' = b ^ 0x88 the nibbles become (v ^ 8) in 0..15, so
 *     sum_j w_j x_j = sum_k (lo(b'_k) x_2k + hi(b'_k) x_2k+1) - 8 sum_{j < 2*half} x_j
 * (infer/lm_ops.c's identity) and each byte costs ten instructions for two MACs; an odd last
 * column adds the signed low nibble of the row's last byte.
 * Stack frame: link a6; saved d2-d7/a2-a3 below it; then the int16 copy of x (4-byte aligned).
 * Arguments: 8(a6) acc, 12(a6) w, 16(a6) x, 20(a6) rows, 24(a6) cols. */

    .text

/* Sign-extend the cols (24(a6)) bytes of x (16(a6)) into a fresh int16 array on the stack:
 * a2 = its start, d3 = cols. */
.macro X16_COPY
    move.l  24(%fp),%d3
    move.l  %d3,%d0
    add.l   %d0,%d0
    addq.l  #3,%d0
    moveq   #-4,%d1
    and.l   %d1,%d0
    sub.l   %d0,%sp
    move.l  %sp,%a2
    move.l  16(%fp),%a0
    move.l  %a2,%a1
    move.l  %d3,%d0
    beq.s   2f
1:  move.b  (%a0)+,%d1
    ext.w   %d1
    move.w  %d1,(%a1)+
    subq.l  #1,%d0
    bne.s   1b
2:
.endm

.macro MAC8
    move.b  (%a0)+,%d1
    ext.w   %d1
    muls.w  (%a1)+,%d1
    add.l   %d1,%d0
.endm

/* void lm_matvec_i8(int32_t *acc, const int8_t *w, const int8_t *x, int rows, int cols) */
    .globl  lm_matvec_i8
    .type   lm_matvec_i8,@function
lm_matvec_i8:
    link.w  %fp,#-32
    movem.l %d2-%d7/%a2-%a3,(%sp)
    move.l  20(%fp),%d4             /* rows */
    ble     9f
    X16_COPY
    move.l  12(%fp),%a0             /* w */
    move.l  8(%fp),%a3              /* acc */
    move.l  %d3,%d5
    lsr.l   #3,%d5                  /* blocks of 8 */
    moveq   #7,%d6
    and.l   %d3,%d6                 /* single steps */
3:  move.l  %a2,%a1
    moveq   #0,%d0
    move.l  %d5,%d2
    beq.s   5f
4:  MAC8
    MAC8
    MAC8
    MAC8
    MAC8
    MAC8
    MAC8
    MAC8
    subq.l  #1,%d2
    bne.s   4b
5:  move.l  %d6,%d2
    beq.s   7f
6:  MAC8
    subq.l  #1,%d2
    bne.s   6b
7:  move.l  %d0,(%a3)+
    subq.l  #1,%d4
    bne.w   3b
9:  movem.l -32(%fp),%d2-%d7/%a2-%a3
    unlk    %fp
    rts
    .size   lm_matvec_i8,.-lm_matvec_i8

/* One int4 byte (two MACs): d7 = 0x88, d1 and d3 scratch. */
.macro MAC4
    moveq   #0,%d1
    move.b  (%a0)+,%d1
    eor.l   %d7,%d1
    moveq   #15,%d3
    and.l   %d1,%d3
    muls.w  (%a1)+,%d3
    add.l   %d3,%d0
    lsr.l   #4,%d1
    muls.w  (%a1)+,%d1
    add.l   %d1,%d0
.endm

/* void lm_matvec_i4(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols) */
    .globl  lm_matvec_i4
    .type   lm_matvec_i4,@function
lm_matvec_i4:
    link.w  %fp,#-32
    movem.l %d2-%d7/%a2-%a3,(%sp)
    move.l  20(%fp),%d4             /* rows */
    ble     9f
    X16_COPY                        /* d3 = cols */
    /* d5 = 8 * sum of x[0 .. 2*half) ; 24(fp) keeps cols for the odd-column test */
    move.l  %d3,%d2
    lsr.l   #1,%d2                  /* half */
    move.l  %d2,%d6                 /* half: bytes per row before an odd column */
    add.l   %d2,%d2                 /* 2*half values */
    moveq   #0,%d5
    move.l  %a2,%a1
    tst.l   %d2
    beq.s   2f
1:  move.w  (%a1)+,%d0
    ext.l   %d0
    add.l   %d0,%d5
    subq.l  #1,%d2
    bne.s   1b
2:  lsl.l   #3,%d5
    move.l  12(%fp),%a0             /* w */
    move.l  8(%fp),%a3              /* acc */
    move.l  #0x88,%d7
3:  move.l  %a2,%a1
    moveq   #0,%d0
    move.l  %d6,%d2
    lsr.l   #2,%d2                  /* blocks of 4 bytes */
    beq.s   5f
4:  MAC4
    MAC4
    MAC4
    MAC4
    subq.l  #1,%d2
    bne.s   4b
5:  moveq   #3,%d2
    and.l   %d6,%d2
    beq.s   7f
6:  MAC4
    subq.l  #1,%d2
    bne.s   6b
7:  sub.l   %d5,%d0
    btst    #0,27(%fp)              /* cols odd: the low nibble of one more byte, signed */
    beq.s   8f
    moveq   #0,%d1
    move.b  (%a0)+,%d1
    moveq   #15,%d3
    and.l   %d3,%d1
    eor.l   #8,%d1
    subq.l  #8,%d1
    muls.w  (%a1)+,%d1
    add.l   %d1,%d0
8:  move.l  %d0,(%a3)+
    subq.l  #1,%d4
    bne.w   3b
9:  movem.l -32(%fp),%d2-%d7/%a2-%a3
    unlk    %fp
    rts
    .size   lm_matvec_i4,.-lm_matvec_i4

    .section .note.GNU-stack,"",@progbits
