; chat_layer.s: infer/chat_kernel.c's chat_layer_forward in 6502 assembly, the same function
; (tested against infer/ on random layers, tests/test_target_c64.c):
;   y_j = floor( wrap16(bias_j + sum_i w_ji x_i) / 2^shift ), then max(0, y_j) when relu
; with the 2-bit codes {0, +1, -2, -1} packed four to a byte (infer/chat_kernel.h).
;
; All sums are taken mod 2^16: the contract wraps the accumulator to int16 once at the end, and
; two's-complement addition mod 2^16 gives the same bits whatever the order, so 16-bit adds are
; exact here (the C kernel keeps int32 sums only to report them through `pre`, which the C64
; program never asks for: pre must be NULL).
;
; As in the C kernel, the inputs go in groups of four: for a group whose inputs are not all zero,
; S[m] = the sum of the inputs selected by the 4-bit mask m (16 sums) and T[m] = -2 S[m]; a weight
; byte c then adds S[lo(c)] + T[hi(c)], lo / hi the masks of its codes' low / high bits (a code is
; b0 - 2 b1). Each live group's S and T (16-bit, 64 bytes) are built once per layer; every row
; then costs about 110 cycles per live weight byte (four weights), a byte of four zero weights 20.
; The C kernel, in cc65's 32-bit arithmetic, takes about 700 cycles per weight byte.
;
; void chat_layer_forward(const uint8_t *w, const uint8_t *bias, int n_in, int n_out,
;                         const int16_t *x, int shift, int relu, int16_t *y, int32_t *pre)
; cc65's fastcall: pre in A/X, the others on the C stack (the last pushed, y, at sp).
; Assembled with -D CHAT_MAX_WIDTH=N (the model's widest layer, at most 1020).

        .include "zeropage.inc"
        .export _chat_layer_forward

MAXG = (CHAT_MAX_WIDTH + 3) / 4         ; groups of four inputs in the widest layer
.if MAXG > 255
        .error "CHAT_MAX_WIDTH above 1020"
.endif

; zero page (cc65's scratch for assembly): ptr1 weights / inputs, ptr2 a group's S and T,
; ptr3 biases, ptr4 outputs, sreg the accumulator
        .segment "BSS"
par:    .res 16                         ; the C stack arguments, y first
P_Y     = par + 0
P_RELU  = par + 2
P_SHIFT = par + 4
P_X     = par + 6
P_NOUT  = par + 8
P_NIN   = par + 10
P_BIAS  = par + 12
P_W     = par + 14
rb:     .res 1                          ; bytes per weight row = groups
lastg:  .res 1
tailn:  .res 1                          ; inputs in the last group (0: four)
nlive:  .res 1
rows:   .res 2
gv:     .res 8                          ; a group's four inputs, lo/hi
sl:     .res 16                         ; S (lo, hi), T (lo, hi) of one group, built here
sh:     .res 16
tl:     .res 16
th:     .res 16
live:   .res MAXG                       ; byte index in a row of each live group
rec:    .res 64 * MAXG                  ; S and T of each live group, 64 bytes apart

        .segment "RODATA"
; lo(c): the mask of bits 0, 2, 4, 6 of c; hi(c) + 32: bits 1, 3, 5, 7, as the offset of T
LOY:
.repeat 256, c
        .byte (c & 1) | ((c >> 1) & 2) | ((c >> 2) & 4) | ((c >> 3) & 8)
.endrepeat
HIY:
.repeat 256, c
        .byte 32 + (((c >> 1) & 1) | ((c >> 2) & 2) | ((c >> 3) & 4) | ((c >> 4) & 8))
.endrepeat
; S[m] = S[PREV[m]] + input BIT2[m] / 2: PREV[m] is m without its highest bit
PREV:   .byte 0, 0, 0, 1, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7
BIT2:   .byte 0, 0, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6

        .segment "CODE"

; acc += the 16-bit entry at (ptr2),y (low byte) and (ptr2),y+16 (high byte)
.macro  add16
        clc
        lda     (ptr2),y
        adc     sreg
        sta     sreg
        tya
        ora     #16
        tay
        lda     (ptr2),y
        adc     sreg+1
        sta     sreg+1
.endmacro

_chat_layer_forward:
        ldy     #15                     ; the arguments off the C stack
@arg:   lda     (sp),y
        sta     par,y
        dey
        bpl     @arg
        clc
        lda     sp
        adc     #16
        sta     sp
        bcc     :+
        inc     sp+1
:
; rb = (n_in + 3) / 4, the last group and how many of its inputs exist
        lda     P_NIN
        and     #3
        sta     tailn
        clc
        lda     P_NIN
        adc     #3
        sta     rb
        lda     P_NIN+1
        adc     #0
        lsr     a
        ror     rb
        lsr     a
        ror     rb
        ldx     rb
        dex
        stx     lastg

; ---- the live groups' S and T -------------------------------------------------------------------
        lda     P_X
        sta     ptr1
        lda     P_X+1
        sta     ptr1+1
        lda     #<rec
        sta     ptr2
        lda     #>rec
        sta     ptr2+1
        lda     #0
        sta     nlive
        tax                             ; x = group k
group:  ldy     #7                      ; its four inputs
@rd:    lda     (ptr1),y
        sta     gv,y
        dey
        bpl     @rd
        cpx     lastg                   ; past n_in: zeros (x holds n_in inputs, no more)
        bne     @full
        lda     tailn
        beq     @full
        asl     a
        tay
        lda     #0
@z:     sta     gv,y
        iny
        cpy     #8
        bne     @z
@full:  lda     gv
        ora     gv+1
        ora     gv+2
        ora     gv+3
        ora     gv+4
        ora     gv+5
        ora     gv+6
        ora     gv+7
        beq     @dead
        txa
        ldy     nlive
        sta     live,y
        inc     nlive
        stx     tmp1
        lda     #0                      ; S[0] = 0, S[m] = S[PREV[m]] + input
        sta     sl
        sta     sh
        ldy     #1
@s:     ldx     BIT2,y
        lda     gv,x
        ldx     PREV,y
        clc
        adc     sl,x
        sta     sl,y
        ldx     BIT2,y
        lda     gv+1,x
        ldx     PREV,y
        adc     sh,x
        sta     sh,y
        iny
        cpy     #16
        bne     @s
        ldy     #15                     ; T = -2 S
@t:     lda     sl,y
        asl     a
        sta     tmp2
        lda     sh,y
        rol     a
        sta     tmp3
        lda     #0
        sec
        sbc     tmp2
        sta     tl,y
        lda     #0
        sbc     tmp3
        sta     th,y
        dey
        bpl     @t
        ldy     #63                     ; into the group's record
@cp:    lda     sl,y
        sta     (ptr2),y
        dey
        bpl     @cp
        clc
        lda     ptr2
        adc     #64
        sta     ptr2
        bcc     :+
        inc     ptr2+1
:       ldx     tmp1
@dead:  clc
        lda     ptr1
        adc     #8
        sta     ptr1
        bcc     :+
        inc     ptr1+1
:       inx
        cpx     rb
        beq     :+
        jmp     group
:

; ---- the rows -----------------------------------------------------------------------------------
        lda     P_W
        sta     ptr1
        lda     P_W+1
        sta     ptr1+1
        lda     P_BIAS
        sta     ptr3
        lda     P_BIAS+1
        sta     ptr3+1
        lda     P_Y
        sta     ptr4
        lda     P_Y+1
        sta     ptr4+1
        lda     P_NOUT
        sta     rows
        lda     P_NOUT+1
        sta     rows+1
        ora     rows
        bne     row
        rts
row:    ldy     #0                      ; acc = bias_j
        lda     (ptr3),y
        sta     sreg
        iny
        lda     (ptr3),y
        sta     sreg+1
        lda     #<rec
        sta     ptr2
        lda     #>rec
        sta     ptr2+1
        ldx     #0
        cpx     nlive
        beq     done
g:      ldy     live,x                  ; the row's byte of live group x
        lda     (ptr1),y
        beq     skip                    ; four zero weights
        tay
        lda     HIY,y
        sta     tmp1
        lda     LOY,y
        tay
        add16                           ; + S[lo]
        ldy     tmp1
        add16                           ; + T[hi] = - 2 S[hi]
skip:   clc
        lda     ptr2
        adc     #64
        sta     ptr2
        bcc     :+
        inc     ptr2+1
:       inx
        cpx     nlive
        bne     g
done:   ldx     P_SHIFT                 ; floor(acc / 2^shift): arithmetic shifts
        beq     noshift
@sh:    lda     sreg+1
        cmp     #$80
        ror     sreg+1
        ror     sreg
        dex
        bne     @sh
noshift:
        lda     P_RELU
        ora     P_RELU+1
        beq     store
        lda     sreg+1
        bpl     store
        lda     #0
        sta     sreg
        sta     sreg+1
store:  ldy     #0
        lda     sreg
        sta     (ptr4),y
        iny
        lda     sreg+1
        sta     (ptr4),y
        clc                             ; next row: y, bias, weights
        lda     ptr4
        adc     #2
        sta     ptr4
        bcc     :+
        inc     ptr4+1
:       clc
        lda     ptr3
        adc     #2
        sta     ptr3
        bcc     :+
        inc     ptr3+1
:       clc
        lda     ptr1
        adc     rb
        sta     ptr1
        bcc     :+
        inc     ptr1+1
:       lda     rows
        bne     :+
        dec     rows+1
:       dec     rows
        lda     rows
        ora     rows+1
        beq     :+
        jmp     row
:       rts
